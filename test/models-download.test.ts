import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { downloadFile, type DownloadProgress } from '../models/download.ts';
import { ModelDownloadError } from '../models/errors.ts';
import { huggingFaceUrl } from '../models/catalog.ts';
import { sha256, startModelMirror, type ModelMirror } from './fixtures/model-mirror.ts';

/**
 * Downloads from a Hugging Face-like mirror on 127.0.0.1 (test/fixtures/model-mirror.ts) that cuts connections,
 * stalls, lies about hashes and serves truncated copies on purpose. Every failure must end with a clear error and
 * nothing under the final name.
 */

const REPO = 'test/models';
let mirror: ModelMirror;
let dir: string;
const content = randomBytes(600 * 1024);

before(async () => {
  mirror = await startModelMirror();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-download-'));
});
after(async () => {
  await mirror.close();
});

function serve(name: string, file: Parameters<ModelMirror['put']>[2]): string {
  mirror.put(REPO, name, file);
  return huggingFaceUrl(mirror.baseUrl, { repo: REPO, path: name });
}

function contentRequests(name: string) {
  return mirror.requests.filter((r) => r.path === `/cdn/${encodeURIComponent(`${REPO}/${name}`)}`);
}

function leftovers(destination: string): string[] {
  return fs.readdirSync(path.dirname(destination)).filter((f) => f.startsWith(path.basename(destination)));
}

