import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test, type TestContext } from 'node:test';
import { connectAsync, type MqttClient } from 'mqtt';
import { createLogger } from '../base/log.ts';
import { ConfigError, JarvisError } from '../base/errors.ts';
import { configFromEnv, parseConfig } from '../config/load.ts';
import type { ConfigInput } from '../config/schema.ts';
import { createDaemon, type Daemon, type DaemonOptions } from '../core/daemon/daemon.ts';
import { checkBroker } from '../core/mqtt/broker-check.ts';
import { PHASES } from '../core/mqtt/discovery.ts';
import { MQTT_PROBLEM } from '../core/mqtt/mqtt-device.ts';
import { ThrottledWarning } from '../core/mqtt/throttled-warning.ts';
import type { RunEvent } from '../core/protocol/run-events.ts';
import { VirtualSink } from '../voice/audio/virtual-sink.ts';
import { levelDbfs } from '../voice/pcm.ts';
import { WhisperTranscriber } from '../voice/stt/whisper.ts';
import { PiperSynthesizer } from '../voice/tts/piper.ts';
import { SileroVad } from '../voice/vad/silero.ts';
import { OpenWakeWordDetector } from '../voice/wake/openwakeword.ts';
import { ManualClock } from './fixtures/manual-clock.ts';
import { startMosquitto, type Mosquitto } from './fixtures/mosquitto.ts';
import { gpuCurve } from './fixtures/nvidia-smi.ts';
import { Room } from './fixtures/room.ts';
import { ScriptTranscriber } from './fixtures/script-transcriber.ts';
import { ScriptedResponder } from './fixtures/scripted-responder.ts';
import { speak } from './fixtures/speech.ts';
import { ensureTinyPiperVoice } from './models/piper-voice.ts';
import { ensureTinyWhisperModel } from './models/whisper-ggml.ts';

/**
 * JARVIS on a real MQTT broker (Debian's mosquitto, started here with its own accounts and ACL) as Home Assistant
 * sees it: a test client plays Home Assistant (it reads discovery and states, presses buttons, publishes commands).
 * The daemon is assembled by createDaemon as `jarvis start` does it; the spoken turn runs through the real wake
 * word and VAD, Whisper and Piper on test-made random-weight models (words from the script where they matter).
 */

const PASSWORD = 'correct-horse-battery-staple-7f3e';
const HA_PASSWORD = 'home-assistant-pw';
let broker: Mosquitto;
let piper: PiperSynthesizer;
const dirs: string[] = [];

before(async () => {
  broker = await startMosquitto({
    users: { jarvis: PASSWORD, homeassistant: HA_PASSWORD, viewer: 'viewer-pw' },
    acl: ['user jarvis', 'topic readwrite jarvis/#', 'topic readwrite homeassistant/#', 'user homeassistant', 'topic readwrite #', 'user viewer', 'topic read jarvis/#'],
  });
  piper = new PiperSynthesizer({ voicePath: await ensureTinyPiperVoice(), rate: 1 });
  await piper.load();
});

/** Every line any JARVIS logged in these tests (at debug level): none may hold the MQTT password. */
const logged: string[] = [];

after(async () => {
  await piper?.dispose();
  await broker?.stop();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  assert.ok(!logged.some((line) => line.includes(PASSWORD)), 'the MQTT password is never in the log');
});

interface Heard {
  readonly topic: string;
  readonly payload: string;
  readonly retain: boolean;
}

