import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import type { TimersView } from '../core/protocol/wire.ts';
import { DeviceStore, devicesDbPath } from '../core/server/device-store.ts';
import { runJarvis, testModelsConfig, type JarvisProcess } from './fixtures/cli.ts';
import { connectClient, type TestClient } from './fixtures/hud-server.ts';
import { sha256, startModelMirror } from './fixtures/model-mirror.ts';
import { seededRandom } from './models/random.ts';
import { buildTinyGguf, ensureTinyGguf } from './models/tiny-gguf.ts';

/**
 * Faults injected on purpose into the real daemon (`jarvis start`), part of `npm run faults` and of `npm test`:
 * kill -9 at random moments while a paired phone sets timers through it, then a restart. Whatever the daemon had
 * acknowledged (the timer on every screen) must be there after the restart, the paired phone must still be
 * paired, and both SQLite files must pass `PRAGMA integrity_check`.
 */

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-faults-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function integrity(file: string): string {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return String(db.pragma('integrity_check', { simple: true }));
  } finally {
    db.close();
  }
}

async function hudUrl(daemon: JarvisProcess): Promise<string> {
  const line = await daemon.waitFor((l) => l.includes('HUD at'), 120_000, 'the HUD server');
  return /HUD at (\S+?)[,"]/.exec(line)![1]!;
}

test('kill -9 at random moments while a phone sets timers: every acknowledged timer, the pairing and both databases survive each restart', async (t) => {
  const config = await testModelsConfig();
  const dataDir = path.join(dir, 'data');
  const store = new DeviceStore(devicesDbPath(dataDir));
  const code = store.issueCode('controller').code;
  store.close();
  const random = seededRandom(1717);
  const acknowledged = new Set<number>();
  let token: string | undefined;
  let minutes = 100;
  // 3 kills in `npm test` (each restart loads every engine); `npm run faults` makes it 10 (not a JARVIS_ name: those are settings).
  const rounds = Number(process.env.FAULT_ROUNDS ?? 3);
  for (let round = 0; round < rounds; round++) {
    const daemon = runJarvis(['-c', config, 'start', '--input', '-', '--output', 'none'], { JARVIS_DATA_DIR: dataDir });
    let phone: TestClient | undefined;
    try {
      const url = await hudUrl(daemon);
      await daemon.waitFor((l) => l.includes('listening to raw s16le'), 120_000, 'listening');
      phone = connectClient(url, { origin: url, ...(token ? { token } : {}) });
      const hello = await phone.hello;
      if (!token) {
        const paired = await phone.command('pair', { code, name: 'faults phone' });
        assert.ok(paired.ok, JSON.stringify(paired));
        token = paired.token;
      } else {
        assert.equal(hello.role, 'controller', `round ${round}: the phone is still paired after kill -9`);
      }
      const { timers } = (await phone.waitFor('snapshot')) as { timers: TimersView };
      for (const id of acknowledged) assert.ok(timers.timers.some((timer) => timer.id === id), `round ${round}: timer ${id} shown before the kill is gone`);

      // Timers set one after another; kill -9 lands at a random moment among them (mid-write included).
      const killAfterMs = 150 + random() * 1200;
      const killed = new Promise<void>((resolve) =>
        setTimeout(() => {
          daemon.child.kill('SIGKILL');
          resolve();
        }, killAfterMs),
      );
      const client = phone;
      const setTimers = (async () => {
        while (daemon.child.exitCode === null && daemon.child.signalCode === null) {
          const want = ++minutes;
          const ack = await client.command('ask', { text: `set a timer for ${want} minutes` }, 3000).catch(() => undefined);
          if (!ack?.ok) break;
          const view = (await client
            .waitFor('timers', (v: TimersView) => v.timers.some((timer) => timer.durationMs === want * 60_000), 3000)
            .catch(() => undefined)) as TimersView | undefined;
          const shown = view?.timers.find((timer) => timer.durationMs === want * 60_000);
          if (shown) acknowledged.add(shown.id);
        }
      })();
      await killed;
      await daemon.exit;
      await setTimers;
    } finally {
      phone?.close();
      if (daemon.child.exitCode === null && daemon.child.signalCode === null) daemon.child.kill('SIGKILL');
    }
    assert.equal(integrity(path.join(dataDir, 'jarvis.db')), 'ok');
    assert.equal(integrity(devicesDbPath(dataDir)), 'ok');
    const db = new Database(path.join(dataDir, 'jarvis.db'), { readonly: true });
    const stored = new Set((db.prepare('SELECT id FROM timers').all() as { id: number }[]).map((r) => r.id));
    db.close();
    for (const id of acknowledged) assert.ok(stored.has(id), `round ${round}: acknowledged timer ${id} lost by kill -9`);
  }
  t.diagnostic(`${rounds} kills, ${acknowledged.size} acknowledged timers, all kept`);
  assert.ok(acknowledged.size >= rounds, 'timers were being written when the kills landed');
});

test('kill -9 during `jarvis models pull`: nothing under the final name, and the next pull resumes from the bytes on disk and verifies', async (t) => {
  const mirror = await startModelMirror();
  t.after(() => mirror.close());
  const model = buildTinyGguf({ seed: 9191, name: 'faults download' });
  // 16 kB every 60 ms: long enough to be killed half-way.
  mirror.put('test/faults-llm-GGUF', 'faults-Q8_0.gguf', { content: model, chunkDelayMs: 60 });
  const dataDir = path.join(dir, 'download');
  const modelsDir = path.join(dataDir, 'models');
  const configFile = path.join(dir, 'download-config.json');
  fs.writeFileSync(configFile, JSON.stringify({
    dataDir,
    models: { baseUrl: mirror.baseUrl, extra: [{ id: 'faults-llm', kind: 'llm', repo: 'test/faults-llm-GGUF', files: [{ path: 'faults-Q8_0.gguf', bytes: model.length, sha256: sha256(model) }] }] },
  }));
  const final = path.join(modelsDir, 'faults-Q8_0.gguf');
  const part = `${final}.part`;

  const first = runJarvis(['-c', configFile, 'models', 'pull', 'faults-llm']);
  for (const started = Date.now(); !(fs.existsSync(part) && fs.statSync(part).size >= 40_000); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() - started > 30_000) assert.fail(`the download did not start: ${first.stderr.join('\n')}`);
  }
  first.child.kill('SIGKILL');
  await first.exit;
  const kept = fs.statSync(part).size;
  assert.ok(kept > 0 && kept < model.length, `a partial download is kept (${kept} of ${model.length} bytes)`);
  assert.ok(!fs.existsSync(final), 'nothing under the final name');

  const requestsBefore = mirror.requests.length;
  const second = runJarvis(['-c', configFile, 'models', 'pull', 'faults-llm']);
  assert.equal(await second.exit, 0, second.stderr.join('\n'));
  assert.deepEqual(fs.readFileSync(final), model, 'byte-identical after the resume');
  assert.ok(!fs.existsSync(part), 'the partial file is gone');
  const ranges = mirror.requests.slice(requestsBefore).flatMap((r) => (r.range ? [Number(/bytes=(\d+)-/.exec(r.range)?.[1])] : []));
  assert.ok(ranges.some((start) => start > 0 && start <= kept), `resumed from the bytes on disk (ranges asked: ${ranges.join(', ') || 'none'}; ${kept} kept)`);
});

