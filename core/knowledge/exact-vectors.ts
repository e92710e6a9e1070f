import { exactSearch, MetricKind, type Matches } from 'usearch';

/**
 * The passages' vectors in one Float32Array, searched exactly: a dot product with every row (the vectors are unit
 * length, so that is cosine similarity), by usearch's SIMD brute-force kernel on one thread (the other core stays
 * with the audio). Chosen over an HNSW graph (usearch) and sqlite-vec on the numbers in bench/results/*-knowledge.md:
 * exact by construction (HNSW lost neighbours at 768 dimensions), no build time (HNSW took minutes per 100 000 on
 * this box), an edit or delete is a row copy instead of a graph repair, and the vectors themselves stay in SQLite.
 */
export class ExactVectors {
  private data: Float32Array;
  private ids: Int32Array;
  private rowOf = new Map<number, number>();
  private rows = 0;

  constructor(
    readonly dimensions: number,
    initialCapacity = 1024,
  ) {
    this.data = new Float32Array(initialCapacity * dimensions);
    this.ids = new Int32Array(initialCapacity);
  }

  get size(): number {
    return this.rows;
  }

  /** Bytes held by the vectors (what the bench reports as this store's memory). */
  get bytes(): number {
    return this.data.byteLength + this.ids.byteLength;
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
    this.data.set(vector, row * this.dimensions);
  }

  /** Removes `id` by moving the last row into its place, so the scan never meets holes. */
  delete(id: number): boolean {
    const row = this.rowOf.get(id);
    if (row === undefined) return false;
    const last = --this.rows;
    this.rowOf.delete(id);
    if (row !== last) {
      const movedId = this.ids[last]!;
      this.data.copyWithin(row * this.dimensions, last * this.dimensions, (last + 1) * this.dimensions);
      this.ids[row] = movedId;
      this.rowOf.set(movedId, row);
    }
    return true;
  }

  clear(): void {
    this.rows = 0;
    this.rowOf.clear();
  }

  /** The `k` ids most similar to `query` (a unit vector), best first, with their cosine similarity. */
  search(query: Float32Array, k: number): { id: number; score: number }[] {
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

  private grow(rows: number): void {
    if (rows <= this.ids.length) return;
    const capacity = Math.max(rows, Math.ceil(this.ids.length * 1.5));
    const data = new Float32Array(capacity * this.dimensions);
    data.set(this.data.subarray(0, this.rows * this.dimensions));
    const ids = new Int32Array(capacity);
    ids.set(this.ids.subarray(0, this.rows));
    this.data = data;
    this.ids = ids;
  }
}