/** Home Assistant's side: a client on the broker that records everything it sees and can publish. */
class HomeAssistantClient {
  readonly heard: Heard[] = [];
  readonly #waiters = new Set<() => void>();

  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      this.heard.push({ topic, payload: payload.toString('utf8'), retain: packet.retain });
      for (const waiter of this.#waiters) waiter();
    });
  }

  static async connect(t: TestContext, url = broker.url, topics: string[] = ['#']): Promise<HomeAssistantClient> {
    const client = await connectAsync(url, { username: 'homeassistant', password: HA_PASSWORD, reconnectPeriod: 100, clientId: `ha-${Math.random().toString(16).slice(2)}` });
    const ha = new HomeAssistantClient(client);
    client.on('connect', () => void client.subscribe(topics));
    await client.subscribeAsync(topics);
    t.after(() => client.endAsync());
    return ha;
  }

  /** The last payload on `topic`. */
  last(topic: string): string | undefined {
    return this.heard.findLast((h) => h.topic === topic)?.payload;
  }

  values(topic: string): string[] {
    return this.heard.filter((h) => h.topic === topic).map((h) => h.payload);
  }

  /** Resolves with the first message (from `from` on) that matches; fails the test after `ms`. */
  waitFor(match: (heard: Heard) => boolean, what: string, ms = 5000, from = 0): Promise<Heard> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.heard.slice(from).find(match);
        if (!found) return false;
        clearTimeout(timer);
        this.#waiters.delete(check as () => void);
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check as () => void);
        reject(new Error(`Home Assistant did not see ${what} within ${ms} ms; it saw: ${this.heard.map((h) => `${h.topic}=${h.payload.slice(0, 60)}`).join(' | ')}`));
      }, ms);
      if (!check()) this.#waiters.add(check as () => void);
    });
  }

  publish(topic: string, payload: string | Buffer): Promise<unknown> {
    return this.client.publishAsync(topic, payload, { qos: 1 });
  }
}

interface Jarvis {
  readonly daemon: Daemon;
  readonly events: RunEvent[];
  readonly logLines: string[];
  readonly base: string;
  readonly node: string;
  readonly llm: ScriptedResponder;
}

let instances = 0;

/** A daemon as `jarvis start` assembles it, with MQTT settings for this test's own topics; closed when the test ends. */
async function startJarvis(t: TestContext, options: { mqtt?: ConfigInput['mqtt']; config?: ConfigInput; daemon?: Partial<DaemonOptions>; start?: boolean } = {}): Promise<Jarvis> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-mqtt-'));
  dirs.push(dir);
  const node = `jarvis-test-${++instances}`;
  const base = `jarvis/t${instances}`;
  const config = parseConfig({
    dataDir: dir,
    server: { port: 0 },
    conversation: { followUpMs: 0 },
    ...options.config,
    mqtt: { url: broker.url, username: 'jarvis', password: PASSWORD, clientId: node, baseTopic: base, reconnectMs: 100, reconnectMaxMs: 400, ...options.mqtt },
  });
  const logLines: string[] = [];
  const log = createLogger('debug', new Writable({ write: (chunk, _encoding, done) => (logLines.push(...String(chunk).split('\n').filter(Boolean)), done()) }));
  const llm = new ScriptedResponder(() => 'Paris is the capital of France.', 1);
  const daemon = await createDaemon(config, { log, sink: new VirtualSink({ speed: 0 }), engines: { synthesizer: piper, llm }, ...options.daemon });
  t.after(async () => {
    await daemon.dispose();
    logged.push(...logLines);
  });
  const events: RunEvent[] = [];
  daemon.assistant.bus.subscribe((event) => events.push(event));
  if (options.start !== false) daemon.start();
  return { daemon, events, logLines, base, node, llm };
}

const online = (base: string) => (h: Heard) => h.topic === `${base}/availability` && h.payload === 'online';
const runEnded = (events: RunEvent[], trigger: string) => () => {
  const run = events.findLast((e) => e.type === 'run-start' && e.trigger === trigger)?.runId;
  return run !== undefined && events.some((e) => e.type === 'run-end' && e.runId === run);
};

async function until(what: string, done: () => boolean, ms = 5000): Promise<void> {
  for (const started = Date.now(); !done(); await new Promise((resolve) => setTimeout(resolve, 10))) {
    if (Date.now() - started > ms) assert.fail(`timed out waiting for ${what}`);
  }
}

