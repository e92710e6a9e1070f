import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AssistantView, Snapshot } from '../core/protocol/wire.ts';
import { seededRandom } from './models/random.ts';
import { startTestHud, type TestClient, type TestHud } from './fixtures/hud-server.ts';

/**
 * Hostile and heavy clients against the real HUD server on loopback: oversized messages, floods, thousands of
 * malformed and fuzzed payloads at every layer (raw TCP, WebSocket frames, socket.io packets, command payloads),
 * and a hundred screens at once. Each bad client may lose its own connection; the server (in this process: an
 * uncaught error would fail the test run) must keep serving everyone else.
 */

let hud: TestHud;
let token: string;
/** A well-behaved phone that must see none of the abuse. */
let witness: TestClient;

before(async () => {
  hud = await startTestHud({ config: { server: { trustLocalDisplay: false, messagesPerSecond: 40, messageBurst: 80 } } });
  ({ client: witness, token } = await hud.pairedClient());
});
after(async () => {
  await hud?.close();
});

/** The witness is still connected and still hears the assistant change. */
async function assertWitnessServed(): Promise<void> {
  assert.ok(witness.socket.connected, 'the well-behaved client was not disconnected');
  const volume = Math.round(Math.random() * 100) / 100;
  const ack = await witness.command('volume', { volume });
  assert.ok(ack.ok, JSON.stringify(ack));
  await witness.waitFor('assistant', (v: AssistantView) => v.volume === volume);
}

test('a 1 MB message closes only the socket that sent it (text and binary)', async () => {
  for (const payload of [{ text: 'x'.repeat(1_048_576) }, new Uint8Array(1_048_576)]) {
    const attacker = hud.connect({ token });
    await attacker.hello;
    attacker.emitAnything(payload instanceof Uint8Array ? 'talk-chunk' : 'ask', payload);
    const reason = await attacker.closed;
    assert.match(reason, /transport (close|error)/);
  }
  await assertWitnessServed();
});

test('a flood of commands is rate-limited, then the flooding socket is closed', async () => {
  const flooder = hud.connect({ token });
  await flooder.hello;
  const acks: string[] = [];
  for (let i = 0; i < 400 && flooder.socket.connected; i++) {
    flooder.socket.emit('mute', { muted: false }, (ack) => acks.push(ack.ok ? 'ok' : ack.code));
  }
  await flooder.closed;
  assert.ok(acks.includes('rate-limited'), `acks: ${[...new Set(acks)].join(', ')}`);
  assert.ok(acks.filter((a) => a === 'ok').length <= 100, `${acks.filter((a) => a === 'ok').length} of the flood were obeyed`);
  await assertWitnessServed();
});

/** Payloads for every layer, from a seeded generator so a failure can be replayed. */
function fuzzPayloads(count: number, seed: number): { kind: 'packet' | 'event'; data: unknown; name?: string }[] {
  const random = seededRandom(seed);
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const junk = (max: number) => {
    let out = '';
    const length = int(max);
    for (let i = 0; i < length; i++) out += String.fromCharCode(int(4) === 0 ? int(0xffff) : 32 + int(95));
    return out;
  };
  const names = ['ask', 'stop', 'mute', 'volume', 'talk-start', 'talk-chunk', 'talk-end', 'talk-cancel', 'pair', 'pairing-code', 'switch-model', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'connect', 'disconnect', 'error', '', junk(20)];
  const values = (): unknown =>
    pick([
      null,
      undefined,
      true,
      0,
      -1,
      1e309,
      Number.NaN,
      '',
      junk(300),
      [],
      [junk(5)],
      {},
      { text: int(2) ? junk(50) : 42 },
      { muted: pick(['true', 1, null]) },
      { volume: pick([-1, 2, '0.5', 1e308, null]) },
      { code: junk(8), name: junk(80) },
      { __proto__: { polluted: true }, text: 'x' },
      JSON.parse('{"__proto__":{"polluted":true},"text":"hi"}'),
      { constructor: { prototype: { polluted: true } } },
      new Uint8Array(int(3) * 2 + 1),
      { role: pick(['admin', 'controller', 'viewer', 1]) },
    ]);
  // Raw socket.io packets (the engine.io message body): valid and broken framing, namespaces, binary headers.
  const packets = () =>
    pick([
      junk(200),
      `2${junk(50)}`,
      `2["${pick(names)}",${junk(30)}`,
      `2[${'['.repeat(int(20_000))}`,
      `2{"a":${'{"a":'.repeat(int(5000))}`,
      `21${int(1000)}["ask",{"text":"x"}]`,
      `5${int(5)}-["talk-chunk",{"_placeholder":true,"num":${int(3)}}]`,
      `0${junk(20)}`,
      `0/admin,`,
      `1`,
      `3${int(100)}[]`,
      `4${junk(20)}`,
      `6`,
      `2/nope,["ask",{"text":"x"}]`,
      `2["pair",{"code":"${int(999_999)}","name":"fuzz"}]`,
      `2[${JSON.stringify(pick(names))},${JSON.stringify(values() ?? null)}]`,
      new Uint8Array(int(100)).map(() => int(256)),
    ]);
  return Array.from({ length: count }, () =>
    int(2) === 0 ? { kind: 'packet' as const, data: packets() } : { kind: 'event' as const, name: pick(names), data: values() },
  );
}

const RESERVED = new Set(['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener']);

