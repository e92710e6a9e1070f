import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';
import { silentLogger } from '../../base/log.ts';
import { Embedder } from '../../core/knowledge/embedder.ts';
import { ExactVectors } from '../../core/knowledge/exact-vectors.ts';
import { hybridSearch, type VectorSearch } from '../../core/knowledge/hybrid-search.ts';
import { searchKnowledge } from '../../core/knowledge/knowledge.ts';
import { seededRandom } from '../../test/models/random.ts';
import { benchEmbeddingModels, benchVocabulary, documentSetWords, fillSyntheticIndex, sentence, unitVector } from './knowledge-retrieval.ts';
import { summarize, type Summary } from './stats.ts';

/**
 * Issue #16's retrieval goal, "question → passages ≤ 50 ms at 100 000 passages on this box", before and after, in
 * one run. "Before" is the code path as it was, run beside the new one in the same process:
 *   - the question embedded on the embedding worker's passage context (1 thread, the 2048-token context, queued
 *     behind any passages): exactly the old request, sent through embedDocuments with the prefix in the text;
 *   - after: embedQuery, on the question context (its own queue, up to 2 threads; and with 1 thread, to part the
 *     threads from the rest);
 *   - the vector scan: f32 over every row (ExactVectors.searchExact, the old search) against the int8 scan with the
 *     best 200 scored again in f32 (ExactVectors.search), recall@10 and @50 of the second against the first;
 *   - question → passages: before, the embedding then the keyword search then the f32 scan, in sequence; after,
 *     Knowledge.search's own code (searchKnowledge: the keyword search while the question is embedded, then the int8
 *     scan).
 * Every question is a different text (nothing is cached anywhere, but a cache could not help either). The model is
 * the test-made nomic-shaped GGUF (nomic-embed-text v1.5's 768 × 12 layers, Q8_0, random weights).
 */

export interface TokenRow {
  readonly words: number;
  readonly tokens: number;
  /** Per variant label, ms. */
  readonly times: Record<string, Summary>;
}

export interface QuestionRow {
  readonly label: string;
  readonly query: Summary;
}

export interface ScanRow {
  readonly passages: number;
  readonly vectors: string;
  readonly k: number;
  readonly exact: Summary;
  readonly quantized: Summary;
  readonly recall: number;
}

export interface RetrievalRow {
  readonly passages: number;
  readonly fillSeconds: number;
  readonly rssMiB: number;
  readonly f32MiB: number;
  readonly int8MiB: number;
  readonly searchBefore: Summary;
  readonly searchAfter: Summary;
  readonly totalBefore: Summary;
  readonly totalAfter: Summary;
  readonly embedBefore: Summary;
  readonly embedAfter: Summary;
  readonly load: { before: number; after: number };
}

export interface LatencyResults {
  readonly questionTokens: number;
  /** How often the shipped path found the cores free for 2 threads, of the spoken-style questions. */
  readonly adaptiveShare: { chose2: number; asked: number };
  readonly tokens: TokenRow[];
  readonly questions: QuestionRow[];
  readonly inProcess: Summary;
  readonly plumbing: Summary;
  readonly busy: { before: Summary; after: Summary };
  readonly scans: ScanRow[];
  readonly retrieval: RetrievalRow[];
  readonly load: Record<string, { before: number; after: number }>;
  readonly markdown: string;
}

const DIMENSIONS = 768;
const PREFIX = 'search_query: ';
const load1 = () => os.loadavg()[0]!;

/**
 * Spoken-style questions, each a different text, of 14 tokens with the BOS: what nomic's WordPiece makes of
 * "search_query: what did the school letter say about friday" ([CLS] search _ query : + 8 words + [SEP]). The
 * test-made tokenizer spells "search_query:" in 11 pieces instead of 4, so the questions are its whole words only,
 * padded in front to the same count.
 */
