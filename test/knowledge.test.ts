import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { silentLogger } from '../base/log.ts';
import { configSchema } from '../config/schema.ts';
import { chunkDocument } from '../core/knowledge/chunk.ts';
import { Embedder } from '../core/knowledge/embedder.ts';
import { extractDocument } from '../core/knowledge/extract.ts';
import { Knowledge, knowledgeDatabasePath } from '../core/knowledge/knowledge.ts';
import { KNOWN_FACTS, writeDocumentSet, writeTroubleFiles } from './fixtures/documents.ts';
import { ensureTinyGguf } from './models/tiny-gguf.ts';

const knowledgeConfig = (overrides: Record<string, unknown> = {}) => configSchema.parse({ knowledge: { gpu: 'cpu', settleMs: 50, ...overrides } }).knowledge;

function tempDir(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `jarvis-${name}-`));
}

describe('documents are read by their structure', () => {
  let dir: string;
  before(async () => {
    dir = tempDir('docs-read');
    await writeDocumentSet(dir);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('a PDF gives its text layer page by page, and every passage keeps its page', async () => {
    const doc = await extractDocument(path.join(dir, 'boiler-manual.pdf'), 'pdf');
    const passages = chunkDocument(doc, { maxWords: 280, overlapWords: 40 });
    const pressure = passages.find((p) => p.text.includes('1.5 bar'));
    assert.equal(pressure?.page, 2);
    assert.equal(passages.find((p) => p.text.includes('F28'))?.page, 3);
    assert.ok(passages.every((p) => p.page !== undefined));
  });

  test('DOCX and HTML headings become the passages\' headings; scripts and styles are not text', async () => {
    const docx = chunkDocument(await extractDocument(path.join(dir, 'car-insurance.docx'), 'docx'), { maxWords: 280, overlapWords: 40 });
    assert.equal(docx.find((p) => p.text.includes('14 March 2027'))?.heading, 'Renewal');
    const html = await extractDocument(path.join(dir, 'school-letter.html'), 'html');
    assert.equal(html.title, 'Letter from Hillside Primary School');
    const friday = html.blocks.find((b) => b.text.includes('closes at 1 pm'));
    assert.equal(friday?.heading, 'Friday 12 June');
    assert.match(friday!.text, /training & pupils/);
    assert.ok(!html.blocks.some((b) => /not text|color: red/.test(b.text)));
  });

  test('long sections split into passages of at most maxWords, the next starting with the last sentences of the one before', () => {
    const sentences = Array.from({ length: 60 }, (_, i) => `Sentence number ${i} has exactly seven words.`.replace('exactly seven', 'exactly seven'));
    const passages = chunkDocument({ blocks: [{ text: sentences.join(' '), heading: 'Long' }] }, { maxWords: 100, overlapWords: 20 });
    assert.ok(passages.length >= 4);
    for (const p of passages) assert.ok(p.text.split(/\s+/).length <= 100, `${p.text.split(/\s+/).length} words`);
    for (let i = 1; i < passages.length; i++) {
      const lastOfPrevious = passages[i - 1]!.text.match(/Sentence number \d+ [^.]*\./g)!.at(-1)!;
      assert.ok(passages[i]!.text.startsWith(lastOfPrevious) || passages[i]!.text.includes(lastOfPrevious), `passage ${i} carries "${lastOfPrevious}" over`);
    }
    assert.ok(passages.every((p) => p.heading === 'Long'));
  });
});

// The test-made GGUF's vectors are random: the right passage comes from the keyword side of the hybrid search.
describe('the index, with the test-made embedding model (random vectors)', () => {
  let modelPath: string;
  let embedder: Embedder;
  const dirs: string[] = [];
  /** A data folder and a documents folder holding one note (where the spare key is), both removed after the tests. */
  const folderWithNote = () => {
    const dataDir = tempDir('kb-data');
    const docs = tempDir('kb-docs');
    dirs.push(dataDir, docs);
    fs.writeFileSync(path.join(docs, 'notes.txt'), 'The spare key is with the neighbours at number 12.\n');
    return { dataDir, docs };
  };
  const openKnowledge = (dataDir: string, folders: string[], overrides: Record<string, unknown> = {}) =>
    Knowledge.open({ config: knowledgeConfig({ folders, minSimilarity: 1.01, ...overrides }), dataDir, embedder, log: silentLogger });

  before(async () => {
    modelPath = await ensureTinyGguf();
    embedder = new Embedder({ modelPath, gpu: 'cpu', documentPrefix: 'search_document: ', queryPrefix: 'search_query: ', niceness: 0, threads: 1, restartMs: 20 }, silentLogger);
  });
  after(async () => {
    await embedder.dispose();
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('each known fact is retrieved from its passage (file, page, heading) by a question; random vectors, so by its keywords', async () => {
    const dataDir = tempDir('kb-data');
    const docs = tempDir('kb-docs');
    dirs.push(dataDir, docs);
    await writeDocumentSet(docs);
    const knowledge = await openKnowledge(dataDir, [docs]);
    try {
      await knowledge.sync();
      assert.equal(knowledge.db.counts().files, 5);
      for (const fact of KNOWN_FACTS) {
        const { passages } = await knowledge.search(fact.question, 3);
        const top = passages[0];
        assert.ok(top?.relevant, `"${fact.question}" found a relevant passage`);
        assert.equal(path.basename(top.path), fact.file, fact.question);
        assert.ok(top.text.includes(fact.contains), `"${fact.question}" → ${top.text.slice(0, 120)}`);
        if (fact.page) assert.equal(top.page, fact.page);
        if (fact.heading) assert.equal(top.heading, fact.heading);
      }
      const nothing = await knowledge.search('who won the football world cup in 1966', 3);
      assert.ok(!nothing.passages.some((p) => p.relevant), 'a question the documents do not answer finds nothing relevant');
      assert.equal(knowledge.vectors.size, knowledge.db.counts().passages);
    } finally {
      await knowledge.dispose();
    }
  });

  test('secrets, hidden files, a corrupt PDF, a 50 MB file and a link out of the folder are skipped with a reason, not read', async () => {
    const { dataDir, docs } = folderWithNote();
    const outside = tempDir('kb-outside');
    dirs.push(outside);
    const trouble = writeTroubleFiles(docs, outside);
    const knowledge = await openKnowledge(dataDir, [docs]);
    try {
      await knowledge.sync();
      const byName = new Map(knowledge.db.files().map((f) => [path.basename(f.path), f]));
      assert.equal(byName.get('notes.txt')?.status, 'indexed');
      const expect = (file: string, code: string, reason: RegExp) => {
        const row = byName.get(path.basename(file));
        assert.equal(row?.status, 'skipped', file);
        assert.equal(row.skipCode, code, file);
        assert.match(row.skipReason ?? '', reason);
      };
      expect(trouble.env!, 'secret', /secrets.*never read/);
      expect(trouble.key!, 'secret', /secrets/);
      expect(trouble.passwords!, 'secret', /secrets/);
      expect(trouble.hidden!, 'hidden', /hidden.*rename/);
      expect(trouble.corruptPdf!, 'corrupt', /cannot be read: pdf\.js/);
      expect(trouble.large!, 'too-large', /52\.4 MB|52 MB.*knowledge\.maxFileMb/);
      expect(trouble.link!, 'outside-folder', /outside the knowledge folder/);
      // Nothing of them is in the index.
      const raw = fs.readFileSync(knowledgeDatabasePath(dataDir));
      for (const secret of ['do-not-read-me-42', 'hunter2', 'Private diary', 'not-a-real-key']) assert.ok(!raw.includes(secret), secret);
      assert.equal((fs.statSync(knowledgeDatabasePath(dataDir)).mode & 0o777).toString(8), '600');
    } finally {
      await knowledge.dispose();
    }
  });

  test('the watcher reflects an added, an edited, a renamed and a deleted file within seconds; a rename embeds nothing again', async () => {
    const { dataDir, docs } = folderWithNote();
    const knowledge = await openKnowledge(dataDir, [docs]);
    try {
      await knowledge.sync();
      await knowledge.watch(100);
      const reflected = (file: string, outcome: string) =>
        new Promise<number>((resolve, reject) => {
          const started = Date.now();
          const timer = setTimeout(() => reject(new Error(`${path.basename(file)} not ${outcome} within 5 s`)), 5000);
          const onIndexed = (event: { file: string; outcome: string }) => {
            if (event.file !== file || event.outcome !== outcome) return;
            clearTimeout(timer);
            knowledge.off('indexed', onIndexed);
            resolve(Date.now() - started);
          };
          knowledge.on('indexed', onIndexed);
        });
      const top = async (question: string) => (await knowledge.search(question, 1)).passages.find((p) => p.relevant);
      const garden = path.join(docs, 'garden.md');
      let waited = reflected(garden, 'indexed');
      fs.writeFileSync(garden, '# Garden\n\nThe lawn mower takes blade F016800 from Bosch.\n');
      await waited;
      assert.equal((await top('which blade does the lawn mower take'))?.path, garden);

      waited = reflected(garden, 'indexed');
      fs.writeFileSync(garden, '# Garden\n\nThe hedge trimmer battery charges in 90 minutes.\n');
      await waited;
      assert.equal((await top('how long does the hedge trimmer battery charge'))?.path, garden);
      assert.equal(await top('which blade does the lawn mower take'), undefined, 'the old text is gone');

      const embedded = embedder.documentsEmbedded;
      const moved = path.join(docs, 'tools', 'garden-tools.md');
      fs.mkdirSync(path.dirname(moved));
      const gone = reflected(garden, 'removed');
      waited = reflected(moved, 'indexed');
      fs.renameSync(garden, moved);
      await Promise.all([gone, waited]);
      assert.equal((await top('how long does the hedge trimmer battery charge'))?.path, moved);
      assert.equal(knowledge.db.file(garden), undefined);
      assert.equal(embedder.documentsEmbedded, embedded, 'the renamed passages kept their vectors');

      waited = reflected(moved, 'removed');
      fs.rmSync(moved);
      await waited;
      assert.equal(await top('how long does the hedge trimmer battery charge'), undefined);
      assert.equal(knowledge.vectors.size, knowledge.db.counts().passages);
    } finally {
      await knowledge.dispose();
    }
  });

  test('the embedding worker killed: the search goes on by keywords, and the worker is started again on the next question', async () => {
    const { dataDir, docs } = folderWithNote();
    const knowledge = await openKnowledge(dataDir, [docs]);
    try {
      await knowledge.sync();
      const pid = embedder.pid!;
      const exited = new Promise<void>((resolve) => {
        const check = setInterval(() => {
          try {
            process.kill(pid, 0);
          } catch {
            clearInterval(check);
            resolve();
          }
        }, 5);
      });
      process.kill(pid, 'SIGKILL');
      await exited;
      let result = await knowledge.search('where is the spare key', 1);
      // Either the worker's end was seen (keywords only) or the next one was already up: both answer.
      assert.ok(result.passages[0]?.text.includes('number 12'));
      for (let i = 0; i < 50 && (result.keywordsOnly || embedder.pid === pid); i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        result = await knowledge.search('where is the spare key', 1);
      }
      assert.equal(result.keywordsOnly, false, 'a new worker embeds the question');
      assert.notEqual(embedder.pid, pid);
    } finally {
      await knowledge.dispose();
    }
  });

  test('indexing waits while a turn runs (the idle gate) and goes on when it ends', async () => {
    const { dataDir, docs } = folderWithNote();
    let release!: () => void;
    let busy = true;
    const turnOver = new Promise<void>((resolve) => (release = resolve));
    const gate = { waitUntilIdle: async () => (busy ? turnOver : undefined) };
    const knowledge = await Knowledge.open({ config: knowledgeConfig({ folders: [docs] }), dataDir, embedder, log: silentLogger, gate });
    try {
      const embedded = embedder.documentsEmbedded;
      const syncing = knowledge.sync();
      const progress = await new Promise<{ pending: number; current?: string }>((resolve) => knowledge.once('progress', resolve));
      // Held before reading the file: nothing read, nothing embedded, nothing stored.
      await new Promise((resolve) => setImmediate(resolve));
      assert.ok(progress.current?.endsWith('notes.txt'));
      assert.equal(embedder.documentsEmbedded, embedded);
      assert.equal(knowledge.db.counts().files, 0);
      busy = false;
      release();
      await syncing;
      assert.equal(knowledge.db.counts().files, 1);
      assert.equal(embedder.documentsEmbedded, embedded + 1);
    } finally {
      await knowledge.dispose();
    }
  });

  test('a restart mid-index embeds only what was not embedded yet; unchanged files are never embedded again', async () => {
    const dataDir = tempDir('kb-data');
    const docs = tempDir('kb-docs');
    dirs.push(dataDir, docs);
    await writeDocumentSet(docs);
    const first = await openKnowledge(dataDir, [docs], { batchSize: 2 });
    const before = embedder.documentsEmbedded;
    // Stopped after the first two files, as a kill would.
    let files = 0;
    const stopped = new Promise<void>((resolve) => first.on('indexed', () => ++files === 2 && resolve()));
    const syncing = first.sync().catch(() => {});
    await stopped;
    await first.dispose();
    await syncing;
    const embeddedBefore = embedder.documentsEmbedded - before;
    assert.ok(first.db.location);
    const second = await openKnowledge(dataDir, [docs], { batchSize: 2 });
    try {
      assert.ok(second.db.counts().files >= 2 && second.db.counts().files < 5, `${second.db.counts().files} files done before the restart`);
      await second.sync();
      const { passages, embeddings } = second.db.counts();
      assert.equal(second.db.counts().files, 5);
      assert.equal(embedder.documentsEmbedded - before, embeddings, 'each distinct passage embedded once across the restart');
      assert.ok(embeddedBefore > 0 && embeddedBefore < embeddings);
      assert.equal(second.vectors.size, passages);
      const mark = embedder.documentsEmbedded;
      await second.sync();
      fs.utimesSync(path.join(docs, 'notes.txt'), new Date(), new Date(Date.now() + 5000));
      await second.sync();
      assert.equal(embedder.documentsEmbedded, mark, 'nothing embedded again: the files did not change (a touched one has the same hash)');
    } finally {
      await second.dispose();
    }
  });
});
