import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RunEvent } from '../core/protocol/run-events.ts';
import type { AssistantView, Hello, Snapshot, TimersView } from '../core/protocol/wire.ts';
import { JarvisError } from '../base/errors.ts';
import { DeviceStore, devicesDbPath } from '../core/server/device-store.ts';
import { ManagedModels } from '../core/server/models-view.ts';
import { ensureCertificate } from '../core/server/tls.ts';
import { generate } from 'selfsigned';
import { commandLocalJarvis } from '../core/server/local-client.ts';
import { parseConfig } from '../config/load.ts';
import { skillsDatabasePath } from '../core/skills/store.ts';
import { SkillStore } from '../core/skills/store.ts';
import { modelsWaitingToRetry, OTHER_DEVICE_ADDRESS, startTestHud, type TestClient, type TestHud } from './fixtures/hud-server.ts';

/**
 * The HUD server's security and protocol on loopback, with real socket.io clients against the real server around
 * a real Assistant (scripted LLM answers, espeak-ng voice into a virtual speaker). "Remote" clients here are
 * loopback clients of a server that does not trust the local display, which is how a phone on the LAN is seen.
 */

let hud: TestHud;
before(async () => {
  hud = await startTestHud({ config: { server: { trustLocalDisplay: false } } });
});
after(async () => {
  await hud?.close();
});

const issueCode = (role?: 'viewer' | 'controller', now?: () => number) => hud.issueCode(role, now);
const pairedClient = (role?: 'viewer' | 'controller') => hud.pairedClient(role);

describe('unpaired clients', () => {
  test('get a hello without a role and nothing else: no snapshot, no state, no run events, no control', async () => {
    const stranger = hud.connect();
    const hello = await stranger.hello;
    assert.equal(hello.role, undefined);
    const { client: phone } = await pairedClient();
    // The assistant does things while the stranger watches.
    const asked = await phone.command('ask', { text: 'what is the weather' });
    assert.ok(asked.ok);
    await phone.waitFor('run-event', (e: RunEvent) => e.type === 'run-end', 15_000);
    for (const [name, payload] of [
      ['ask', { text: 'open the door' }],
      ['stop', {}],
      ['mute', { muted: true }],
      ['volume', { volume: 0 }],
      ['talk-start', {}],
      ['pairing-code', { role: 'controller' }],
      ['switch-model', { id: 'x' }],
    ] as const) {
      const ack = await stranger.command(name, payload as never);
      assert.equal(ack.ok, false, name);
      assert.equal(!ack.ok && ack.code, 'forbidden', name);
    }
    assert.deepEqual(
      stranger.received.map((r) => r.name),
      ['hello'],
      'the unpaired client received only its hello',
    );
    assert.equal(hud.assistant.controls.muted, false);
    assert.equal(hud.assistant.controls.volume, 1);
    stranger.close();
    phone.close();
  });

  test('a forged or unknown token is refused and the client told so', async () => {
    const forged = hud.connect({ token: 'jv1_' + 'A'.repeat(43) });
    const hello = await forged.hello;
    assert.equal(hello.role, undefined);
    assert.equal(hello.rejected, 'unknown-token');
    forged.close();
  });
});

