import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { JarvisError, ModelFileError } from '../../core/errors.ts';
import { CAPTURE_SAMPLE_RATE, type Transcriber, type Transcript } from '../ports.ts';

/**
 * Speech to text on whisper.cpp, in-process through @fugood/whisper.node 1.1.3.
 *
 * The model file is checked in JS before whisper.cpp sees it. Its loader trusts the header: a file cut before its
 * tensors loads as an "empty model for testing" and transcribes to nothing, a wrong mel filter size is only asserted
 * in debug builds, a vocabulary without " " throws while decoding, and every failure it does notice comes back as
 * the same "Failed to initialize whisper context". The check gives each bad file its own error code and fix.
 *
 * Whisper always encodes a full 30 s window, whatever the utterance length. whisper.cpp can shrink that window
 * (`audio_ctx`), but the binding 1.1.3 only forwards `audioCtx` to Parakeet (src/common.cpp,
 * createParakeetParamsFromOptions); createFullParamsFromOptions, used for Whisper, ignores it. So a 2 s command
 * costs the same encoder time as 30 s of speech, and nothing here pretends otherwise.
 */

// ---------------------------------------------------------------------------------------------------------------
// The legacy ggml file whisper.cpp reads (whisper_model_load in the binding's whisper.cpp/src/whisper.cpp).

export const GGML_FILE_MAGIC = 0x67676d6c;
const GGUF_MAGIC = 0x46554747; // "GGUF" read as little-endian uint32
/** Mel filter columns: 1 + WHISPER_N_FFT / 2; log_mel_spectrogram only asserts it, in debug builds. */
export const WHISPER_N_FFT_BINS = 201;
/** 30 s of 10 ms mel frames after the stride-2 convolution; every released Whisper model uses it. */
export const WHISPER_AUDIO_CTX = 1500;

export interface WhisperHparams {
  readonly nVocab: number;
  readonly nAudioCtx: number;
  readonly nAudioState: number;
  readonly nAudioHead: number;
  readonly nAudioLayer: number;
  readonly nTextCtx: number;
  readonly nTextState: number;
  readonly nTextHead: number;
  readonly nTextLayer: number;
  readonly nMels: number;
  /** As stored: ggml ftype plus quantization version × 1000. */
  readonly ftype: number;
}

export const HPARAM_ORDER = [
  'nVocab', 'nAudioCtx', 'nAudioState', 'nAudioHead', 'nAudioLayer',
  'nTextCtx', 'nTextState', 'nTextHead', 'nTextLayer', 'nMels', 'ftype',
] as const satisfies readonly (keyof WhisperHparams)[];

/** Bytes per block and elements per block of the ggml types a whisper.cpp model file can hold. */
export const GGML_TYPES: Readonly<Record<number, { name: string; size: number; block: number }>> = {
  0: { name: 'f32', size: 4, block: 1 },
  1: { name: 'f16', size: 2, block: 1 },
  2: { name: 'q4_0', size: 18, block: 32 },
  3: { name: 'q4_1', size: 20, block: 32 },
  6: { name: 'q5_0', size: 22, block: 32 },
  7: { name: 'q5_1', size: 24, block: 32 },
  8: { name: 'q8_0', size: 34, block: 32 },
  10: { name: 'q2_k', size: 84, block: 256 },
  11: { name: 'q3_k', size: 110, block: 256 },
  12: { name: 'q4_k', size: 144, block: 256 },
  13: { name: 'q5_k', size: 176, block: 256 },
  14: { name: 'q6_k', size: 210, block: 256 },
  30: { name: 'bf16', size: 2, block: 1 },
};

/** ggml_ftype → the ggml type of the big matrices (ggml_ftype_to_ggml_type), for the ftypes whisper.cpp writes. */
export const FTYPE_WEIGHT_TYPE: Readonly<Record<number, number>> = {
  0: 0, 1: 1, 2: 2, 3: 3, 7: 8, 8: 6, 9: 7, 10: 10, 11: 11, 12: 12, 13: 13, 14: 14, 24: 30,
};

const GGML_QNT_VERSION_FACTOR = 1000;

export interface WhisperTensorSpec {
  readonly name: string;
  /** ggml order: ne[0] varies fastest. */
  readonly ne: readonly number[];
  readonly type: number;
}

