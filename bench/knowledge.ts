import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import * as sqliteVec from 'sqlite-vec';
import { Index, MetricKind, ScalarKind } from 'usearch';
import { ExactVectors } from '../core/knowledge/exact-vectors.ts';
import { seededRandom } from '../test/models/random.ts';
import { repoRoot } from '../test/fixtures/speech.ts';
import { summarize, type Summary } from './lib/stats.ts';
import { TopK } from './lib/top-k.ts';

/**
 * The vector store for local knowledge (issue #16), chosen on these numbers: the same random unit vectors of
 * nomic-embed-text's 768 dimensions in each candidate, at each size, each store in a process of its own (so its
 * memory is its own):
 *   - plain-scan: a JavaScript loop over one Float32Array with a top-k heap, the baseline and ground truth;
 *   - exact-simd: the same rows scanned by usearch's SIMD brute-force kernel on one thread (core/knowledge/exact-vectors.ts);
 *   - sqlite-vec: exact search inside SQLite (vec0 table, on disk like the index would be);
 *   - usearch-hnsw: an HNSW graph (M=16, expansion 128 to add and to search), built on every core.
 * Build time, memory (RSS growth of its process), query p50/p95 and recall@10 against the exact scan.
 *
 * Then the retrieval as JARVIS runs it (bench/lib/knowledge-retrieval.ts: the question's embedding per test-made
 * model, indexing throughput split into embedding and the rest, storage alone, the hybrid search up to 1 000 000
 * passages) and question → first audio with retrieval and without, in one daemon (bench/lib/knowledge-turns.ts).
 *
 *   npm run bench:knowledge                                   # every phase (about 25 minutes on the 2-core box)
 *   npm run bench:knowledge -- --phases retrieval,turns       # some phases; the others keep the day's earlier figures
 *   npm run bench:knowledge -- --phases retrieval --model ~/models/nomic-embed-text-v1.5.Q8_0.gguf
 *
 * Random queries against random vectors are the hardest case for HNSW (no clusters to steer by): recall here is a
 * floor, not what real embeddings get.
 */

const DIMENSIONS = 768;
const K = 10;

type StoreName = 'plain-scan' | 'exact-simd' | 'sqlite-vec' | 'usearch-hnsw';
const STORES: StoreName[] = ['plain-scan', 'exact-simd', 'sqlite-vec', 'usearch-hnsw'];

interface ChildResult {
  store: StoreName;
  size: number;
  queries: number;
  buildMs: number;
  rssMiB: number;
  diskMiB?: number;
  query: Summary;
  /** Per query, the ids found, best first (the exact store's are the truth). */
  found: number[][];
}

/** The same vectors in every process: a seeded generator, unit length. */
function unitVectors(count: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  const out = new Float32Array(count * DIMENSIONS);
  for (let row = 0; row < count; row++) {
    let norm = 0;
    const base = row * DIMENSIONS;
    for (let i = 0; i < DIMENSIONS; i += 2) {
      // Box–Muller: two normal numbers from two uniform ones.
      const r = Math.sqrt(-2 * Math.log(random() || 1e-12));
      const theta = 2 * Math.PI * random();
      out[base + i] = r * Math.cos(theta);
      out[base + i + 1] = r * Math.sin(theta);
      norm += out[base + i]! ** 2 + out[base + i + 1]! ** 2;
    }
    const scale = 1 / Math.sqrt(norm);
    for (let i = 0; i < DIMENSIONS; i++) out[base + i]! *= scale;
  }
  return out;
}

/** The baseline: every dot product in JavaScript, the best k kept in a heap. */
function plainScan(vectors: Float32Array, rows: number, query: Float32Array): { id: number; score: number }[] {
  const top = new TopK(K);
  for (let row = 0; row < rows; row++) {
    const base = row * DIMENSIONS;
    let dot = 0;
    for (let i = 0; i < DIMENSIONS; i++) dot += vectors[base + i]! * query[i]!;
    if (dot > top.floor) top.offer(row, dot);
  }
  return top.result();
}

function rssMiB(): number {
  return process.memoryUsage().rss / 2 ** 20;
}

