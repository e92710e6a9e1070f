import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { silentLogger } from '../../base/log.ts';
import { configSchema } from '../../config/schema.ts';
import { Embedder, type TextEmbedder } from '../../core/knowledge/embedder.ts';
import { ExactVectors } from '../../core/knowledge/exact-vectors.ts';
import { hybridSearch } from '../../core/knowledge/hybrid-search.ts';
import { Knowledge } from '../../core/knowledge/knowledge.ts';
import { KnowledgeDb } from '../../core/knowledge/knowledge-db.ts';
import { seededRandom } from '../../test/models/random.ts';
import { ensureTinyGguf } from '../../test/models/tiny-gguf.ts';
import { summarize, type Summary } from './stats.ts';

/**
 * The retrieval as JARVIS runs it: the question embedded by the embedding worker (with the model given, else the
 * test-made GGUF, whose cost is not nomic's), then the hybrid search (FTS5 BM25 + the exact vector scan, fused)
 * over an index of N synthetic passages with 768-dimensional vectors; and indexing throughput on generated
 * Markdown files, split into the embedding worker's time and the rest (reading, chunking, SQLite).
 */

export interface RetrievalResults {
  readonly model: string;
  readonly embedQuery: Summary;
  readonly indexing: { files: number; passages: number; seconds: number; embedSeconds: number; passagesPerSecond: number; embeddedPerSecond: number };
  readonly search: { passages: number; fillSeconds: number; search: Summary; retrievalP50: number; retrievalP95: number }[];
  readonly markdown: string;
}

const DIMENSIONS = 768;

export async function measureRetrieval(sizes: number[], modelPath?: string): Promise<RetrievalResults> {
  const model = modelPath ?? (await ensureTinyGguf());
  const modelName = modelPath ? path.basename(modelPath) : 'the test-made tiny GGUF (random weights, 32 dimensions: not nomic\'s cost)';
  const embedder = new Embedder({ modelPath: model, gpu: 'auto', documentPrefix: 'search_document: ', queryPrefix: 'search_query: ', niceness: 0, threads: 1 }, silentLogger);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-bench-knowledge-'));
  try {
    await embedder.load();
    const questions = ['what does the boiler manual say about the pressure', 'when does the car insurance renew', 'what did the school letter say about friday', 'how long do I bake the lemon cake'];
    await embedder.embedQuery('warm up');
    const queryTimes: number[] = [];
    for (let i = 0; i < 40; i++) {
      const started = performance.now();
      await embedder.embedQuery(questions[i % questions.length]!);
      queryTimes.push(performance.now() - started);
    }
    process.stderr.write(`question embedding p50 ${summarize(queryTimes)!.median.toFixed(1)} ms\n`);
    const indexing = await measureIndexing(path.join(dir, 'index'), embedder);
    process.stderr.write(`indexing: ${indexing.passagesPerSecond.toFixed(1)} passages/s (${indexing.embeddedPerSecond.toFixed(1)}/s in the embedding worker)\n`);
    const search = [];
    const embedQuery = summarize(queryTimes)!;
    for (const size of sizes) {
      const measured = measureSearch(path.join(dir, `search-${size}`), size);
      search.push({ passages: size, ...measured, retrievalP50: embedQuery.median + measured.search.median, retrievalP95: embedQuery.p95 + measured.search.p95 });
      process.stderr.write(`hybrid search at ${size}: p50 ${measured.search.median.toFixed(1)} ms\n`);
    }
    const markdown = [
      `## Retrieval and indexing, embedding model: ${modelName}, 1 CPU thread`,
      '',
      `Question → vector (embedding worker): p50 ${embedQuery.median.toFixed(1)} ms, p95 ${embedQuery.p95.toFixed(1)} ms.`,
      `Indexing ${indexing.files} generated Markdown files (${indexing.passages} passages): ${indexing.seconds.toFixed(1)} s, ${indexing.passagesPerSecond.toFixed(1)} passages/s; ${indexing.embedSeconds.toFixed(1)} s of it in the embedding worker (${indexing.embeddedPerSecond.toFixed(1)} passages/s), the rest reading, chunking and SQLite.`,
      '',
      '| passages | fill s | hybrid search p50 ms | p95 ms | question → passages p50 ms | p95 ms |',
      '|---:|---:|---:|---:|---:|---:|',
      ...search.map((s) => `| ${s.passages.toLocaleString('en')} | ${s.fillSeconds.toFixed(1)} | ${s.search.median.toFixed(1)} | ${s.search.p95.toFixed(1)} | ${s.retrievalP50.toFixed(1)} | ${s.retrievalP95.toFixed(1)} |`),
    ].join('\n');
    return { model: modelName, embedQuery, indexing, search, markdown };
  } finally {
    await embedder.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function measureIndexing(dir: string, embedder: Embedder) {
  const docs = path.join(dir, 'docs');
  fs.mkdirSync(docs, { recursive: true });
  const random = seededRandom(7);
  const words = vocabulary(3000, random);
  const files = 40;
  for (let f = 0; f < files; f++) {
    const sections = Array.from({ length: 4 }, (_, s) => `## Section ${s} of file ${f}\n\n${Array.from({ length: 3 }, () => sentence(words, random, 80)).join('\n\n')}`);
    fs.writeFileSync(path.join(docs, `document-${f}.md`), `# Document ${f}\n\n${sections.join('\n\n')}\n`);
  }
  let embedMs = 0;
  const timed: TextEmbedder = {
    dimensions: embedder.dimensions,
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
    const passages = knowledge.db.counts().passages;
    return { files, passages, seconds, embedSeconds: embedMs / 1000, passagesPerSecond: passages / seconds, embeddedPerSecond: passages / (embedMs / 1000) };
  } finally {
    await knowledge.dispose();
  }
}

function measureSearch(dir: string, size: number): { fillSeconds: number; search: Summary } {
  fs.mkdirSync(dir, { recursive: true });
  const random = seededRandom(size);
  const words = vocabulary(20_000, random);
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
    const fillSeconds = (performance.now() - started) / 1000;
    const times: number[] = [];
    for (let q = 0; q < 60; q++) {
      const question = Array.from({ length: 6 }, () => words[Math.floor(random() * words.length)]).join(' ');
      const vector = unitVector(random);
      const t = performance.now();
      hybridSearch(db, vectors, { question, vector, limit: 3, minSimilarity: 0.6 });
      times.push(performance.now() - t);
    }
    return { fillSeconds, search: summarize(times)! };
  } finally {
    db.close();
  }
}

function vocabulary(count: number, random: () => number): string[] {
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  return Array.from({ length: count }, () => Array.from({ length: 3 + Math.floor(random() * 7) }, () => letters[Math.floor(random() * 26)]).join(''));
}

function sentence(words: string[], random: () => number, length: number): string {
  // Zipf-like: a few words are common, most are rare, as in real text.
  return `${Array.from({ length }, () => words[Math.floor(words.length * random() ** 3)]).join(' ')}.`;
}

function unitVector(random: () => number): Float32Array {
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
