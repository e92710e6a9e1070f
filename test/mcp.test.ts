import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test, type TestContext } from 'node:test';
import { systemClock } from '../base/clock.ts';
import { createLogger, silentLogger } from '../base/log.ts';
import { parseConfig } from '../config/load.ts';
import { mcpServerSchema } from '../config/schema.ts';
import { createDaemon } from '../core/daemon/daemon.ts';
import { McpTools } from '../core/mcp/mcp-tools.ts';
import { checkMcpServer } from '../core/mcp/mcp-servers.ts';
import { DeviceIntentResponder } from '../core/home/device-intents.ts';
import type { RunEvent } from '../core/protocol/run-events.ts';
import type { Responder, ResponseRequest } from '../core/responder.ts';
import { commandLocalJarvis } from '../core/server/local-client.ts';
import { VirtualSink } from '../voice/audio/virtual-sink.ts';
import { WhisperTranscriber } from '../voice/stt/whisper.ts';
import { PiperSynthesizer } from '../voice/tts/piper.ts';
import { SileroVad } from '../voice/vad/silero.ts';
import { OpenWakeWordDetector } from '../voice/wake/openwakeword.ts';
import { serveHomeOverHttp, TestHome, type Device } from './fixtures/home-mcp-server.ts';
import { ManualClock } from './fixtures/manual-clock.ts';
import { Room } from './fixtures/room.ts';
import { ScriptTranscriber } from './fixtures/script-transcriber.ts';
import { runJarvis } from './fixtures/cli.ts';
import { ScriptedResponder } from './fixtures/scripted-responder.ts';
import { repoRoot, speak, type SpeechVoice } from './fixtures/speech.ts';
import { freePort } from './fixtures/free-port.ts';
import { loadSpokenTurnEngines, type SpokenTurnEngines } from './fixtures/spoken-engines.ts';

/**
 * The MCP client against real servers: @modelcontextprotocol/server-everything (npm) over stdio and streamable HTTP,
 * and test/fixtures/home-mcp-server.ts, a home with state behind Home Assistant's intent tools, built with the
 * official SDK, over stdio (its own process, which really crashes) and over HTTP with a bearer token. Spoken turns
 * run through the daemon as `jarvis start` assembles it: wake word and VAD on their real weights, Whisper and Piper
 * on test-made random-weight models with the words from the script (ScriptTranscriber), the LLM a scripted stand-in.
 */

const TOKEN = 'test-secret-token-4f1d9c';
const everything = path.join(repoRoot, 'node_modules', '.bin', 'mcp-server-everything');
const homeScript = path.join(repoRoot, 'test', 'fixtures', 'home-mcp-server.ts');
const tsx = ['--import', 'tsx'];
const settings = (extra: Record<string, unknown> = {}) => parseConfig({ mcp: { retryMs: 50, timeoutMs: 3000, ...extra } }).mcp;
const server = (config: Record<string, unknown>) => mcpServerSchema.parse(config);
const signal = () => new AbortController().signal;

async function connected(tools: McpTools, t: TestContext): Promise<McpTools> {
  t.after(() => tools.dispose());
  tools.start();
  await Promise.all(tools.connections.map((c) => c.connected(8000)));
  return tools;
}

function stdioHome(stateFile: string, extra: Record<string, unknown> = {}) {
  return server({ name: 'home', command: process.execPath, args: [...tsx, homeScript, stateFile], cwd: repoRoot, ...extra });
}

const readState = (file: string): Device[] => JSON.parse(fs.readFileSync(file, 'utf8')) as Device[];