async function child(store: StoreName, size: number, queries: number): Promise<ChildResult> {
  const vectors = unitVectors(size, 1);
  const questions = unitVectors(queries, 2);
  if (global.gc) global.gc();
  const before = rssMiB();
  const started = performance.now();
  let search: (q: Float32Array) => number[];
  let diskMiB: number | undefined;
  let buildMs: number;
  if (store === 'plain-scan') {
    buildMs = 0;
    search = (q) => plainScan(vectors, size, q).map((m) => m.id);
  } else if (store === 'exact-simd') {
    const exact = new ExactVectors(DIMENSIONS, size);
    for (let i = 0; i < size; i++) exact.set(i, vectors.subarray(i * DIMENSIONS, (i + 1) * DIMENSIONS));
    buildMs = performance.now() - started;
    search = (q) => exact.search(q, K).map((m) => m.id);
  } else if (store === 'sqlite-vec') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-bench-vec-'));
    const file = path.join(dir, 'vectors.db');
    const db = new Database(file);
    sqliteVec.load(db);
    db.pragma('journal_mode = WAL');
    db.exec(`create virtual table v using vec0(embedding float[${DIMENSIONS}] distance_metric=cosine)`);
    const insert = db.prepare('insert into v(rowid, embedding) values (?, ?)');
    db.transaction(() => {
      for (let i = 0; i < size; i++) insert.run(BigInt(i), Buffer.from(vectors.buffer, i * DIMENSIONS * 4, DIMENSIONS * 4));
    })();
    db.pragma('wal_checkpoint(TRUNCATE)');
    buildMs = performance.now() - started;
    diskMiB = fs.statSync(file).size / 2 ** 20;
    const query = db.prepare(`select rowid from v where embedding match ? and k = ${K} order by distance`);
    search = (q) => (query.all(Buffer.from(q.buffer, q.byteOffset, q.byteLength)) as { rowid: number }[]).map((r) => Number(r.rowid));
    process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  } else {
    const index = new Index({ dimensions: DIMENSIONS, metric: MetricKind.IP, quantization: ScalarKind.F32, connectivity: 16, expansion_add: 128, expansion_search: 128, multi: false });
    const keys = new BigUint64Array(size);
    for (let i = 0; i < size; i++) keys[i] = BigInt(i);
    index.add(keys, vectors, os.availableParallelism());
    buildMs = performance.now() - started;
    // A copy: usearch ignores a view's byteOffset.
    search = (q) => Array.from(index.search(q.slice(), K, 1).keys, Number);
  }
  const rss = rssMiB() - before;
  const times: number[] = [];
  const found: number[][] = [];
  for (let q = 0; q < queries; q++) {
    const question = questions.subarray(q * DIMENSIONS, (q + 1) * DIMENSIONS);
    const t = performance.now();
    found.push(search(question));
    times.push(performance.now() - t);
  }
  return { store, size, queries, buildMs, rssMiB: rss, ...(diskMiB !== undefined ? { diskMiB } : {}), query: summarize(times)!, found };
}

function recall(found: number[][], truth: number[][]): number {
  let hits = 0;
  let total = 0;
  for (let q = 0; q < truth.length; q++) {
    const wanted = new Set(truth[q]);
    hits += found[q]!.filter((id) => wanted.has(id)).length;
    total += wanted.size;
  }
  return hits / total;
}

const fmt = (n: number | undefined, digits = 1): string => (n === undefined ? '–' : n.toFixed(digits));

type Phase = 'stores' | 'stores-1m' | 'retrieval' | 'turns' | 'latency';
const PHASES: Phase[] = ['stores', 'stores-1m', 'retrieval', 'turns', 'latency'];

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: 'string' },
      phases: { type: 'string', default: PHASES.join(',') },
      sizes: { type: 'string', default: '10000,100000' },
      queries: { type: 'string', default: '200' },
      stores: { type: 'string', default: STORES.join(',') },
      'retrieval-sizes': { type: 'string', default: '10000,100000,1000000' },
      turns: { type: 'string', default: '12' },
      model: { type: 'string' },
      threads: { type: 'string', default: '1' },
      out: { type: 'string', default: path.join(repoRoot, 'bench', 'results') },
      /** The results file's name after the date: <date>-<name>.md and .json. */
      name: { type: 'string', default: 'knowledge' },
      'latency-sizes': { type: 'string', default: '10000,100000,1000000' },
    },
  });
  if (values.child) {
    const [store, size] = values.child.split(':') as [StoreName, string];
    process.stdout.write(JSON.stringify(await child(store, Number(size), Number(values.queries))));
    return;
  }
  const date = new Date().toISOString().slice(0, 10);
  const jsonFile = path.join(values.out, `${date}-${values.name}.json`);
  // Phases not run now keep what an earlier run of the same day measured.
  const results: Results = fs.existsSync(jsonFile) ? (JSON.parse(fs.readFileSync(jsonFile, 'utf8')) as Results) : { rows: [] };
  results.load ??= {};
  const phases = values.phases.split(',') as Phase[];
  for (const phase of phases) {
    if (!PHASES.includes(phase)) throw new Error(`unknown phase ${phase}; phases: ${PHASES.join(', ')}`);
    const before = os.loadavg()[0]!;
    const started = performance.now();
    process.stderr.write(`${phase} (load average ${before.toFixed(2)} on ${os.availableParallelism()} cores)…\n`);
    if (phase === 'stores') {
      const sizes = values.sizes.split(',').map(Number);
      results.rows = [...results.rows.filter((r) => !sizes.includes(r.size)), ...measureStores(sizes, values.stores.split(',') as StoreName[], values.queries)];
    } else if (phase === 'stores-1m') {
      // HNSW is left out at 1 000 000: its build took 379 s at 100 000 on this box, so about an hour here.
      results.rows = [...results.rows.filter((r) => r.size !== 1_000_000), ...measureStores([1_000_000], ['plain-scan', 'exact-simd', 'sqlite-vec'], '50')];
    } else if (phase === 'retrieval') {
      const { measureRetrieval } = await import('./lib/knowledge-retrieval.ts');
      results.retrieval = await measureRetrieval(values['retrieval-sizes'].split(',').map(Number), { ...(values.model ? { model: values.model } : {}), threads: Number(values.threads) });
    } else if (phase === 'latency') {
      const { measureLatency } = await import('./lib/knowledge-latency.ts');
      results.latency = await measureLatency(values['latency-sizes'].split(',').map(Number));
    } else {
      const { measureKnowledgeTurns } = await import('./lib/knowledge-turns.ts');
      results.turns = await measureKnowledgeTurns(Number(values.turns));
    }
    results.load[phase] = { before, after: os.loadavg()[0]!, seconds: Math.round((performance.now() - started) / 1000) };
    results.rows.sort((a, b) => a.size - b.size || STORES.indexOf(a.store) - STORES.indexOf(b.store));
    writeResults(values.out, date, values.name, results);
  }
}

