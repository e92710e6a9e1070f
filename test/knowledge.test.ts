import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { silentLogger } from '../base/log.ts';
import { configSchema } from '../config/schema.ts';
import { chunkDocument } from '../core/knowledge/chunk.ts';
import { Embedder } from '../core/knowledge/embedder.ts';
import { CorruptDocumentError, extractDocument } from '../core/knowledge/extract.ts';
import JSZip from 'jszip';
import { Knowledge, knowledgeDatabasePath } from '../core/knowledge/knowledge.ts';
import { KNOWN_FACTS, writeDocumentSet, writeEpub, writeNovelEpub, writeTroubleFiles } from './fixtures/documents.ts';
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

  test('an EPUB gives its chapters in spine order, each passage under its chapter\'s heading (its own <h1>, else its name in the table of contents); the nav and styles are not text', async () => {
    const file = path.join(dir, 'lighthouse-keeper.epub');
    await writeNovelEpub(file);
    const book = await extractDocument(file, 'epub');
    assert.equal(book.title, 'The Lighthouse Keeper');
    const passages = chunkDocument(book, { maxWords: 280, overlapWords: 40 });
    const lamp = passages.findIndex((p) => p.text.includes("lit the great lamp at nine o'clock & wound"));
    const storm = passages.findIndex((p) => p.text.includes('The storm of 1911 broke the lantern glass'));
    assert.ok(lamp >= 0 && storm >= 0, JSON.stringify(passages.map((p) => p.text.slice(0, 60))));
    assert.ok(lamp < storm, 'chapter 1 before chapter 2: the spine\'s order, not the manifest\'s');
    assert.equal(passages[lamp]!.heading, 'Chapter 1: The Lamp');
    assert.equal(passages[storm]!.heading, 'Two: The Storm');
    assert.ok(passages.length >= 4, `${passages.length} passages: chunked like HTML`);
    assert.ok(passages.every((p) => p.page === undefined && p.heading !== undefined && !/Contents|text-indent/.test(p.text)));
  });

  test('a corrupt EPUB, one without its container or spine, one locked with DRM and a zip bomb are refused with a reason', async () => {
    const refused = async (name: string, bytes: Buffer | Promise<Buffer>, reason: RegExp) => {
      const file = path.join(dir, name);
      fs.writeFileSync(file, await bytes);
      await assert.rejects(extractDocument(file, 'epub'), (error: unknown) => error instanceof CorruptDocumentError && reason.test(error.message), name);
    };
    await refused('truncated.epub', Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(500, 7)]), /not a readable EPUB book: the zip inside is damaged/);
    const zip = (entries: Record<string, string>) => {
      const z = new JSZip();
      z.file('mimetype', 'application/epub+zip');
      for (const [name, text] of Object.entries(entries)) z.file(name, text);
      return z.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' });
    };
    await refused('no-container.epub', zip({ 'OEBPS/content.opf': '<package/>' }), /META-INF\/container\.xml is missing/);
    const container = '<container><rootfiles><rootfile full-path="content.opf"/></rootfiles></container>';
    await refused('no-spine.epub', zip({ 'META-INF/container.xml': container, 'content.opf': '<package><manifest/><spine/></package>' }), /spine lists no chapters/);
    const locked = path.join(dir, 'locked-source.epub');
    await writeNovelEpub(locked);
    const drm = await JSZip.loadAsync(fs.readFileSync(locked));
    drm.file('META-INF/encryption.xml', '<encryption><EncryptedData><EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/><CipherData><CipherReference URI="OEBPS/text/chapter-1.xhtml"/></CipherData></EncryptedData></encryption>');
    await refused('locked.epub', drm.generateAsync({ type: 'nodebuffer' }), /locked with DRM/);
    // 70 MB of text in a chapter that compresses to a few hundred KB.
    const bomb = path.join(dir, 'bomb-source.epub');
    await writeEpub(bomb, { title: 'Bomb', chapters: [{ file: 'c.xhtml', label: 'c', body: `<p>${' '.repeat(70 * 1024 * 1024)}</p>` }] });
    await refused('bomb.epub', fs.promises.readFile(bomb), /unpacks to more than 64 MB/);
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

  test('an EPUB in a folder is indexed and its passage found with the chapter as its source; a corrupt EPUB beside it is a clear skip', async () => {
    const { dataDir, docs } = folderWithNote();
    await writeNovelEpub(path.join(docs, 'lighthouse-keeper.epub'));
    fs.writeFileSync(path.join(docs, 'broken-book.epub'), Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(3000, 0x41)]));
    const knowledge = await openKnowledge(dataDir, [docs]);
    try {
      await knowledge.sync();
      const byName = new Map(knowledge.db.files().map((f) => [path.basename(f.path), f]));
      assert.equal(byName.get('lighthouse-keeper.epub')?.status, 'indexed');
      assert.equal(byName.get('lighthouse-keeper.epub')?.title, 'The Lighthouse Keeper');
      assert.equal(byName.get('broken-book.epub')?.skipCode, 'corrupt');
      assert.match(byName.get('broken-book.epub')?.skipReason ?? '', /^broken-book\.epub cannot be read: it is not a readable EPUB book.*open and save it again, or remove it/);
      const top = (await knowledge.search('what did the storm of 1911 break in the lighthouse', 3)).passages[0];
      assert.ok(top?.relevant);
      assert.equal(path.basename(top.path), 'lighthouse-keeper.epub');
      assert.equal(top.heading, 'Two: The Storm');
      assert.match(top.text, /broke the lantern glass/);
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

  test('a worker that neither answers nor dies (stopped with SIGSTOP) is given up after knowledge\'s deadline, and the next question gets a new one', async () => {
    const stuckable = new Embedder({ modelPath, gpu: 'cpu', documentPrefix: 'search_document: ', queryPrefix: 'search_query: ', niceness: 0, threads: 1, restartMs: 20, stuckMs: 1500 }, silentLogger);
    try {
      await stuckable.load();
      const pid = stuckable.pid!;
      process.kill(pid, 'SIGSTOP');
      const started = Date.now();
      await assert.rejects(stuckable.embedQuery('where is the spare key'), (error: Error & { code?: string }) => error.code === 'embedding-crashed' && /did not answer within 1\.5 s/.test(error.message));
      assert.ok(Date.now() - started < 10_000, `given up after ${Date.now() - started} ms`);
      let vector: Float32Array | undefined;
      for (let i = 0; i < 50 && !vector; i++) {
        vector = await stuckable.embedQuery('where is the spare key').catch(() => undefined);
        if (!vector) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(vector?.length, stuckable.dimensions);
      assert.notEqual(stuckable.pid, pid);
    } finally {
      await stuckable.dispose();
    }
  });

  test('a file queued just as the queue ran empty is read too (not left waiting for the next change)', async () => {
    const { dataDir, docs } = folderWithNote();
    const knowledge = await openKnowledge(dataDir, [docs]);
    try {
      const late = path.join(docs, 'late.txt');
      fs.writeFileSync(late, 'The bicycle pump is in the shed.\n');
      // At the "all done" report the loop has seen an empty queue and is about to end.
      knowledge.on('progress', function queueLate(progress) {
        if (progress.pending !== 0) return;
        knowledge.off('progress', queueLate);
        knowledge.enqueue(late, docs);
      });
      await knowledge.sync();
      await knowledge.idle();
      assert.equal(knowledge.pending, 0);
      assert.equal(knowledge.db.file(late)?.status, 'indexed');
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