test('10,000 fuzzed and malformed payloads: each is answered or closes its own socket; the server keeps serving', async () => {
  // A generous rate limit here, so the fuzz reaches the parsers and handlers rather than the limiter.
  const target = await startTestHud({ config: { server: { trustLocalDisplay: false, messagesPerSecond: 1000, messageBurst: 10_000 } } });
  const { client: phone, token: phoneToken } = await target.pairedClient();

  const payloads = fuzzPayloads(10_000, 20_250_101);
  const packets = payloads.filter((p) => p.kind === 'packet');
  const events = payloads.filter((p) => p.kind === 'event');
  const commands = events.length;
  const rawPackets = packets.length;
  const rssBefore = process.memoryUsage.rss();
  const outcome = { acked: 0, closedBeforeAck: 0, connections: 0 };
  const sendRaw = (client: TestClient, data: unknown) => (client.socket.io.engine as unknown as { send(data: unknown): void }).send(data);

  /** Takes payloads from `queue` until it is empty, reconnecting whenever the server closed the socket. */
  const worker = async (queue: typeof payloads, authorised: boolean) => {
    let client: TestClient | undefined;
    while (queue.length > 0) {
      if (!client?.socket.connected) {
        client?.close();
        client = target.connect(authorised ? { token: phoneToken } : {});
        outcome.connections++;
        await client.hello.catch(() => {});
        continue;
      }
      const payload = queue.shift()!;
      if (payload.kind === 'packet') {
        sendRaw(client, payload.data);
        if (queue.length % 25 === 0) await sleep(1);
        continue;
      }
      // One command at a time: each is acked, or its socket is closed (the 21st bad message closes it).
      const sent = client;
      await new Promise<void>((resolve) => {
        let settled = false;
        const settle = (how: 'acked' | 'closedBeforeAck') => {
          if (settled) return;
          settled = true;
          outcome[how]++;
          resolve();
        };
        void sent.closed.then(() => settle('closedBeforeAck'));
        if (RESERVED.has(payload.name!)) {
          // The client library will not emit these names; a raw packet with an ack id says the same thing.
          sent.socket.io.engine.once('packet', () => settle('acked'));
          sendRaw(sent, `2${Math.floor(Math.random() * 1000)}${JSON.stringify([payload.name, payload.data ?? null])}`);
        } else {
          sent.emitAnything(payload.name!, payload.data, () => settle('acked'));
        }
      });
    }
    client?.close();
  };
  await Promise.all([...Array.from({ length: 6 }, () => worker(packets, false)), ...Array.from({ length: 6 }, (_, i) => worker(events, i % 2 === 0))]);

  assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype was polluted');
  assert.equal(outcome.acked + outcome.closedBeforeAck, commands, JSON.stringify(outcome));
  // Nearly all are bad, so every ~21st closes its socket by policy; the rest are answered.
  assert.ok(outcome.acked >= commands * 0.8, `commands answered: ${JSON.stringify(outcome)}`);
  // Everyone else is still served, and a new screen still gets its snapshot.
  assert.ok(phone.socket.connected, 'the well-behaved phone was not disconnected');
  assert.ok((await phone.command('volume', { volume: 0.5 })).ok);
  const late = target.connect({ token: phoneToken });
  assert.equal((await late.hello).role, 'controller');
  await late.waitFor('snapshot');
  const grownMiB = (process.memoryUsage.rss() - rssBefore) / 1024 / 1024;
  assert.ok(grownMiB < 200, `memory grew by ${grownMiB.toFixed(0)} MiB`);
  await target.close();
  console.log(`fuzz: ${payloads.length} payloads (${rawPackets} raw packets, ${commands} commands) over ${outcome.connections} connections; ${outcome.acked} commands acked, ${outcome.closedBeforeAck} closed their socket; rss +${grownMiB.toFixed(0)} MiB`);
});

test('raw garbage below socket.io (TCP bytes, broken WebSocket frames) is dropped', async () => {
  const port = Number(new URL(hud.url).port);
  const random = seededRandom(7);
  const garbage = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));
  for (let i = 0; i < 50; i++) {
    // Half: random bytes instead of HTTP; half: a valid WebSocket upgrade followed by random frames.
    const upgrade = i % 2 === 1;
    await new Promise<void>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        if (!upgrade) return socket.write(garbage(1 + Math.floor(random() * 4000)));
        socket.write(
          `GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: ${hud.origin}\r\n` +
            `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${Buffer.from(garbage(16)).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
      });
      socket.once('data', () => {
        if (upgrade) socket.write(garbage(1 + Math.floor(random() * 4000)));
      });
      socket.on('error', () => resolve());
      socket.on('close', () => resolve());
      setTimeout(() => socket.destroy(), 2000).unref();
    });
  }
  await assertWitnessServed();
});

test('100 screens connect at once and every one gets the snapshot', async () => {
  // One paired viewer (as `jarvis devices pair --role viewer` would make); all 100 screens use its token.
  const { client: pairing, token: viewerToken } = await hud.pairedClient('viewer');
  pairing.close();
  const started = performance.now();
  const clients = Array.from({ length: 100 }, () => hud.connect({ token: viewerToken }));
  const snapshots = (await Promise.all(clients.map((c) => c.waitFor('snapshot', () => true, 15_000)))) as Snapshot[];
  const ms = performance.now() - started;
  assert.equal(snapshots.length, 100);
  for (const snapshot of snapshots) {
    assert.equal(typeof snapshot.assistant.phase, 'string');
    assert.ok(Array.isArray(snapshot.telemetry.history));
  }
  // And the deltas reach all of them.
  await witness.command('mute', { muted: true });
  await Promise.all(clients.map((c) => c.waitFor('assistant', (v: AssistantView) => v.muted)));
  await witness.command('mute', { muted: false });
  for (const client of clients) client.close();
  console.log(`100 screens: all snapshots in ${Math.round(ms)} ms`);
});