export function tensorBytes(type: number, ne: readonly number[]): number {
  const t = GGML_TYPES[type];
  if (!t) throw new Error(`unknown ggml type ${type}`);
  return (ne.reduce((a, b) => a * b, 1) / t.block) * t.size;
}

/** Every tensor whisper_model_load creates for these hparams, with the type it allocates it as. */
export function whisperTensorSpecs(h: WhisperHparams): WhisperTensorSpec[] {
  const wtype = FTYPE_WEIGHT_TYPE[h.ftype % GGML_QNT_VERSION_FACTOR];
  if (wtype === undefined) throw new Error(`unsupported ftype ${h.ftype}`);
  const vtype = wtype === 0 ? 0 : 1; // the convolutions stay f16 in quantized models
  const F32 = 0;
  const specs: WhisperTensorSpec[] = [];
  const add = (name: string, ne: number[], type: number) => specs.push({ name, ne, type });

  const a = h.nAudioState;
  add('encoder.positional_embedding', [a, h.nAudioCtx], F32);
  add('encoder.conv1.weight', [3, h.nMels, a], vtype);
  add('encoder.conv1.bias', [1, a], F32);
  add('encoder.conv2.weight', [3, a, a], vtype);
  add('encoder.conv2.bias', [1, a], F32);
  add('encoder.ln_post.weight', [a], F32);
  add('encoder.ln_post.bias', [a], F32);
  for (let i = 0; i < h.nAudioLayer; i++) addBlock(`encoder.blocks.${i}`, a, false);

  const t = h.nTextState;
  add('decoder.positional_embedding', [t, h.nTextCtx], F32);
  add('decoder.token_embedding.weight', [t, h.nVocab], wtype);
  add('decoder.ln.weight', [t], F32);
  add('decoder.ln.bias', [t], F32);
  for (let i = 0; i < h.nTextLayer; i++) addBlock(`decoder.blocks.${i}`, t, true);
  return specs;

  function addBlock(prefix: string, n: number, cross: boolean): void {
    add(`${prefix}.mlp_ln.weight`, [n], F32);
    add(`${prefix}.mlp_ln.bias`, [n], F32);
    add(`${prefix}.mlp.0.weight`, [n, 4 * n], wtype!);
    add(`${prefix}.mlp.0.bias`, [4 * n], F32);
    add(`${prefix}.mlp.2.weight`, [4 * n, n], wtype!);
    add(`${prefix}.mlp.2.bias`, [n], F32);
    addAttention(`${prefix}.attn_ln`, `${prefix}.attn`, n);
    if (cross) addAttention(`${prefix}.cross_attn_ln`, `${prefix}.cross_attn`, n);
  }

  function addAttention(ln: string, attn: string, n: number): void {
    add(`${ln}.weight`, [n], F32);
    add(`${ln}.bias`, [n], F32);
    add(`${attn}.query.weight`, [n, n], wtype!);
    add(`${attn}.query.bias`, [n], F32);
    add(`${attn}.key.weight`, [n, n], wtype!); // Whisper's key projection has no bias
    add(`${attn}.value.weight`, [n, n], wtype!);
    add(`${attn}.value.bias`, [n], F32);
    add(`${attn}.out.weight`, [n, n], wtype!);
    add(`${attn}.out.bias`, [n], F32);
  }
}

export interface WhisperModelFileInfo {
  readonly hparams: WhisperHparams;
  readonly multilingual: boolean;
  readonly weightType: string;
  readonly sizeBytes: number;
}

/** Where the official ggml file of that name is published (the default model when the name is not one of them). */
export function whisperModelUrl(file: string): string {
  const name = path.basename(file);
  return `https://huggingface.co/ggerganov/whisper.cpp/resolve/main/${/^ggml-[\w.-]+\.bin$/.test(name) ? name : 'ggml-base.en.bin'}`;
}

/**
 * Walks the whole header (hparams, mel filters, vocabulary, every tensor record) without reading tensor data, and
 * throws ModelFileError unless whisper.cpp would find exactly the tensors it expects, complete.
 */