function questionMaker(words: string[], seed: number, tokensOf: (text: string) => number, tokens = 14): () => string {
  const random = seededRandom(seed);
  const pick = () => words[Math.floor(random() * words.length)]!;
  const shapes = [
    () => `what did the ${pick()} ${pick()} say about ${pick()}`,
    () => `when does the ${pick()} ${pick()} ${pick()}`,
    () => `how long do I ${pick()} the ${pick()} ${pick()}`,
    () => `what does the ${pick()} say about the ${pick()}`,
  ];
  return () => {
    for (;;) {
      let text = shapes[Math.floor(random() * shapes.length)]!();
      while (tokensOf(text) < tokens) text = `${pick()} ${text}`;
      if (tokensOf(text) === tokens) return text;
    }
  };
}

type Variant = { label: string; embed: (text: string) => Promise<Float32Array> };

async function timeInterleaved(variants: Variant[], texts: string[]): Promise<Summary[]> {
  const times = variants.map(() => [] as number[]);
  for (let i = 0; i < texts.length; i++) {
    const order = i % 2 ? [...variants.keys()].reverse() : [...variants.keys()];
    for (const v of order) {
      const started = performance.now();
      await variants[v]!.embed(texts[i]!);
      times[v]!.push(performance.now() - started);
    }
  }
  return times.map((t) => summarize(t)!);
}