describe('Home Assistant discovery', () => {
  test('JARVIS appears as one device: state, last question and answer, mute switch, stop button, next timer and GPU sensors, retained, with availability', async (t) => {
    const ha = await HomeAssistantClient.connect(t);
    const jarvis = await startJarvis(t, {
      config: { server: { port: 0, telemetryIntervalMs: 200 } },
      mqtt: { telemetryEveryMs: 1000 },
      daemon: { screens: { buildHud: false, nvidiaSmi: gpuCurve([{ temperatureC: 64, usedMiB: 5120 }]) } },
    });
    const { base, node } = jarvis;
    await ha.waitFor(online(base), 'JARVIS online');
    // The GPU sensors are announced once the telemetry has seen a GPU, with its figures.
    await ha.waitFor((h) => h.topic === `${base}/gpu/memory` && h.payload === '5120', 'the GPU memory in MiB');
    assert.equal(ha.last(`${base}/gpu/temperature`), '64');

    const late = await HomeAssistantClient.connect(t, broker.url, [`homeassistant/+/${node}/+/config`, `${base}/#`]);
    // Retained messages come in the broker's order, not the order they were published in: wait for all of them.
    await until('the retained discovery and states', () =>
      late.heard.filter((h) => h.topic.startsWith('homeassistant/')).length >= 8 && [`${base}/state`, `${base}/mute`, `${base}/availability`].every((topic) => late.last(topic) !== undefined));
    const configs = new Map(late.heard.filter((h) => h.topic.startsWith('homeassistant/')).map((h) => [h.topic, { ...h, config: JSON.parse(h.payload) as Record<string, any> }]));
    assert.deepEqual(
      [...configs.keys()].sort(),
      ['button/stop', 'sensor/gpu_memory', 'sensor/gpu_temperature', 'sensor/last_answer', 'sensor/last_question', 'sensor/next_timer', 'sensor/state', 'switch/mute'].map((e) => {
        const [component, key] = e.split('/');
        return `homeassistant/${component}/${node}/${key}/config`;
      }),
    );
    const uniqueIds = new Set<string>();
    for (const [topic, { config, retain }] of configs) {
      assert.ok(retain, `${topic} is retained`);
      assert.equal(typeof config.unique_id, 'string');
      uniqueIds.add(config.unique_id);
      assert.deepEqual(config.device.identifiers, [node], 'every entity names the one device');
      assert.equal(config.device.name, 'JARVIS');
      assert.equal(config.availability_topic, `${base}/availability`);
      assert.equal(config.payload_available, 'online');
      assert.equal(config.payload_not_available, 'offline');
      assert.equal(typeof config.name, 'string');
      const component = topic.split('/')[1];
      if (component === 'sensor' || component === 'switch') assert.match(config.state_topic, new RegExp(`^${base}/`), `${topic} has a state topic`);
      if (component === 'switch' || component === 'button') assert.match(config.command_topic, new RegExp(`^${base}/`), `${topic} has a command topic`);
    }
    assert.equal(uniqueIds.size, configs.size, 'unique ids are unique');
    const state = configs.get(`homeassistant/sensor/${node}/state/config`)!.config;
    assert.equal(state.device_class, 'enum');
    assert.deepEqual(state.options, PHASES);
    assert.ok(PHASES.includes(late.last(state.state_topic) as never), `the state is retained: ${late.last(state.state_topic)}`);
    const mute = configs.get(`homeassistant/switch/${node}/mute/config`)!.config;
    assert.equal(late.last(mute.state_topic), mute.payload_off);
    const temperature = configs.get(`homeassistant/sensor/${node}/gpu_temperature/config`)!.config;
    assert.deepEqual([temperature.device_class, temperature.unit_of_measurement, temperature.state_class], ['temperature', '°C', 'measurement']);
    assert.ok(late.heard.some((h) => h.topic === `${base}/availability` && h.payload === 'online' && h.retain), 'availability is retained');

    // Home Assistant restarting (its birth message) gets the discovery again.
    const restarted = ha.heard.length;
    await ha.publish('homeassistant/status', 'online');
    await ha.waitFor((h) => h.topic === `homeassistant/sensor/${node}/state/config`, 'the discovery sent again after Home Assistant\'s birth message', 5000, restarted);

    // The next timer follows the skills' timers, as an ISO time Home Assistant's timestamp sensor reads.
    const timers = jarvis.daemon.skills!.timers;
    const dueAt = Date.now() + 600_000;
    const tea = timers.add({ kind: 'timer', dueAt, durationMs: 600_000, label: 'tea' });
    await ha.waitFor((h) => h.topic === `${base}/timer` && h.payload === new Date(dueAt).toISOString(), 'the next timer');
    assert.equal(JSON.parse(ha.last(`${base}/timer/attributes`)!).label, 'tea');
    timers.cancel([tea.id]);
    await ha.waitFor((h) => h.topic === `${base}/timer` && h.payload === 'None', 'no timer');

    // A clean stop says goodbye: offline, retained.
    const from = ha.heard.length;
    await jarvis.daemon.dispose();
    await ha.waitFor((h) => h.topic === `${base}/availability` && h.payload === 'offline', 'JARVIS offline after its stop', 5000, from);
    assert.ok(jarvis.logLines.some((line) => line.includes(`MQTT: connected to ${broker.url}`)), 'the connection is logged (without credentials)');
    assert.ok(!jarvis.logLines.some((line) => line.includes(PASSWORD)), 'the password is not in the log (debug level)');
  });
});

