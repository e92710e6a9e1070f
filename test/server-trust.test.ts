import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fillDisk, smallDisk } from './fixtures/full-disk.ts';
import { OTHER_DEVICE_ADDRESS, startTestHud, type TestClient } from './fixtures/hud-server.ts';

/**
 * Who may become what, reproduced on loopback as an attacker found it: a guesser blocking the household's
 * pairing, idle unpaired sockets crowding out the paired phone, a local program making itself a controller, and
 * a full disk taking the daemon down when a phone reconnects. Each test failed before its fix.
 */

const guess = (client: TestClient, i: number) => client.command('pair', { code: String(100_000 + i), name: 'guesser' });

test('a guesser on one address, then guessers on many, cannot stop a phone pairing with the code on the wall', async () => {
  const hud = await startTestHud({ config: { server: { trustLocalDisplay: false } } });
  try {
    const guesser = hud.connect();
    await guesser.hello;
    const answers: string[] = [];
    // (20 refusals in a row would disconnect it as a client that keeps sending bad messages.)
    for (let i = 0; i < 15; i++) {
      const ack = await guess(guesser, i);
      answers.push(ack.ok ? 'ok' : ack.code);
    }
    assert.ok(answers.filter((a) => a === 'bad-code').length <= 5, `one address had ${answers.filter((a) => a === 'bad-code').length} guesses checked`);
    assert.equal(answers.at(-1), 'rate-limited');

    // Guessers on ten more addresses use up the budget all addresses share.
    for (let n = 3; n < 13; n++) {
      const other = hud.connect({ localAddress: `127.0.0.${n}` });
      await other.hello;
      for (let i = 0; i < 6; i++) await guess(other, 1000 * n + i);
      other.close();
    }
    const stillLimited = await guess(guesser, 99);
    assert.equal(!stillLimited.ok && stillLimited.code, 'rate-limited');

    const phone = hud.connect({ localAddress: OTHER_DEVICE_ADDRESS });
    await phone.hello;
    const paired = await phone.command('pair', { code: hud.issueCode('controller'), name: 'Pixel' });
    assert.ok(paired.ok, `the right code from a clean address was refused: ${JSON.stringify(paired)}`);
  } finally {
    await hud.close();
  }
});

test('a controller code shown on this computer pairs only another device: a local program cannot make itself a controller', async () => {
  const hud = await startTestHud();
  try {
    const display = hud.connect();
    assert.equal((await display.hello).role, 'viewer');
    const shown = await display.command('pairing-code', { role: 'controller' });
    assert.ok(shown.ok);
    // A program on this computer reads the code off the wall (or asks for it itself) and redeems it.
    const program = hud.connect();
    await program.hello;
    const refused = await program.command('pair', { code: shown.code, name: 'sneaky' });
    assert.equal(!refused.ok && refused.code, 'forbidden');
    assert.match(!refused.ok ? (refused.fix ?? '') : '', /phone|jarvis devices pair/);
    assert.equal(!(await program.command('stop', {})).ok, true, 'it is still no controller');
    // The code still works for the person who types it on a phone.
    const phone = hud.connect({ localAddress: OTHER_DEVICE_ADDRESS });
    await phone.hello;
    const paired = await phone.command('pair', { code: shown.code, name: 'Pixel' });
    assert.ok(paired.ok && paired.role === 'controller', JSON.stringify(paired));
  } finally {
    await hud.close();
  }
});

test('idle unpaired sockets are held only up to a limit and for a while; the paired phone always gets in', async () => {
  const hud = await startTestHud({ config: { server: { trustLocalDisplay: false, maxUnpairedClients: 4, unpairedTimeoutMs: 1500 } } });
  try {
    const { token } = await hud.pairedClient();
    const idle = Array.from({ length: 12 }, () => hud.connect());
    const outcomes = await Promise.all(idle.map((c) => c.hello.then(() => 'hello', (error: Error) => `refused: ${error.message}`)));
    assert.equal(outcomes.filter((o) => o === 'hello').length, 4, outcomes.join(', '));
    assert.ok(outcomes.filter((o) => o !== 'hello').every((o) => /too many unpaired/.test(o)), outcomes.join(', '));

    const phone = hud.connect({ token });
    assert.equal((await phone.hello).role, 'controller');
    await phone.waitFor('snapshot');

    const admitted = idle.filter((_, i) => outcomes[i] === 'hello');
    const reasons = await Promise.race([Promise.all(admitted.map((c) => c.closed)), sleep(5000).then(() => 'still connected')]);
    assert.notEqual(reasons, 'still connected', 'unpaired sockets past their time were not closed');
    assert.ok(phone.socket.connected, 'the paired phone stays');
    // Room for pairing again once they are gone.
    const next = hud.connect();
    await next.hello;
  } finally {
    await hud.close();
  }
});

test('a full disk does not take the daemon down when a paired phone reconnects (its last-seen time is skipped)', async (t) => {
  const mount = smallDisk(t, '4m');
  if (!mount) return;
  {
    const dataDir = path.join(mount, 'data');
    const hud = await startTestHud({ config: { dataDir, server: { trustLocalDisplay: false } } });
    try {
      const { client, token } = await hud.pairedClient();
      client.close();
      fillDisk(mount);
      for (let i = 0; i < 3; i++) {
        const again = hud.connect({ token });
        assert.equal((await again.hello).role, 'controller');
        await again.waitFor('snapshot');
        again.close();
      }
      // An uncaught SQLITE_FULL would have ended this process; the server still answers commands.
      const phone = hud.connect({ token });
      await phone.hello;
      const ack = await phone.command('volume', { volume: 0.4 });
      assert.ok(ack.ok, JSON.stringify(ack));
    } finally {
      await hud.close();
    }
  }
});

test('a full disk when a timer or a note is asked for: said in one sentence with what to do, nothing stored is lost, and it works again once there is room', async (t) => {
  const mount = smallDisk(t, '4m');
  if (!mount) return;
  const hud = await startTestHud({ skills: true, config: { dataDir: path.join(mount, 'data') } });
  try {
    const { assistant } = hud;
    assert.equal((await assistant.ask('set a pasta timer for 10 minutes')).answer, 'Pasta timer set for 10 minutes.');
    await assistant.ask('remember that the spare key is under the mat');
    const filler = fillDisk(mount);
    for (const request of ['set an egg timer for 5 minutes', 'remember that the bins go out on Tuesday']) {
      const answer = (await assistant.ask(request)).answer ?? '';
      assert.match(answer, /^Sorry, I could not save that: the disk is full\. Free some space on it\.$/, request);
    }
    assert.deepEqual(hud.skills!.timers.list().map((timer) => timer.label), ['pasta'], 'the stored timer is kept');
    assert.equal((await assistant.ask('what do you remember about the key')).answer, 'You told me that the spare key is under the mat.');
    fs.rmSync(filler);
    assert.equal((await assistant.ask('set an egg timer for 5 minutes')).answer, 'Egg timer set for 5 minutes.');
  } finally {
    await hud.close();
  }
});