export async function inspectWhisperModel(file: string): Promise<WhisperModelFileInfo> {
  const redownload = `Delete it and download it again from ${whisperModelUrl(file)} (save it as ${file}).`;
  const corrupt = (why: string) => new ModelFileError('model-corrupt', file, `Whisper model ${file} is damaged: ${why}`, redownload);
  const wrongFormat = (why: string) =>
    new ModelFileError(
      'model-wrong-format',
      file,
      `${file} is not a whisper.cpp model: ${why}`,
      `stt.model must be a whisper.cpp ggml .bin file, e.g. ${whisperModelUrl(file)} saved as ${file}.`,
    );

  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new ModelFileError(
        'model-missing',
        file,
        `Whisper model not found: ${file}`,
        `Download ${whisperModelUrl(file)} and save it as ${file} (or point stt.model at a whisper.cpp model you have).`,
        { cause: error },
      );
    }
    throw new ModelFileError('model-load-failed', file, `cannot open Whisper model ${file}: ${(error as Error).message}`,
      `Make ${file} readable by the user JARVIS runs as.`, { cause: error });
  }

  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw wrongFormat('it is a directory or device, not a file');
    const reader = new FileReader(handle, stat.size);
    // Checks that `bytes` more exist and brings them into memory (with `readAhead` more), unless they are skipped.
    const need = (bytes: number, what: string, readAhead = 1 << 20): Promise<void> | undefined => {
      if (reader.pos + bytes > stat.size) {
        throw corrupt(`the file is ${stat.size} bytes but its header needs at least ${reader.pos + bytes} to hold ${what} ` +
          `(an interrupted download?)`);
      }
      return readAhead < 0 || reader.has(bytes) ? undefined : reader.fill(bytes, readAhead);
    };
    const SKIP = -1;
    const RECORD = 4096; // one tensor record; the next is a whole tensor away

    if (stat.size < 4) throw wrongFormat(`it is only ${stat.size} bytes long`);
    await reader.fill(4, RECORD);
    const magic = reader.u32();
    if (magic === GGUF_MAGIC) {
      throw wrongFormat('it is a GGUF file (llama.cpp and newer ggml tools); whisper.cpp reads the legacy ggml .bin format');
    }
    if (magic !== GGML_FILE_MAGIC) {
      throw wrongFormat(`it starts with bytes ${hex(magic)}, not the ggml magic ${hex(GGML_FILE_MAGIC)}`);
    }

    await need(4 * HPARAM_ORDER.length, 'the model dimensions');
    const values: number[] = [];
    for (let i = 0; i < HPARAM_ORDER.length; i++) values.push(reader.i32());
    const hparams = Object.fromEntries(HPARAM_ORDER.map((key, i) => [key, values[i]!])) as unknown as WhisperHparams;
    const problem = implausibleHparams(hparams);
    if (problem) throw wrongFormat(`its header does not describe a Whisper model (${problem}); is it another ggml model?`);
    const weightType = FTYPE_WEIGHT_TYPE[hparams.ftype % GGML_QNT_VERSION_FACTOR];
    if (weightType === undefined) throw wrongFormat(`its weight type (ftype ${hparams.ftype}) is not one whisper.cpp writes`);

    await need(8, 'the mel filter bank size');
    const nMel = reader.i32();
    const nFft = reader.i32();
    if (nMel !== hparams.nMels || nFft !== WHISPER_N_FFT_BINS) {
      throw corrupt(`mel filter bank is ${nMel}×${nFft}, expected ${hparams.nMels}×${WHISPER_N_FFT_BINS}`);
    }
    await need(4 * nMel * nFft, 'the mel filter bank', SKIP);
    reader.skip(4 * nMel * nFft);

    await need(4, 'the vocabulary size');
    const nTokens = reader.i32();
    if (nTokens < 1 || nTokens > hparams.nVocab) throw corrupt(`vocabulary of ${nTokens} tokens (model has ${hparams.nVocab})`);
    let hasSpace = false;
    for (let i = 0; i < nTokens; i++) {
      const header = need(4, `token ${i} of ${nTokens}`);
      if (header) await header;
      const length = reader.u32();
      if (length > 1024) throw corrupt(`token ${i} claims to be ${length} bytes long`);
      const body = need(length, `token ${i} of ${nTokens}`);
      if (body) await body;
      if (length === 1) hasSpace = reader.byte() === 0x20 || hasSpace;
      else reader.skip(length);
    }
    // whisper.cpp looks the " " token up with map::at while decoding; without it every transcription would throw.
    if (!hasSpace) throw corrupt('its vocabulary has no " " token');

    const specs = new Map(whisperTensorSpecs(hparams).map((s) => [s.name, s]));
    const seen = new Set<string>();
    while (reader.pos < stat.size) {
      await need(12, `the record of tensor ${seen.size + 1} of ${specs.size}`, RECORD);
      const nDims = reader.i32();
      const nameLength = reader.i32();
      const fileType = reader.i32();
      if (nDims < 1 || nDims > 4 || nameLength < 1 || nameLength > 256) {
        throw corrupt(`tensor record ${seen.size + 1} is malformed (dims ${nDims}, name length ${nameLength})`);
      }
      await need(4 * nDims + nameLength, `the record of tensor ${seen.size + 1} of ${specs.size}`, RECORD);
      const ne: number[] = [];
      for (let d = 0; d < nDims; d++) ne.push(reader.i32());
      const name = reader.text(nameLength);
      const spec = specs.get(name);
      if (!spec) throw corrupt(`unexpected tensor '${printable(name)}'`);
      if (seen.has(name)) throw corrupt(`tensor '${name}' appears twice`);
      if (!sameShape(ne, spec.ne)) throw corrupt(`tensor '${name}' is [${ne}], expected [${spec.ne}]`);
      const bytes = tensorBytes(spec.type, spec.ne);
      const stored = GGML_TYPES[fileType];
      // The loader's own check: element count × the stored type's size, per block of the type it allocated.
      const elements = ne.reduce((x, y) => x * y, 1);
      if (!stored || (elements * stored.size) / GGML_TYPES[spec.type]!.block !== bytes) {
        throw corrupt(`tensor '${name}' is stored as type ${fileType}, which does not fit ${GGML_TYPES[spec.type]!.name}`);
      }
      await need(bytes, `the data of tensor '${name}'`, SKIP);
      reader.skip(bytes);
      seen.add(name);
    }
    if (seen.size !== specs.size) {
      throw corrupt(`it ends after ${seen.size} of the ${specs.size} tensors it should hold (an interrupted download?)`);
    }
    return {
      hparams,
      multilingual: hparams.nVocab >= 51865,
      weightType: GGML_TYPES[weightType]!.name,
      sizeBytes: stat.size,
    };
  } finally {
    await handle.close();
  }
}