test('kill -9 during `jarvis docs add`: the index passes its integrity check, and the next add reads each document once, none twice', async () => {
  const root = path.join(dir, 'indexing');
  const docs = path.join(root, 'docs');
  fs.mkdirSync(docs, { recursive: true });
  // Enough documents that reading them takes a while with the test-made embedding model (random vectors).
  for (let i = 0; i < 24; i++) {
    const body = Array.from({ length: 12 }, (_, p) => `Paragraph ${p} of note ${i}: the spare key number ${i * 100 + p} is kept in drawer ${p}.`).join('\n\n');
    fs.writeFileSync(path.join(docs, `note-${String(i).padStart(2, '0')}.md`), `# Household note ${i}\n\n${body}\n`);
  }
  const env = { JARVIS_DATA_DIR: path.join(root, 'data'), JARVIS_KNOWLEDGE__MODEL: await ensureTinyGguf(), JARVIS_KNOWLEDGE__GPU: 'cpu', JARVIS_LOG__LEVEL: 'warn', JARVIS_KNOWLEDGE__NICENESS: '0' };

  const first = runJarvis(['docs', 'add', docs], env);
  await first.waitFor((line) => /^reading ([4-9]|1\d) of 24: /.test(line), 60_000, 'indexing half-way');
  first.child.kill('SIGKILL');
  await first.exit;
  assert.equal(integrity(path.join(root, 'data', 'knowledge.db')), 'ok');

  const again = runJarvis(['docs', 'add', docs], env);
  assert.equal(await again.exit, 0, again.stderr.join('\n'));
  assert.match(again.stdout.join('\n'), /24 document\(s\)/);
  const db = new Database(path.join(root, 'data', 'knowledge.db'), { readonly: true });
  try {
    assert.equal(String(db.pragma('integrity_check', { simple: true })), 'ok');
    const passages = db.prepare("SELECT COUNT(*) AS n, COUNT(DISTINCT file_id || ':' || ord) AS distinct_n FROM passages").get() as { n: number; distinct_n: number };
    const files = db.prepare("SELECT COUNT(*) AS n, SUM(passages) AS passages FROM files WHERE status = 'indexed'").get() as { n: number; passages: number };
    assert.equal(files.n, 24, 'every document indexed');
    assert.equal(passages.n, passages.distinct_n, 'no passage stored twice');
    assert.equal(passages.n, files.passages, 'as many passages as the documents have');
    const words = db.prepare('SELECT COUNT(*) AS n FROM passage_words').get() as { n: number };
    assert.equal(words.n, passages.n, 'the keyword index holds each passage once');
  } finally {
    db.close();
  }
});