export async function measureLatency(sizes: number[], options: { queries?: number } = {}): Promise<LatencyResults> {
  const loads: Record<string, { before: number; after: number }> = {};
  const { nomicShaped, tinyWords } = await benchEmbeddingModels();
  // Words the test-made tokenizer knows whole (a token each, as a trained one makes English words).
  const known = (await documentSetWords()).filter((w) => /^[a-z]+$/.test(w));
  const llama = await getLlama({ gpu: false, logLevel: LlamaLogLevel.error });
  const vocab = await llama.loadModel({ modelPath: nomicShaped, vocabOnly: true });
  const tokensOf = (text: string) => vocab.tokenize(text).length + 1; // + the BOS token put in front
  const makeQuestion = questionMaker(known, 31, tokensOf);
  const sample = Array.from({ length: 200 }, makeQuestion);
  const questionTokens = sample.reduce((s, q) => s + tokensOf(q), 0) / sample.length;

  // The worker under test, and one with a single question thread. Prefixes are in the texts, so the passage path
  // (before) and the question path (after) embed the same tokens.
  const make = (modelPath: string, queryThreads: number) => new Embedder({ modelPath, gpu: 'cpu', documentPrefix: '', queryPrefix: '', niceness: 0, threads: 1, queryThreads }, silentLogger);
  const embedder = make(nomicShaped, 2);
  const oneThread = make(nomicShaped, 1);
  const tiny = make(tinyWords, 1);
  const before: Variant = { label: 'before: passage context, 1 thread', embed: async (t) => (await embedder.embedDocuments([t]))[0]! };
  const after1: Variant = { label: 'after: question context, 1 thread', embed: (t) => oneThread.embedQuery(t) };
  const forced = new (class extends Embedder {
    override threadsForQuestion(): number {
      return this.queryThreads;
    }
  })({ modelPath: nomicShaped, gpu: 'cpu', documentPrefix: '', queryPrefix: '', niceness: 0, threads: 1, queryThreads: 2 }, silentLogger);
  const after2: Variant = { label: `after: question context, ${forced.queryThreads} threads always`, embed: (t) => forced.embedQuery(t) };
  let chose2 = 0;
  let asked = 0;
  const adaptive: Variant = {
    label: `after, as shipped: ${embedder.queryThreads} threads when the cores are free, else 1`,
    embed: (t) => {
      asked++;
      if (embedder.threadsForQuestion() > 1) chose2++;
      return embedder.embedQuery(t);
    },
  };
  const variants = [before, after1, after2, adaptive];
  try {
    for (const e of [embedder, oneThread, forced, tiny]) {
      await e.load();
      await e.embedQuery('warm up');
      await e.embedDocuments(['warm up']);
    }

    // Fixed cost against cost per token: the same texts of 1 to 32 words through each path.
    process.stderr.write('question embedding by length…\n');
    let mark = load1();
    const tokens: TokenRow[] = [];
    const random = seededRandom(41);
    for (const words of [1, 4, 8, 13, 32]) {
      const texts = Array.from({ length: 12 }, () => Array.from({ length: words }, () => known[Math.floor(random() * known.length)]).join(' '));
      const summaries = await timeInterleaved(variants, texts);
      tokens.push({ words, tokens: texts.reduce((s, t) => s + tokensOf(t), 0) / texts.length, times: Object.fromEntries(variants.map((v, i) => [v.label, summaries[i]!])) });
      process.stderr.write(`  ${words} words: ${summaries.map((s) => s.median.toFixed(1)).join(' / ')} ms\n`);
    }
    loads.tokens = { before: mark, after: load1() };

    process.stderr.write('questions, before and after in turn…\n');
    mark = load1();
    const questionTexts = Array.from({ length: options.queries ?? 40 }, makeQuestion);
    const questionSummaries = await timeInterleaved(variants, questionTexts);
    const questions = variants.map((v, i) => ({ label: v.label, query: questionSummaries[i]! }));
    const adaptiveShare = { chose2, asked };
    loads.questions = { before: mark, after: load1() };
    process.stderr.write(`  ${questions.map((q) => `${q.label} p50 ${q.query.median.toFixed(1)}`).join('; ')}\n`);

    // The model's own time in this process (no worker, no IPC), and the plumbing with a model that costs nothing.
    mark = load1();
    const model = await llama.loadModel({ modelPath: nomicShaped });
    const context = await model.createEmbeddingContext({ contextSize: 512, threads: 1 });
    await context.getEmbeddingFor('warm up');
    const direct: number[] = [];
    for (let i = 0; i < 20; i++) {
      const text = makeQuestion();
      const started = performance.now();
      await context.getEmbeddingFor(text);
      direct.push(performance.now() - started);
    }
    await context.dispose();
    await model.dispose();
    const plumbing: number[] = [];
    for (let i = 0; i < 40; i++) {
      const text = makeQuestion();
      const started = performance.now();
      await tiny.embedQuery(text);
      plumbing.push(performance.now() - started);
    }
    loads.direct = { before: mark, after: load1() };

    // A question asked while a batch of passages is being embedded (indexing in the background).
    process.stderr.write('a question while passages are embedded…\n');
    mark = load1();
    const words = benchVocabulary();
    const passageRandom = seededRandom(43);
    const busyBefore: number[] = [];
    const busyAfter: number[] = [];
    for (let i = 0; i < 8; i++) {
      const batch = Array.from({ length: 3 }, () => sentence(words, passageRandom, 250));
      const indexing = embedder.embedDocuments(batch);
      await new Promise((resolve) => setTimeout(resolve, 150));
      const started = performance.now();
      await (i % 2 ? before : adaptive).embed(makeQuestion());
      (i % 2 ? busyBefore : busyAfter).push(performance.now() - started);
      await indexing;
    }
    loads.busy = { before: mark, after: load1() };
    const busy = { before: summarize(busyBefore)!, after: summarize(busyAfter)! };

    // The vector scan alone, f32 against int8 + re-scoring, and its recall, on three kinds of vectors at 100 000.
    process.stderr.write('vector scans…\n');
    mark = load1();
    const scans: ScanRow[] = [];
    for (const kind of ['uniform', 'gaussian', 'clustered'] as const) scans.push(...measureScan(kind, 100_000, 60));
    loads.scans = { before: mark, after: load1() };

    const retrieval: RetrievalRow[] = [];
    for (const size of sizes) {
      process.stderr.write(`question → passages at ${size.toLocaleString('en')} passages…\n`);
      retrieval.push(await measureRetrievalAt(size, embedder, makeQuestion));
      const r = retrieval.at(-1)!;
      process.stderr.write(`  search ${r.searchBefore.median.toFixed(1)} → ${r.searchAfter.median.toFixed(1)} ms; question → passages ${r.totalBefore.median.toFixed(1)} → ${r.totalAfter.median.toFixed(1)} ms (load ${r.load.before.toFixed(2)} → ${r.load.after.toFixed(2)})\n`);
    }
    const results = { questionTokens, adaptiveShare, tokens, questions, inProcess: summarize(direct)!, plumbing: summarize(plumbing)!, busy, scans, retrieval, load: loads };
    return { ...results, markdown: renderLatency(results) };
  } finally {
    for (const e of [embedder, oneThread, forced, tiny]) await e.dispose();
    await vocab.dispose();
  }
}

