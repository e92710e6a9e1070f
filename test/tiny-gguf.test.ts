import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { silentLogger } from '../base/log.ts';
import { Embedder } from '../core/knowledge/embedder.ts';
import { buildTinyGguf, f16Bits, quantizeQ8_0, writeTinyGguf } from './models/tiny-gguf.ts';

/** The float an f16's bits stand for. */
function f16Value(bits: number): number {
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  const magnitude = exponent === 0 ? mantissa * 2 ** -24 : (1 + mantissa / 1024) * 2 ** (exponent - 15);
  return bits & 0x8000 ? -magnitude : magnitude;
}

test('Q8_0 blocks: an f16 scale of max|x| / 127, then 32 int8s that give the values back to within half a step', () => {
  assert.equal(f16Bits(1), 0x3c00);
  assert.equal(f16Bits(-2), 0xc000);
  assert.equal(f16Bits(65504), 0x7bff);
  assert.equal(f16Bits(1e-8), 0); // below the smallest subnormal
  const values = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i) * (i < 32 ? 1 : 0.01));
  const bytes = quantizeQ8_0(values, 32);
  assert.equal(bytes.length, 2 * 34);
  const view = new DataView(bytes.buffer);
  for (let block = 0; block < 2; block++) {
    const d = f16Value(view.getUint16(block * 34, true));
    const amax = Math.max(...values.subarray(block * 32, block * 32 + 32).map(Math.abs));
    assert.ok(Math.abs(d - amax / 127) < (amax / 127) * 1e-3);
    for (let i = 0; i < 32; i++) assert.ok(Math.abs(view.getInt8(block * 34 + 2 + i) * d - values[block * 32 + i]!) <= d * 0.51);
  }
  assert.throws(() => quantizeQ8_0(new Float32Array(48), 48), /multiple of 32/);
});

test('a Q8_0 tiny model is a file of its own, a third of the F32 one, and llama.cpp embeds with it', async () => {
  const [f32, q8] = await Promise.all([writeTinyGguf({ template: 'none' }), writeTinyGguf({ template: 'none', quantization: 'q8_0' })]);
  assert.notEqual(path.basename(f32), path.basename(q8));
  assert.ok(buildTinyGguf({ quantization: 'q8_0' }).length < buildTinyGguf().length / 2.5);
  const embedder = new Embedder({ modelPath: q8, gpu: 'cpu', documentPrefix: 'search_document: ', queryPrefix: 'search_query: ', niceness: 0, threads: 1 }, silentLogger);
  try {
    assert.equal(await embedder.load(), 32);
    const vector = await embedder.embedQuery('where is the spare key');
    assert.equal(vector.length, 32);
    assert.ok(vector.every(Number.isFinite) && vector.some((v) => v !== 0));
  } finally {
    await embedder.dispose();
  }
});