describe('pairing', () => {
  test('a code pairs once: the phone becomes a controller with a token; the same code again is refused', async () => {
    const code = issueCode();
    const phone = hud.connect();
    await phone.hello;
    const ack = await phone.command('pair', { code, name: 'Pixel' });
    assert.ok(ack.ok);
    assert.equal(ack.role, 'controller');
    assert.match(ack.token, /^jv1_[A-Za-z0-9_-]{43}$/);
    const snapshot = (await phone.waitFor('snapshot')) as Snapshot;
    assert.equal(snapshot.assistant.phase, 'idle');

    const thief = hud.connect();
    await thief.hello;
    const reused = await thief.command('pair', { code, name: 'thief' });
    assert.equal(reused.ok, false);
    assert.equal(!reused.ok && reused.code, 'bad-code');
    assert.match(!reused.ok ? reused.message : '', /already used/);

    // The token works on its own from now on, and only its hash is stored.
    const again = hud.connect({ token: ack.token });
    assert.equal((await again.hello).role, 'controller');
    const store = new DeviceStore(devicesDbPath(hud.config.dataDir));
    assert.equal(store.findByToken(ack.token)?.name, 'Pixel');
    store.close();
    for (const c of [phone, thief, again]) c.close();
  });

  test('an expired code is refused', async () => {
    const ttl = hud.config.server.pairingCodeTtlMs;
    const code = issueCode('controller', () => Date.now() - ttl - 1000);
    const phone = hud.connect();
    await phone.hello;
    const ack = await phone.command('pair', { code, name: 'late phone' });
    assert.equal(ack.ok, false);
    assert.match(!ack.ok ? ack.message : '', /expired/);
    assert.deepEqual(phone.received.map((r) => r.name), ['hello']);
    phone.close();
  });

  test('a malformed code is invalid, not a guess; wrong guesses are rate-limited across all clients', async () => {
    // Its own server: the guesses use up the pairing attempts of everyone for a while.
    const other = await startTestHud({ config: { server: { trustLocalDisplay: false } } });
    const guesser = other.connect();
    await guesser.hello;
    const malformed = await guesser.command('pair', { code: '12ab', name: 'x' });
    assert.equal(!malformed.ok && malformed.code, 'invalid');
    const codes: string[] = [];
    for (let i = 0; i < 12; i++) {
      const ack = await guesser.command('pair', { code: String(100000 + i), name: 'guesser' });
      codes.push(ack.ok ? 'ok' : ack.code);
    }
    assert.ok(codes.includes('rate-limited'), codes.join(','));
    assert.ok(codes.filter((c) => c === 'bad-code').length <= 10);
    const second = other.connect();
    await second.hello;
    const meanwhile = await second.command('pair', { code: '123456', name: 'another guesser' });
    assert.equal(!meanwhile.ok && meanwhile.code, 'rate-limited', 'the limit holds for every client, not per connection');
    await other.close();
  });
});

describe('paired devices', () => {
  test('a revoked device is disconnected at once and its token no longer works', async () => {
    const { client: phone, token, deviceId } = await pairedClient();
    const store = new DeviceStore(devicesDbPath(hud.config.dataDir));
    const revokedAt = performance.now();
    assert.equal(store.revoke(deviceId).length, 1);
    store.close();
    const reason = await phone.closed;
    const took = performance.now() - revokedAt;
    assert.equal(reason, 'io server disconnect');
    assert.ok(took < 2000, `disconnected ${Math.round(took)} ms after the revoke`);
    assert.ok(phone.received.some((r) => r.name === 'hello' && (r.payload as Hello).rejected === 'revoked'));
    const retry = hud.connect({ token });
    const hello = await retry.hello;
    assert.equal(hello.role, undefined);
    assert.equal(hello.rejected, 'revoked');
    retry.close();
  });

  test('a viewer sees everything and may command nothing', async () => {
    const { client: viewer } = await pairedClient('viewer');
    const ack = await viewer.command('mute', { muted: true });
    assert.equal(!ack.ok && ack.code, 'forbidden');
    const code = await viewer.command('pairing-code', { role: 'controller' });
    assert.equal(!code.ok && code.code, 'forbidden', 'a paired viewer cannot let itself in as a controller');
    assert.equal(hud.assistant.controls.muted, false);
    viewer.close();
  });
});