function unitGaussian(random: () => number): Float32Array {
  const v = new Float32Array(DIMENSIONS);
  let norm = 0;
  for (let i = 0; i < DIMENSIONS; i += 2) {
    const r = Math.sqrt(-2 * Math.log(random() || 1e-12));
    const theta = 2 * Math.PI * random();
    v[i] = r * Math.cos(theta);
    v[i + 1] = r * Math.sin(theta);
    norm += v[i]! ** 2 + v[i + 1]! ** 2;
  }
  for (let i = 0; i < DIMENSIONS; i++) v[i]! /= Math.sqrt(norm);
  return v;
}

/**
 * uniform: the hybrid bench's passages (components uniform, then unit length); gaussian: random directions;
 * clustered: around 64 centres with a shared direction, as trained embeddings crowd together, and each question a
 * stored vector with noise (the top of the ranking a crowd of near-ties: the hard case for int8).
 */
function measureScan(kind: 'uniform' | 'gaussian' | 'clustered', size: number, queries: number): ScanRow[] {
  const random = seededRandom(size + kind.length);
  const store = new ExactVectors(DIMENSIONS, size);
  const shared = unitGaussian(random);
  const centres = Array.from({ length: 64 }, () => unitGaussian(random));
  const make = (row: number): Float32Array => {
    if (kind === 'uniform') return unitVector(random);
    const noise = unitGaussian(random);
    if (kind === 'gaussian') return noise;
    const centre = centres[row % centres.length]!;
    const v = Float32Array.from({ length: DIMENSIONS }, (_, i) => 0.6 * shared[i]! + 0.5 * centre[i]! + 0.35 * noise[i]!);
    let norm = 0;
    for (const x of v) norm += x * x;
    return v.map((x) => x / Math.sqrt(norm));
  };
  const kept: Float32Array[] = [];
  for (let row = 0; row < size; row++) {
    const v = make(row);
    store.set(row, v);
    if (row % 1000 === 0) kept.push(v);
  }
  const rows: ScanRow[] = [];
  for (const k of [10, 50]) {
    const exact: number[] = [];
    const quantized: number[] = [];
    let hits = 0;
    for (let q = 0; q < queries; q++) {
      let query: Float32Array;
      if (kind === 'clustered') {
        const near = kept[Math.floor(random() * kept.length)]!;
        const noise = unitGaussian(random);
        query = near.map((x, i) => x + 0.3 * noise[i]!);
        let norm = 0;
        for (const x of query) norm += x * x;
        query = query.map((x) => x / Math.sqrt(norm));
      } else {
        query = kind === 'uniform' ? unitVector(random) : unitGaussian(random);
      }
      let t = performance.now();
      const truth = store.searchExact(query, k);
      exact.push(performance.now() - t);
      t = performance.now();
      const found = store.search(query, k);
      quantized.push(performance.now() - t);
      const wanted = new Set(truth.map((m) => m.id));
      hits += found.filter((m) => wanted.has(m.id)).length;
    }
    rows.push({ passages: size, vectors: kind, k, exact: summarize(exact)!, quantized: summarize(quantized)!, recall: hits / (queries * k) });
    process.stderr.write(`  ${kind} k=${k}: f32 ${rows.at(-1)!.exact.median.toFixed(2)} ms, int8 ${rows.at(-1)!.quantized.median.toFixed(2)} ms, recall ${rows.at(-1)!.recall.toFixed(3)}\n`);
  }
  store.clear();
  return rows;
}

