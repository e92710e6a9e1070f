import { createHash } from 'node:crypto';
import path from 'node:path';
import { encodeGguf, GgmlType, type GgufEntry } from '../../models/gguf-writer.ts';
import { cachedModel, TEST_MODELS_DIR } from './cache.ts';
import { seededRandom } from './random.ts';

/**
 * A real llama-architecture GGUF with tiny dimensions and seeded random weights, written in JS so the tests can
 * run node-llama-cpp's real native runtime without any downloadable chat model (none is reachable here). The
 * words it produces are garbage; the loading, tokenising, chat templating, streaming, aborting and timing are
 * the real code paths.
 *
 * Only printable ASCII bytes and the word pieces can win sampling: every other row of `output.weight` is zero,
 * so those logits sit at 0 while the allowed ones are spread around ±3 and peak near +8. The model therefore
 * practically never emits an end-of-generation token, and a test decides how long an answer is through
 * `maxAnswerTokens` instead of hoping a random model stops.
 */

export type TinyChatTemplate = 'chatml' | 'llama3' | 'none';

export interface TinyGgufOptions {
  /** Which `tokenizer.chat_template` to embed; node-llama-cpp picks its chat wrapper from it. */
  readonly template?: TinyChatTemplate;
  readonly seed?: number;
  readonly contextLength?: number;
  readonly name?: string;
  /**
   * A model whose answer always starts with a function call: the attention and feed-forward outputs are zero, so
   * the next token depends only on the current one (a bigram model), and after "\n" (the last token of the
   * ChatML assistant header) the one strong logit is the vocabulary piece "||call:", node-llama-cpp's
   * function-call prefix for ChatML. From there node-llama-cpp generates the function's name and arguments under
   * the grammar of its JSON schema. Nothing is learned: it calls a function whatever it is asked.
   */
  readonly alwaysCallsFunction?: boolean;
  /**
   * Larger dimensions than the tiny default, for benchmarks that need a model with a real model's compute cost
   * (tokens per second, VRAM) where no trained weights can be downloaded. Still F32 and random.
   */
  readonly shape?: Partial<ModelShape>;
}

export interface ModelShape {
  readonly embedding: number;
  readonly feedForward: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly layers: number;
}

/** Bump when the bytes written for the same options change, so stale cached files are not reused. */
const WRITER_VERSION = 1;

const TINY_SHAPE: ModelShape = { embedding: 32, feedForward: 64, heads: 4, kvHeads: 2, layers: 1 };
const ALIGNMENT = 32;

const CHAT_TEMPLATES: Record<Exclude<TinyChatTemplate, 'none'>, string> = {
  // The Hugging Face ChatML template as Qwen/OpenHermes ship it.
  chatml:
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}" +
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
  // Meta's Llama 3 (not 3.1) instruct template.
  llama3:
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + " +
    "message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}" +
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}" +
    "{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}",
};

/** GGUF token types (llama.cpp's llama_token_type). */
const TokenType = { normal: 1, unknown: 2, control: 3, byte: 6 } as const;

const CONTROL_TOKENS = [
  '<|im_start|>',
  '<|im_end|>',
  '<|begin_of_text|>',
  '<|start_header_id|>',
  '<|end_header_id|>',
  '<|eot_id|>',
  '<|eom_id|>',
];

const WORD_PIECES = [
  '▁', '▁the', '▁a', '▁is', '▁it', '▁and', '▁to', '▁of', '▁you', '▁I', '▁hello', '▁world', '▁Jarvis', '▁time',
  '▁light', '▁on', '▁off', '▁yes', '▁no', 'e', 't', 'a', 'o', 'i', 'n', 's', 'r', 'h', 'l', 'd', 'ing', 'ed', '.', ',',
];

interface Vocab {
  tokens: string[];
  scores: number[];
  types: number[];
  /** Tokens whose logit is left at 0 so sampling practically never picks them. */
  silenced: Set<number>;
  ids: Map<string, number>;
}

/** node-llama-cpp's default function-call prefix (ChatWrapper.defaultSettings.functions.call). */
export const FUNCTION_CALL_PIECE = '||call:';