describe('commands from a paired phone', () => {
  let phone: TestClient;
  before(async () => {
    ({ client: phone } = await pairedClient());
  });
  after(() => phone?.close());

  /** The run-end of the first run after the runs seen so far. */
  const nextRunEnd = (client: TestClient) => {
    const seen = Math.max(0, ...client.received.filter((r) => r.name === 'run-event').map((r) => (r.payload as RunEvent).runId));
    return client.waitFor('run-event', (e: RunEvent) => e.type === 'run-end' && e.runId > seen, 15_000) as Promise<Extract<RunEvent, { type: 'run-end' }>>;
  };

  test('typed question: run events from run-start to run-end, and the answer streamed piece by piece', async () => {
    const before = phone.received.length;
    const ended = nextRunEnd(phone);
    const ack = await phone.command('ask', { text: 'what is the weather' });
    assert.ok(ack.ok);
    const end = await ended;
    const mine = phone.received.slice(before);
    const events = mine.filter((r) => r.name === 'run-event').map((r) => r.payload as RunEvent).filter((e) => e.runId === end.runId);
    assert.equal(events[0]?.type, 'run-start');
    assert.equal(end.outcome, 'answered');
    const pieces = mine.filter((r) => r.name === 'answer-delta').map((r) => (r.payload as { text: string }).text);
    assert.ok(pieces.length > 3, `answer in ${pieces.length} pieces`);
    assert.equal(pieces.join(''), 'It is sunny today. Take a hat.');
    const phases = mine.filter((r) => r.name === 'assistant').map((r) => (r.payload as AssistantView).phase);
    assert.deepEqual([...new Set(phases)], ['thinking', 'speaking', 'idle']);
    // A screen that connects now gets the finished turn in its snapshot.
    const { client: late } = await pairedClient('viewer');
    const turn = late.snapshots[0]!.turns.at(-1)!;
    assert.equal(turn.runId, end.runId);
    assert.equal(turn.answer, 'It is sunny today. Take a hat.');
    assert.ok(turn.events.some((e) => e.type === 'llm-start' && e.text === 'what is the weather'));
    late.close();
  });

  test('mute and volume change the assistant and every screen hears of it; mute shows as a problem with its fix', async () => {
    const mute = await phone.command('mute', { muted: true });
    assert.ok(mute.ok);
    const view = (await phone.waitFor('assistant', (v: AssistantView) => v.muted)) as AssistantView;
    assert.ok(view.problems.some((p) => p.id === 'muted' && p.fix.length > 0));
    assert.equal(hud.assistant.controls.muted, true);
    assert.ok((await phone.command('mute', { muted: false })).ok);
    await phone.waitFor('assistant', (v: AssistantView) => !v.muted && !v.problems.some((p) => p.id === 'muted'));
    const volume = await phone.command('volume', { volume: 0.25 });
    assert.ok(volume.ok && volume.volume === 0.25);
    await phone.waitFor('assistant', (v: AssistantView) => v.volume === 0.25);
    assert.equal(hud.assistant.controls.volume, 0.25);
    assert.ok((await phone.command('volume', { volume: 1 })).ok);
  });

  test('stop silences an answer being spoken', async () => {
    const ended = nextRunEnd(phone);
    await phone.command('ask', { text: 'tell me a long story' });
    await phone.waitFor('run-event', (e: RunEvent) => e.type === 'playback-start');
    assert.ok((await phone.command('stop', {})).ok);
    assert.equal((await ended).outcome, 'interrupted');
  });

  test('switching to a model that is not installed answers with the model manager\'s error and its fix', async () => {
    const ack = await phone.command('switch-model', { id: 'llama-3.2-3b' });
    assert.equal(ack.ok, false);
    assert.equal(!ack.ok && ack.code, 'failed');
    assert.match(!ack.ok ? ack.message : '', /llama-3\.2-3b/);
    assert.ok(!ack.ok && ack.fix);
  });

  test('schema-invalid commands get an error ack naming the problem; unknown commands too', async () => {
    const cases: [string, unknown, RegExp][] = [
      ['ask', { text: '' }, /text/],
      ['ask', { text: 'x'.repeat(2001) }, /text/],
      ['ask', { text: 'hi', extra: 1 }, /unrecognized|extra/i],
      ['volume', { volume: 2 }, /volume/],
      ['mute', { muted: 'yes' }, /muted/],
      ['talk-chunk', 'AAAA', /binary/],
    ];
    for (const [name, payload, message] of cases) {
      const ack = await phone.command(name as never, payload as never);
      assert.equal(ack.ok, false, name);
      assert.equal(!ack.ok && ack.code, 'invalid', `${name}: ${JSON.stringify(ack)}`);
      assert.match(!ack.ok ? ack.message : '', message);
    }
    const unknown = await phone.command('open-pod-bay-doors' as never, {} as never);
    assert.equal(!unknown.ok && unknown.code, 'unknown-command');
    assert.ok(phone.socket.connected, 'a few bad messages do not cost the connection');
  });
});

