import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { silentLogger } from '../base/log.ts';
import { KNOWLEDGE_PROBLEM } from '../core/knowledge/daemon-link.ts';
import { KnowledgeDb, knowledgeDatabasePath } from '../core/knowledge/knowledge-db.ts';
import type { DocumentRefusal, OpenedDocument } from '../core/knowledge/open-document.ts';
import type { KnowledgePassage, RunEvent } from '../core/protocol/run-events.ts';
import { DocumentLinks } from '../core/server/document-links.ts';
import { hudDistDir } from '../core/server/hud-build.ts';
import { chromiumMissing, launchChromium, newScreen, WALL } from './fixtures/browser.ts';
import { writeDocumentSet } from './fixtures/documents.ts';
import { OTHER_DEVICE_ADDRESS, startTestHud, type TestClient, type TestHud } from './fixtures/hud-server.ts';
import { ScriptedResponder } from './fixtures/scripted-responder.ts';
import { ensureTinyGguf } from './models/tiny-gguf.ts';
import { until } from './fixtures/assistant-until.ts';

/**
 * "Tappable to open": the documents behind the sources under an answer, served by the HUD server to paired
 * screens only, by the document's id in the index (never a path), through a short-lived link the socket gives
 * (core/server/document-links.ts), the file checked again on every request (core/knowledge/open-document.ts). The
 * whole daemon behind a real HUD server, its own watcher and embedding worker (the test-made GGUF) reading a
 * generated document set; real socket.io clients and HTTP requests over loopback; the HUD itself in Chromium.
 */

let hud: TestHud;
let docs: string;
let outside: string;
let db: KnowledgeDb;
let phone: TestClient;

const idOf = (name: string) => db.file(path.join(docs, name))?.id;