describe('what JARVIS does, published', () => {
  test('a real spoken turn ("hey jarvis, what is the capital of France", words from the script): the state goes idle → listening → thinking → speaking → idle, and the last question and answer are published', async (t) => {
    const [whisperModel, request] = await Promise.all([ensureTinyWhisperModel(), speak('hey jarvis, what is the capital of France', { engine: 'espeak', voice: 'en-us', wordsPerMinute: 170 })]);
    const [wake, vad] = await Promise.all([OpenWakeWordDetector.create({ threshold: 0.5 }), SileroVad.create()]);
    const whisper = new WhisperTranscriber({ model: whisperModel, threads: 1, language: 'en', useGpu: false });
    await whisper.load();
    t.after(() => Promise.all([wake.dispose(), vad.dispose(), whisper.dispose()]));
    const clock = new ManualClock(Date.now());
    const room = new Room({ clock });
    const transcriber = new ScriptTranscriber(whisper, room, [{ label: 'question', text: 'Hey Jarvis, what is the capital of France?' }]);
    const ha = await HomeAssistantClient.connect(t);
    let events: RunEvent[] = [];
    const jarvis = await startJarvis(t, {
      config: { vad: { hangoverMs: 600, noSpeechTimeoutMs: 3000 } },
      daemon: { source: room, sink: new VirtualSink({ speed: 1, sampleRate: 22_050, clock }), clock, engines: { wake, vad, transcriber, synthesizer: piper, llm: new ScriptedResponder(() => 'Paris is the capital of France.', 1) } },
    });
    events = jarvis.events;
    const { base } = jarvis;
    await ha.waitFor(online(base), 'JARVIS online');
    room.pause(600).say(request, 'question').until(runEnded(events, 'wake')).pause(300);
    await jarvis.daemon.run(new AbortController().signal);

    assert.deepEqual(events.filter((e) => e.type === 'run-end').map((e) => (e as { outcome: string }).outcome), ['answered']);
    await ha.waitFor((h) => h.topic === `${base}/answer`, 'the answer');
    await ha.waitFor((h) => h.topic === `${base}/state` && h.payload === 'idle', 'idle again', 5000, ha.heard.findIndex((h) => h.topic === `${base}/state` && h.payload === 'speaking'));
    const states = ha.values(`${base}/state`);
    const turn = states.slice(states.indexOf('idle'));
    assert.deepEqual(turn, ['idle', 'listening', 'thinking', 'speaking', 'idle'], `states published: ${states.join(' → ')}`);
    const asked = events.find((e) => e.type === 'llm-start');
    assert.ok(asked?.type === 'llm-start' && /what is the capital of France/.test(asked.text));
    assert.equal(ha.last(`${base}/question`), asked.text);
    assert.equal(ha.last(`${base}/answer`), 'Paris is the capital of France.');
    assert.equal(JSON.parse(ha.last(`${base}/answer/attributes`)!).text, 'Paris is the capital of France.');
  });

  test('commands from Home Assistant: "announce: …" is spoken into the speaker, {"action":"ask"} is answered on the reply topic, the mute switch mutes the microphone', async (t) => {
    const ha = await HomeAssistantClient.connect(t);
    const sink = new VirtualSink({ speed: 0 });
    const jarvis = await startJarvis(t, { daemon: { sink } });
    const { base, events, daemon } = jarvis;
    await ha.waitFor(online(base), 'JARVIS online');

    await ha.publish(`${base}/command`, 'announce: The washing machine is done.');
    await until('the announcement to be spoken', runEnded(events, 'alert'));
    const alert = events.find((e) => e.type === 'run-start' && e.trigger === 'alert')!;
    const spoken = events.filter((e) => e.runId === alert.runId);
    assert.deepEqual(spoken.filter((e) => e.type === 'sentence').map((e) => (e as { text: string }).text), ['The washing machine is done.']);
    const audioMs = spoken.filter((e) => e.type === 'tts-end').reduce((sum, e) => sum + (e as { audioMs: number }).audioMs, 0);
    assert.ok(audioMs > 300, `synthesized ${audioMs} ms`);
    assert.equal((spoken.at(-1) as { outcome?: string }).outcome, 'answered');
    const heard = sink.recording();
    assert.ok(Math.abs((heard.samples.length / heard.sampleRate) * 1000 - audioMs) < 50, 'the speaker played all of it');
    assert.ok(levelDbfs(heard.samples) > -60, 'and it is not silence');

    await ha.publish(`${base}/command`, JSON.stringify({ action: 'ask', text: 'what is the capital of France', id: 'automation-7' }));
    const reply = await ha.waitFor((h) => h.topic === `${base}/reply`, 'the reply');
    assert.deepEqual(JSON.parse(reply.payload), { id: 'automation-7', question: 'what is the capital of France', answer: 'Paris is the capital of France.', outcome: 'answered' });
    // The LLM is told the date and time in front of the question (skills.injectContext); the question is the same.
    assert.equal(jarvis.llm.questions.length, 1);
    assert.match(jarvis.llm.questions[0]!, /\] what is the capital of France$/);
    assert.equal(ha.last(`${base}/question`), 'what is the capital of France');

    await ha.publish(`${base}/mute/set`, 'ON');
    await ha.waitFor((h) => h.topic === `${base}/mute` && h.payload === 'ON', 'the switch on');
    assert.equal(daemon.assistant.controls.muted, true);
    assert.ok(daemon.assistant.state.problems.some((p) => p.id === 'muted'), 'the screens say the microphone is muted');
    await ha.publish(`${base}/mute/set`, 'OFF');
    await ha.waitFor((h) => h.topic === `${base}/mute` && h.payload === 'OFF', 'the switch off');
    assert.equal(daemon.assistant.controls.muted, false);
  });

  test('stop: the stop button, then {"action":"stop"}, each cut a long announcement off at once', async (t) => {
    const ha = await HomeAssistantClient.connect(t);
    const jarvis = await startJarvis(t, { daemon: { sink: new VirtualSink({ speed: 1 }) } });
    const { base, events } = jarvis;
    await ha.waitFor(online(base), 'JARVIS online');
    const long = Array.from({ length: 8 }, (_, i) => `This is sentence number ${i + 1} of a long announcement.`).join(' ');
    for (const [topic, payload] of [[`${base}/stop`, 'PRESS'], [`${base}/command`, '{"action":"stop"}']] as const) {
      const from = events.length;
      await ha.publish(`${base}/command`, JSON.stringify({ action: 'announce', text: long }));
      await until('the announcement to play', () => events.slice(from).some((e) => e.type === 'playback-start'));
      const pressed = Date.now();
      await ha.publish(topic, payload);
      await until('the announcement to stop', () => events.slice(from).some((e) => e.type === 'run-end'), 2000);
      const run = events.slice(from);
      assert.equal((run.find((e) => e.type === 'run-end') as { outcome: string }).outcome, 'interrupted', `${topic} stopped it`);
      assert.ok(run.some((e) => e.type === 'barge-in' && e.cause === 'command'));
      assert.ok(Date.now() - pressed < 1000, 'within a second');
      assert.ok(run.filter((e) => e.type === 'playback-start').length < 8, 'before its end');
    }
  });
});

