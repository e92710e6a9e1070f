import { tensorDataBytes } from './gguf-file.ts';
import type { LlmShape, Quantization } from './types.ts';

/**
 * Writes the GGUF header (metadata and tensor table, no tensor data) that a model of a given shape and
 * quantisation has. node-llama-cpp's GgufInsights estimates memory from exactly these two parts, so a model can
 * be fitted to the GPU before a byte of it is downloaded, through the same code path as a file on disk.
 *
 * The per-tensor types follow llama.cpp's quantisation recipes (llama_tensor_get_type): K-quant "_M" mixes put
 * the output matrix and, in an eighth of the layers at each end and every third in between, attn_v and
 * ffn_down in Q6_K. Sizes computed this way land within about 1 % of the published files.
 */

const GgmlType = { F32: 0, F16: 1, Q8_0: 8, Q4_K: 12, Q5_K: 13, Q6_K: 14 } as const;
const ALIGNMENT = 32;

/** GGUF general.file_type (llama_ftype) of each recipe. */
const FILE_TYPE: Record<string, number> = { F16: 1, Q8_0: 7, Q4_K_M: 15, Q5_K_M: 17 };

interface Recipe {
  readonly base: number;
  /** attn_v / ffn_down in the layers that get more bits. */
  readonly more: number;
  readonly output: number;
}

const RECIPES: Record<string, Recipe> = {
  Q4_K_M: { base: GgmlType.Q4_K, more: GgmlType.Q6_K, output: GgmlType.Q6_K },
  Q5_K_M: { base: GgmlType.Q5_K, more: GgmlType.Q6_K, output: GgmlType.Q6_K },
  Q8_0: { base: GgmlType.Q8_0, more: GgmlType.Q8_0, output: GgmlType.Q8_0 },
  F16: { base: GgmlType.F16, more: GgmlType.F16, output: GgmlType.F16 },
};

export const SHAPE_QUANTIZATIONS = Object.keys(RECIPES) as readonly Quantization[];

interface TensorSpec {
  readonly name: string;
  /** ggml order: the contiguous dimension first. */
  readonly dimensions: readonly number[];
  readonly ggmlType: number;
}

/** llama.cpp's use_more_bits(i_layer, n_layers). */
function usesMoreBits(layer: number, layers: number): boolean {
  return layer < layers / 8 || layer >= (7 * layers) / 8 || (layer - Math.floor(layers / 8)) % 3 === 2;
}

function recipeFor(quantization: Quantization): Recipe {
  const recipe = RECIPES[quantization];
  if (!recipe) throw new Error(`no tensor recipe for ${quantization}; known: ${SHAPE_QUANTIZATIONS.join(', ')}`);
  return recipe;
}

export function shapeTensors(shape: LlmShape, quantization: Quantization): TensorSpec[] {
  const recipe = recipeFor(quantization);
  const { embedding: e, feedForward: ff, vocab, layers } = shape;
  const kv = (e / shape.heads) * shape.kvHeads;
  const tensors: TensorSpec[] = [
    { name: 'token_embd.weight', dimensions: [e, vocab], ggmlType: shape.tiedEmbeddings ? recipe.output : recipe.base },
    { name: 'output_norm.weight', dimensions: [e], ggmlType: GgmlType.F32 },
  ];
  if (!shape.tiedEmbeddings) tensors.push({ name: 'output.weight', dimensions: [e, vocab], ggmlType: recipe.output });
  for (let i = 0; i < layers; i++) {
    const blk = `blk.${i}`;
    const more = usesMoreBits(i, layers) ? recipe.more : recipe.base;
    tensors.push(
      { name: `${blk}.attn_norm.weight`, dimensions: [e], ggmlType: GgmlType.F32 },
      { name: `${blk}.attn_q.weight`, dimensions: [e, e], ggmlType: recipe.base },
      { name: `${blk}.attn_k.weight`, dimensions: [e, kv], ggmlType: recipe.base },
      { name: `${blk}.attn_v.weight`, dimensions: [e, kv], ggmlType: more },
      { name: `${blk}.attn_output.weight`, dimensions: [e, e], ggmlType: recipe.base },
      { name: `${blk}.ffn_norm.weight`, dimensions: [e], ggmlType: GgmlType.F32 },
      { name: `${blk}.ffn_gate.weight`, dimensions: [e, ff], ggmlType: recipe.base },
      { name: `${blk}.ffn_up.weight`, dimensions: [e, ff], ggmlType: recipe.base },
      { name: `${blk}.ffn_down.weight`, dimensions: [ff, e], ggmlType: more },
    );
    if (shape.qkvBias) {
      tensors.push(
        { name: `${blk}.attn_q.bias`, dimensions: [e], ggmlType: GgmlType.F32 },
        { name: `${blk}.attn_k.bias`, dimensions: [kv], ggmlType: GgmlType.F32 },
        { name: `${blk}.attn_v.bias`, dimensions: [kv], ggmlType: GgmlType.F32 },
      );
    }
  }
  return tensors;
}