/** A GET (or HEAD) with the path sent exactly as given: no URL normalisation of ".." or "%2e". */
function request(rawPath: string, method = 'GET'): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  const url = new URL(hud.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: rawPath, method, headers: { host: url.host } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The path part of a link the server gave (the #page fragment is the browser's, never sent). */
const pathOf = (url: string) => url.split('#')[0]!;

const skipBrowser = chromiumMissing() ?? (fs.existsSync(path.join(hudDistDir, 'index.html')) ? undefined : 'the HUD is not built (npm run build:hud)');

before(async () => {
  docs = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-open-docs-'));
  outside = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-open-outside-'));
  const [modelPath] = await Promise.all([ensureTinyGguf(), writeDocumentSet(docs)]);
  fs.writeFileSync(path.join(docs, '.env'), 'API_TOKEN=never-served-42\n');
  fs.writeFileSync(path.join(outside, 'diary.txt'), 'Private diary: never on the wall.\n');
  const llm = new ScriptedResponder((question) => (/\(1\) ([^:]+): "/.exec(question)?.[1] ? 'According to the documents, it says so.' : 'I do not know.'), 0);
  hud = await startTestHud({
    responder: llm,
    ...(skipBrowser ? {} : { hudDir: hudDistDir }),
    // niceness 0: beside the other test files the 2 cores are busy, and a niced worker would wait for minutes.
    config: { server: { trustLocalDisplay: false }, knowledge: { folders: [docs], model: modelPath, gpu: 'cpu', minSimilarity: 1.01, settleMs: 50, niceness: 0 } },
  });
  await until(hud.assistant, () => !hud.assistant.state.problems.some((p) => p.id === KNOWLEDGE_PROBLEM.indexing));
  db = KnowledgeDb.open(knowledgeDatabasePath(hud.config.dataDir));
  assert.equal(db.counts().files, 5);
  ({ client: phone } = await hud.pairedClient('controller'));
});

after(async () => {
  db?.close();
  await hud?.close();
  for (const dir of [docs, outside]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('a source under an answer opens its document (paired screens only, by id, never by path)', { timeout: 180_000 }, () => {
  test('a paired phone asks, taps the PDF source and gets the file itself at its page; a paired viewer opens the HTML letter (sandboxed) and the DOCX (a download)', async () => {
    const ack = await phone.command('ask', { text: 'what does the boiler manual say about the pressure' });
    assert.ok(ack.ok);
    const event = (await phone.waitFor('run-event', (e: RunEvent) => e.type === 'knowledge' && e.passages.length > 0, 60_000)) as Extract<RunEvent, { type: 'knowledge' }>;
    const source = event.passages[0] as KnowledgePassage;
    assert.equal(source.file, 'boiler-manual.pdf');
    assert.equal(source.page, 2);
    assert.equal(source.document, idOf('boiler-manual.pdf'));

    const link = await phone.command('open-document', { document: source.document, page: source.page });
    assert.ok(link.ok, JSON.stringify(link));
    assert.match(link.url, /^\/documents\/[A-Za-z0-9_-]{32}\/boiler-manual\.pdf#page=2$/);
    assert.equal(link.type, 'application/pdf');
    const got = await request(pathOf(link.url));
    assert.equal(got.status, 200);
    assert.equal(got.headers['content-type'], 'application/pdf');
    assert.match(got.headers['content-disposition'] ?? '', /^inline; filename="boiler-manual\.pdf"/);
    assert.match(got.headers['cache-control'] ?? '', /no-store/);
    assert.equal(got.headers['x-content-type-options'], 'nosniff');
    assert.ok(got.body.equals(fs.readFileSync(path.join(docs, 'boiler-manual.pdf'))), 'the bytes of the file');
    // Opened again (a PDF viewer fetches more than once) and by HEAD, within the link's life.
    assert.equal((await request(pathOf(link.url), 'HEAD')).headers['content-length'], String(got.body.length));
    assert.equal((await request(pathOf(link.url))).status, 200);
    assert.equal((await request(pathOf(link.url), 'POST')).status, 405);

    const { client: viewer } = await hud.pairedClient('viewer');
    const letter = await viewer.command('open-document', { document: idOf('school-letter.html')!, page: 3 });
    assert.ok(letter.ok, JSON.stringify(letter));
    assert.match(letter.url, /\/school-letter\.html$/, 'no #page for what is not a PDF');
    const html = await request(pathOf(letter.url));
    assert.equal(html.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(String(html.headers['content-security-policy'] ?? ''), /^sandbox;.*default-src 'none'/, 'a document\'s scripts never run in the HUD\'s origin');
    const docx = await viewer.command('open-document', { document: idOf('car-insurance.docx')! });
    assert.ok(docx.ok);
    const word = await request(pathOf(docx.url));
    assert.equal(word.headers['content-type'], 'application/vnd.openxmlformats-officedocument.wordprocessingml.document');
    assert.match(word.headers['content-disposition'] ?? '', /^attachment;/);
    const notes = await viewer.command('open-document', { document: idOf('notes.txt')! });
    assert.ok(notes.ok);
    assert.equal((await request(pathOf(notes.url))).headers['content-type'], 'text/plain; charset=utf-8');
  });

  test('an unpaired client is refused; a link cannot be guessed, nor made from a path: traversal in the URL or the payload gets nothing', async () => {
    const stranger = hud.connect({ localAddress: OTHER_DEVICE_ADDRESS });
    assert.equal((await stranger.hello).role, undefined);
    const refused = await stranger.command('open-document', { document: idOf('boiler-manual.pdf')! });
    assert.equal(!refused.ok && refused.code, 'forbidden');
    stranger.close();

    for (const payload of [{ document: '../../etc/passwd' }, { document: 1.5 }, { document: 0 }, { path: '/etc/passwd' }, { document: 1, file: '/etc/passwd' }]) {
      const ack = await phone.command('open-document', payload as never);
      assert.equal(!ack.ok && ack.code, 'invalid', JSON.stringify(payload));
    }
    const link = await phone.command('open-document', { document: idOf('boiler-manual.pdf')! });
    assert.ok(link.ok);
    const token = /^\/documents\/([^/]+)\//.exec(link.url)![1]!;
    const passwd = fs.readFileSync('/etc/passwd');
    for (const raw of [
      '/documents/',
      `/documents/${'A'.repeat(32)}/boiler-manual.pdf`,
      `/documents/${token.slice(0, -1)}x/boiler-manual.pdf`,
      '/documents/../etc/passwd',
      '/documents/..%2f..%2f..%2fetc%2fpasswd',
      '/documents/%2e%2e/%2e%2e/etc/passwd',
      `/documents/${token}/../../../../etc/passwd`,
      `/documents/${token}/..%2f..%2f..%2f..%2fetc%2fpasswd/x`,
      `/documents/${encodeURIComponent(path.join(docs, 'notes.txt'))}`,
    ]) {
      const got = await request(raw);
      assert.notEqual(got.status, 200, raw);
      assert.ok(!got.body.includes(passwd.subarray(0, 20)) && !got.body.includes('Fritzbox'), raw);
    }
    // The name after the capability is for the tab's title only: whatever it says, the link opens its own document.
    const renamed = await request(`/documents/${token}/..%2f..%2f..%2f..%2fetc%2fpasswd`);
    assert.equal(renamed.status, 200);
    assert.ok(renamed.body.equals(fs.readFileSync(path.join(docs, 'boiler-manual.pdf'))));
  });

  test('an id not in the index, a skipped file, a file removed since and a file swapped for a link out of the folder: a clear 404, never the file', async () => {
    const missing = await phone.command('open-document', { document: 987_654 });
    assert.ok(!missing.ok);
    assert.equal(missing.code, 'not-found');
    assert.match(missing.message, /not in the index/);
    assert.match(missing.fix ?? '', /Ask the question again/);
    const secret = db.file(path.join(docs, '.env'));
    assert.equal(secret?.status, 'skipped', 'the .env is known to the index, as skipped');
    const env = await phone.command('open-document', { document: secret.id });
    assert.equal(!env.ok && env.code, 'not-found');

    // Removed after the link was given: the link says so.
    const recipes = path.join(docs, 'recipes.md');
    const recipesId = idOf('recipes.md')!;
    const link = await phone.command('open-document', { document: recipesId });
    assert.ok(link.ok);
    assert.equal(link.type, 'text/markdown; charset=utf-8');
    fs.rmSync(recipes);
    const gone = await request(pathOf(link.url));
    assert.equal(gone.status, 404);
    assert.match(gone.body.toString(), /recipes\.md is no longer there|not in the index/);
    const again = await phone.command('open-document', { document: recipesId });
    assert.equal(!again.ok && again.code, 'not-found');

    // notes.txt replaced by a link to a file outside the folder, after it was indexed: not followed.
    const notes = path.join(docs, 'notes.txt');
    const notesId = idOf('notes.txt')!;
    const before = await phone.command('open-document', { document: notesId });
    assert.ok(before.ok);
    fs.rmSync(notes);
    fs.symlinkSync(path.join(outside, 'diary.txt'), notes);
    const swapped = await request(pathOf(before.url));
    assert.equal(swapped.status, 404);
    assert.match(swapped.body.toString(), /is a link|not in the index/);
    assert.ok(!swapped.body.includes('Private diary'));
    const after = await phone.command('open-document', { document: notesId });
    assert.equal(!after.ok && after.code, 'not-found');
  });

  test('in the HUD (Chromium): the wall lists the sources of the answer with "open"; a click opens the PDF at its page in a new tab', { skip: skipBrowser }, async () => {
    const { token } = await hud.pairedClient('viewer');
    const browser = await launchChromium();
    try {
      const { context, page } = await newScreen(browser, WALL);
      await context.addInitScript((t) => (globalThis as unknown as { localStorage: { setItem(k: string, v: string): void } }).localStorage.setItem('jarvis.deviceToken', t), token);
      await page.goto(hud.url);
      await page.locator('[data-testid="conversation"]').waitFor();
      await hud.assistant.ask('what does the boiler manual say about the pressure');
      const open = page.locator('[data-testid="open-source"]').first();
      await open.waitFor({ timeout: 20_000 });
      assert.match((await page.locator('[data-testid="source"]').first().textContent()) ?? '', /boiler-manual\.pdf · page 2/);
      const [tab, served] = await Promise.all([
        context.waitForEvent('page'),
        context.waitForEvent('response', (r) => r.url().includes('/documents/')),
        open.click(),
      ]);
      assert.equal(served.status(), 200);
      assert.equal(served.headers()['content-type'], 'application/pdf');
      assert.match(served.url(), /\/documents\/[A-Za-z0-9_-]{32}\/boiler-manual\.pdf$/);
      assert.equal(await page.locator('[data-testid="open-error"]').count(), 0);
      // The tab is at the link with the page for the browser's PDF viewer.
      await tab.waitForURL(/\/documents\/[A-Za-z0-9_-]{32}\/boiler-manual\.pdf#page=2$/, { timeout: 10_000 });
    } finally {
      await browser.close();
    }
  });
});

describe('document links on their own', () => {
  test('a link lasts its time, then is a 404 that says to tap again; a refusal of the index is passed on', async () => {
    let now = 1_000_000;
    const file = path.join(os.tmpdir(), `jarvis-link-${process.pid}.txt`);
    fs.writeFileSync(file, 'hello');
    const source = {
      async openDocument(id: number): Promise<OpenedDocument | DocumentRefusal> {
        if (id !== 7) return { refused: 'not-indexed', message: 'that document is not in the index (any more)' };
        return { id, name: 'a b.txt', kind: 'text', type: 'text/plain; charset=utf-8', inline: true, size: 5, handle: await fs.promises.open(file) };
      },
    };
    const links = new DocumentLinks(source, silentLogger, { ttlMs: 60_000, now: () => now });
    const server = http.createServer((req, res) => void links.serve(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as { port: number }).port;
      const get = async (p: string) => {
        const response = await fetch(`http://127.0.0.1:${port}${p}`);
        return { status: response.status, text: await response.text(), disposition: response.headers.get('content-disposition') };
      };
      const ack = await links.issue(7, 4, 'test');
      assert.ok(ack.ok);
      assert.match(ack.url, /\/a%20b\.txt$/);
      const ok = await get(ack.url);
      assert.deepEqual([ok.status, ok.text], [200, 'hello']);
      assert.equal(ok.disposition, `inline; filename="a b.txt"; filename*=UTF-8''a%20b.txt`);
      now += 60_001;
      const expired = await get(ack.url);
      assert.equal(expired.status, 404);
      assert.match(expired.text, /expired: tap the source on the screen again/);
      const refused = await links.issue(8, undefined, 'test');
      assert.deepEqual(!refused.ok && [refused.code, refused.message], ['not-found', 'that document is not in the index (any more)']);
    } finally {
      server.close();
      fs.rmSync(file, { force: true });
    }
  });
});
