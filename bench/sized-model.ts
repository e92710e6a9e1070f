import { parseArgs } from 'node:util';
import { writeTinyGguf, type ModelShape } from '../test/models/tiny-gguf.ts';

/**
 * Writes a random-weight llama GGUF with a real model's dimensions into .cache/test-models and prints its path,
 * for measuring the LLM's speed and VRAM where no trained weights can be downloaded (CI, the GPU machine lent to
 * development). The default is TinyLlama 1.1B's shape in F32: 3.9 GB, about what an 8B model at Q4_K_M moves
 * through memory per token, so tokens per second and VRAM are of the right order; the words are garbage.
 *
 * Run: node --import tsx bench/sized-model.ts [--layers 22] [--embedding 2048] [--feed-forward 5632] [--heads 32] [--kv-heads 4]
 * then: npm run bench -- --only llm,gpu --models config.json   (a config whose llm.model is that path)
 */

const TINYLLAMA_1B: ModelShape = { embedding: 2048, feedForward: 5632, heads: 32, kvHeads: 4, layers: 22 };

const { values } = parseArgs({
  options: {
    embedding: { type: 'string' },
    'feed-forward': { type: 'string' },
    heads: { type: 'string' },
    'kv-heads': { type: 'string' },
    layers: { type: 'string' },
  },
});

function dimension(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive whole number, got "${value}"`);
  return n;
}

const shape: ModelShape = {
  embedding: dimension(values.embedding, TINYLLAMA_1B.embedding, 'embedding'),
  feedForward: dimension(values['feed-forward'], TINYLLAMA_1B.feedForward, 'feed-forward'),
  heads: dimension(values.heads, TINYLLAMA_1B.heads, 'heads'),
  kvHeads: dimension(values['kv-heads'], TINYLLAMA_1B.kvHeads, 'kv-heads'),
  layers: dimension(values.layers, TINYLLAMA_1B.layers, 'layers'),
};
if (shape.embedding % shape.heads !== 0 || shape.heads % shape.kvHeads !== 0) {
  throw new Error('--embedding must be a multiple of --heads, and --heads a multiple of --kv-heads');
}
const perLayer = 2 * shape.embedding * shape.embedding + 2 * shape.embedding * (shape.embedding / shape.heads) * shape.kvHeads + 3 * shape.embedding * shape.feedForward;
const bytes = perLayer * shape.layers * 4;
// One Node Buffer holds the whole file before it is written.
if (bytes > 4e9) throw new Error(`that shape is ${(bytes / 1e9).toFixed(1)} GB in F32; the writer holds at most 4 GB: use fewer --layers`);

console.log(await writeTinyGguf({ shape, seed: 7, name: `random llama ${shape.layers}x${shape.embedding}` }));