describe('bad messages', () => {
  test('oversize, malformed, unknown, empty, non-UTF-8 and wrong switch or button payloads: nothing is done, one log line, JARVIS carries on', async (t) => {
    const ha = await HomeAssistantClient.connect(t);
    const jarvis = await startJarvis(t);
    const { base, events, daemon, logLines } = jarvis;
    await ha.waitFor(online(base), 'JARVIS online');
    const bad: [string, string | Buffer][] = [
      [`${base}/command`, JSON.stringify({ action: 'announce', text: 'x'.repeat(5000) })],
      [`${base}/command`, '{"action":"announce"'],
      [`${base}/command`, '{"action":"dance","text":"now"}'],
      [`${base}/command`, '{"action":"announce","text":"   "}'],
      [`${base}/command`, '{"action":"announce","text":"hello","volume":11}'],
      [`${base}/command`, `{"action":"ask","text":"${'y'.repeat(1001)}"}`],
      [`${base}/command`, 'sing: a song'],
      [`${base}/command`, Buffer.from([0x61, 0x6e, 0xff, 0xfe])],
      [`${base}/mute/set`, 'MAYBE'],
      [`${base}/stop`, 'NOW'],
    ];
    for (const [topic, payload] of bad) await ha.publish(topic, payload);
    // A good one after them: once it is answered, every bad one before it has been read.
    await ha.publish(`${base}/command`, 'ask: what is the capital of France');
    await ha.waitFor((h) => h.topic === `${base}/reply`, 'the reply to the good question');
    assert.equal(jarvis.llm.questions.length, 1, 'only the good question was asked');
    assert.match(jarvis.llm.questions[0]!, /what is the capital of France$/);
    assert.ok(!events.some((e) => e.type === 'run-start' && e.trigger === 'alert'), 'nothing was announced');
    assert.equal(daemon.assistant.controls.muted, false);
    const warnings = logLines.filter((line) => line.includes('MQTT: ignored a message'));
    assert.equal(warnings.length, 1, `one throttled line for ${bad.length} bad messages: ${warnings.join('\n')}`);
    assert.match(warnings[0]!, /more than mqtt\.maxMessageBytes \(4096\).*announce/);
  });

  test('the warning about bad messages is throttled: the next one after the quiet time says how many were left out', () => {
    const lines: Record<string, unknown>[] = [];
    const log = createLogger('warn', new Writable({ write: (chunk, _encoding, done) => (lines.push(JSON.parse(String(chunk)) as Record<string, unknown>), done()) }));
    let now = 0;
    const warning = new ThrottledWarning(log, 30_000, () => now);
    for (let i = 0; i < 5; i++) warning.warn({ i }, 'bad message');
    now = 29_999;
    warning.warn({ i: 5 }, 'bad message');
    assert.equal(lines.length, 1);
    now = 30_000;
    warning.warn({ i: 6 }, 'bad message');
    assert.deepEqual(lines.map((l) => [l.msg, l.suppressed, l.i]), [['bad message', undefined, 0], ['bad message (and 5 more since the last such warning)', 5, 6]]);
  });
});

