import { tensorDataBytes } from './ggml-types.ts';
import { encodeGgufHeader, GgmlType, ggufFileBytes, type GgufEntry, type GgufTensorInfo } from './gguf-writer.ts';
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

/** The tensor table with each tensor's data size, as the header lists it. */
function tensorInfos(shape: LlmShape, quantization: Quantization): GgufTensorInfo[] {
  return shapeTensors(shape, quantization).map((tensor) => {
    const dataBytes = tensorDataBytes(tensor);
    if (dataBytes === undefined) throw new Error(`unknown ggml type ${tensor.ggmlType} for ${tensor.name}`);
    return { ...tensor, dataBytes };
  });
}

/** The size of the whole file (header and tensor data) a model of this shape and quantisation has. */
export function estimateGgufBytes(shape: LlmShape, quantization: Quantization, name = 'model'): number {
  const tensors = tensorInfos(shape, quantization);
  return ggufFileBytes(shapeMetadata(shape, quantization, name), tensors);
}

/** Parameters in billions, from the tensor table. */
export function shapeParametersB(shape: LlmShape): number {
  const elements = shapeTensors(shape, 'F16').reduce((sum, t) => sum + t.dimensions.reduce((n, d) => n * d, 1), 0);
  return Math.round(elements / 1e7) / 100;
}

function shapeMetadata(shape: LlmShape, quantization: Quantization, name: string): GgufEntry[] {
  const arch = shape.architecture;
  const fileType = FILE_TYPE[quantization];
  if (fileType === undefined) throw new Error(`no GGUF file type for ${quantization}`);
  return [
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
}

/** The header bytes (up to where tensor data would start) of a model of this shape. */
export function buildShapeHeader(shape: LlmShape, quantization: Quantization, name = 'model'): Buffer {
  return encodeGgufHeader(shapeMetadata(shape, quantization, name), tensorInfos(shape, quantization));
}
