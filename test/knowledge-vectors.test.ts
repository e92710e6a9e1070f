import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ExactVectors } from '../core/knowledge/exact-vectors.ts';
import { seededRandom } from './models/random.ts';

/** The int8 scan with f32 re-scoring (ExactVectors.search) against the f32 scan of every row (searchExact). */

const D = 768;

function normalize(v: Float32Array): Float32Array {
  let norm = 0;
  for (const x of v) norm += x * x;
  const scale = 1 / Math.sqrt(norm);
  for (let i = 0; i < v.length; i++) v[i]! *= scale;
  return v;
}

/** Gaussian unit vectors (Box–Muller). */
function gaussian(random: () => number): Float32Array {
  const v = new Float32Array(D);
  for (let i = 0; i < D; i += 2) {
    const r = Math.sqrt(-2 * Math.log(random() || 1e-12));
    const theta = 2 * Math.PI * random();
    v[i] = r * Math.cos(theta);
    v[i + 1] = r * Math.sin(theta);
  }
  return normalize(v);
}

/** Vectors around a few centres, with a strong shared direction, as trained embeddings are (many near-ties at the top). */
function clustered(random: () => number, count: number): Float32Array[] {
  const shared = gaussian(random);
  const centres = Array.from({ length: 8 }, () => gaussian(random));
  return Array.from({ length: count }, (_, n) => {
    const noise = gaussian(random);
    const centre = centres[n % centres.length]!;
    return normalize(Float32Array.from({ length: D }, (_, i) => 0.6 * shared[i]! + 0.5 * centre[i]! + 0.35 * noise[i]!));
  });
}

function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

function filled(vectors: Float32Array[], firstId = 1): ExactVectors {
  const store = new ExactVectors(D, 16);
  vectors.forEach((v, i) => store.set(firstId + i, v));
  return store;
}

function assertSameTop(store: ExactVectors, query: Float32Array, k: number): void {
  const fast = store.search(query, k);
  const exact = store.searchExact(query, k);
  assert.deepEqual(
    fast.map((m) => m.id),
    exact.map((m) => m.id),
  );
  fast.forEach((m, i) => assert.ok(Math.abs(m.score - exact[i]!.score) < 1e-5, `score ${m.score} vs ${exact[i]!.score}`));
}

describe('the int8 vector scan, re-scored in f32', () => {
  test('finds the f32 scan\'s top 10, in its order, on random vectors', () => {
    const random = seededRandom(21);
    const store = filled(Array.from({ length: 5000 }, () => gaussian(random)));
    for (let q = 0; q < 30; q++) assertSameTop(store, gaussian(random), 10);
  });

  test('finds the f32 scan\'s top 10 and top 50 on clustered vectors, the question near stored ones', () => {
    const random = seededRandom(22);
    const vectors = clustered(random, 4000);
    const store = filled(vectors);
    for (let q = 0; q < 30; q++) {
      // A question close to a stored passage: the top of the ranking is a crowd of near-ties.
      const near = vectors[Math.floor(random() * vectors.length)]!;
      const noise = gaussian(random);
      const query = normalize(Float32Array.from({ length: D }, (_, i) => near[i]! + 0.3 * noise[i]!));
      assertSameTop(store, query, 10);
      assertSameTop(store, query, 50);
    }
  });

  test('the scores returned are the exact cosine similarities', () => {
    const random = seededRandom(23);
    const vectors = Array.from({ length: 3000 }, () => gaussian(random));
    const store = filled(vectors, 100);
    const query = gaussian(random);
    const found = store.search(query, 10);
    assert.equal(found.length, 10);
    for (const m of found) assert.ok(Math.abs(m.score - dot(vectors[m.id - 100]!, query)) < 1e-6);
    for (let i = 1; i < found.length; i++) assert.ok(found[i - 1]!.score >= found[i]!.score, 'best first');
  });

  test('adding, replacing and removing vectors keeps the int8 copy in step', () => {
    const random = seededRandom(24);
    const vectors = Array.from({ length: 2000 }, () => gaussian(random));
    const store = filled(vectors);
    // Remove every third (rows move into the holes), replace some others, add new ones.
    for (let id = 1; id <= 2000; id += 3) assert.equal(store.delete(id), true);
    assert.equal(store.delete(1), false);
    const replaced = new Map<number, Float32Array>();
    for (let id = 2; id <= 2000; id += 7) {
      if (!store.has(id)) continue;
      const v = gaussian(random);
      replaced.set(id, v);
      store.set(id, v);
    }
    for (let id = 5000; id < 5300; id++) store.set(id, gaussian(random));
    assert.equal(store.size, 2000 - 667 + 300);
    for (let q = 0; q < 20; q++) {
      const query = gaussian(random);
      assertSameTop(store, query, 10);
      for (const m of store.search(query, 50)) assert.ok(store.has(m.id), `removed id ${m.id} found`);
    }
    // A replaced vector is found by itself, with its new content.
    for (const [id, v] of [...replaced].slice(0, 5)) {
      const [best] = store.search(v, 1);
      assert.equal(best!.id, id);
      assert.ok(Math.abs(best!.score - 1) < 1e-5);
    }
  });

  test('a vector with a larger component than any before widens the int8 range for all', () => {
    const random = seededRandom(25);
    const store = filled(Array.from({ length: 1000 }, () => gaussian(random)));
    const spike = new Float32Array(D);
    spike[7] = 1;
    store.set(9999, spike);
    for (let i = 0; i < 200; i++) store.set(20_000 + i, gaussian(random));
    const [best] = store.search(spike, 1);
    assert.equal(best!.id, 9999);
    assert.ok(Math.abs(best!.score - 1) < 1e-6);
    for (let q = 0; q < 10; q++) assertSameTop(store, gaussian(random), 10);
  });

  test('an empty index finds nothing; a small one is scanned in f32', () => {
    const random = seededRandom(26);
    const store = new ExactVectors(D);
    assert.deepEqual(store.search(gaussian(random), 10), []);
    store.set(1, gaussian(random));
    store.set(2, gaussian(random));
    assert.equal(store.search(gaussian(random), 10).length, 2);
    store.delete(1);
    store.delete(2);
    assert.deepEqual(store.search(gaussian(random), 10), []);
    const full = filled(Array.from({ length: 500 }, () => gaussian(random)));
    full.clear();
    assert.equal(full.size, 0);
    assert.deepEqual(full.search(gaussian(random), 10), []);
    // Refilled after clear: the int8 range is set again from the new vectors.
    const again = Array.from({ length: 400 }, () => gaussian(random));
    again.forEach((v, i) => full.set(i, v));
    assertSameTop(full, gaussian(random), 10);
    assert.throws(() => full.search(new Float32Array(3), 1), RangeError);
  });

  test('the int8 copy costs a quarter of the f32 bytes', () => {
    const store = new ExactVectors(D, 1000);
    assert.equal(store.bytes, 1000 * D * 4 + 1000 * D + 1000 * 4);
  });
});