describe('the broker going away', () => {
  test('broker killed and restarted on the same port: a problem on the HUD with the fix meanwhile; JARVIS reconnects with back-off and publishes discovery and state again; a JARVIS started while it is down starts at once', async (t) => {
    const ha = await HomeAssistantClient.connect(t);
    const first = await startJarvis(t);
    await ha.waitFor(online(first.base), 'JARVIS online');
    const problem = (jarvis: Jarvis) => jarvis.daemon.assistant.state.problems.find((p) => p.id === MQTT_PROBLEM);

    await broker.kill();
    await until('the MQTT problem', () => problem(first) !== undefined);
    assert.match(problem(first)!.message, /^Home Assistant cannot see JARVIS: /);
    assert.equal(problem(first)!.blocking, false);

    const starting = Date.now();
    // This one has its account in the URL: it is taken out of everything logged or shown.
    const second = await startJarvis(t, { mqtt: { url: `mqtt://jarvis:${PASSWORD}@127.0.0.1:${broker.port}`, username: undefined, password: undefined } });
    assert.ok(Date.now() - starting < 2000, 'a broker that is down does not hold the start up');
    await until('the second JARVIS to report the broker', () => problem(second) !== undefined);
    assert.match(problem(second)!.message, new RegExp(`nothing answers at mqtt://127\\.0\\.0\\.1:${broker.port} \\(connection refused\\)`));
    assert.match(problem(second)!.fix, /Start the MQTT broker/);

    await broker.restart();
    await until('both reconnected', () => problem(first) === undefined && problem(second) === undefined, 5000);
    // The broker kept nothing (no persistence): what a new Home Assistant client sees was published again.
    const fresh = await HomeAssistantClient.connect(t, broker.url, [`homeassistant/+/${first.node}/+/config`, `${first.base}/#`]);
    await fresh.waitFor((h) => h.topic === `homeassistant/sensor/${first.node}/state/config` && h.retain, 'the discovery again');
    await fresh.waitFor((h) => h.topic === `${first.base}/availability` && h.payload === 'online' && h.retain, 'online again');
    await fresh.waitFor((h) => h.topic === `${first.base}/state` && h.retain, 'the state again');
    assert.ok(first.logLines.some((line) => line.includes('MQTT: connected to') && line.includes('again')));
    for (const jarvis of [first, second]) assert.ok(!jarvis.logLines.some((line) => line.includes(PASSWORD)), 'the password is not in the log');
  });

  test('last will: when the connection dies without a goodbye the broker publishes "offline"; JARVIS comes back "online"', async (t) => {
    // A cable between JARVIS and the broker that the test can cut (the broker only sees the TCP connection die).
    const sockets = new Set<net.Socket>();
    const cable = net.createServer((inbound) => {
      const outbound = net.connect(broker.port, '127.0.0.1');
      for (const socket of [inbound, outbound]) {
        sockets.add(socket);
        socket.on('error', () => {});
        socket.on('close', () => sockets.delete(socket));
      }
      inbound.pipe(outbound).pipe(inbound);
    });
    await new Promise<void>((resolve) => cable.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => cable.close(resolve));
    });
    const ha = await HomeAssistantClient.connect(t);
    const jarvis = await startJarvis(t, { mqtt: { url: `mqtt://127.0.0.1:${(cable.address() as net.AddressInfo).port}` } });
    const { base } = jarvis;
    await ha.waitFor(online(base), 'JARVIS online');

    const from = ha.heard.length;
    for (const socket of sockets) socket.destroy();
    const will = await ha.waitFor((h) => h.topic === `${base}/availability` && h.payload === 'offline', 'the last will', 5000, from);
    assert.ok(broker.log.some((line) => /jarvis-test-\d+ closed its connection|Client jarvis-test-\d+ .*disconnected/.test(line)), 'the broker saw the connection die');
    await ha.waitFor(online(base), 'JARVIS online again', 5000, ha.heard.indexOf(will) + 1);
  });
});