describe('the front door', () => {
  test('a socket from another origin, without an origin, or for another host name is refused', async () => {
    for (const options of [{ origin: 'http://evil.example' }, { origin: 'https://127.0.0.1:1' }, { origin: null }, { host: 'attacker.example' }]) {
      const client = hud.connect(options);
      await assert.rejects(client.hello, Error, JSON.stringify(options));
      client.close();
    }
  });

  test('static files: the HUD for a known host, 421 for another host name (DNS rebinding), 404 outside the HUD folder', async () => {
    const ok = await fetch(`${hud.url}/`);
    assert.equal(ok.status, 200);
    assert.match(ok.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    assert.match(await ok.text(), /<title>JARVIS/);
    assert.equal((await fetch(`${hud.url}/assets/app-1234.js`)).headers.get('cache-control'), 'public, max-age=31536000, immutable');
    const rebound = await rawHttp(`GET / HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n`);
    assert.match(rebound, /^HTTP\/1.1 421/);
    const escape = await rawHttp(`GET /../../../etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    assert.match(escape, /^HTTP\/1.1 404/);
    const encoded = await rawHttp(`GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    assert.match(encoded, /^HTTP\/1.1 404/);
    assert.equal((await fetch(`${hud.url}/`, { method: 'POST' })).status, 405);
  });
});

/** A request written byte for byte (fetch normalises paths and will not send another Host). */
function rawHttp(request: string): Promise<string> {
  const port = Number(new URL(hud.url).port);
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
    let response = '';
    socket.on('data', (d) => (response += d.toString()));
    socket.on('end', () => resolve(response));
    socket.on('error', reject);
  });
}

describe('push-to-talk protocol', () => {
  test('audio without a started recording, and a recording without audio, are refused with the reason', async () => {
    const { client: phone } = await pairedClient();
    const stray = await phone.command('talk-chunk', new Uint8Array(320));
    assert.equal(!stray.ok && stray.code, 'invalid');
    const started = await phone.command('talk-start', {});
    assert.ok(started.ok);
    const empty = await phone.command('talk-end', {});
    assert.equal(!empty.ok && empty.code, 'invalid');
    assert.match(!empty.ok ? (empty.fix ?? '') : '', /microphone/);
    const end = (await phone.waitFor('run-event', (e: RunEvent) => e.type === 'run-end' && e.runId === (started.ok ? started.runId : -1))) as RunEvent;
    assert.equal(end.type === 'run-end' && end.outcome, 'interrupted');
    phone.close();
  });

  test('another device holding the button takes over; a phone that goes away drops its recording', async () => {
    const { client: first } = await pairedClient();
    const { client: second } = await pairedClient();
    const a = await first.command('talk-start', {});
    assert.ok(a.ok);
    const b = await second.command('talk-start', {});
    assert.ok(b.ok);
    const orphan = await first.command('talk-chunk', new Uint8Array(320));
    assert.equal(!orphan.ok && orphan.code, 'invalid', 'the first recording was replaced');
    second.close();
    const end = (await first.waitFor('run-event', (e: RunEvent) => e.type === 'run-end' && e.runId === (b.ok ? b.runId : -1))) as RunEvent;
    assert.equal(end.type === 'run-end' && end.outcome, 'interrupted');
    first.close();
  });
});

describe('the display on this computer (trusted loopback, the default)', () => {
  test('is a viewer without pairing, may show pairing codes with a QR code, and may not command', async () => {
    const local = await startTestHud();
    try {
      const display = local.connect();
      const hello = await display.hello;
      assert.equal(hello.role, 'viewer');
      assert.equal(hello.device?.local, true);
      await display.waitFor('snapshot');
      const ack = await display.command('pairing-code', { role: 'controller' });
      assert.ok(ack.ok, JSON.stringify(ack));
      assert.match(ack.code, /^\d{6}$/);
      assert.equal(ack.url, `${local.url}/#pair=${ack.code}`);
      assert.match(ack.qrSvg, /^<svg[^>]*>.*<\/svg>\s*$/s);
      assert.ok(ack.expiresAt - Date.now() > 4 * 60_000);
      assert.equal(!(await display.command('stop', {})).ok, true);
      // The phone that uses the code is a controller, and the display hears that it paired.
      const phone = local.connect({ localAddress: OTHER_DEVICE_ADDRESS });
      const paired = await phone.command('pair', { code: ack.code, name: 'Pixel' });
      assert.ok(paired.ok && paired.role === 'controller');
      await display.waitFor('device-paired', (d: { name: string }) => d.name === 'Pixel');
    } finally {
      await local.close();
    }
  });
});

