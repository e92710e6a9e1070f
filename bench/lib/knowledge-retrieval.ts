import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';
import { silentLogger } from '../../base/log.ts';
import { configSchema } from '../../config/schema.ts';
import { chunkDocument } from '../../core/knowledge/chunk.ts';
import { Embedder, type TextEmbedder } from '../../core/knowledge/embedder.ts';
import { ExactVectors } from '../../core/knowledge/exact-vectors.ts';
import { extractDocument } from '../../core/knowledge/extract.ts';
import { kindOf } from '../../core/knowledge/file-policy.ts';
import { hybridSearch } from '../../core/knowledge/hybrid-search.ts';
import { embeddedText } from '../../core/knowledge/indexer.ts';
import { Knowledge } from '../../core/knowledge/knowledge.ts';
import { KnowledgeDb } from '../../core/knowledge/knowledge-db.ts';
import { writeDocumentSet } from '../../test/fixtures/documents.ts';
import { seededRandom } from '../../test/models/random.ts';
import { ensureTinyGguf, writeTinyGguf } from '../../test/models/tiny-gguf.ts';
import { summarize, type Summary } from './stats.ts';

/**
 * The retrieval as JARVIS runs it, on this machine:
 *   - per embedding model, the question embedded by the embedding worker (p50/p95) and indexing throughput on
 *     generated Markdown, split into the embedding worker's time and the rest;
 *   - the rest apart (reading, chunking, SQLite with FTS5, the vectors in memory), measured with an embedder that
 *     costs nothing, so storage has a passages/s of its own;
 *   - the hybrid search (FTS5 BM25 + the exact vector scan, fused) over N synthetic passages with 768-dimensional
 *     vectors, up to 1 000 000.
 * No trained embedding model can be downloaded here, so the models are test-made GGUFs with random weights:
 *   - "tiny": the tests' model (32 wide, 1 layer) with its byte vocabulary, one token per character: a 280-word
 *     passage is ~1 800 tokens, which is why the first bench run indexed 3.2 passages/s;
 *   - "tiny, word vocabulary": the same with the bench text's words in its vocabulary (~1.2 tokens a word, as a
 *     trained tokenizer makes English): the pipeline's own cost when the model costs little;
 *   - "nomic-shaped": nomic-embed-text v1.5's compute (768 wide, 12 layers, 12 heads, 3072 feed-forward: 137 M
 *     parameters, as a llama) in Q8_0 like the catalog's nomic-embed-text-v1.5-q8_0, with the word vocabulary: what
 *     a real model costs per token on this CPU;
 *   - the question alone with 1 and with 2 threads, the nomic-shaped model in Q8_0 and in F32 (4× the bytes a
 *     token), each question embedded by every worker in turn so the shared box's load falls on all alike.
 */

export interface EmbeddingModelResult {
  readonly label: string;
  readonly threads: number;
  readonly query: Summary;
  readonly tokensPerPassage: number;
  readonly indexing: IndexingResult;
}

export interface IndexingResult {
  readonly files: number;
  readonly passages: number;
  readonly seconds: number;
  readonly embedSeconds: number;
  /** End to end. */
  readonly passagesPerSecond: number;
  /** In the embedding worker alone. */
  readonly embeddedPerSecond: number;
}

export interface PipelineResult {
  readonly files: number;
  readonly passages: number;
  readonly seconds: number;
  /** Reading and hashing the files, extracting and chunking them. */
  readonly readSeconds: number;
  /** SQLite (files, passages, FTS5, embeddings) and the vectors in memory: the rest. */
  readonly storeSeconds: number;
  readonly passagesPerSecond: number;
  readonly readPerSecond: number;
  readonly storedPerSecond: number;
}

export interface SearchRow {
  readonly passages: number;
  readonly fillSeconds: number;
  readonly rssMiB: number;
  readonly search: Summary;
}

/** The question's embedding alone, by model and thread count. */
export interface QuestionRow {
  readonly label: string;
  readonly threads: number;
  readonly query: Summary;
  /** The 1-minute load average before and after the interleaved run. */
  readonly load: { readonly before: number; readonly after: number };
}