describe('settings', () => {
  test('mqtt.* from the environment (JARVIS_MQTT__URL…), defaults, and a password given twice refused with the key and the fix', () => {
    const config = parseConfig(configFromEnv({ JARVIS_MQTT__URL: 'mqtt://broker.home.arpa:1883', JARVIS_MQTT__PASSWORD_ENV: 'MQTT_PASSWORD' }));
    assert.deepEqual(
      [config.mqtt.url, config.mqtt.passwordEnv, config.mqtt.discoveryPrefix, config.mqtt.baseTopic, config.mqtt.conversation],
      ['mqtt://broker.home.arpa:1883', 'MQTT_PASSWORD', 'homeassistant', 'jarvis', true],
    );
    assert.match(config.mqtt.clientId, /^jarvis-[A-Za-z0-9_-]+$/);
    assert.throws(() => parseConfig({ mqtt: { url: 'mqtt://127.0.0.1', password: 'x', passwordEnv: 'MQTT_PASSWORD' } }), (error: unknown) => error instanceof ConfigError && /mqtt\.passwordEnv = "MQTT_PASSWORD": set mqtt\.password or mqtt\.passwordEnv, not both/.test(error.message));
    assert.throws(() => parseConfig({ mqtt: { url: 'http://127.0.0.1' } }), /mqtt\.url = "http:\/\/127\.0\.0\.1": an mqtt:\/\/, mqtts:\/\/, ws:\/\/ or wss:\/\/ URL/);
    assert.throws(() => parseConfig({ mqtt: { baseTopic: 'jarvis/#' } }), /mqtt\.baseTopic/);
  });
});

