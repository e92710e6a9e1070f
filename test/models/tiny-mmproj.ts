import path from 'node:path';
import { encodeGguf, GgmlType, type GgufEntry, type GgufTensor } from '../../models/gguf-writer.ts';
import { cachedModel, TEST_MODELS_DIR } from './cache.ts';
import { seededRandom } from './random.ts';

/**
 * A multimodal projector (an "mmproj" GGUF, what `llama-server --mmproj` loads beside a chat model) with tiny
 * dimensions and seeded random weights, written with the project's GGUF encoder, so the tests can send a photo
 * through a real llama-server's image path (llama.cpp's tools/mtmd: decoding, resizing, the vision encoder, the
 * projection into the language model's embeddings) with no downloadable vision model.
 *
 * It is LLaVA's shape (clip.projector_type "mlp", the simplest projector llama.cpp's clip loader takes): a ViT
 * patch embedding of 14×14 patches over a 28×28 image (4 image tokens), one encoder block, and the two-layer MLP
 * (mm.0, GELU, mm.2) whose output width must equal the chat model's embedding width, which clip checks at load:
 * 32 for the tiny test model (test/models/tiny-gguf.ts). The vision encoder runs its blocks up to the
 * second-to-last, so with one block only the patch and position embeddings feed the projector, but the block's
 * tensors are still required and loaded. The answers are not words; the decoding, the tokens and the timing are real.
 */

export interface TinyMmprojShape {
  /** The vision encoder's width. */
  readonly embedding: number;
  /** The chat model's embedding width, which the projector's output must match. */
  readonly textEmbedding: number;
  readonly imageSize: number;
  readonly patchSize: number;
}

const SHAPE: TinyMmprojShape = { embedding: 16, textEmbedding: 32, imageSize: 28, patchSize: 14 };
const WRITER_VERSION = 1;

export function buildTinyMmproj(shape: TinyMmprojShape = SHAPE, seed = 4321): Buffer {
  const next = seededRandom(seed);
  const random = (n: number, scale: number) => Float32Array.from({ length: n }, () => (next() * 2 - 1) * scale);
  const ones = (n: number) => new Float32Array(n).fill(1);
  const zeros = (n: number) => new Float32Array(n);
  const e = shape.embedding;
  const ff = e * 2;
  const hidden = shape.textEmbedding;
  const patches = (shape.imageSize / shape.patchSize) ** 2;
  const tensor = (name: string, dimensions: number[], data: Float32Array): GgufTensor => ({ name, dimensions, ggmlType: GgmlType.F32, data });
  const tensors: GgufTensor[] = [
    // conv2d kernel: width, height, input channels, output channels.
    tensor('v.patch_embd.weight', [shape.patchSize, shape.patchSize, 3, e], random(shape.patchSize * shape.patchSize * 3 * e, 0.1)),
    tensor('v.patch_embd.bias', [e], zeros(e)),
    tensor('v.position_embd.weight', [e, patches], random(e * patches, 0.1)),
    tensor('v.blk.0.ln1.weight', [e], ones(e)),
    tensor('v.blk.0.ln1.bias', [e], zeros(e)),
    tensor('v.blk.0.attn_q.weight', [e, e], random(e * e, 0.2)),
    tensor('v.blk.0.attn_q.bias', [e], zeros(e)),
    tensor('v.blk.0.attn_k.weight', [e, e], random(e * e, 0.2)),
    tensor('v.blk.0.attn_k.bias', [e], zeros(e)),
    tensor('v.blk.0.attn_v.weight', [e, e], random(e * e, 0.2)),
    tensor('v.blk.0.attn_v.bias', [e], zeros(e)),
    tensor('v.blk.0.attn_out.weight', [e, e], random(e * e, 0.2)),
    tensor('v.blk.0.attn_out.bias', [e], zeros(e)),
    tensor('v.blk.0.ln2.weight', [e], ones(e)),
    tensor('v.blk.0.ln2.bias', [e], zeros(e)),
    tensor('v.blk.0.ffn_up.weight', [e, ff], random(e * ff, 0.2)),
    tensor('v.blk.0.ffn_up.bias', [ff], zeros(ff)),
    tensor('v.blk.0.ffn_down.weight', [ff, e], random(ff * e, 0.2)),
    tensor('v.blk.0.ffn_down.bias', [e], zeros(e)),
    // The LLaVA projector: vision width → the chat model's width, GELU, → the chat model's width.
    tensor('mm.0.weight', [e, hidden], random(e * hidden, 0.5)),
    tensor('mm.0.bias', [hidden], zeros(hidden)),
    tensor('mm.2.weight', [hidden, shape.textEmbedding], random(hidden * shape.textEmbedding, 0.5)),
    tensor('mm.2.bias', [shape.textEmbedding], zeros(shape.textEmbedding)),
  ];
  const metadata: GgufEntry[] = [
    ['general.architecture', 'str', 'clip'],
    ['general.name', 'str', 'tiny random llava projector'],
    ['general.file_type', 'u32', 0],
    ['general.alignment', 'u32', 32],
    ['clip.has_vision_encoder', 'bool', true],
    ['clip.projector_type', 'str', 'mlp'],
    ['clip.use_gelu', 'bool', true],
    ['clip.vision.embedding_length', 'u32', e],
    ['clip.vision.feed_forward_length', 'u32', ff],
    ['clip.vision.block_count', 'u32', 1],
    ['clip.vision.projection_dim', 'u32', shape.textEmbedding],
    ['clip.vision.attention.head_count', 'u32', 2],
    ['clip.vision.attention.layer_norm_epsilon', 'f32', 1e-5],
    ['clip.vision.image_size', 'u32', shape.imageSize],
    ['clip.vision.patch_size', 'u32', shape.patchSize],
    ['clip.vision.image_mean', 'f32[]', [0.48145466, 0.4578275, 0.40821073]],
    ['clip.vision.image_std', 'f32[]', [0.26862954, 0.26130258, 0.27577711]],
  ];
  return encodeGguf(metadata, tensors);
}

/** Writes the tiny projector into .cache/test-models once and returns its path. */
export function ensureTinyMmproj(): Promise<string> {
  return cachedModel(path.join(TEST_MODELS_DIR, `tiny-mmproj-llava-v${WRITER_VERSION}.gguf`), () => buildTinyMmproj());
}
