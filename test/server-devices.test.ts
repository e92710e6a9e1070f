import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { Hello } from '../core/protocol/wire.ts';
import { runJarvis } from './fixtures/cli.ts';
import { startTestHud } from './fixtures/hud-server.ts';

/**
 * `jarvis devices pair|list|revoke`, run as a user would (bin/jarvis.js, its own process), against a running HUD
 * server that shares its data directory: a code printed by the CLI pairs a phone, and a revoke in the CLI
 * disconnects that phone from the server at once.
 */

async function jarvis(configFile: string, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = runJarvis(['-c', configFile, 'devices', ...args]);
  const code = await run.exit;
  return { code, stdout: run.stdout.join('\n'), stderr: run.stderr.join('\n') };
}

test('jarvis devices: a code from `pair` pairs a phone; `list` shows it; `revoke` disconnects it from the running server', async () => {
  const hud = await startTestHud({ config: { server: { trustLocalDisplay: false } } });
  try {
    const configFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-devices-')), 'config.json');
    fs.writeFileSync(configFile, JSON.stringify({ dataDir: hud.config.dataDir, server: { port: Number(new URL(hud.url).port) } }));

    const paired = await jarvis(configFile, 'pair', '--json');
    assert.equal(paired.code, 0, paired.stderr);
    const issued = JSON.parse(paired.stdout) as { code: string; url: string; role: string };
    assert.equal(issued.role, 'controller');
    assert.equal(issued.url, `${hud.url}/#pair=${issued.code}`);

    const phone = hud.connect();
    await phone.hello;
    const ack = await phone.command('pair', { code: issued.code, name: 'Kitchen phone' });
    assert.ok(ack.ok, JSON.stringify(ack));
    await phone.waitFor('snapshot');

    const listed = await jarvis(configFile, 'list', '--json');
    const devices = JSON.parse(listed.stdout) as { id: string; name: string; role: string; revokedAt: number | null }[];
    assert.deepEqual(devices.map((d) => [d.id, d.name, d.role]), [[ack.ok ? ack.deviceId : '', 'Kitchen phone', 'controller']]);
    const table = await jarvis(configFile, 'list');
    assert.match(table.stdout, /ID\s+NAME\s+ROLE/);
    assert.match(table.stdout, /Kitchen phone\s+controller/);
    assert.ok(!table.stdout.includes(ack.ok ? ack.token : 'token'), 'the token is never printed');

    const revoked = await jarvis(configFile, 'revoke', 'Kitchen phone');
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, /revoked [0-9a-f]{8} \(Kitchen phone, controller\)/);
    assert.equal(await phone.closed, 'io server disconnect');
    assert.ok(phone.received.some((r) => r.name === 'hello' && (r.payload as Hello).rejected === 'revoked'));

    const all = JSON.parse((await jarvis(configFile, 'list', '--all', '--json')).stdout) as { revokedAt: number | null }[];
    assert.equal(all.length, 1, 'kept, as revoked');
    assert.ok(all[0]!.revokedAt !== null);

    const unknown = await jarvis(configFile, 'revoke', 'nobody');
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /no paired device matches "nobody"/);
    assert.match(unknown.stderr, /fix: See `jarvis devices list`/);
  } finally {
    await hud.close();
  }
});

test('a paired phone that asks to hear the answers ("Play answers on this phone") gets every chunk of the spoken answer as it plays; a viewer cannot ask, and after "off" none come', async () => {
  const hud = await startTestHud();
  try {
    const { client: phone } = await hud.pairedClient('controller');
    const { client: wall } = await hud.pairedClient('viewer');
    const speech: { sampleRate: number; pcm: Uint8Array }[] = [];
    phone.socket.on('speech', (audio: { sampleRate: number; pcm: Uint8Array }) => speech.push(audio));
    assert.equal((await wall.command('listen', { enabled: true })).ok, false, 'a viewer may not');
    assert.ok((await phone.command('listen', { enabled: true })).ok);

    const result = await hud.assistant.ask('what is the weather like');
    assert.equal(result.outcome, 'answered');
    const played = hud.sink.recording();
    const playedMs = (played.samples.length / played.sampleRate) * 1000;
    const heard = () => speech.reduce((ms, audio) => ms + (audio.pcm.byteLength / 2 / audio.sampleRate) * 1000, 0);
    // The last chunk is sent as it starts playing, and may still be on its way when the turn ends.
    for (const started = Date.now(); heard() < playedMs - 50 && Date.now() - started < 3000; ) await new Promise((resolve) => setTimeout(resolve, 20));
    const heardMs = heard();
    assert.ok(speech.length > 0 && Math.abs(heardMs - playedMs) < 50, `the phone got ${heardMs.toFixed(0)} ms of the ${playedMs.toFixed(0)} ms played`);

    assert.ok((await phone.command('listen', { enabled: false })).ok);
    const before = speech.length;
    await hud.assistant.ask('what is the weather like');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(speech.length, before, 'nothing after "off"');
  } finally {
    await hud.close();
  }
});