async function rejectsWith(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<ModelDownloadError> {
  let caught: unknown;
  await assert.rejects(promise, (error) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof ModelDownloadError, `a ModelDownloadError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.match(caught.message, pattern);
  assert.ok(caught.fix.length > 10, 'it says what to do');
  return caught;
}

describe('model downloads from a loopback mirror', () => {
  test('downloads, reports progress with speed, and checks the SHA-256 the server reports', async () => {
    const url = serve('ok.bin', { content, chunkDelayMs: 2 });
    const destination = path.join(dir, 'ok.bin');
    const progress: DownloadProgress[] = [];
    const result = await downloadFile({ url, destination, onProgress: (p) => progress.push(p) });
    assert.equal(result.checkedAgainst, 'server sha256');
    assert.equal(result.sha256, sha256(content));
    assert.deepEqual(fs.readFileSync(destination), content);
    assert.deepEqual(leftovers(destination), ['ok.bin']);
    assert.ok(progress.some((p) => p.phase === 'downloading' && p.totalBytes === content.length));
    assert.ok(progress.some((p) => p.bytesPerSecond > 0 && p.etaSeconds !== undefined), 'speed and ETA');
    assert.equal(progress.at(-1)!.phase, 'done');
  });

  test('the connection is cut mid-file: it resumes with a Range request and the file is intact', async () => {
    const url = serve('cut.bin', { content, cutAfterBytes: 250_000, cutTimes: 2 });
    const destination = path.join(dir, 'cut.bin');
    const result = await downloadFile({ url, destination, retryDelayMs: 10 });
    assert.deepEqual(fs.readFileSync(destination), content);
    assert.equal(result.attempts, 3);
    const ranges = contentRequests('cut.bin').map((r) => r.range);
    assert.equal(ranges[0], undefined);
    assert.match(ranges[1] ?? '', /^bytes=\d+-$/);
    assert.ok(Number(/\d+/.exec(ranges[1]!)![0]) >= 200_000, `resumed near the cut: ${ranges[1]}`);
    assert.ok(contentRequests('cut.bin').slice(1).every((r) => r.ifRange !== undefined), 'If-Range guards the resume');
  });

  test('a download stopped by the user resumes in the next run from the bytes already there', async () => {
    const url = serve('stop.bin', { content, chunkDelayMs: 25 });
    const destination = path.join(dir, 'stop.bin');
    const controller = new AbortController();
    const first = downloadFile({
      url,
      destination,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.receivedBytes > 200_000) controller.abort();
      },
    });
    await rejectsWith(first, 'download-aborted', /stopped/);
    assert.ok(!fs.existsSync(destination), 'nothing under the final name');
    const partial = fs.statSync(`${destination}.part`).size;
    assert.ok(partial > 0);
    const result = await downloadFile({ url, destination });
    assert.equal(result.resumedFromBytes, partial);
    assert.deepEqual(fs.readFileSync(destination), content);
    assert.equal(contentRequests('stop.bin').at(-1)!.range, `bytes=${partial}-`);
  });

  test('a wrong hash is refused and the download deleted', async () => {
    const url = serve('bad-hash.bin', { content, linkedSha256: 'ab'.repeat(32) });
    const destination = path.join(dir, 'bad-hash.bin');
    await rejectsWith(downloadFile({ url, destination }), 'download-hash-mismatch', /SHA-256 .* expected abab/);
    assert.deepEqual(leftovers(destination), []);
  });

  test('a catalog SHA-1 that does not match is refused too', async () => {
    const url = serve('bad-sha1.bin', { content, linkedSha256: null });
    const destination = path.join(dir, 'bad-sha1.bin');
    await rejectsWith(downloadFile({ url, destination, expected: { sha1: '0'.repeat(40) } }), 'download-hash-mismatch', /SHA-1/);
    assert.deepEqual(leftovers(destination), []);
  });

  test('a truncated copy on the server is refused before anything is kept', async () => {
    const url = serve('truncated.bin', { content, truncateTo: 300_000 });
    const destination = path.join(dir, 'truncated.bin');
    await rejectsWith(downloadFile({ url, destination }), 'download-size-mismatch', /announces 614400 bytes .* sends 300000/);
    assert.deepEqual(leftovers(destination), []);
  });

  test('a connection that always breaks ends with "truncated" after the retries, keeping the part for later', async () => {
    const url = serve('always-cut.bin', { content, cutAfterBytes: 100_000, cutTimes: 99 });
    const destination = path.join(dir, 'always-cut.bin');
    await rejectsWith(downloadFile({ url, destination, retries: 2, retryDelayMs: 10 }), 'download-truncated', /connection ended after \d+ of 614400 bytes/);
    assert.ok(!fs.existsSync(destination));
    assert.ok(fs.existsSync(`${destination}.part`), 'the bytes received are kept to resume');
  });

  test('a 404 names the URL and leaves nothing', async () => {
    const url = huggingFaceUrl(mirror.baseUrl, { repo: REPO, path: 'missing.bin' });
    const destination = path.join(dir, 'missing.bin');
    await rejectsWith(downloadFile({ url, destination }), 'download-not-found', /missing\.bin was not found at http:\/\/127\.0\.0\.1:\d+\/test\/models\/resolve\/main\/missing\.bin \(HTTP 404\)/);
    assert.deepEqual(leftovers(destination), []);
  });

  test('a disk that fills up ends at once with "disk full" and what to free, not as a dropped connection tried again', async (t) => {
    const mount = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-small-disk-'));
    if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mount]).status !== 0) {
      fs.rmdirSync(mount);
      return t.skip('mounting a small tmpfs needs root');
    }
    try {
      const url = serve('big.bin', { content });
      const destination = path.join(mount, 'big.bin');
      const before = contentRequests('big.bin').length;
      const error = await rejectsWith(downloadFile({ url, destination, retryDelayMs: 10 }), 'download-disk-full', /disk holding .* is full: .* of big\.bin were written \(.* more needed\)/);
      assert.match(error.fix, /Free space|models\.dir/);
      assert.equal(contentRequests('big.bin').length - before, 1, 'not tried again');
      assert.ok(!fs.existsSync(destination));
    } finally {
      spawnSync('umount', [mount]);
      fs.rmdirSync(mount);
    }
  });

  test('a server that stalls ends with a clear error within the stall timeout (no hang)', async () => {
    const url = serve('stall.bin', { content, stallAfterBytes: 100_000 });
    const destination = path.join(dir, 'stall.bin');
    const started = Date.now();
    await rejectsWith(downloadFile({ url, destination, stallTimeoutMs: 400, retries: 1, retryDelayMs: 10 }), 'download-stalled', /no data from 127\.0\.0\.1:\d+ for 0\.4 s while downloading stall\.bin/);
    assert.ok(Date.now() - started < 5000, `gave up in ${Date.now() - started} ms`);
    assert.ok(!fs.existsSync(destination));
  });

  test('two downloads of the same file at once: one transfer, both get the intact file', async () => {
    const url = serve('twice.bin', { content, chunkDelayMs: 2 });
    const destination = path.join(dir, 'twice.bin');
    const [a, b] = await Promise.all([downloadFile({ url, destination }), downloadFile({ url, destination })]);
    assert.equal(a.path, b.path);
    assert.deepEqual(fs.readFileSync(destination), content);
    assert.equal(contentRequests('twice.bin').length, 1);
    assert.deepEqual(leftovers(destination), ['twice.bin']);
  });

  test('offline mode fails at once, naming the URL to fetch by hand and where to put it', async () => {
    const url = serve('offline.bin', { content });
    const destination = path.join(dir, 'offline.bin');
    const before = mirror.requests.length;
    const error = await rejectsWith(downloadFile({ url, destination, offline: true }), 'download-offline', /offline\.bin/);
    assert.ok(error.fix.includes(url) && error.fix.includes(destination), error.fix);
    assert.equal(mirror.requests.length, before, 'no request was made');
  });

  test('the access token is sent to the mirror; a refused one says how to get one', async () => {
    const url = serve('gated.bin', { content, token: 'hf_secret' });
    const destination = path.join(dir, 'gated.bin');
    await rejectsWith(downloadFile({ url, destination }), 'download-unauthorized', /HTTP 401/);
    await downloadFile({ url, destination, token: 'hf_secret' });
    assert.deepEqual(fs.readFileSync(destination), content);
    assert.equal(mirror.requests.filter((r) => r.path.includes('gated.bin')).at(-1)!.authorization, 'Bearer hf_secret');
  });

  test('a host that does not resolve fails fast with the manual download fix', async () => {
    const destination = path.join(dir, 'nowhere.bin');
    const started = Date.now();
    const error = await rejectsWith(downloadFile({ url: 'http://no-such-host.invalid/x/resolve/main/nowhere.bin', destination, retryDelayMs: 10 }), 'download-network', /cannot resolve no-such-host\.invalid/);
    assert.ok(error.fix.includes(destination));
    assert.ok(Date.now() - started < 5000);
  });

  test('a format check that refuses the file deletes it', async () => {
    const url = serve('format.bin', { content });
    const destination = path.join(dir, 'format.bin');
    await rejectsWith(
      downloadFile({ url, destination, verifyFormat: async () => { throw new Error('not a GGUF file'); } }),
      'download-corrupt',
      /not usable: not a GGUF file/,
    );
    assert.deepEqual(leftovers(destination), []);
  });
});

describe('resuming after cuts at random points, under CPU load (fault injection)', () => {
  test('200 resumes: every finished file is byte-identical to the source and passes its hash', async (t) => {
    // Two busy processes take the cores, so file writes lag behind the network as they do on a loaded machine:
    // that is when bytes still queued for the disk are lost at a cut.
    const load = [0, 1].map(() => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
    t.after(() => load.forEach((child) => child.kill('SIGKILL')));
    const files = 40;
    const cutsPerFile = 5;
    let seed = 7;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    let resumes = 0;
    for (let i = 0; i < files; i++) {
      const source = randomBytes(512 * 1024 + Math.floor(random() * 300_000));
      let cuts = 0;
      const url = serve(`random-cut-${i}.bin`, {
        content: source,
        // Anywhere in what is left, including the first and the last byte; the last request is sent whole.
        cutAt: (bodyBytes) => (cuts++ < cutsPerFile ? Math.floor(random() * bodyBytes) : undefined),
      });
      const destination = path.join(dir, `random-cut-${i}.bin`);
      const result = await downloadFile({ url, destination, retries: cutsPerFile, retryDelayMs: 1, expected: { sha256: sha256(source), bytes: source.length, exactBytes: true } });
      resumes += result.attempts - 1;
      assert.equal(result.attempts, cutsPerFile + 1);
      assert.ok(fs.readFileSync(destination).equals(source), `file ${i} is byte-identical to the source`);
      assert.equal(result.sha256, sha256(source));
      assert.deepEqual(leftovers(destination), [`random-cut-${i}.bin`]);
      // Every resume asked for exactly the bytes on disk at that moment: the Range offsets only grow.
      const offsets = contentRequests(`random-cut-${i}.bin`).map((r) => Number(/\d+/.exec(r.range ?? 'bytes=0-')![0]));
      assert.deepEqual(offsets, [...offsets].sort((a, b) => a - b), `resume offsets grow: ${offsets.join(', ')}`);
    }
    assert.equal(resumes, files * cutsPerFile);
  });
});