function measureStores(sizes: number[], stores: StoreName[], queries: string): Row[] {
  const rows: Row[] = [];
  for (const size of sizes) {
    let truth: number[][] | undefined;
    for (const store of stores) {
      process.stderr.write(`${store} at ${size} passages…\n`);
      const output = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', import.meta.filename, '--child', `${store}:${size}`, '--queries', queries], {
        maxBuffer: 1 << 28,
        encoding: 'utf8',
      });
      const result = JSON.parse(output) as ChildResult;
      truth ??= result.found;
      const { found, query, ...rest } = result;
      rows.push({ ...rest, p50: query.median, p95: query.p95, recall: recall(found, truth) });
      process.stderr.write(`  build ${fmt(result.buildMs / 1000, 2)} s, +${fmt(result.rssMiB, 0)} MiB, query p50 ${fmt(query.median, 2)} ms p95 ${fmt(query.p95, 2)} ms\n`);
    }
  }
  return rows;
}

type Row = Omit<ChildResult, 'found' | 'query'> & { p50: number; p95: number; recall: number };

interface Results {
  rows: Row[];
  retrieval?: import('./lib/knowledge-retrieval.ts').RetrievalResults;
  turns?: import('./lib/knowledge-turns.ts').KnowledgeTurnResults;
  latency?: import('./lib/knowledge-latency.ts').LatencyResults;
  /** The 1-minute load average before and after each phase (the box is shared), and how long it ran. */
  load?: Partial<Record<Phase, { before: number; after: number; seconds: number }>>;
}

function writeResults(out: string, date: string, name: string, results: Results): void {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const load = Object.entries(results.load ?? {})
    .map(([phase, l]) => `${phase} ${l.before.toFixed(1)} → ${l.after.toFixed(1)} (${l.seconds} s)`)
    .join(', ');
  const lines = [
    `# Local knowledge, ${date}`,
    '',
    `${cpu}, ${os.availableParallelism()} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}. The box is shared with other work; 1-minute load average before → after each phase: ${load || 'not recorded'}.`,
  ];
  if (results.rows.length > 0) {
    lines.push(
      '',
      `## Vector store: ${DIMENSIONS}-dimensional random unit vectors, top ${K}, random queries`,
      '',
      'memory: RSS growth of the process holding the store; sqlite-vec also keeps its file on disk. recall@10: share of the plain scan\'s top 10 found. HNSW was not built at 1 000 000 (at the rate its build ran at 100 000 on these 2 cores, well over an hour).',
      '',
      '| passages | store | build s | memory MiB | disk MiB | queries | query p50 ms | query p95 ms | recall@10 |',
      '|---:|---|---:|---:|---:|---:|---:|---:|---:|',
      ...results.rows.map((r) => `| ${r.size.toLocaleString('en')} | ${r.store} | ${fmt(r.buildMs / 1000, 2)} | ${fmt(r.rssMiB, 0)} | ${fmt(r.diskMiB, 0)} | ${r.queries ?? '–'} | ${fmt(r.p50, 2)} | ${fmt(r.p95, 2)} | ${fmt(r.recall, 3)} |`),
    );
  }
  if (results.retrieval) lines.push('', results.retrieval.markdown);
  if (results.turns) lines.push('', results.turns.markdown);
  if (results.latency) lines.push('', results.latency.markdown);
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, `${date}-${name}.json`), `${JSON.stringify({ date, cpu, cores: os.availableParallelism(), node: process.version, dimensions: DIMENSIONS, k: K, ...results }, null, 1)}\n`);
  fs.writeFileSync(path.join(out, `${date}-${name}.md`), `${lines.join('\n')}\n`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
