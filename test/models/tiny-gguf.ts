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

export type TinyChatTemplate = 'chatml' | 'llama3' | 'llama3.1' | 'none';

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
   * (tokens per second, VRAM) where no trained weights can be downloaded. Random; F32 unless `quantization` says.
   */
  readonly shape?: Partial<ModelShape>;
  /**
   * 'q8_0': every 2-D weight matrix (the token embeddings and output included, as llama.cpp's Q8_0 files have them)
   * in ggml's Q8_0 blocks, the norms F32, as the catalog's Q8_0 models are: a quarter of F32's bytes to read per
   * token. Without it, everything is F32 (and the bytes, and the cached file's name, are what they always were).
   */
  readonly quantization?: 'q8_0';
  /**
   * Whole words the tokenizer knows (with every prefix, since llama.cpp's SentencePiece merges grow a piece from
   * its characters), so text made of them is about one token a word, as a trained tokenizer makes English; without,
   * the tiny vocabulary spells nearly everything a character at a time (a 280-word passage is ~1 800 tokens).
   */
  readonly words?: readonly string[];
}

export interface ModelShape {
  readonly embedding: number;
  readonly feedForward: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly layers: number;
}

/** Bump when the bytes written for the same options change, so stale cached files are not reused. */
const WRITER_VERSION = 3;

/**
 * Two heads of 16 sharing one key/value head: with llama.cpp's flash attention (node-llama-cpp's default, "auto")
 * on the CPU, the four heads of 8 that version 1 of the writer had evaluated a 2 400-token prompt 18× slower (650 vs
 * 35 ms on one thread), and every test that loads the skills' function definitions paid it. The same matrices,
 * so the same bytes and file size: only how llama.cpp splits them into heads differs.
 */
const TINY_SHAPE: ModelShape = { embedding: 32, feedForward: 64, heads: 2, kvHeads: 1, layers: 1 };
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
  // Meta's Llama 3.1 instruct template (tools in the first user message, a call answered as bare JSON
  // {"name": …, "parameters": …}): llama-server finds no marker that starts a call in it, so with tool_choice
  // "required" the whole answer is generated under the tool-call grammar, a real call even from random weights.
  'llama3.1': `{{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- set date_string = "26 Jul 2024" %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{#- System message + builtin tools #}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{%- if builtin_tools is defined or tools is not none %}
    {{- "Environment: ipython\\n" }}
{%- endif %}
{%- if builtin_tools is defined %}
    {{- "Tools: " + builtin_tools | reject('equalto', 'code_interpreter') | join(", ") + "\\n\\n"}}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\\n" }}
{{- "Today Date: " + date_string + "\\n\\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {{- "You have access to the following functions. To call a function, please respond with JSON for a function call." }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\\n\\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\\n\\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}

{#- Custom tools are passed in a user message with some extra guidance #}
{%- if tools_in_user_message and not tools is none %}
    {#- Extract the first user message so we can plug it in here #}
    {%- if messages | length != 0 %}
        {%- set first_user_message = messages[0]['content']|trim %}
        {%- set messages = messages[1:] %}
    {%- else %}
        {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") }}
{%- endif %}
    {{- '<|start_header_id|>user<|end_header_id|>\\n\\n' -}}
    {{- "Given the following functions, please respond with a JSON for a function call " }}
    {{- "with its proper arguments that best answers the given prompt.\\n\\n" }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\\n\\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\\n\\n" }}
    {%- endfor %}
    {{- first_user_message + "<|eot_id|>"}}
{%- endif %}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("This model only supports single tool-calls at once!") }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {%- if builtin_tools is defined and tool_call.name in builtin_tools %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}
            {{- "<|python_tag|>" + tool_call.name + ".call(" }}
            {%- for arg_name, arg_val in tool_call.arguments | items %}
                {{- arg_name + '="' + arg_val + '"' }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- endif %}
                {%- endfor %}
            {{- ")" }}
        {%- else  %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}
            {{- '{"name": "' + tool_call.name + '", ' }}
            {{- '"parameters": ' }}
            {{- tool_call.arguments | tojson }}
            {{- "}" }}
        {%- endif %}
        {%- if builtin_tools is defined %}
            {#- This means we're in ipython mode #}
            {{- "<|eom_id|>" }}
        {%- else %}
            {{- "<|eot_id|>" }}
        {%- endif %}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\\n\\n" }}
        {%- if message.content is mapping or message.content is iterable %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}`,
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