function buildVocab(extraPieces: readonly string[] = []): Vocab {
  const tokens: string[] = ['<unk>', '<s>', '</s>'];
  const types: number[] = [TokenType.unknown, TokenType.control, TokenType.control];
  const silenced = new Set<number>([0, 1, 2]);
  for (let byte = 0; byte < 256; byte++) {
    if (byte < 0x20 || byte > 0x7e) silenced.add(tokens.length);
    tokens.push(`<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(TokenType.byte);
  }
  for (const token of CONTROL_TOKENS) {
    silenced.add(tokens.length);
    tokens.push(token);
    types.push(TokenType.control);
  }
  for (const piece of [...WORD_PIECES, ...extraPieces]) {
    tokens.push(piece);
    types.push(TokenType.normal);
  }
  // SPM merges prefer higher scores; longer pieces first, as a trained vocab would rank them.
  const scores = tokens.map((token, id) => (types[id] === TokenType.normal ? -100 + token.length * 10 - id * 0.01 : 0));
  return { tokens, scores, types, silenced, ids: new Map(tokens.map((t, i) => [t, i])) };
}

interface Tensor {
  name: string;
  /** ggml order: the innermost (contiguous) dimension first. */
  dims: number[];
  data: Float32Array;
}

/**
 * Dimension 0 is kept for one signal: only "\n" has it in its embedding and only "||call:" reads it in the output
 * layer, so after "\n" that piece wins by a wide margin and after any other token it has no say.
 */
function scriptFunctionCall(vocab: Vocab, embedding: Float32Array, output: Float32Array, width: number): void {
  const newline = vocab.ids.get('<0x0A>')!;
  const call = vocab.ids.get(FUNCTION_CALL_PIECE)!;
  for (let token = 0; token < vocab.tokens.length; token++) {
    embedding[token * width] = 0;
    output[token * width] = 0;
  }
  embedding.fill(0, newline * width, (newline + 1) * width);
  embedding[newline * width] = 1;
  output.fill(0, call * width, (call + 1) * width);
  output[call * width] = 4;
}

/** The GGUF bytes for `options`; deterministic for the same options. */
export function buildTinyGguf(options: TinyGgufOptions = {}): Buffer {
  const template = options.template ?? 'chatml';
  const seed = options.seed ?? 1234;
  const vocab = buildVocab(options.alwaysCallsFunction ? [FUNCTION_CALL_PIECE] : []);
  const shape: ModelShape = { ...TINY_SHAPE, ...options.shape };
  const nVocab = vocab.tokens.length;
  const kvDim = (shape.embedding / shape.heads) * shape.kvHeads;
  const next = seededRandom(seed);
  const uniform = (scale: number) => (next() * 2 - 1) * scale;
  const matrix = (cols: number, rows: number, scale: number) => {
    const data = new Float32Array(cols * rows);
    for (let i = 0; i < data.length; i++) data[i] = uniform(scale);
    return data;
  };
  const ones = (n: number) => new Float32Array(n).fill(1);

  const output = matrix(shape.embedding, nVocab, 1);
  for (const id of vocab.silenced) output.fill(0, id * shape.embedding, (id + 1) * shape.embedding);
  const embedding = matrix(shape.embedding, nVocab, 1);
  if (options.alwaysCallsFunction) scriptFunctionCall(vocab, embedding, output, shape.embedding);
  const blockOutput = (data: Float32Array) => (options.alwaysCallsFunction ? data.fill(0) : data);

  const tensors: Tensor[] = [
    { name: 'token_embd.weight', dims: [shape.embedding, nVocab], data: embedding },
    { name: 'output_norm.weight', dims: [shape.embedding], data: ones(shape.embedding) },
    { name: 'output.weight', dims: [shape.embedding, nVocab], data: output },
  ];
  const projection = 1 / Math.sqrt(shape.embedding);
  for (let layer = 0; layer < shape.layers; layer++) {
    const blk = `blk.${layer}`;
    tensors.push(
      { name: `${blk}.attn_norm.weight`, dims: [shape.embedding], data: ones(shape.embedding) },
      { name: `${blk}.attn_q.weight`, dims: [shape.embedding, shape.embedding], data: matrix(shape.embedding, shape.embedding, projection) },
      { name: `${blk}.attn_k.weight`, dims: [shape.embedding, kvDim], data: matrix(shape.embedding, kvDim, projection) },
      { name: `${blk}.attn_v.weight`, dims: [shape.embedding, kvDim], data: matrix(shape.embedding, kvDim, projection) },
      { name: `${blk}.attn_output.weight`, dims: [shape.embedding, shape.embedding], data: blockOutput(matrix(shape.embedding, shape.embedding, projection)) },
      { name: `${blk}.ffn_norm.weight`, dims: [shape.embedding], data: ones(shape.embedding) },
      { name: `${blk}.ffn_gate.weight`, dims: [shape.embedding, shape.feedForward], data: matrix(shape.embedding, shape.feedForward, projection) },
      { name: `${blk}.ffn_up.weight`, dims: [shape.embedding, shape.feedForward], data: matrix(shape.embedding, shape.feedForward, projection) },
      { name: `${blk}.ffn_down.weight`, dims: [shape.feedForward, shape.embedding], data: blockOutput(matrix(shape.feedForward, shape.embedding, 1 / Math.sqrt(shape.feedForward))) },
    );
  }

  const id = (token: string) => vocab.ids.get(token)!;
  const metadata: GgufEntry[] = [
    ['general.architecture', 'str', 'llama'],
    ['general.name', 'str', options.name ?? `tiny random ${template}`],
    ['general.file_type', 'u32', 0], // ALL_F32
    ['general.alignment', 'u32', ALIGNMENT],
    ['llama.context_length', 'u32', options.contextLength ?? 4096],
    ['llama.embedding_length', 'u32', shape.embedding],
    ['llama.block_count', 'u32', shape.layers],
    ['llama.feed_forward_length', 'u32', shape.feedForward],
    ['llama.attention.head_count', 'u32', shape.heads],
    ['llama.attention.head_count_kv', 'u32', shape.kvHeads],
    ['llama.rope.dimension_count', 'u32', shape.embedding / shape.heads],
    ['llama.rope.freq_base', 'f32', 10000],
    ['llama.attention.layer_norm_rms_epsilon', 'f32', 1e-5],
    ['llama.vocab_size', 'u32', nVocab],
    ['tokenizer.ggml.model', 'str', 'llama'],
    ['tokenizer.ggml.tokens', 'str[]', vocab.tokens],
    ['tokenizer.ggml.scores', 'f32[]', vocab.scores],
    ['tokenizer.ggml.token_type', 'i32[]', vocab.types],
    ['tokenizer.ggml.bos_token_id', 'u32', template === 'llama3' ? id('<|begin_of_text|>') : id('<s>')],
    ['tokenizer.ggml.eos_token_id', 'u32', template === 'llama3' ? id('<|eot_id|>') : id('</s>')],
    ['tokenizer.ggml.unknown_token_id', 'u32', id('<unk>')],
    ['tokenizer.ggml.add_bos_token', 'bool', true],
    ['tokenizer.ggml.add_eos_token', 'bool', false],
  ];
  if (template !== 'none') metadata.push(['tokenizer.chat_template', 'str', CHAT_TEMPLATES[template]]);

  return encodeGguf(
    metadata,
    tensors.map((t) => ({ name: t.name, dimensions: t.dims, ggmlType: GgmlType.F32, data: t.data })),
  );
}

/** Writes the tiny model for `options` into .cache/test-models once and returns its path. */
export async function writeTinyGguf(options: TinyGgufOptions = {}): Promise<string> {
  const key = createHash('sha1')
    .update(JSON.stringify({ v: WRITER_VERSION, ...options }))
    .digest('hex')
    .slice(0, 12);
  const file = path.join(TEST_MODELS_DIR, `tiny-llama-${options.template ?? 'chatml'}-${key}.gguf`);
  return cachedModel(file, () => buildTinyGguf(options));
}

/** The default test model: ChatML template, seed 1234. */
export function ensureTinyGguf(): Promise<string> {
  return writeTinyGguf();
}