export interface RetrievalResults {
  readonly models: EmbeddingModelResult[];
  readonly questions?: QuestionRow[];
  readonly pipeline: PipelineResult;
  readonly search: SearchRow[];
  readonly markdown: string;
}

const DIMENSIONS = 768;
/** nomic-embed-text v1.5's shape, as a llama (the compute per token is the same order: 12 × (4·768² + 3·768·3072)). */
export const NOMIC_SHAPE = { embedding: 768, feedForward: 3072, heads: 12, kvHeads: 12, layers: 12 } as const;

/** The words the bench writes its documents with (Zipf-like use: a few common, most rare). */
export function benchVocabulary(): string[] {
  return vocabulary(1000, seededRandom(7));
}

/**
 * The words of the tests' document set as its extracted text has them (and of the bench's questions), for the
 * test-made models' vocabularies: the turns bench's passages and questions are then about a token a word.
 */
export async function documentSetWords(): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-bench-words-'));
  try {
    const files = await writeDocumentSet(dir);
    const texts: string[] = [];
    for (const file of files) {
      const document = await extractDocument(file, kindOf(file)!);
      texts.push(document.title ?? '', ...document.blocks.flatMap((b) => [b.heading ?? '', b.text]));
    }
    const { WITH_RETRIEVAL, WITHOUT_RETRIEVAL } = await import('./knowledge-turns.ts');
    texts.push(...WITH_RETRIEVAL, ...WITHOUT_RETRIEVAL);
    return [...new Set(texts.flatMap((t) => t.split(/\s+/)).filter(Boolean))].sort();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The two test-made embedding models with a word vocabulary: the bench's words and the document set's. */
/** The test-made embedding models with a word vocabulary: the bench's words and the document set's. nomicShaped is Q8_0, as the catalog's. */
export async function benchEmbeddingModels(): Promise<{ tinyWords: string; nomicShaped: string; nomicShapedF32: string }> {
  const words = [...new Set([...benchVocabulary(), ...(await documentSetWords())])];
  const [tinyWords, nomicShaped, nomicShapedF32] = await Promise.all([
    writeTinyGguf({ template: 'none', name: 'tiny embedding, word vocabulary', words }),
    writeTinyGguf({ template: 'none', name: 'nomic-shaped random embedding, Q8_0', contextLength: 2048, shape: NOMIC_SHAPE, words, quantization: 'q8_0' }),
    writeTinyGguf({ template: 'none', name: 'nomic-shaped random embedding', contextLength: 2048, shape: NOMIC_SHAPE, words }),
  ]);
  return { tinyWords, nomicShaped, nomicShapedF32 };
}

export async function measureRetrieval(sizes: number[], options: { model?: string; threads?: number } = {}): Promise<RetrievalResults> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-bench-knowledge-'));
  const threads = options.threads ?? 1;
  try {
    const { tinyWords, nomicShaped, nomicShapedF32 } = await benchEmbeddingModels();
    const candidates = options.model
      ? [{ label: path.basename(options.model), path: options.model, files: 20, queries: 40 }]
      : [
          { label: 'tiny (the tests\' model: one token a character)', path: await ensureTinyGguf(), files: 10, queries: 40 },
          { label: 'tiny, word vocabulary', path: tinyWords, files: 40, queries: 40 },
          { label: "nomic-shaped (nomic-embed-text v1.5's layers: 768 wide × 12, Q8_0 as the catalog's, random)", path: nomicShaped, files: 3, queries: 15 },
        ];
    const models: EmbeddingModelResult[] = [];
    for (const candidate of candidates) {
      process.stderr.write(`embedding with ${candidate.label}…\n`);
      models.push(await measureModel(path.join(dir, `model-${models.length}`), candidate, threads));
      const last = models.at(-1)!;
      process.stderr.write(`  question p50 ${last.query.median.toFixed(1)} ms; ${last.tokensPerPassage.toFixed(0)} tokens a passage; embedding ${last.indexing.embeddedPerSecond.toFixed(1)} passages/s, indexing ${last.indexing.passagesPerSecond.toFixed(1)} passages/s\n`);
    }
    const questionModels = options.model
      ? [{ label: path.basename(options.model), path: options.model }]
      : [
          { label: 'nomic-shaped, Q8_0', path: nomicShaped },
          { label: 'nomic-shaped, F32', path: nomicShapedF32 },
        ];
    const questions: QuestionRow[] = [];
    for (const model of questionModels) {
      process.stderr.write(`the question alone with ${model.label}, 1 and 2 threads in turn…\n`);
      const rows = await measureQuestionThreads(model, [1, 2], 40);
      questions.push(...rows);
      process.stderr.write(`  ${rows.map((r) => `${r.threads} thread${r.threads > 1 ? 's' : ''} p50 ${r.query.median.toFixed(1)} ms p95 ${r.query.p95.toFixed(1)} ms`).join('; ')} (load ${rows[0]!.load.before.toFixed(2)} → ${rows[0]!.load.after.toFixed(2)})\n`);
    }
    process.stderr.write('indexing with an embedder that costs nothing (reading, chunking, storage)…\n');
    const pipeline = await measurePipeline(path.join(dir, 'pipeline'));
    process.stderr.write(`  ${pipeline.passagesPerSecond.toFixed(0)} passages/s: reading ${pipeline.readPerSecond.toFixed(0)}/s, storage ${pipeline.storedPerSecond.toFixed(0)}/s\n`);
    const search: SearchRow[] = [];
    for (const size of sizes) {
      process.stderr.write(`hybrid search at ${size.toLocaleString('en')} passages…\n`);
      search.push(measureSearch(path.join(dir, `search-${size}`), size));
      const row = search.at(-1)!;
      process.stderr.write(`  fill ${row.fillSeconds.toFixed(1)} s, +${row.rssMiB.toFixed(0)} MiB, p50 ${row.search.median.toFixed(1)} ms p95 ${row.search.p95.toFixed(1)} ms\n`);
    }
    return { models, questions, pipeline, search, markdown: renderRetrieval(models, questions, pipeline, search) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The question embedded by one embedding worker per thread count, all loaded at once, each question by every worker
 * in turn (the same text), so a change in the shared box's load falls on every thread count alike.
 */
async function measureQuestionThreads(model: { label: string; path: string }, threadCounts: number[], queries: number): Promise<QuestionRow[]> {
  const embedders = threadCounts.map(
    (threads) => new Embedder({ modelPath: model.path, gpu: 'auto', documentPrefix: 'search_document: ', queryPrefix: 'search_query: ', niceness: 0, threads }, silentLogger),
  );
  try {
    for (const embedder of embedders) {
      await embedder.load();
      await embedder.embedQuery('warm up');
    }
    const words = benchVocabulary();
    const random = seededRandom(12);
    const times = threadCounts.map(() => [] as number[]);
    const before = os.loadavg()[0]!;
    for (let i = 0; i < queries; i++) {
      const text = Array.from({ length: 10 }, () => words[Math.floor(words.length * random() ** 3)]).join(' ');
      // Alternate which worker goes first, so neither always runs right after the other.
      const order = i % 2 ? [...embedders.keys()].reverse() : [...embedders.keys()];
      for (const e of order) {
        const started = performance.now();
        await embedders[e]!.embedQuery(text);
        times[e]!.push(performance.now() - started);
      }
    }
    const load = { before, after: os.loadavg()[0]! };
    return threadCounts.map((threads, e) => ({ label: model.label, threads, query: summarize(times[e]!)!, load }));
  } finally {
    for (const embedder of embedders) await embedder.dispose();
  }
}

function renderRetrieval(models: EmbeddingModelResult[], questions: QuestionRow[], pipeline: PipelineResult, search: SearchRow[]): string {
  const f = (n: number, d = 1) => n.toFixed(d);
  const nomic = models.find((m) => m.label.startsWith('nomic'));
  const nomic2 = questions.find((q) => q.label === 'nomic-shaped, Q8_0' && q.threads === 2);
  const cheapest = models.reduce((a, b) => (a.query.median <= b.query.median ? a : b));
  return [
    `## Embedding and indexing (embedding worker on ${models[0]?.threads ?? 1} CPU thread, niceness 0)`,
    '',
    'Test-made GGUFs with random weights (no trained model can be downloaded here): the tests\' tiny model, the same with a word vocabulary, and one with nomic-embed-text v1.5\'s compute (768 wide, 12 layers) in Q8_0 like the catalog\'s nomic-embed-text-v1.5-q8_0. Generated Markdown passages of up to 280 words; "embedding" is the worker\'s time alone, "indexing" reading to stored.',
    '',
    '| model | tokens a passage | question → vector p50 ms | p95 ms | passages | embedding passages/s | indexing passages/s |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...models.map((m) => `| ${m.label} | ${f(m.tokensPerPassage, 0)} | ${f(m.query.median)} | ${f(m.query.p95)} | ${m.indexing.passages} | ${f(m.indexing.embeddedPerSecond)} | ${f(m.indexing.passagesPerSecond)} |`),
    '',
    ...(questions.length
      ? [
          '### The question alone, by threads',
          '',
          'One embedding worker per thread count, loaded together; each 10-word question embedded by every worker in turn, so the shared box\'s load falls on both alike. Indexing stays on 1 thread.',
          '',
          '| model | threads | question → vector p50 ms | p95 ms | questions | 1-minute load before → after |',
          '|---|---:|---:|---:|---:|---|',
          ...questions.map((q) => `| ${q.label} | ${q.threads} | ${f(q.query.median)} | ${f(q.query.p95)} | ${q.query.n} | ${f(q.load.before, 2)} → ${f(q.load.after, 2)} |`),
          '',
        ]
      : []),
    `Without embedding (an embedder that costs nothing), ${pipeline.files} files, ${pipeline.passages.toLocaleString('en')} passages: ${f(pipeline.passagesPerSecond, 0)} passages/s end to end; reading, extracting and chunking ${f(pipeline.readPerSecond, 0)} passages/s (${f(pipeline.readSeconds)} s); storage (SQLite with FTS5 and the embeddings, the vectors in memory) ${f(pipeline.storedPerSecond, 0)} passages/s (${f(pipeline.storeSeconds)} s).`,
    '',
    '## Hybrid search (FTS5 BM25 + exact SIMD vector scan, fused), synthetic 60-word passages, 768-dimensional vectors',
    '',
    `question → passages = the question's embedding (p50 / p95 of the model) + the search. memory: RSS growth with the index open and its vectors in memory.`,
    '',
    `| passages | fill s | memory MiB | search p50 ms | p95 ms | + ${cheapest.label.split(' (')[0]} question: p50 / p95 ms |${nomic ? ' + nomic-shaped Q8_0 question, 1 thread: p50 / p95 ms |' : ''}${nomic2 ? ' + the same, 2 threads |' : ''}`,
    `|---:|---:|---:|---:|---:|---:|${nomic ? '---:|' : ''}${nomic2 ? '---:|' : ''}`,
    ...search.map(
      (s) =>
        `| ${s.passages.toLocaleString('en')} | ${f(s.fillSeconds)} | ${f(s.rssMiB, 0)} | ${f(s.search.median)} | ${f(s.search.p95)} | ${f(cheapest.query.median + s.search.median)} / ${f(cheapest.query.p95 + s.search.p95)} |${nomic ? ` ${f(nomic.query.median + s.search.median, 0)} / ${f(nomic.query.p95 + s.search.p95, 0)} |` : ''}${nomic2 ? ` ${f(nomic2.query.median + s.search.median, 0)} / ${f(nomic2.query.p95 + s.search.p95, 0)} |` : ''}`,
    ),
  ].join('\n');
}

async function measureModel(dir: string, candidate: { label: string; path: string; files: number; queries: number }, threads: number): Promise<EmbeddingModelResult> {
  const embedder = new Embedder({ modelPath: candidate.path, gpu: 'auto', documentPrefix: 'search_document: ', queryPrefix: 'search_query: ', niceness: 0, threads }, silentLogger);
  try {
    await embedder.load();
    const words = benchVocabulary();
    const random = seededRandom(11);
    const question = () => Array.from({ length: 10 }, () => words[Math.floor(words.length * random() ** 3)]).join(' ');
    await embedder.embedQuery('warm up');
    const times: number[] = [];
    for (let i = 0; i < candidate.queries; i++) {
      const text = question();
      const started = performance.now();
      await embedder.embedQuery(text);
      times.push(performance.now() - started);
    }
    const { indexing, texts } = await measureIndexing(dir, embedder, candidate.files);
    return { label: candidate.label, threads, query: summarize(times)!, tokensPerPassage: await meanTokens(candidate.path, texts.map((t) => `search_document: ${t}`)), indexing };
  } finally {
    await embedder.dispose();
  }
}

/** Tokens the model's own tokenizer makes of each text, on average (its vocabulary only is loaded). */
async function meanTokens(modelPath: string, texts: readonly string[]): Promise<number> {
  const llama = await getLlama({ gpu: false, logLevel: LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath, vocabOnly: true });
  try {
    return texts.reduce((sum, text) => sum + model.tokenize(text).length, 0) / Math.max(1, texts.length);
  } finally {
    await model.dispose();
  }
}

/** Generated Markdown: `# Document f`, four sections of three 80-word paragraphs (about four passages a file). */
function writeMarkdown(docs: string, files: number, seed: number): void {
  fs.mkdirSync(docs, { recursive: true });
  const random = seededRandom(seed);
  const words = benchVocabulary();
  for (let f = 0; f < files; f++) {
    const sections = Array.from({ length: 4 }, (_, s) => `## Section ${s} of file ${f}\n\n${Array.from({ length: 3 }, () => sentence(words, random, 80)).join('\n\n')}`);
    fs.writeFileSync(path.join(docs, `document-${f}.md`), `# Document ${f}\n\n${sections.join('\n\n')}\n`);
  }
}

async function measureIndexing(dir: string, embedder: TextEmbedder, files: number): Promise<{ indexing: IndexingResult; texts: string[] }> {
  const docs = path.join(dir, 'docs');
  writeMarkdown(docs, files, 7);
  let embedMs = 0;
  const timed: TextEmbedder = {
    get dimensions() {
      return embedder.dimensions;
    },
    modelKey: embedder.modelKey,
    load: () => embedder.load(),
    embedQuery: (text) => embedder.embedQuery(text),
    dispose: async () => {},
    async embedDocuments(texts) {
      const started = performance.now();
      try {
        return await embedder.embedDocuments(texts);
      } finally {
        embedMs += performance.now() - started;
      }
    },
  };
  const config = configSchema.parse({ knowledge: { folders: [docs] } }).knowledge;
  const knowledge = await Knowledge.open({ config, dataDir: path.join(dir, 'data'), embedder: timed, log: silentLogger });
  try {
    const started = performance.now();
    await knowledge.sync();
    const seconds = (performance.now() - started) / 1000;
    const ids = [...knowledge.db.passageVectors()].map((p) => p.id);
    const texts = [...knowledge.db.passages(ids).values()].map((p) => embeddedText(p.title ?? '', { ...(p.heading ? { heading: p.heading } : {}), text: p.text }));
    const passages = texts.length;
    return { indexing: { files, passages, seconds, embedSeconds: embedMs / 1000, passagesPerSecond: passages / seconds, embeddedPerSecond: passages / (embedMs / 1000) }, texts };
  } finally {
    await knowledge.dispose();
  }
}

/** Indexing with an embedder that returns random unit vectors at once: what is left is reading and storage. */
async function measurePipeline(dir: string): Promise<PipelineResult> {
  const docs = path.join(dir, 'docs');
  const files = 500;
  writeMarkdown(docs, files, 8);
  const random = seededRandom(9);
  let embedMs = 0;
  const free: TextEmbedder = {
    dimensions: DIMENSIONS,
    modelKey: 'free',
    load: async () => DIMENSIONS,
    embedQuery: async () => unitVector(random),
    dispose: async () => {},
    async embedDocuments(texts) {
      const started = performance.now();
      const out = texts.map(() => unitVector(random));
      embedMs += performance.now() - started;
      return out;
    },
  };
  // Reading alone, the same way the indexer reads: the bytes and their hash, extraction, chunking.
  const config = configSchema.parse({ knowledge: { folders: [docs] } }).knowledge;
  const readStarted = performance.now();
  let chunked = 0;
  for (const name of fs.readdirSync(docs)) {
    const file = path.join(docs, name);
    createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    chunked += chunkDocument(await extractDocument(file, 'markdown'), { maxWords: config.passageWords, overlapWords: config.overlapWords }).length;
  }
  const readSeconds = (performance.now() - readStarted) / 1000;
  const knowledge = await Knowledge.open({ config, dataDir: path.join(dir, 'data'), embedder: free, log: silentLogger });
  try {
    const started = performance.now();
    await knowledge.sync();
    const seconds = (performance.now() - started) / 1000;
    const passages = knowledge.db.counts().passages;
    if (passages !== chunked) throw new Error(`indexed ${passages} passages, chunked ${chunked}`);
    const storeSeconds = Math.max(0, seconds - readSeconds - embedMs / 1000);
    return { files, passages, seconds, readSeconds, storeSeconds, passagesPerSecond: passages / seconds, readPerSecond: passages / readSeconds, storedPerSecond: passages / storeSeconds };
  } finally {
    await knowledge.dispose();
  }
}

/**
 * A knowledge index in `dir` of `size` synthetic 60-word passages (100 a file) with random unit vectors, as the
 * search benches fill it: the index, the words and random stream for questions, how long filling took and the RSS
 * it added. The caller closes `db` and clears `vectors`.
 */
export function fillSyntheticIndex(dir: string, size: number): { db: KnowledgeDb; vectors: ExactVectors; words: string[]; random: () => number; fillSeconds: number; rssMiB: number } {
  fs.mkdirSync(dir, { recursive: true });
  const random = seededRandom(size);
  const words = vocabulary(20_000, random);
  if (global.gc) global.gc();
  const before = process.memoryUsage().rss;
  const db = KnowledgeDb.open(path.join(dir, 'knowledge.db'));
  const vectors = new ExactVectors(DIMENSIONS, size);
  try {
    const started = performance.now();
    const perFile = 100;
    for (let f = 0; f < size / perFile; f++) {
      const passages = Array.from({ length: perFile }, (_, i) => ({ text: sentence(words, random, 60), heading: `Part ${i}`, key: `k${f}-${i}` }));
      const { added } = db.replaceFile({ path: path.join(dir, `file-${f}.md`), folder: dir, size: 1, mtimeMs: 1, hash: String(f), title: `file ${f}` }, passages, 0);
      for (const id of added) vectors.set(id, unitVector(random));
    }
    return { db, vectors, words, random, fillSeconds: (performance.now() - started) / 1000, rssMiB: (process.memoryUsage().rss - before) / 2 ** 20 };
  } catch (error) {
    db.close();
    vectors.clear();
    throw error;
  }
}

function measureSearch(dir: string, size: number): SearchRow {
  const { db, vectors, words, random, fillSeconds, rssMiB } = fillSyntheticIndex(dir, size);
  try {
    const times: number[] = [];
    const queries = size >= 1_000_000 ? 40 : 60;
    for (let q = 0; q < queries; q++) {
      const question = Array.from({ length: 6 }, () => words[Math.floor(random() * words.length)]).join(' ');
      const vector = unitVector(random);
      const t = performance.now();
      hybridSearch(db, vectors, { question, vector, limit: 3, minSimilarity: 0.6 });
      times.push(performance.now() - t);
    }
    return { passages: size, fillSeconds, rssMiB, search: summarize(times)! };
  } finally {
    db.close();
    vectors.clear();
  }
}

export function vocabulary(count: number, random: () => number): string[] {
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  return Array.from({ length: count }, () => Array.from({ length: 3 + Math.floor(random() * 7) }, () => letters[Math.floor(random() * 26)]).join(''));
}

export function sentence(words: string[], random: () => number, length: number): string {
  // Zipf-like: a few words are common, most are rare, as in real text.
  return `${Array.from({ length }, () => words[Math.floor(words.length * random() ** 3)]).join(' ')}.`;
}

export function unitVector(random: () => number): Float32Array {
  const v = new Float32Array(DIMENSIONS);
  let norm = 0;
  for (let i = 0; i < DIMENSIONS; i++) {
    v[i] = random() - 0.5;
    norm += v[i]! * v[i]!;
  }
  const scale = 1 / Math.sqrt(norm);
  for (let i = 0; i < DIMENSIONS; i++) v[i]! *= scale;
  return v;
}