function implausibleHparams(h: WhisperHparams): string | undefined {
  if (h.nVocab < 51864 || h.nVocab > 51866) return `vocabulary size ${h.nVocab}`;
  if (h.nAudioCtx !== WHISPER_AUDIO_CTX) return `audio context ${h.nAudioCtx}`;
  if (h.nMels !== 80 && h.nMels !== 128) return `${h.nMels} mel bands`;
  if (h.nAudioState !== h.nTextState) return `encoder width ${h.nAudioState} ≠ decoder width ${h.nTextState}`;
  for (const [state, heads] of [[h.nAudioState, h.nAudioHead], [h.nTextState, h.nTextHead]] as const) {
    if (state < 1 || state > 8192 || heads < 1 || state % heads !== 0) return `width ${state} with ${heads} heads`;
  }
  for (const layers of [h.nAudioLayer, h.nTextLayer]) if (layers < 1 || layers > 128) return `${layers} layers`;
  if (h.nTextCtx < 1 || h.nTextCtx > 8192) return `text context ${h.nTextCtx}`;
  if (h.ftype < 0) return `ftype ${h.ftype}`;
  return undefined;
}

function sameShape(ne: readonly number[], expected: readonly number[]): boolean {
  for (let d = 0; d < 4; d++) if ((ne[d] ?? 1) !== (expected[d] ?? 1)) return false;
  return true;
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;
const printable = (s: string) => s.replace(/[^\x20-\x7e]/g, '?').slice(0, 80);

/**
 * Sequential reads through a window, synchronous once fill() has brought the bytes in, so walking a 50 000-token
 * vocabulary costs no promise per token, and walking a multi-GB model reads a few MB.
 */
class FileReader {
  pos = 0;
  #window = Buffer.alloc(0);
  #windowStart = 0;

  constructor(private readonly handle: fs.FileHandle, private readonly size: number) {}

  has(bytes: number): boolean {
    return this.pos >= this.#windowStart && this.pos + bytes <= this.#windowStart + this.#window.length;
  }

  async fill(bytes: number, readAhead: number): Promise<void> {
    const length = Math.min(Math.max(bytes, readAhead), this.size - this.pos);
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await this.handle.read(buffer, 0, length, this.pos);
    if (bytesRead < bytes) throw new Error(`short read at byte ${this.pos} of ${this.size}`);
    this.#window = buffer.subarray(0, bytesRead);
    this.#windowStart = this.pos;
  }

  skip(bytes: number): void {
    this.pos += bytes;
  }

  i32(): number {
    const value = this.#window.readInt32LE(this.pos - this.#windowStart);
    this.pos += 4;
    return value;
  }

  u32(): number {
    const value = this.#window.readUInt32LE(this.pos - this.#windowStart);
    this.pos += 4;
    return value;
  }

  byte(): number {
    const value = this.#window[this.pos - this.#windowStart]!;
    this.pos += 1;
    return value;
  }

  text(bytes: number): string {
    const start = this.pos - this.#windowStart;
    this.pos += bytes;
    return this.#window.toString('latin1', start, start + bytes);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The native binding.

interface NativeTranscribeResult {
  result: string;
  isAborted: boolean;
}

interface NativeWhisperContext {
  transcribeData(
    audio: ArrayBuffer,
    options: { language?: string; maxThreads?: number },
  ): { stop(): Promise<void>; promise: Promise<NativeTranscribeResult> };
  release(): Promise<void>;
}

interface NativeWhisperModule {
  WhisperContext: new (options: { filePath: string; useGpu: boolean }) => NativeWhisperContext;
}

export type WhisperVariant = 'cpu' | 'cuda';

/**
 * The platform packages are whisper.node's optional dependencies, so they are resolved from its own directory.
 * They are required directly rather than through its initWhisper(): that caches the first variant for the whole
 * process and silently falls back to the CPU build, so it could not tell us which build we got.
 */
const requireFromBinding = (() => {
  let resolved: NodeJS.Require | undefined;
  return () => (resolved ??= createRequire(createRequire(import.meta.url).resolve('@fugood/whisper.node/package.json')));
})();

const nativeModules = new Map<WhisperVariant, NativeWhisperModule>();

function loadNativeModule(variant: WhisperVariant): NativeWhisperModule {
  let module = nativeModules.get(variant);
  if (!module) {
    const name = `@fugood/node-whisper-${process.platform}-${process.arch}${variant === 'cuda' ? '-cuda' : ''}`;
    module = requireFromBinding()(name) as NativeWhisperModule;
    nativeModules.set(variant, module);
  }
  return module;
}

const run = promisify(execFile);

/**
 * The prebuilt CUDA binding 1.1.3 links libcudart.so.12 and carries kernels for sm_89 only (SASS plus compute_89
 * PTX), so it runs on Ada and, through the PTX, newer GPUs. On anything older (the GTX 1080 Ti is sm_61) ggml would
 * abort the whole process at the first kernel launch, so such GPUs are refused here, before the library loads.
 */
const CUDA_MIN_COMPUTE_CAPABILITY = 8.9;

async function cudaUnusableReason(): Promise<string | undefined> {
  let stdout: string;
  try {
    ({ stdout } = await run('nvidia-smi', ['--query-gpu=name,compute_cap', '--format=csv,noheader'], { timeout: 5000 }));
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { stderr?: string };
    return failure.code === 'ENOENT'
      ? 'no NVIDIA driver (nvidia-smi not found)'
      : `nvidia-smi could not report the GPU's compute capability: ${firstLine(failure.stderr?.trim() || failure.message)}`;
  }
  return cudaBlocker(stdout);
}

/**
 * Why the CUDA build must not run, from `nvidia-smi --query-gpu=name,compute_cap --format=csv,noheader` output
 * ("NVIDIA GeForce GTX 1080 Ti, 6.1" per line); undefined when it may. Every GPU must qualify: CUDA numbers the
 * devices fastest first, nvidia-smi by PCI bus, so the list cannot tell which one whisper.cpp's device 0 is.
 */
export function cudaBlocker(nvidiaSmiCsv: string): string | undefined {
  const gpus = nvidiaSmiCsv.trim().split('\n').filter((line) => line.trim()).map((line) => {
    const comma = line.lastIndexOf(',');
    return { name: line.slice(0, comma).trim(), capability: line.slice(comma + 1).trim() };
  });
  if (gpus.length === 0) return 'nvidia-smi lists no GPU';
  const old = gpus.find((gpu) => !(Number(gpu.capability) >= CUDA_MIN_COMPUTE_CAPABILITY));
  if (old) {
    return `${old.name} has compute capability ${old.capability}; the prebuilt CUDA build of whisper.node 1.1.3 only ` +
      `has kernels for ${CUDA_MIN_COMPUTE_CAPABILITY} and newer`;
  }
  return undefined;
}

async function pickVariant(useGpu: boolean): Promise<{ variant: WhisperVariant; module: NativeWhisperModule; note?: string }> {
  let note: string | undefined;
  if (useGpu) {
    note = await cudaUnusableReason();
    if (!note) {
      try {
        return { variant: 'cuda', module: loadNativeModule('cuda') };
      } catch (error) {
        note = `the CUDA build did not load: ${firstLine(error)}`;
      }
    }
  }
  try {
    return { variant: 'cpu', module: loadNativeModule('cpu'), ...(note ? { note } : {}) };
  } catch (error) {
    throw new JarvisError(
      'stt-engine-unavailable',
      `the whisper.cpp binding for ${process.platform}-${process.arch} did not load: ${firstLine(error)}`,
      'Run `npm install` again so that @fugood/whisper.node can install its prebuilt binding for this platform.',
      { cause: error },
    );
  }
}

const firstLine = (error: unknown) => (error instanceof Error ? error.message : String(error)).split('\n')[0]!;

// ---------------------------------------------------------------------------------------------------------------
// The Transcriber.

export interface WhisperTranscriberOptions {
  /** A whisper.cpp ggml model file (paths already resolved by the config loader). */
  readonly model: string;
  readonly threads: number;
  /** An ISO code such as "en", or "auto"; English-only models always transcribe English. */
  readonly language: string;
  readonly useGpu: boolean;
}

interface Loaded {
  readonly context: NativeWhisperContext;
  readonly variant: WhisperVariant;
  readonly info: WhisperModelFileInfo;
  readonly note?: string;
  readonly loadMs: number;
}

export class WhisperTranscriber implements Transcriber {
  readonly engine = 'whisper.cpp';
  #loading: Promise<Loaded> | undefined;
  #loaded: Loaded | undefined;
  #disposed = false;
  #loadCount = 0;
  /** Cancels a transcription still waiting for whisper.cpp. */
  readonly #inFlight = new Set<(error: Error) => void>();

  constructor(private readonly options: WhisperTranscriberOptions) {}

  /** How many times the native model was loaded: 1 after any number of transcriptions. */
  get loadCount(): number {
    return this.#loadCount;
  }

  /** Which build runs the model, once loaded. */
  get variant(): WhisperVariant | undefined {
    return this.#loaded?.variant;
  }

  /** For logs and `jarvis doctor`: model, build, threads, and why the GPU was not used when it was asked for. */
  get description(): string {
    const file = path.basename(this.options.model);
    const loaded = this.#loaded;
    if (!loaded) return `whisper.cpp, ${file} (not loaded)`;
    const { info } = loaded;
    const kind = `${info.multilingual ? 'multilingual' : 'English-only'}, ${info.hparams.nAudioLayer}+${info.hparams.nTextLayer} layers, ${info.weightType}`;
    const where = loaded.variant === 'cuda' ? 'CUDA GPU' : `CPU, ${this.options.threads} threads`;
    return `whisper.cpp on ${where}, ${file} (${kind}), loaded in ${Math.round(loaded.loadMs)} ms` +
      (loaded.note ? `; GPU not used: ${loaded.note}` : '');
  }

  async load(): Promise<void> {
    await this.#ready();
  }

  async transcribe(pcm16k: Int16Array, signal?: AbortSignal): Promise<Transcript> {
    if (signal?.aborted) throw abortError(signal);
    const loaded = await this.#ready();
    if (signal?.aborted) throw abortError(signal);
    if (this.#disposed) throw disposedError(); // dispose() ran while we waited
    const audioMs = (pcm16k.length * 1000) / CAPTURE_SAMPLE_RATE;

    const job = loaded.context.transcribeData(exactArrayBuffer(pcm16k), {
      language: loaded.info.multilingual ? this.options.language : 'en',
      maxThreads: this.options.threads,
    });
    // Every way out but success is settled here, never by the binding. Its stop() only raises a flag that whisper.cpp
    // does not poll for Whisper (no abort_callback is wired, unlike its Parakeet path), so the run goes on in the
    // background. And when a run ends in error ("Transcription cancelled", "Transcription failed"), the binding never
    // settles its promise: the worker's OnError calls back with one argument, which the callback in
    // WhisperContext.cpp ignores. A caller that needs a bound on a failing native run passes a signal with a timeout.
    return new Promise<Transcript>((resolve, reject) => {
      const finish = (error?: Error, transcript?: Transcript) => {
        signal?.removeEventListener('abort', onAbort);
        this.#inFlight.delete(cancel);
        if (error) reject(error);
        else resolve(transcript!);
      };
      const cancel = (error: Error) => {
        void job.stop().catch(() => undefined);
        finish(error);
      };
      const onAbort = () => cancel(abortError(signal));
      this.#inFlight.add(cancel);
      signal?.addEventListener('abort', onAbort, { once: true });
      job.promise.then(
        (result) => {
          if (result.isAborted) finish(this.#disposed ? disposedError() : abortError(signal));
          else finish(undefined, { text: result.result.trim(), audioMs });
        },
        (error: unknown) => {
          finish(new JarvisError('stt-failed', `whisper.cpp failed to transcribe: ${firstLine(error)}`,
            'Try again; if it keeps failing, check the model file and the whisper.cpp messages on stderr.', { cause: error }));
        },
      );
    });
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const cancel of [...this.#inFlight]) cancel(disposedError());
    const loaded = this.#loaded ?? (await this.#loading?.catch(() => undefined));
    this.#loaded = undefined;
    // Release cancels queued jobs; a running one keeps the native context alive until it returns.
    await loaded?.context.release();
  }

  #ready(): Promise<Loaded> {
    if (this.#disposed) return Promise.reject(disposedError());
    if (this.#loaded) return Promise.resolve(this.#loaded);
    this.#loading ??= this.#load().then(
      (loaded) => {
        if (this.#disposed) {
          void loaded.context.release();
          throw disposedError();
        }
        this.#loaded = loaded;
        return loaded;
      },
      (error: unknown) => {
        this.#loading = undefined; // the user may fix the file; the next turn tries again
        throw error;
      },
    );
    return this.#loading;
  }

  async #load(): Promise<Loaded> {
    const file = this.options.model;
    const started = performance.now();
    const info = await inspectWhisperModel(file);
    const { variant, module, note } = await pickVariant(this.options.useGpu);
    let context: NativeWhisperContext;
    try {
      // Synchronous in the binding: the event loop waits while whisper.cpp reads the weights.
      context = new module.WhisperContext({ filePath: file, useGpu: variant === 'cuda' });
    } catch (error) {
      throw new ModelFileError('model-load-failed', file, `whisper.cpp could not load ${file}: ${firstLine(error)}`,
        `Its messages on stderr say why. If the file came from elsewhere, download ${whisperModelUrl(file)} instead.`,
        { cause: error });
    }
    this.#loadCount++;
    return { context, variant, info, loadMs: performance.now() - started, ...(note ? { note } : {}) };
  }
}

/** The binding reads the whole ArrayBuffer, ignoring a view's offset and length. */
function exactArrayBuffer(pcm: Int16Array): ArrayBuffer {
  if (pcm.buffer instanceof ArrayBuffer && pcm.byteOffset === 0 && pcm.byteLength === pcm.buffer.byteLength) return pcm.buffer;
  return pcm.slice().buffer as ArrayBuffer;
}

function abortError(signal: AbortSignal | undefined): Error {
  const error = new Error('transcription aborted', { cause: signal?.reason });
  error.name = 'AbortError';
  return error;
}

function disposedError(): JarvisError {
  return new JarvisError('stt-disposed', 'the Whisper transcriber was used after dispose()',
    'Create a new WhisperTranscriber; dispose() is final.');
}
