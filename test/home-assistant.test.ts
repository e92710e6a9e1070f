import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { inArea, looksLikeHomeRequest } from '../core/home/device-phrases.ts';
import { HomeAssistant } from '../core/home/home-assistant.ts';
import type { RunEvent } from '../core/protocol/run-events.ts';
import { runJarvis } from './fixtures/cli.ts';
import { startFakeHomeAssistant, type FakeHomeAssistant } from './fixtures/home-assistant.ts';
import { startTestHud, type TestHud } from './fixtures/hud-server.ts';
import { ScriptedResponder } from './fixtures/scripted-responder.ts';
import { freePort } from './fixtures/free-port.ts';

/**
 * Home Assistant's conversation API as the fast path for device requests, against a server that speaks Home
 * Assistant's documented REST API over a small test house (test/fixtures/home-assistant.ts; Home Assistant itself
 * cannot be installed here). The daemon is the real one (createDaemon, local skills on); the LLM is a scripted
 * stand-in that records what reaches it.
 */

describe('which requests go to Home Assistant first', () => {
  test('device control and state questions do; chat, half-finished requests and one-word replies do not', () => {
    for (const yes of ['Turn off the kitchen lights.', 'please switch on the bedroom fan', 'Jarvis, unlock the front door', 'turn the lights in the kitchen off', 'set the living room lamp to 40 percent', 'is the front door locked?', "what's the temperature in the kitchen", 'dim the lights']) {
      assert.ok(looksLikeHomeRequest(yes), yes);
    }
    for (const no of ['tell me a joke', 'what is the capital of France', 'turn off the', 'set the lights to', 'yes', 'open', 'how are you']) {
      assert.ok(!looksLikeHomeRequest(no), no);
    }
  });

  test('a request that names no device or room means the room JARVIS is in; a named one is left as it is', () => {
    assert.equal(inArea('Turn on the lights.', 'Kitchen'), 'turn on the lights in the Kitchen');
    assert.equal(inArea('switch the fan off', 'Bedroom'), 'switch the fan off in the Bedroom');
    assert.equal(inArea('turn off the living room lamp', 'Kitchen'), 'turn off the living room lamp');
    assert.equal(inArea('turn on the lights', undefined), 'turn on the lights');
  });
});

describe('the Home Assistant client', () => {
  let home: FakeHomeAssistant;
  before(async () => (home = await startFakeHomeAssistant()));
  after(() => home.close());

  test('checks the address and token, and names the fix when either is wrong', async () => {
    assert.deepEqual(await new HomeAssistant({ url: home.url, token: home.token, timeoutMs: 2000 }).check(), { version: '2026.11.3', locationName: 'Test House' });
    await assert.rejects(new HomeAssistant({ url: home.url, token: 'wrong', timeoutMs: 2000 }).check(), (error: Error & { code?: string; fix?: string }) => {
      assert.equal(error.code, 'home-unauthorized');
      assert.match(error.fix!, /long-lived access token/);
      return true;
    });
    const closed = await freePort();
    await assert.rejects(new HomeAssistant({ url: `http://127.0.0.1:${closed}`, token: 't', timeoutMs: 2000 }).check(), { code: 'home-unreachable' });
  });

  test('gives up on a Home Assistant that does not answer after home.timeoutMs', async () => {
    home.delayMs = 5000;
    try {
      const started = performance.now();
      await assert.rejects(new HomeAssistant({ url: home.url, token: home.token, timeoutMs: 300 }).converse('turn on the bedroom fan', { language: 'en', agentId: 'conversation.home_assistant' }), { code: 'home-timeout' });
      assert.ok(performance.now() - started < 2000);
    } finally {
      home.delayMs = 0;
    }
  });
});