async function measureRetrievalAt(size: number, embedder: Embedder, makeQuestion: () => string): Promise<RetrievalRow> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-bench-latency-'));
  const { db, vectors, words, random, fillSeconds, rssMiB } = fillSyntheticIndex(dir, size);
  try {
    // The old search: the f32 scan of every row.
    const exactOnly: VectorSearch = { get size() { return vectors.size; }, search: (q, k) => vectors.searchExact(q, k) };
    const queries = size >= 1_000_000 ? 30 : 50;
    const searchBefore: number[] = [];
    const searchAfter: number[] = [];
    const totalBefore: number[] = [];
    const totalAfter: number[] = [];
    const embedBefore: number[] = [];
    const embedAfter: number[] = [];
    const loadBefore = load1();
    for (let q = 0; q < queries; q++) {
      // The keyword side searches the synthetic passages' words; the model embeds a spoken-style question of the
      // usual length (a different one each time). The wrapper only swaps the text.
      const keywords = Array.from({ length: 6 }, () => words[Math.floor(random() * words.length)]).join(' ');
      const spoken = new Map([[keywords, makeQuestion()]]);
      const input = { question: keywords, limit: 3, minSimilarity: 0.6 };
      // The search alone, with a random question vector.
      const vector = unitVector(random);
      let t = performance.now();
      hybridSearch(db, exactOnly, { ...input, vector });
      searchBefore.push(performance.now() - t);
      t = performance.now();
      hybridSearch(db, vectors, { ...input, vector });
      searchAfter.push(performance.now() - t);
      const runBefore = async () => {
        const t0 = performance.now();
        const [v] = await embedder.embedDocuments([spoken.get(keywords)!]);
        embedBefore.push(performance.now() - t0);
        hybridSearch(db, exactOnly, { ...input, vector: v });
        totalBefore.push(performance.now() - t0);
      };
      const runAfter = async () => {
        const t0 = performance.now();
        const result = await searchKnowledge(db, vectors, { embedQuery: (text) => embedder.embedQuery(spoken.get(text)!) }, input, silentLogger);
        embedAfter.push(result.embedMs);
        totalAfter.push(performance.now() - t0);
      };
      if (q % 2) {
        await runBefore();
        spoken.set(keywords, makeQuestion());
        await runAfter();
      } else {
        await runAfter();
        spoken.set(keywords, makeQuestion());
        await runBefore();
      }
    }
    return {
      passages: size,
      fillSeconds,
      rssMiB,
      f32MiB: (size * DIMENSIONS * 4) / 2 ** 20,
      int8MiB: (size * DIMENSIONS) / 2 ** 20,
      searchBefore: summarize(searchBefore)!,
      searchAfter: summarize(searchAfter)!,
      totalBefore: summarize(totalBefore)!,
      totalAfter: summarize(totalAfter)!,
      embedBefore: summarize(embedBefore)!,
      embedAfter: summarize(embedAfter)!,
      load: { before: loadBefore, after: load1() },
    };
  } finally {
    db.close();
    vectors.clear();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function renderLatency(r: Omit<LatencyResults, 'markdown'>): string {
  const f = (n: number, d = 1) => n.toFixed(d);
  const pp = (s: Summary, d = 1) => `${f(s.median, d)} / ${f(s.p95, d)}`;
  const labels = r.questions.map((q) => q.label);
  const l = (key: string) => (r.load[key] ? `${f(r.load[key]!.before, 2)} → ${f(r.load[key]!.after, 2)}` : '–');
  return [
    '## Retrieval latency, before and after (issue #16: question → passages ≤ 50 ms at 100 000 passages)',
    '',
    'One run, before and after side by side (each question through every path in turn, alternating which goes first). Before: the question embedded as it was, on the embedding worker\'s passage context (1 thread, queued behind passages), then the keyword search, then the f32 scan of every vector. After: the question on a context of its own (its own queue), as shipped on 2 threads when /proc/stat shows the cores free at that moment and on 1 otherwise (and, to part the effects, always on 1 and always on 2), the keyword search while it is embedded (Knowledge.search\'s own code), and the int8 scan with the best 200 scored again in f32. RSS: growth of the bench process (negative: garbage of the phase before collected). The model: the test-made nomic-shaped GGUF (768 wide × 12 layers, Q8_0, random weights), niceness 0. Every question a different text. p50 / p95 ms.',
    '',
    `### Embedding a question: fixed cost and cost per token (1-minute load ${l('tokens')})`,
    '',
    `| words | tokens (with BOS) | ${labels.join(' | ')} |`,
    `|---:|---:|${labels.map(() => '---:').join('|')}|`,
    ...r.tokens.map((t) => `| ${t.words} | ${f(t.tokens, 1)} | ${labels.map((label) => pp(t.times[label]!)).join(' | ')} |`),
    '',
    `### Spoken-style questions (${f(r.questionTokens, 1)} tokens with BOS, what nomic's tokenizer makes of "${PREFIX}what did the school letter say about friday"; 1-minute load ${l('questions')})`,
    '',
    '| path | questions | p50 ms | p95 ms |',
    '|---|---:|---:|---:|',
    ...r.questions.map((q) => `| ${q.label} | ${q.query.n} | ${f(q.query.median)} | ${f(q.query.p95)} |`),
    `| (as shipped: 2 threads chosen for ${r.adaptiveShare.chose2} of ${r.adaptiveShare.asked} questions) | | | |`,
    `| the model alone in this process (node-llama-cpp getEmbeddingFor, 1 thread, no worker) | ${r.inProcess.n} | ${f(r.inProcess.median)} | ${f(r.inProcess.p95)} |`,
    `| the worker's plumbing: the tiny word-vocabulary model through the same worker and IPC | ${r.plumbing.n} | ${f(r.plumbing.median)} | ${f(r.plumbing.p95)} |`,
    '',
    `A question asked 150 ms into a batch of 3 passages of 250 words being embedded (indexing in the background; 1-minute load ${l('busy')}): before (queued behind the batch) ${pp(r.busy.before, 0)} ms; after (its own context, beside the passage; threads as shipped) ${pp(r.busy.after, 0)} ms (${r.busy.after.n} questions each).`,
    '',
    `### The vector scan: f32 over every row against int8 + f32 re-scoring of the best 200, at 100 000 passages (1-minute load ${l('scans')})`,
    '',
    'recall@k: share of the f32 scan\'s top k that the int8 scan + re-scoring returns. uniform: the hybrid bench\'s passage vectors; gaussian: random directions; clustered: 64 centres and a shared direction, each question a stored vector plus noise (a crowd of near-ties at the top, the hard case for int8).',
    '',
    '| vectors | k | f32 scan p50 / p95 ms | int8 + re-score p50 / p95 ms | recall@k |',
    '|---|---:|---:|---:|---:|',
    ...r.scans.map((s) => `| ${s.vectors} | ${s.k} | ${pp(s.exact, 2)} | ${pp(s.quantized, 2)} | ${f(s.recall, 3)} |`),
    '',
    '### Question → passages (embedding + FTS5 BM25 + vector scan + fusion), synthetic 60-word passages',
    '',
    'search: the hybrid search alone with a random question vector; question → passages: the whole retrieval with the real embedding worker, wall time. vectors: the f32 rows (kept for the re-scoring) and the int8 copy added.',
    '',
    '| passages | fill s | RSS MiB | vectors f32 + int8 MiB | search before | search after | question embedding before | after (overlapped with the keyword search) | question → passages before | after | 1-minute load |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...r.retrieval.map(
      (x) =>
        `| ${x.passages.toLocaleString('en')} | ${f(x.fillSeconds)} | ${f(x.rssMiB, 0)} | ${f(x.f32MiB, 0)} + ${f(x.int8MiB, 0)} | ${pp(x.searchBefore)} | ${pp(x.searchAfter)} | ${pp(x.embedBefore)} | ${pp(x.embedAfter)} | ${pp(x.totalBefore)} | **${pp(x.totalAfter)}** | ${f(x.load.before, 2)} → ${f(x.load.after, 2)} |`,
    ),
  ].join('\n');
}