describe('LAN access', () => {
  test('a new server certificate (another address, or one made before the authority existed) is signed by the same authority, so a phone that installed it keeps trusting the server', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-tls-'));
    try {
      const first = await ensureCertificate(dir);
      assert.equal(fs.statSync(path.join(dir, 'ca-key.pem')).mode & 0o077, 0, "the authority's key is private");
      const again = await ensureCertificate(dir);
      assert.equal(again.fingerprint, first.fingerprint, 'kept while it covers this machine');
      const renamed = await ensureCertificate(dir, ['jarvis.home.arpa']);
      assert.notEqual(renamed.fingerprint, first.fingerprint, 'made again for a new name');
      assert.equal(renamed.authority.fingerprint, first.authority.fingerprint, 'by the same authority');
      const authority = new X509Certificate(first.authority.cert);
      assert.ok(new X509Certificate(renamed.cert).verify(authority.publicKey));
      assert.match(new X509Certificate(renamed.cert).subjectAltName ?? '', /DNS:jarvis\.home\.arpa/);
      // A certificate from before the authority (self-signed) is replaced by a signed one.
      const legacy = await generate([{ name: 'commonName', value: 'JARVIS' }], { keyType: 'ec', algorithm: 'sha256' });
      fs.writeFileSync(path.join(dir, 'tls-key.pem'), legacy.private);
      fs.writeFileSync(path.join(dir, 'tls-cert.pem'), legacy.cert);
      const replaced = await ensureCertificate(dir, ['jarvis.home.arpa']);
      assert.notEqual(replaced.fingerprint, new X509Certificate(legacy.cert).fingerprint256);
      assert.ok(new X509Certificate(replaced.cert).checkIssued(authority));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('serves HTTPS with a certificate signed by its own local authority, which a phone downloads to install once; the snapshot carries both fingerprints', async () => {
    // LAN mode, bound to loopback for the test.
    const lan = await startTestHud({ config: { server: { lan: true, host: '127.0.0.1' } } });
    try {
      assert.match(lan.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.deepEqual(lan.remote.server?.urls, [lan.url], 'bound to loopback: no LAN address is offered to a phone');
      const certFile = path.join(lan.config.dataDir, 'server', 'tls-cert.pem');
      const cert = fs.readFileSync(certFile, 'utf8');
      assert.equal(fs.statSync(path.join(lan.config.dataDir, 'server', 'tls-key.pem')).mode & 0o077, 0, 'the key is private');
      const x509 = new X509Certificate(cert);
      assert.match(x509.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
      // What a phone does once, past the browser's warning: download the authority (DER) and install it.
      const download = await new Promise<{ type: string | undefined; body: Buffer }>((resolve, reject) => {
        https.get(`${lan.url}/jarvis-ca.crt`, { rejectUnauthorized: false }, (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (c: Buffer) => chunks.push(c));
          response.on('end', () => resolve({ type: response.headers['content-type'], body: Buffer.concat(chunks) }));
        }).on('error', reject);
      });
      assert.equal(download.type, 'application/x-x509-ca-cert');
      const authority = new X509Certificate(download.body);
      assert.equal(authority.ca, true);
      assert.ok(x509.checkIssued(authority) && x509.verify(authority.publicKey), 'the server certificate is signed by it');
      // A client that trusts only the installed authority gets in over wss, with no warning to accept.
      const display = lan.connect({ ca: authority.toString() });
      assert.equal((await display.hello).role, 'viewer');
      const snapshot = (await display.waitFor('snapshot')) as Snapshot;
      assert.equal(snapshot.server.tlsFingerprint, x509.fingerprint256);
      assert.deepEqual(snapshot.server.authority, { path: '/jarvis-ca.crt', fingerprint: authority.fingerprint256 });
      assert.equal(snapshot.server.lan, true);
      // One that does not know it is refused by TLS, before any socket.io.
      const stranger = lan.connect();
      await assert.rejects(stranger.hello);
      // Plain HTTP on the HTTPS port gets nothing.
      await assert.rejects(fetch(lan.url.replace('https:', 'http:')));
    } finally {
      await lan.close();
    }
  });
});

describe('switch model', () => {
  test('goes to the model manager: its installed models are the choices, its errors come back with their fix', async () => {
    const selected: string[] = [];
    let retries = 0;
    // A model manager stand-in with the shape of models/live-models.ts, around the real ManagedModels view.
    const manager = {
      paths: {
        stt: { path: '/m/ggml-base.en.bin', entry: { id: 'whisper-base-en', title: 'Whisper base.en' } },
        llm: { path: '/m/llama-3.2-3b.gguf', entry: { id: 'llama-3.2-3b', title: 'Llama 3.2 3B' } },
        tts: { path: '/m/alan.onnx', entry: undefined },
      },
      downloads: new Map(),
      store: {
        entries: () => [
          { id: 'llama-3.2-3b', kind: 'llm', title: 'Llama 3.2 3B' },
          { id: 'qwen-2.5-7b', kind: 'llm', title: 'Qwen 2.5 7B' },
          { id: 'qwen-2.5-14b', kind: 'llm', title: 'Qwen 2.5 14B' },
          { id: 'nomic-embed', kind: 'embedding', title: 'Nomic embed' },
        ],
        state: (entry: { id: string }) => (entry.id === 'qwen-2.5-14b' ? 'missing' : 'installed'),
      },
      async select(id: string) {
        if (id === 'broken') throw new JarvisError('model-load-failed', 'the model could not be loaded', 'Pull it again.');
        selected.push(id);
      },
      retryDownloadsNow: () => {
        retries++;
        return retries === 1;
      },
      on: () => {},
      off: () => {},
    };
    const withModels = await startTestHud({ config: { server: { trustLocalDisplay: false } }, models: new ManagedModels(manager, { state: { phase: 'idle', problems: [] } }) });
    try {
      const { client: phone } = await withModels.pairedClient();
      const snapshot = phone.snapshots[0]!;
      assert.equal(snapshot.models.switchAvailable, true);
      assert.deepEqual(snapshot.models.choices.map((c) => c.id), ['llama-3.2-3b', 'qwen-2.5-7b']);
      assert.deepEqual(snapshot.models.active.map((m) => m.name), ['Whisper base.en', 'Llama 3.2 3B', 'alan.onnx']);
      assert.ok((await phone.command('switch-model', { id: 'qwen-2.5-7b' })).ok);
      assert.deepEqual(selected, ['qwen-2.5-7b']);
      const failed = await phone.command('switch-model', { id: 'broken' });
      assert.equal(!failed.ok && failed.code, 'failed');
      assert.equal(!failed.ok && failed.fix, 'Pull it again.');
      // "Try again now": the model manager is asked at once; a viewer may not ask.
      const retried = await phone.command('retry-downloads', {});
      assert.ok(retried.ok && retried.retried === true);
      const again = await phone.command('retry-downloads', {});
      assert.ok(again.ok && again.retried === false, 'nothing was waiting the second time');
      const { client: viewer } = await withModels.pairedClient('viewer');
      const refused = await viewer.command('retry-downloads', {});
      assert.equal(!refused.ok && refused.code, 'forbidden');
      assert.equal(retries, 2);
    } finally {
      await withModels.close();
    }
  });
});

describe('a command-line tool on this machine reaches the running JARVIS as its wall screen does (jarvis doctor)', () => {
  /** The config a `jarvis` command on this machine reads: the same data folder, the port the daemon listens on. */
  const sameMachine = (hud: TestHud, server: Record<string, unknown> = {}) =>
    parseConfig({ dataDir: hud.config.dataDir, server: { port: Number(new URL(hud.url).port), ...server } });

  test('over HTTP and, with LAN access, over HTTPS trusting the certificate in the data folder: failed downloads are tried again now', async () => {
    for (const server of [{}, { lan: true, host: '127.0.0.1' }]) {
      const models = modelsWaitingToRetry();
      const hud = await startTestHud({ config: { server }, models });
      try {
        const reply = await commandLocalJarvis(sameMachine(hud, server), 'retry-downloads', {});
        assert.ok(reply.reached, JSON.stringify(reply));
        assert.equal(reply.url, hud.url);
        assert.ok(reply.ack.ok && reply.ack.retried === true, JSON.stringify(reply.ack));
        assert.equal(reply.assistant?.phase, 'idle');
        assert.equal(models.retries, 1);
      } finally {
        await hud.close();
      }
    }
  });

  test('says why it could not: nothing running, a port chosen at start, a display that is not trusted', async () => {
    const free = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const nothing = await commandLocalJarvis(parseConfig({ server: { port: free } }), 'retry-downloads', {});
    assert.ok(!nothing.reached && /nothing is listening/.test(nothing.reason), JSON.stringify(nothing));
    const anyPort = await commandLocalJarvis(parseConfig({ server: { port: 0 } }), 'retry-downloads', {});
    assert.ok(!anyPort.reached && /port is not known/.test(anyPort.reason));
    const models = modelsWaitingToRetry();
    const hud = await startTestHud({ config: { server: { trustLocalDisplay: false } }, models });
    try {
      const reply = await commandLocalJarvis(sameMachine(hud), 'retry-downloads', {});
      assert.ok(reply.reached && !reply.ack.ok && reply.ack.code === 'forbidden', JSON.stringify(reply));
      assert.equal(models.retries, 0);
    } finally {
      await hud.close();
    }
  });
});

describe('timers on the screens (the real skills and timer store, connected as in the daemon)', () => {
  test('set by asking or by another process: every paired screen gets the list with label and due time; it rings, ends, is cancelled; unpaired clients get nothing', async () => {
    const home = await startTestHud({ skills: true, config: { server: { trustLocalDisplay: false }, skills: { ringPauseMs: 200 } } });
    const other = SkillStore.open(skillsDatabasePath(home.config));
    try {
      const { client: phone } = await home.pairedClient('controller');
      const { client: wall } = await home.pairedClient('viewer');
      const stranger = home.connect();
      assert.equal((await stranger.hello).role, undefined);
      assert.deepEqual(wall.snapshots[0]!.timers.timers, []);
      // The next list the wall gets (after the one awaited before) with `count` timers.
      let from = 0;
      const listed = async (count: number, match: (v: TimersView) => boolean = () => true) => {
        const at = (v: TimersView) => wall.received.findIndex((r) => r.payload === v);
        const view = (await wall.waitFor('timers', (v: TimersView) => at(v) >= from && v.timers.length === count && match(v), 6000)) as TimersView;
        from = at(view) + 1;
        return view;
      };

      // Asked on the phone: answered by the timer skill, stored, and on the wall with its label and due time.
      const asked = Date.now();
      assert.ok((await phone.command('ask', { text: 'set a pasta timer for 5 minutes' })).ok);
      const one = await listed(1);
      const pasta = one.timers[0]!;
      assert.deepEqual({ ...pasta, dueAt: 0 }, { id: pasta.id, kind: 'timer', label: 'pasta', dueAt: 0, durationMs: 300_000, ringing: false });
      assert.ok(pasta.dueAt >= asked + 300_000 && pasta.dueAt <= Date.now() + 300_000, `due ${pasta.dueAt - asked} ms after asking`);
      assert.ok(Math.abs(one.at - Date.now()) < 2000, 'the list carries the daemon clock');
      assert.deepEqual(home.skills!.timers.list().map((t) => t.id), [pasta.id], 'the list is the store');
      // A screen that connects now has it in its snapshot.
      const { client: late } = await home.pairedClient('viewer');
      assert.deepEqual(late.snapshots[0]!.timers.timers, one.timers);

      // Written by another process (`jarvis ask`, `jarvis timers`): noticed through the store within a second or so.
      const gym = other.addTimer({ kind: 'alarm', label: 'gym', dueAt: Date.now() + 3_600_000, createdAt: Date.now() });
      const two = await listed(2);
      assert.deepEqual(two.timers.map((t) => [t.kind, t.label]), [['timer', 'pasta'], ['alarm', 'gym']]);

      // Rings: marked ringing on the screens while it is announced; stop on the phone ends it and it goes.
      assert.ok((await phone.command('ask', { text: 'set a timer for 1 second' })).ok);
      const ringing = await listed(3, (v) => v.timers.some((t) => t.ringing));
      const rang = ringing.timers.find((t) => t.ringing)!;
      assert.deepEqual([rang.kind, rang.label, rang.durationMs], ['timer', undefined, 1000]);
      assert.deepEqual(ringing.timers.map((t) => t.id), [rang.id, pasta.id, gym.id], 'soonest first');
      await phone.waitFor('run-event', (e: RunEvent) => e.type === 'intent-start' && e.skill === 'timer.ring', 6000);
      assert.ok((await phone.command('stop', {})).ok);
      await listed(2, (v) => !v.timers.some((t) => t.id === rang.id));
      assert.equal(home.skills!.store.timer(rang.id)?.state, 'done');

      // Cancelled by voice, and by the other process.
      assert.ok((await phone.command('ask', { text: 'cancel the pasta timer' })).ok);
      assert.deepEqual((await listed(1)).timers.map((t) => t.id), [gym.id]);
      other.setTimerState([gym.id], 'cancelled', Date.now());
      await listed(0);
      await phone.waitFor('timers', (v: TimersView) => v.timers.length === 0);

      const names = new Set(stranger.received.map((r) => r.name));
      assert.deepEqual([...names], ['hello'], 'an unpaired client gets no timers');
    } finally {
      other.close();
      await home.close();
    }
  });
});
