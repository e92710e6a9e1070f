import { exactSearch, MetricKind, type Matches } from 'usearch';

/**
 * The passages' vectors in one Float32Array, searched exactly: a dot product with every row (the vectors are unit
 * length, so that is cosine similarity), by usearch's SIMD brute-force kernel on one thread (the other core stays
 * with the audio). Chosen over an HNSW graph (usearch) and sqlite-vec on the numbers in bench/results/*-knowledge.md:
 * exact by construction (HNSW lost neighbours at 768 dimensions), no build time (HNSW took minutes per 100 000 on
 * this box), an edit or delete is a row copy instead of a graph repair, and the vectors themselves stay in SQLite.
 *
 * The scan reads every row, so it is bound by memory bandwidth (100 000 × 768 f32 = 307 MB a question, ~19 ms on
 * this box): an int8 copy of the rows (a quarter of the bytes, one scale for all of them) is scanned instead, and
 * the best `rescored` candidates it finds are scored again exactly in f32. The int8 order only chooses which rows
 * are scored; the scores returned, and the order among the rows returned, are the f32 ones. recall@10 against the
 * f32 scan: bench/results/2026-12-04-knowledge-latency.md.
 */

export interface ExactVectorsOptions {
  /** Rows of the int8 scan scored again in f32 (at least 4 × k). */
  readonly rescored?: number;
}

/** Candidates re-scored exactly: wide enough that int8 rounding never pushes one of the true top 50 out. */
const RESCORED = 200;
/** The int8 range is set at this much above the largest component seen, so a few new vectors rarely rescale all. */
const HEADROOM = 1.25;

export class ExactVectors {
  private data: Float32Array;
  /** `data` rounded to int8 with `scale` (row for row), what the first pass scans. */
  private quantized: Int8Array;
  /** int8 units per unit of a component; 0 until the first vector. */
  private scale = 0;
  private ids: Int32Array;
  private rowOf = new Map<number, number>();
  private rows = 0;
  private readonly rescored: number;

  constructor(
    readonly dimensions: number,
    initialCapacity = 1024,
    options: ExactVectorsOptions = {},
  ) {
    this.data = new Float32Array(initialCapacity * dimensions);
    this.quantized = new Int8Array(initialCapacity * dimensions);
    this.ids = new Int32Array(initialCapacity);
    this.rescored = options.rescored ?? RESCORED;
  }

  get size(): number {
    return this.rows;
  }

  /** Bytes held by the vectors, the int8 copy included (what the bench reports as this store's memory). */
  get bytes(): number {
    return this.data.byteLength + this.quantized.byteLength + this.ids.byteLength;
  }

  has(id: number): boolean {
    return this.rowOf.has(id);
  }

  /** Adds or replaces the vector of `id`. */
  set(id: number, vector: ArrayLike<number>): void {
    if (vector.length !== this.dimensions) throw new RangeError(`a vector of ${vector.length} numbers where ${this.dimensions} were expected`);
    let row = this.rowOf.get(id);
    if (row === undefined) {
      this.grow(this.rows + 1);
      row = this.rows++;
      this.rowOf.set(id, row);
      this.ids[row] = id;
    }
    const base = row * this.dimensions;
    this.data.set(vector, base);
    const largest = largestMagnitude(vector);
    // A component beyond the int8 range: every row is rounded again on a wider one (rare: the range only grows).
    if (largest * this.scale > 127 || this.scale === 0) this.rescale(largest);
    else this.quantizeRow(row);
  }

  /** Removes `id` by moving the last row into its place, so the scan never meets holes. */
  delete(id: number): boolean {
    const row = this.rowOf.get(id);
    if (row === undefined) return false;
    const last = --this.rows;
    this.rowOf.delete(id);
    if (row !== last) {
      const d = this.dimensions;
      const movedId = this.ids[last]!;
      this.data.copyWithin(row * d, last * d, (last + 1) * d);
      this.quantized.copyWithin(row * d, last * d, (last + 1) * d);
      this.ids[row] = movedId;
      this.rowOf.set(movedId, row);
    }
    return true;
  }