const dirs: string[] = [];
const tempDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-mcp-'));
  dirs.push(dir);
  return dir;
};
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe('MCP servers from npm (server-everything)', () => {
  test('over stdio: its tools are offered namespaced, with schemas node-llama-cpp accepts, and a call is answered in one sentence', async (t) => {
    const tools = await connected(new McpTools([server({ name: 'everything', command: everything, args: ['stdio'] })], settings(), silentLogger, systemClock, 4), t);
    const echo = tools.definitions.find((d) => d.name === 'everything__echo');
    assert.ok(echo, tools.definitions.map((d) => d.name).join(', '));
    assert.deepEqual(echo.params, { type: 'object', properties: { message: { type: 'string', description: 'Message to echo' } } });
    assert.ok(tools.definitions.every((d) => /^everything__[A-Za-z0-9_]+$/.test(d.name) && d.description.length <= 160), 'names sanitised, descriptions short');
    const outcome = await tools.call('everything__echo', { message: 'hello home' }, { signal: signal() });
    assert.equal(outcome.said, 'Echo: hello home.');
    assert.deepEqual(outcome.result, { ok: true, alreadyToldUser: 'Echo: hello home.', result: 'Echo: hello home' });
  });

  test('over streamable HTTP: connects to its /mcp endpoint and calls get-sum', async (t) => {
    const port = await freePort();
    const child = spawn(everything, ['streamableHttp'], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => child.kill('SIGKILL'));
    await new Promise<void>((resolve) => child.stderr.on('data', (chunk: Buffer) => chunk.toString().includes('listening') && resolve()));
    const tools = await connected(new McpTools([server({ name: 'everything', url: `http://127.0.0.1:${port}/mcp` })], settings(), silentLogger, systemClock, 4), t);
    const outcome = await tools.call('everything__get_sum', { a: 2, b: 40 }, { signal: signal() });
    assert.match(String(outcome.said), /42/);
  });
});

describe('the test home (Home Assistant-shaped tools)', () => {
  test('over HTTP with a token: the token is sent as a bearer and never logged; policies: deny is not offered, defaults by name', async (t) => {
    const home = new TestHome();
    const http = await serveHomeOverHttp(home, TOKEN);
    t.after(() => http.close());
    let logged = '';
    const log = createLogger('trace', new Writable({ write: (chunk: Buffer, _e, done) => ((logged += chunk.toString()), done()) }));
    process.env.JARVIS_TEST_HOME_TOKEN = TOKEN;
    t.after(() => delete process.env.JARVIS_TEST_HOME_TOKEN);
    const config = server({ name: 'home', url: http.url, tokenEnv: 'JARVIS_TEST_HOME_TOKEN', policy: { HassLightSet: 'deny', 'Hass*Party*': 'confirm' } });
    const tools = await connected(new McpTools([config], settings(), log, systemClock, 4), t);
    assert.ok(http.authorizations.length > 0 && http.authorizations.every((a) => a === `Bearer ${TOKEN}`));
    assert.deepEqual(tools.definitions.map((d) => d.name).sort(), ['home__HassTurnOff', 'home__HassTurnOn']);
    assert.deepEqual((await tools.call('home__HassLightSet', { name: 'Kitchen Ceiling', brightness: 5 }, { signal: signal() })).result, { ok: false, error: 'there is no function called home__HassLightSet' });
    const report = tools.report()[0]!;
    assert.equal(report.state, 'connected');
    assert.deepEqual(report.tools.map((x) => [x.name, x.policy]).sort(), [['HassLightSet', 'deny'], ['HassTurnOff', 'allow'], ['HassTurnOn', 'allow']]);

    // A tool added while connected arrives through notifications/tools/list_changed; the config's glob applies.
    const changed = new Promise<void>((resolve) => tools.on('changed', resolve));
    home.addTool('HassPartyMode', 'Starts the party mode');
    await changed;
    assert.ok(tools.definitions.some((d) => d.name === 'home__HassPartyMode'));
    assert.equal(tools.report()[0]!.tools.find((x) => x.name === 'HassPartyMode')?.policy, 'confirm');
    // The optional slots became nullable, and nulls the grammar made the model write are not sent.
    const off = await tools.call('home__HassTurnOff', { name: 'Kitchen Ceiling', area: null, domain: null }, { signal: signal() });
    assert.equal(off.said, 'Kitchen Ceiling off.');
    assert.deepEqual(home.calls.at(-1), { tool: 'HassTurnOff', args: { name: 'Kitchen Ceiling' } });
    assert.equal(home.device('light.kitchen_ceiling').on, false);
    // What `jarvis doctor` prints for it, from a connection of its own.
    const doctorLine = await checkMcpServer(config, parseConfig({}), log);
    assert.match(doctorLine, /^connected \(http: .*\); 4 tools: /);
    assert.match(doctorLine, /HassTurnOn \(allow, default\)/);
    assert.match(doctorLine, /HassLightSet \(deny\)/);
    // The endpointer hears a device phrase as complete once a server can carry it out; not other sentences.
    const devices = new DeviceIntentResponder(new ScriptedResponder(() => ''), tools);
    assert.equal(devices.understands('turn off the kitchen lights'), true);
    assert.equal(devices.understands('set the kitchen lights to 40 percent'), false, 'HassLightSet is denied here');
    assert.equal(devices.understands('turn off the'), false);
    assert.ok(logged.includes('MCP server home connected'), 'the log was captured');
    assert.ok(!logged.includes(TOKEN), 'the token is not in the log');

    // The wrong token: refused, and the log still does not carry it.
    const wrong = new McpTools([server({ name: 'wrong', url: http.url, token: 'not-the-token' })], settings(), log, systemClock, 4);
    t.after(() => wrong.dispose());
    await assert.rejects(wrong.connections[0]!.connected(5000));
    assert.equal(wrong.report()[0]!.state, 'failed');
    assert.ok(!logged.includes('not-the-token'));
  });

  test('over stdio: a server that crashes mid-call, hangs or errors costs one sentence each; the crashed one is connected again', async (t) => {
    const state = path.join(tempDir(), 'state.json');
    const tools = await connected(new McpTools([stdioHome(state, { timeoutMs: 300 })], settings(), silentLogger, systemClock, 4), t);
    const on = tools.find('HassTurnOn')!;
    const run = (name: string) => tools.run(on, { name }, { signal: signal() }, 'local');

    assert.equal((await run('Broken Switch')).said, 'The home server could not do that: The broken switch is not responding.');
    const hung = Date.now();
    assert.equal((await run('Stuck Switch')).said, 'The home server did not answer.');
    assert.ok(Date.now() - hung < 2000, 'given up after the timeout');
    assert.equal((await run('Crash Switch')).said, 'The home server stopped before it answered.');
    assert.equal(tools.connections[0]!.state === 'connected', false);
    assert.equal((await run('Bedroom Fan')).said, 'The home server is not connected.');
    await tools.connections[0]!.connected(8000);
    assert.equal((await run('Bedroom Fan')).said, 'Bedroom Fan on.');
    assert.equal(readState(state).find((d) => d.id === 'fan.bedroom')?.on, true, 'the new server process did it');
  });
});