describe('device requests in the running daemon', () => {
  let home: FakeHomeAssistant;
  let hud: TestHud;
  let llm: ScriptedResponder;
  const events: RunEvent[] = [];

  before(async () => {
    home = await startFakeHomeAssistant();
    llm = new ScriptedResponder((question) => `The model answers: ${question.replace(/^\[[^\]]*\] /, '')}`, 0);
    hud = await startTestHud({ skills: true, responder: llm, config: { home: { url: home.url, token: home.token, area: 'Kitchen', timeoutMs: 1000 } } });
    hud.assistant.bus.subscribe((event) => events.push(event));
  });
  after(async () => {
    await hud?.close();
    await home?.close();
  });

  test('"turn off the kitchen lights" is done by Home Assistant\'s own intents, without the LLM, and its words are spoken', async () => {
    events.length = 0;
    const result = await hud.assistant.ask('Turn off the kitchen lights.');
    assert.equal(result.answer, 'Turned off the lights');
    assert.equal(home.entity('light.kitchen').state, 'off');
    assert.equal(home.entity('light.living_room').state, 'on', 'only the kitchen');
    assert.deepEqual(llm.questions, [], 'the LLM was not asked');
    const end = events.find((e) => e.type === 'intent-end');
    assert.ok(end?.type === 'intent-end' && end.skill === 'home-assistant' && end.ok);
    assert.equal(home.sentences.at(-1)?.agent_id, 'conversation.home_assistant', "Home Assistant's built-in agent, not an LLM agent");
  });

  test('"turn on the lights" means the lights of the room JARVIS is in (home.area)', async () => {
    home.entity('light.kitchen').state = 'off';
    home.entity('light.kitchen_counter').state = 'off';
    home.entity('light.living_room').state = 'off';
    assert.equal((await hud.assistant.ask('turn on the lights')).answer, 'Turned on the lights');
    assert.equal(home.sentences.at(-1)?.text, 'turn on the lights in the Kitchen');
    assert.deepEqual([home.entity('light.kitchen').state, home.entity('light.kitchen_counter').state, home.entity('light.living_room').state], ['on', 'on', 'off']);
  });

  test('a question about a device is answered by Home Assistant', async () => {
    assert.equal((await hud.assistant.ask('is the front door locked?')).answer, 'Yes, Front Door is locked');
  });

  test('what Home Assistant does not understand goes on to the LLM; what the local skills answer never reaches Home Assistant', async () => {
    const sent = home.sentences.length;
    assert.equal((await hud.assistant.ask('turn on the frobnicator')).answer, 'The model answers: turn on the frobnicator');
    assert.equal(home.sentences.length, sent + 1, 'Home Assistant was asked first');
    assert.equal((await hud.assistant.ask('set the volume to 5')).answer?.startsWith('Volume'), true);
    assert.equal((await hud.assistant.ask('tell me a joke')).answer, 'The model answers: tell me a joke');
    assert.equal(home.sentences.length, sent + 1, 'neither the volume nor the joke went to Home Assistant');
  });

  test('a Home Assistant that does not answer costs one spoken sentence, and the next request works', async () => {
    home.delayMs = 5000;
    try {
      assert.equal((await hud.assistant.ask('turn on the bedroom fan')).answer, 'Home Assistant did not answer.');
    } finally {
      home.delayMs = 0;
    }
    assert.equal((await hud.assistant.ask('turn on the bedroom fan')).answer, 'Turned on Bedroom Fan');
    assert.equal(home.entity('fan.bedroom').state, 'on');
  });
});

describe('`jarvis home connect`', () => {
  let home: FakeHomeAssistant;
  let dir: string;
  before(async () => {
    home = await startFakeHomeAssistant();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-home-cli-'));
  });
  after(async () => {
    await home.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('checks the token against Home Assistant, then saves it owner-only with the rest of the config kept', async () => {
    const file = path.join(dir, 'config.json');
    fs.writeFileSync(file, JSON.stringify({ dataDir: dir, wake: { threshold: 0.6 } }));
    const refused = runJarvis(['-c', file, 'home', 'connect', home.url, '--token-stdin']);
    refused.child.stdin!.end('not-the-token\n');
    assert.equal(await refused.exit, 2);
    assert.match(refused.stderr.join('\n'), /refused the access token[\s\S]*fix: Create a long-lived access token/);
    assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), { dataDir: dir, wake: { threshold: 0.6 } }, 'nothing written');

    const connect = runJarvis(['-c', file, 'home', 'connect', home.url, '--token-stdin', '--area', 'Kitchen']);
    connect.child.stdin!.end(`${home.token}\n`);
    assert.equal(await connect.exit, 0, connect.stderr.join('\n'));
    assert.match(connect.stdout.join('\n'), /Connected to Home Assistant 2026\.11\.3 \("Test House"\)/);
    assert.ok(!connect.stdout.join('\n').includes(home.token) && !connect.stderr.join('\n').includes(home.token), 'the token is not printed');
    assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), { dataDir: dir, wake: { threshold: 0.6 }, home: { url: home.url, token: home.token, area: 'Kitchen' } });
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);

    const status = runJarvis(['-c', file, 'home', 'status']);
    assert.equal(await status.exit, 0, status.stderr.join('\n'));
    assert.match(status.stdout.join('\n'), /^Connected to Home Assistant 2026\.11\.3 \("Test House"\) at http:\/\/127\.0\.0\.1:\d+; JARVIS is in the Kitchen\.$/);
  });
});