/** "▁c", "▁ca", "▁cat" for "cat": the pieces SentencePiece merges "cat" through, none already in the vocabulary. */
function wordPieces(words: readonly string[]): string[] {
  const known = new Set<string>([...WORD_PIECES, FUNCTION_CALL_PIECE]);
  const out: string[] = [];
  for (const word of words) {
    for (let end = 1; end <= word.length; end++) {
      const piece = `▁${word.slice(0, end)}`;
      if (known.has(piece)) continue;
      known.add(piece);
      out.push(piece);
    }
  }
  return out;
}

/** The GGUF bytes for `options`; deterministic for the same options. */
export function buildTinyGguf(options: TinyGgufOptions = {}): Buffer {
  const template = options.template ?? 'chatml';
  const seed = options.seed ?? 1234;
  const vocab = buildVocab([...(options.alwaysCallsFunction ? [FUNCTION_CALL_PIECE] : []), ...wordPieces(options.words ?? [])]);
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
    ['general.file_type', 'u32', options.quantization === 'q8_0' ? 7 : 0], // MOSTLY_Q8_0 or ALL_F32
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
    ['tokenizer.ggml.bos_token_id', 'u32', template.startsWith('llama3') ? id('<|begin_of_text|>') : id('<s>')],
    ['tokenizer.ggml.eos_token_id', 'u32', template.startsWith('llama3') ? id('<|eot_id|>') : id('</s>')],
    ['tokenizer.ggml.unknown_token_id', 'u32', id('<unk>')],
    ['tokenizer.ggml.add_bos_token', 'bool', true],
    ['tokenizer.ggml.add_eos_token', 'bool', false],
  ];
  if (template !== 'none') metadata.push(['tokenizer.chat_template', 'str', CHAT_TEMPLATES[template]]);
  // Llama 3's tokenizer adds no space before the text after a special token ("<|start_header_id|>assistant"),
  // which llama-server's tool-call grammar relies on: it replays the generation prompt through the grammar.
  if (template === 'llama3.1') metadata.push(['tokenizer.ggml.add_space_prefix', 'bool', false]);

  const q8 = options.quantization === 'q8_0';
  return encodeGguf(
    metadata,
    tensors.map((t) =>
      q8 && t.dims.length === 2
        ? { name: t.name, dimensions: t.dims, ggmlType: GgmlType.Q8_0, data: quantizeQ8_0(t.data, t.dims[0]!) }
        : { name: t.name, dimensions: t.dims, ggmlType: GgmlType.F32, data: t.data },
    ),
  );
}

const Q8_0_BLOCK = 32;

/**
 * ggml's Q8_0 (block_q8_0, quantize_row_q8_0_ref): each run of 32 values as an f16 scale d = max|x| / 127 and 32
 * int8 q = round(x / d), 34 bytes. Rows of `rowLength` values, which must be a multiple of 32.
 */
export function quantizeQ8_0(values: Float32Array, rowLength: number): Uint8Array {
  if (rowLength % Q8_0_BLOCK !== 0 || values.length % rowLength !== 0) throw new Error(`Q8_0 needs rows of a multiple of ${Q8_0_BLOCK} values, not ${rowLength}`);
  const blocks = values.length / Q8_0_BLOCK;
  const out = new Uint8Array(blocks * (2 + Q8_0_BLOCK));
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    const base = b * Q8_0_BLOCK;
    let amax = 0;
    for (let i = 0; i < Q8_0_BLOCK; i++) amax = Math.max(amax, Math.abs(values[base + i]!));
    const d = amax / 127;
    const id = d ? 1 / d : 0;
    const at = b * (2 + Q8_0_BLOCK);
    view.setUint16(at, f16Bits(d), true);
    // roundf: halves away from zero.
    for (let i = 0; i < Q8_0_BLOCK; i++) view.setInt8(at + 2 + i, Math.sign(values[base + i]!) * Math.round(Math.abs(values[base + i]! * id)));
  }
  return out;
}

const f32 = new Float32Array(1);
const f32Bits = new Uint32Array(f32.buffer);

/** IEEE half-precision bits of `value` (round to nearest even), as ggml's GGML_FP32_TO_FP16 makes them. */
export function f16Bits(value: number): number {
  f32[0] = value;
  const x = f32Bits[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    let half = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++;
  return sign | half;
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