  clear(): void {
    this.rows = 0;
    this.scale = 0;
    this.rowOf.clear();
  }

  /**
   * The `k` ids most similar to `query` (a unit vector), best first, with their cosine similarity: the int8 scan's
   * best candidates, scored again in f32. With no more rows than candidates, the f32 scan itself.
   */
  search(query: Float32Array, k: number): { id: number; score: number }[] {
    const d = this.dimensions;
    if (query.length !== d) throw new RangeError(`a query of ${query.length} numbers where ${d} were expected`);
    const n = Math.min(k, this.rows);
    if (n === 0) return [];
    const candidates = Math.max(this.rescored, 4 * n);
    if (this.rows <= candidates || this.scale === 0) return this.searchExact(query, n);
    const largest = largestMagnitude(query);
    if (largest === 0) return this.searchExact(query, n);
    // The query's own scale: any positive factor leaves the order of dot products unchanged.
    const q = new Int8Array(d);
    const qScale = 127 / largest;
    for (let i = 0; i < d; i++) q[i] = Math.round(query[i]! * qScale);
    const matches = exactSearch(this.quantized.subarray(0, this.rows * d), q, d, candidates, MetricKind.IP, 1) as Matches;
    const scored: { id: number; score: number }[] = [];
    for (let c = 0; c < matches.keys.length; c++) {
      const row = Number(matches.keys[c]);
      const base = row * d;
      let dot = 0;
      for (let i = 0; i < d; i++) dot += this.data[base + i]! * query[i]!;
      scored.push({ id: this.ids[row]!, score: dot });
    }
    scored.sort((a, b) => b.score - a.score);
    return scored.slice(0, n);
  }

  /** The f32 scan of every row (the truth `search` is measured against; what it was before the int8 pass). */
  searchExact(query: Float32Array, k: number): { id: number; score: number }[] {
    const d = this.dimensions;
    if (query.length !== d) throw new RangeError(`a query of ${query.length} numbers where ${d} were expected`);
    const n = Math.min(k, this.rows);
    if (n === 0) return [];
    // usearch reads a typed array from the start of its buffer, whatever its byteOffset: a view is copied first.
    const own = query.byteOffset === 0 ? query : query.slice();
    const matches = exactSearch(this.data.subarray(0, this.rows * d), own, d, n, MetricKind.IP, 1) as Matches;
    const out: { id: number; score: number }[] = [];
    // The keys are row numbers; an inner-product distance is 1 - dot.
    for (let i = 0; i < matches.keys.length; i++) out.push({ id: this.ids[Number(matches.keys[i])]!, score: 1 - matches.distances[i]! });
    return out;
  }

  private quantizeRow(row: number): void {
    const base = row * this.dimensions;
    for (let i = base; i < base + this.dimensions; i++) this.quantized[i] = Math.round(this.data[i]! * this.scale);
  }

  private rescale(largest: number): void {
    this.scale = largest > 0 ? 127 / (largest * HEADROOM) : this.scale;
    if (this.scale === 0) return;
    for (let row = 0; row < this.rows; row++) this.quantizeRow(row);
  }

  private grow(rows: number): void {
    if (rows <= this.ids.length) return;
    const capacity = Math.max(rows, Math.ceil(this.ids.length * 1.5));
    const data = new Float32Array(capacity * this.dimensions);
    data.set(this.data.subarray(0, this.rows * this.dimensions));
    const quantized = new Int8Array(capacity * this.dimensions);
    quantized.set(this.quantized.subarray(0, this.rows * this.dimensions));
    const ids = new Int32Array(capacity);
    ids.set(this.ids.subarray(0, this.rows));
    this.data = data;
    this.quantized = quantized;
    this.ids = ids;
  }
}

/** The largest absolute component of `vector` (what an int8 scale must fit). */
function largestMagnitude(vector: ArrayLike<number>): number {
  let largest = 0;
  for (let i = 0; i < vector.length; i++) largest = Math.max(largest, Math.abs(vector[i]!));
  return largest;
}