describe('jarvis doctor: the broker', () => {
  test('reachable and authorised; a wrong password, a missing password variable, an account without write access and a broker that is down each say what to fix', async () => {
    const settings = (mqtt: ConfigInput['mqtt']) => parseConfig({ mqtt: { url: broker.url, username: 'jarvis', baseTopic: 'jarvis/doctor-test', clientId: 'jarvis-doctor-test', ...mqtt } }).mqtt;
    const good = await checkBroker(settings({ passwordEnv: 'TEST_MQTT_PASSWORD' }), { env: { TEST_MQTT_PASSWORD: PASSWORD } });
    assert.match(good, new RegExp(`^${broker.url} as jarvis: may publish and subscribe under jarvis/doctor-test/; no JARVIS has been connected there yet$`));

    const failure = async (mqtt: ConfigInput['mqtt'], env: NodeJS.ProcessEnv = {}) => {
      const error = await checkBroker(settings(mqtt), { env, stepMs: 400 }).then(() => assert.fail('the check passed'), (caught: unknown) => caught);
      assert.ok(error instanceof JarvisError, String(error));
      assert.ok(!error.message.includes(PASSWORD) && !error.fix.includes(PASSWORD));
      return error;
    };
    const refused = await failure({ password: 'wrong' });
    assert.equal(refused.code, 'mqtt-refused');
    assert.match(refused.fix, /mqtt\.username and the password/);
    const unset = await failure({ passwordEnv: 'TEST_MQTT_PASSWORD' });
    assert.equal(unset.code, 'mqtt-password-missing');
    assert.match(unset.message, /TEST_MQTT_PASSWORD, which is not set/);
    const readOnly = await failure({ username: 'viewer', password: 'viewer-pw' });
    assert.equal(readOnly.code, 'mqtt-not-allowed');
    assert.match(readOnly.message, /does not let viewer publish to jarvis\/doctor-test\/doctor/);
    const closed = await new Promise<number>((resolve) => {
      const server = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const down = await failure({ url: `mqtt://127.0.0.1:${closed}`, password: PASSWORD });
    assert.equal(down.code, 'mqtt-unreachable');
    assert.match(down.fix, /Start the MQTT broker/);
  });
});