function alignedBytes(tensor: TensorSpec): number {
  const bytes = tensorDataBytes(tensor);
  if (bytes === undefined) throw new Error(`unknown ggml type ${tensor.ggmlType} for ${tensor.name}`);
  return Math.ceil(bytes / ALIGNMENT) * ALIGNMENT;
}

/** The size of the whole file (header and tensor data) a model of this shape and quantisation has. */
export function estimateGgufBytes(shape: LlmShape, quantization: Quantization, name = 'model'): number {
  const tensors = shapeTensors(shape, quantization);
  return buildShapeHeader(shape, quantization, name).length + tensors.reduce((sum, t) => sum + alignedBytes(t), 0);
}

/** Parameters in billions, from the tensor table. */
export function shapeParametersB(shape: LlmShape): number {
  const elements = shapeTensors(shape, 'F16').reduce((sum, t) => sum + t.dimensions.reduce((n, d) => n * d, 1), 0);
  return Math.round(elements / 1e7) / 100;
}

/** Little-endian GGUF v3 writer for the few value types a header needs. */
class HeaderWriter {
  readonly #parts: Buffer[] = [];
  #length = 0;

  get length(): number {
    return this.#length;
  }

  #push(buffer: Buffer): void {
    this.#parts.push(buffer);
    this.#length += buffer.length;
  }

  u32(value: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(value);
    this.#push(b);
  }

  u64(value: number): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(value));
    this.#push(b);
  }

  f32(value: number): void {
    const b = Buffer.alloc(4);
    b.writeFloatLE(value);
    this.#push(b);
  }

  str(value: string): void {
    const bytes = Buffer.from(value, 'utf8');
    this.u64(bytes.length);
    this.#push(bytes);
  }

  raw(bytes: Buffer): void {
    this.#push(bytes);
  }

  pad(alignment: number): void {
    const pad = (alignment - (this.#length % alignment)) % alignment;
    if (pad > 0) this.#push(Buffer.alloc(pad));
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.#parts);
  }
}

const VALUE_TYPE = { u32: 4, f32: 6, str: 8 } as const;
type Metadata = [key: string, type: keyof typeof VALUE_TYPE, value: string | number];

/** The header bytes (up to where tensor data would start) of a model of this shape. */
export function buildShapeHeader(shape: LlmShape, quantization: Quantization, name = 'model'): Buffer {
  const arch = shape.architecture;
  const fileType = FILE_TYPE[quantization];
  if (fileType === undefined) throw new Error(`no GGUF file type for ${quantization}`);
  const metadata: Metadata[] = [
    ['general.architecture', 'str', arch],
    ['general.name', 'str', name],
    ['general.file_type', 'u32', fileType],
    ['general.alignment', 'u32', ALIGNMENT],
    [`${arch}.context_length`, 'u32', shape.contextLength],
    [`${arch}.embedding_length`, 'u32', shape.embedding],
    [`${arch}.block_count`, 'u32', shape.layers],
    [`${arch}.feed_forward_length`, 'u32', shape.feedForward],
    [`${arch}.attention.head_count`, 'u32', shape.heads],
    [`${arch}.attention.head_count_kv`, 'u32', shape.kvHeads],
    [`${arch}.rope.freq_base`, 'f32', shape.ropeFreqBase],
    [`${arch}.attention.layer_norm_rms_epsilon`, 'f32', 1e-6],
    [`${arch}.vocab_size`, 'u32', shape.vocab],
    ['tokenizer.ggml.model', 'str', 'gpt2'],
  ];
  const tensors = shapeTensors(shape, quantization);
  const w = new HeaderWriter();
  w.raw(Buffer.from('GGUF', 'latin1'));
  w.u32(3);
  w.u64(tensors.length);
  w.u64(metadata.length);
  for (const [key, type, value] of metadata) {
    w.str(key);
    w.u32(VALUE_TYPE[type]);
    if (type === 'str') w.str(value as string);
    else if (type === 'u32') w.u32(value as number);
    else w.f32(value as number);
  }
  let offset = 0;
  for (const tensor of tensors) {
    w.str(tensor.name);
    w.u32(tensor.dimensions.length);
    for (const d of tensor.dimensions) w.u64(d);
    w.u32(tensor.ggmlType);
    w.u64(offset);
    offset += alignedBytes(tensor);
  }
  w.pad(ALIGNMENT);
  return w.toBuffer();
}