/** A model stand-in that calls one function through the tools the request offers, and says nothing more. */
class ToolCallingLlm extends ScriptedResponder {
  readonly offered: string[][] = [];
  constructor(private readonly plan: (question: string) => { name: string; params: unknown } | undefined) {
    super(() => '', 0);
  }
  override async *respond(request: ResponseRequest): AsyncIterable<string> {
    this.questions.push(request.text);
    this.offered.push(request.tools?.definitions.map((d) => d.name) ?? []);
    const call = this.plan(request.text);
    if (!call || !request.tools) return;
    const outcome = await request.tools.call(call.name, call.params, { signal: request.signal, ...(request.run ? { run: request.run } : {}) });
    if (outcome.said) yield outcome.said;
  }
}

describe('device control and confirmations in the running daemon', () => {
  const user: SpeechVoice = { engine: 'espeak', voice: 'en-us', wordsPerMinute: 170 };
  let wake: OpenWakeWordDetector;
  let vad: SileroVad;
  let whisper: WhisperTranscriber;
  let piper: PiperSynthesizer;

  let engines: SpokenTurnEngines | undefined;

  before(async () => {
    engines = await loadSpokenTurnEngines();
    ({ wake, vad, whisper, piper } = engines);
  });
  after(() => engines?.dispose());

  async function homeDaemon(t: TestContext, options: { script?: { label: string; text: string }[]; llm?: Responder; screens?: boolean; confirmTimeoutMs?: number } = {}) {
    const home = new TestHome();
    const http = await serveHomeOverHttp(home, TOKEN);
    t.after(() => http.close());
    const dir = tempDir();
    const config = parseConfig({
      dataDir: dir,
      // One transcription per request (the endpoint by silence): the words come from the script anyway.
      vad: { hangoverMs: 500, noSpeechTimeoutMs: 3000, turnEnd: 'silence' },
      conversation: { followUpMs: 6000 },
      server: { port: 0 },
      mcp: { servers: [{ name: 'home', url: http.url, token: TOKEN }], confirmTimeoutMs: options.confirmTimeoutMs ?? 20_000 },
    });
    const clock = new ManualClock(Date.now());
    const sink = new VirtualSink({ speed: 1, sampleRate: 22_050, clock });
    const room = new Room({ clock });
    wake.reset();
    const llm = options.llm ?? new ScriptedResponder(() => 'the LLM answered', 0);
    const transcriber = new ScriptTranscriber(whisper, room, options.script ?? []);
    // Typed tests (no script) answer in text only: nothing plays, so nothing waits on the manual clock.
    const audio = options.script ? { source: room, sink, engines: { wake, vad, transcriber, synthesizer: piper, llm } } : { engines: { llm } };
    const daemon = await createDaemon(config, { log: silentLogger, clock, ...audio, ...(options.screens ? { screens: { hudDir: dir, buildHud: false } } : {}) });
    t.after(() => daemon.dispose());
    const events: RunEvent[] = [];
    daemon.assistant.bus.subscribe((event) => events.push(event));
    // The home connects in the background; these tests begin once it has.
    await Promise.all(daemon.mcp!.connections.map((c) => c.connected(8000)));
    return { home, daemon, room, clock, events, config, llm, sentences: () => events.flatMap((e) => (e.type === 'sentence' ? [e.text] : [])) };
  }

  test('spoken (words from the script): "turn off the kitchen lights" switches the home\'s kitchen lights off; "unlock the front door" asks first and a spoken "yes" unlocks it; "unlock the back door" answered "no" leaves it locked; the LLM is never asked', async (t) => {
    const [lights, front, yes, back, no] = (await Promise.all(
      ['hey jarvis, turn off the kitchen lights', 'hey jarvis, unlock the front door', 'yes', 'hey jarvis, unlock the back door', 'no'].map((text) => speak(text, user)),
    )) as [Int16Array, Int16Array, Int16Array, Int16Array, Int16Array];
    const s = await homeDaemon(t, {
      script: [
        { label: 'lights', text: 'Hey Jarvis, turn off the kitchen lights.' },
        { label: 'front', text: 'Hey Jarvis, unlock the front door.' },
        { label: 'yes', text: 'Yes.' },
        { label: 'back', text: 'Hey Jarvis, unlock the back door.' },
        { label: 'no', text: 'No.' },
      ],
      // The room's silence runs at 10× real time while speech to text works in real time: a slow transcription of
      // "yes" on a loaded machine (2 s) would be 20 s of audio time, and the question would lapse before it.
      confirmTimeoutMs: 300_000,
    });
    const ended = (count: number) => () => s.events.filter((e) => e.type === 'run-end').length >= count;
    s.room.pause(300).say(lights, 'lights').until(ended(1)).pause(300).say(front, 'front').until(ended(2)).pause(400).say(yes, 'yes').until(ended(3))
      .pause(300).say(back, 'back').until(ended(4)).pause(400).say(no, 'no').until(ended(5)).pause(100);
    await s.daemon.run(new AbortController().signal);

    assert.deepEqual(s.sentences(), ['Kitchen lights off.', 'Unlock the front door?', 'Front door unlocked.', 'Unlock the back door?', "Okay, I won't unlock the back door."]);
    assert.equal(s.home.device('light.kitchen_ceiling').on, false);
    assert.equal(s.home.device('light.kitchen_counter').on, false);
    assert.equal(s.home.device('light.living_room').on, true, 'only the kitchen');
    assert.equal(s.home.device('lock.front_door').on, false, 'unlocked after the yes');
    assert.equal(s.home.device('lock.back_door').on, true, 'still locked after the no');
    assert.deepEqual(s.home.calls.map((c) => c.tool), ['HassTurnOff', 'HassTurnOff'], 'nothing was called before its yes');
    const triggers = s.events.filter((e) => e.type === 'run-start').map((e) => (e.type === 'run-start' ? e.trigger : ''));
    assert.equal(triggers.length, 5);
    assert.ok(triggers[2] === 'follow-up' && triggers[4] === 'follow-up', `yes and no were heard without the wake word: ${triggers.join(', ')}`);
    const intent = s.events.find((e) => e.type === 'intent-start');
    assert.ok(intent?.type === 'intent-start' && intent.skill === 'mcp.home.HassTurnOff' && intent.via === 'local');
    assert.deepEqual((s.llm as ScriptedResponder).questions, []);
    assert.ok(s.events.some((e) => e.type === 'tts-end' && e.audioMs > 0), 'the answers were spoken');
  });

  test('typed, through the LLM: the model gets the home\'s tools beside the skills; its unlock is asked about, a tap on the screen (the local display\'s confirm command) unlocks; an unanswered question lapses and is said to be not done', async (t) => {
    const llm = new ToolCallingLlm((q) => (/unlock/.test(q) ? { name: 'home__HassTurnOff', params: { name: /back/.test(q) ? 'Back Door' : 'Front Door', area: null, domain: ['lock'], floor: null, device_class: null } } : undefined));
    const s = await homeDaemon(t, { llm, screens: true, confirmTimeoutMs: 5000 });
    const first = await s.daemon.assistant.ask('please let the plumber in by unlocking the front door');
    assert.equal(first.answer, 'Unlock the Front Door?');
    assert.ok(llm.offered[0]!.includes('home__HassTurnOn') && llm.offered[0]!.includes('setTimer'), llm.offered[0]!.join(','));
    assert.equal(s.home.device('lock.front_door').on, true, 'not yet');
    const pending = s.daemon.mcp!.confirmations.pending!;
    // The wall display on this computer, through the HUD server (its real port).
    const port = Number(new URL(s.daemon.remote!.server!.urls.at(-1)!).port);
    const tap = async (id: number) => {
      const reply = await commandLocalJarvis({ ...s.config, server: { ...s.config.server, port } }, 'confirm', { id, answer: true });
      assert.ok(reply.reached, reply.reached ? '' : reply.reason);
      return reply.ack.ok;
    };
    assert.equal(await tap(pending.id + 1), false, 'a tap on another question does nothing');
    assert.equal(await tap(pending.id), true);
    await waitFor(() => s.sentences().includes('Front Door unlocked.'));
    assert.equal(s.home.device('lock.front_door').on, false);

    await s.daemon.assistant.ask('unlock the back door while I am out');
    assert.ok(s.daemon.mcp!.confirmations.pending);
    s.clock.advance(5000);
    await waitFor(() => s.sentences().includes('No answer, so I did not unlock the Back Door.'));
    assert.equal(s.daemon.mcp!.confirmations.pending, undefined);
    assert.equal(s.home.device('lock.back_door').on, true);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 8000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('`jarvis ask "turn off the kitchen lights"` waits for the home server (stdio) to connect and switches them off, with no LLM loaded', async () => {
  const dir = tempDir();
  const stateFile = path.join(dir, 'home.json');
  const configFile = path.join(dir, 'config.json');
  fs.writeFileSync(configFile, JSON.stringify({ dataDir: dir, mcp: { servers: [{ name: 'home', command: process.execPath, args: [...tsx, homeScript, stateFile], cwd: repoRoot }] } }));
  const ask = runJarvis(['-c', configFile, 'ask', 'turn off the kitchen lights']);
  assert.equal(await ask.exit, 0, ask.stderr.join('\n'));
  assert.equal(ask.stdout.join('\n').trim(), 'Kitchen lights off.');
  const kitchenLights = readState(stateFile).filter((d) => d.area === 'kitchen' && d.domain === 'light');
  assert.ok(kitchenLights.length === 2 && kitchenLights.every((d) => !d.on), JSON.stringify(kitchenLights));
  assert.ok(!ask.stderr.some((line) => line.includes('LLM:')), 'the LLM was not loaded');
});
