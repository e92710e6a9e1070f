import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { silentLogger } from '../base/log.ts';
import { summarize } from '../hud/src/lib/turn.ts';
import { parseConfig } from '../config/load.ts';
import { createDaemon, type Daemon } from '../core/daemon/daemon.ts';
import type { RunEvent } from '../core/protocol/run-events.ts';
import { VirtualSink } from '../voice/audio/virtual-sink.ts';
import { WhisperTranscriber } from '../voice/stt/whisper.ts';
import { PiperSynthesizer } from '../voice/tts/piper.ts';
import { startFakeHomeAssistant, type FakeHomeAssistant } from './fixtures/home-assistant.ts';
import { ScriptTranscriber } from './fixtures/script-transcriber.ts';
import { ScriptedResponder } from './fixtures/scripted-responder.ts';
import { concat, silence, speak } from './fixtures/speech.ts';
import { ensureTinyPiperVoice } from './models/piper-voice.ts';
import { ensureTinyWhisperModel } from './models/whisper-ggml.ts';
import { freePort } from './fixtures/free-port.ts';

/**
 * Satellites in other rooms, against a test satellite written from rhasspy/wyoming-satellite's satellite.py (the
 * events it sends and expects): a TCP server that JARVIS connects to, that answers `ping`, asks `run-pipeline`,
 * streams real espeak-ng speech as audio-chunks (without audio-start, as wyoming-satellite forwards its microphone),
 * stops streaming at `transcript` or `error`, and says `played` after each audio-stop. The daemon is the real one
 * (createDaemon: whisper.cpp on the test-made model, Piper on the test voice, openWakeWord and Silero VAD per
 * satellite, the local skills, Home Assistant's conversation API served by test/fixtures/home-assistant.ts). The
 * test-made Whisper cannot read words, so its transcripts are replaced with the words the satellite streamed
 * (test/fixtures/script-transcriber.ts), after it ran on the audio; the LLM is a scripted stand-in.
 */

interface Received {
  readonly type: string;
  readonly data: Record<string, unknown>;
  readonly payload: Buffer;
}

/** One wyoming-satellite, as JARVIS (in Home Assistant's place) sees it. */
class TestSatellite {
  /** Events JARVIS sent, over every connection. */
  readonly events: Received[] = [];
  readonly #reached = new Set<string>();
  #socket: net.Socket | undefined;
  #bytes = Buffer.alloc(0);
  #waiters: (() => void)[] = [];
  #streaming = false;
  connections = 0;
  /** Say `played` after each audio-stop (false: a satellite still playing). */
  autoPlayed = true;

  private constructor(readonly server: net.Server) {}

  static async start(port = 0): Promise<TestSatellite> {
    const server = net.createServer();
    const satellite = new TestSatellite(server);
    server.on('connection', (socket) => satellite.#accept(socket));
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return satellite;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  reached(label: string): boolean {
    return this.#reached.has(label);
  }

  #accept(socket: net.Socket): void {
    this.#socket?.destroy();
    this.#socket = socket;
    this.#bytes = Buffer.alloc(0);
    this.connections++;
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      this.#bytes = Buffer.concat([this.#bytes, chunk]);
      for (let event = this.#take(); event; event = this.#take()) this.#received(event);
    });
  }

  /** A header line, then data_length bytes of JSON data, then payload_length bytes (rhasspy/wyoming's README). */
  #take(): Received | undefined {
    const newline = this.#bytes.indexOf(0x0a);
    if (newline < 0) return undefined;
    const header = JSON.parse(this.#bytes.subarray(0, newline).toString('utf8')) as Record<string, unknown>;
    const dataLength = Number(header.data_length ?? 0);
    const payloadLength = Number(header.payload_length ?? 0);
    if (this.#bytes.length < newline + 1 + dataLength + payloadLength) return undefined;
    const body = this.#bytes.subarray(newline + 1);
    const data = { ...(header.data as object), ...(dataLength ? JSON.parse(body.subarray(0, dataLength).toString('utf8')) : {}) };
    const payload = Buffer.from(body.subarray(dataLength, dataLength + payloadLength));
    this.#bytes = Buffer.from(body.subarray(dataLength + payloadLength));
    return { type: String(header.type), data, payload };
  }

  #received(event: Received): void {
    this.events.push(event);
    if (event.type === 'ping') this.send('pong', {});
    // wyoming-satellite's WakeStreamingSatellite: a transcript or an error ends the streaming.
    if (event.type === 'transcript' || event.type === 'error') this.#streaming = false;
    if (event.type === 'audio-stop' && this.autoPlayed) this.send('played', {});
    for (const wake of this.#waiters.splice(0)) wake();
  }

  send(type: string, data: Record<string, unknown>, payload?: Uint8Array): void {
    const body = Buffer.from(JSON.stringify(data));
    const header = { type, data_length: body.length, ...(payload ? { payload_length: payload.length } : {}) };
    this.#socket?.write(Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), body, ...(payload ? [Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)] : [])]));
  }

  /** Streams `parts` as 16 kHz mono audio-chunks of 1024 samples until told to stop (transcript or error). */
  async stream(parts: readonly { samples: Int16Array; label?: string }[]): Promise<void> {
    this.#streaming = true;
    for (const part of parts) {
      if (part.label) this.#reached.add(part.label);
      for (let at = 0; at < part.samples.length && this.#streaming; at += 1024) {
        const chunk = part.samples.subarray(at, at + 1024);
        this.send('audio-chunk', { rate: 16000, width: 2, channels: 1 }, new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        await yieldToEventLoop();
      }
    }
  }

  /** The next event of `type` JARVIS sends after `from` events (default: all so far count). */
  async next(type: string, from = 0, timeoutMs = 8000): Promise<Received> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.slice(from).find((e) => e.type === type);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no ${type} from JARVIS; got ${this.events.slice(from).map((e) => e.type).join(', ')}`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  disconnect(): void {
    this.#socket?.destroy();
  }

  async close(): Promise<void> {
    this.#socket?.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}


async function until(check: () => boolean, what: string, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

let dataDir: string;
let home: FakeHomeAssistant;
let kitchen: TestSatellite;
let livingRoom: TestSatellite;
let garagePort: number;
let daemon: Daemon;
let mainSpeaker: VirtualSink;
let whisper: WhisperTranscriber;
let piper: PiperSynthesizer;
let llm: ScriptedResponder;
const runs = new Map<number, RunEvent[]>();
let clips: Record<'heyJarvis' | 'lightsOff' | 'whatTime' | 'story', Int16Array>;

const SCRIPT = [
  { label: 'lights', text: 'turn off the lights' },
  { label: 'time', text: 'hey jarvis what time is it' },
  { label: 'story', text: 'tell me a story' },
];

function outcomeOf(events: readonly RunEvent[]): string | undefined {
  const end = events.at(-1);
  return end?.type === 'run-end' ? end.outcome : undefined;
}

/** The run events of the run that `satellite` started last. */
function lastRunOf(name: string): RunEvent[] {
  const mine = [...runs.values()].filter((events) => events[0]?.type === 'run-start' && events[0].satellite?.name === name);
  return mine.at(-1) ?? [];
}

before(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-satellite-'));
  const [whisperModel, voice] = await Promise.all([ensureTinyWhisperModel(), ensureTinyPiperVoice()]);
  [home, kitchen, livingRoom, garagePort] = await Promise.all([startFakeHomeAssistant(), TestSatellite.start(), TestSatellite.start(), freePort()]);
  const [heyJarvis, lightsOff, whatTime, story] = await Promise.all([
    speak('hey jarvis', { engine: 'espeak', voice: 'en-us', wordsPerMinute: 150 }),
    speak('turn off the lights', { engine: 'espeak', voice: 'en-gb' }),
    speak('what time is it', { engine: 'espeak', voice: 'en-us' }),
    speak('tell me a story', { engine: 'espeak', voice: 'en-us' }),
  ]);
  clips = { heyJarvis: heyJarvis!, lightsOff: lightsOff!, whatTime: whatTime!, story: story! };
  whisper = new WhisperTranscriber({ model: whisperModel, threads: 2, language: 'en', useGpu: false });
  piper = new PiperSynthesizer({ voicePath: voice, rate: 1 });
  await Promise.all([whisper.load(), piper.load()]);
  // Each satellite's transcript is what it streamed last: the three never stream at once here.
  const reached = { reached: (label: string) => kitchen.reached(label) || livingRoom.reached(label) };
  llm = new ScriptedResponder(() => 'Once upon a time there was a lamp. It lived in the kitchen. The end.', 20);
  mainSpeaker = new VirtualSink({ speed: 0 });
  const config = parseConfig({
    dataDir,
    stt: { model: whisperModel },
    tts: { voice },
    home: { url: home.url, token: home.token, timeoutMs: 2000 },
    satellites: [
      { name: 'kitchen', host: '127.0.0.1', port: kitchen.port, area: 'Kitchen', reconnectMs: 100 },
      { name: 'living room', host: '127.0.0.1', port: livingRoom.port, area: 'Living Room', reconnectMs: 100 },
      { name: 'garage', host: '127.0.0.1', port: garagePort, reconnectMs: 100, reconnectMaxMs: 200 },
    ],
  });
  daemon = await createDaemon(config, {
    log: silentLogger,
    sink: mainSpeaker,
    satellites: true,
    engines: { transcriber: new ScriptTranscriber(whisper, reached, SCRIPT), synthesizer: piper, llm },
  });
  daemon.assistant.bus.subscribe((event) => {
    const list = runs.get(event.runId) ?? [];
    list.push(event);
    runs.set(event.runId, list);
  });
});

after(async () => {
  await daemon?.dispose();
  await Promise.all([kitchen?.close(), livingRoom?.close(), home?.close()]);
  await Promise.all([whisper?.dispose(), piper?.dispose()]);
  await mainSpeaker?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('satellites in other rooms', () => {
  test('JARVIS connects and says run-satellite; a pipeline it cannot run is refused with why, and the link stays', async () => {
    await kitchen.next('run-satellite');
    const from = kitchen.events.length;
    kitchen.send('run-pipeline', { start_stage: 'tts', end_stage: 'tts', announce_text: 'hello' });
    const refused = await kitchen.next('error', from);
    assert.equal(refused.data.code, 'unsupported-pipeline');
    assert.match(String(refused.data.text), /"wake" or "asr"/);
    kitchen.send('ping', { text: 'still there?' });
    assert.deepEqual((await kitchen.next('pong', from)).data, { text: 'still there?' });
  });

  test('after its own wake word (start_stage asr) the kitchen is heard, "turn off the lights" turns off the Kitchen\'s lights (words from the script), and the answer plays on the kitchen satellite, not the main speaker', async () => {
    const from = kitchen.events.length;
    kitchen.send('detection', { name: 'hey_jarvis' });
    kitchen.send('run-pipeline', { start_stage: 'asr', end_stage: 'tts', restart_on_end: false, snd_format: { rate: 22050, width: 2, channels: 1 } });
    await kitchen.stream([{ samples: silence(200) }, { samples: clips.lightsOff, label: 'lights' }, { samples: silence(3000) }]);
    const order = ['voice-started', 'voice-stopped', 'transcript', 'synthesize', 'audio-start', 'audio-stop'];
    for (const type of order) await kitchen.next(type, from);
    const sent = kitchen.events.slice(from);
    const at = (type: string) => sent.findIndex((e) => e.type === type);
    assert.deepEqual([...order].sort((a, b) => at(a) - at(b)), order);
    assert.equal(sent.find((e) => e.type === 'transcript')!.data.text, 'turn off the lights');

    await until(() => lastRunOf('kitchen').some((e) => e.type === 'run-end'), 'the kitchen run to end');
    const events = lastRunOf('kitchen');
    assert.deepEqual(events[0], { ...events[0], type: 'run-start', trigger: 'satellite', satellite: { name: 'kitchen', area: 'Kitchen' } });
    assert.equal(outcomeOf(events), 'answered');
    // The HUD's conversation view says where it was asked ("You said in the Kitchen").
    assert.equal(summarize({ runId: events[0]!.runId, events: [...events], answer: '' }).room, 'Kitchen');
    // Home Assistant got the request in the satellite's room, and only that room's lights went off.
    assert.equal(home.sentences.at(-1)!.text, 'turn off the lights in the Kitchen');
    assert.equal(home.entity('light.kitchen').state, 'off');
    assert.equal(home.entity('light.living_room').state, 'on');
    // The spoken answer's audio, every sample of it, went to the kitchen at the voice's rate; none to the main speaker.
    const start = sent.find((e) => e.type === 'audio-start')!;
    const rate = await piper.sampleRate();
    assert.equal(start.data.rate, rate);
    const bytes = sent.filter((e) => e.type === 'audio-chunk').reduce((n, e) => n + e.payload.length, 0);
    const spokenMs = events.filter((e) => e.type === 'tts-end').reduce((n, e) => n + (e.type === 'tts-end' ? e.audioMs : 0), 0);
    assert.ok(Math.abs((bytes / 2 / rate) * 1000 - spokenMs) < 1, `${bytes} bytes for ${spokenMs} ms`);
    assert.equal(mainSpeaker.recording().samples.length, 0);
  });

  test('start_stage wake: JARVIS hears "hey jarvis" (real speech) on the living room\'s stream, says detection, answers "what time is it" there, and listens again (restart_on_end)', async () => {
    await livingRoom.next('run-satellite');
    const from = livingRoom.events.length;
    livingRoom.send('run-pipeline', { start_stage: 'wake', end_stage: 'tts', restart_on_end: true });
    await livingRoom.stream([{ samples: silence(500) }, { samples: concat(clips.heyJarvis, silence(250)), label: 'time' }, { samples: clips.whatTime }, { samples: silence(3000) }]);
    const detection = await livingRoom.next('detection', from);
    assert.equal(detection.data.name, 'hey_jarvis');
    assert.ok(Number(detection.data.timestamp) >= 500, 'heard after the half second of silence');
    assert.equal((await livingRoom.next('transcript', from)).data.text, 'what time is it');
    await livingRoom.next('audio-stop', from);
    await until(() => lastRunOf('living room').some((e) => e.type === 'run-end'), 'the living room run to end');
    const events = lastRunOf('living room');
    const wake = events.find((e) => e.type === 'wake');
    assert.ok(wake && wake.type === 'wake' && wake.engine.length > 0);
    assert.match(events.filter((e) => e.type === 'sentence').map((e) => (e.type === 'sentence' ? e.text : '')).join(' '), /\d/);
    assert.equal(outcomeOf(events), 'answered');
    // Restarted: the wake word heard again opens a new run in the living room.
    const runsBefore = runs.size;
    const again = livingRoom.events.length;
    await livingRoom.stream([{ samples: silence(300) }, { samples: concat(clips.heyJarvis, silence(300)) }]);
    await livingRoom.next('detection', again);
    await until(() => runs.size > runsBefore, 'a second living room run');
  });

  test('"stop" from the HUD stops a satellite\'s answer; a satellite that goes away mid-answer ends its turn and is reconnected', async () => {
    kitchen.autoPlayed = false;
    let from = kitchen.events.length;
    kitchen.send('run-pipeline', { start_stage: 'asr', end_stage: 'tts' });
    await kitchen.stream([{ samples: clips.story, label: 'story' }, { samples: silence(3000) }]);
    await kitchen.next('audio-stop', from);
    daemon.assistant.stop();
    await until(() => lastRunOf('kitchen').some((e) => e.type === 'run-end'), 'the stopped run to end');
    let events = lastRunOf('kitchen');
    assert.ok(events.some((e) => e.type === 'barge-in' && e.cause === 'command'));
    assert.equal(outcomeOf(events), 'interrupted');
    assert.equal(kitchen.events.slice(from).filter((e) => e.type === 'audio-start').length, 1, 'no sentence after the stop');

    const connections = kitchen.connections;
    from = kitchen.events.length;
    kitchen.send('run-pipeline', { start_stage: 'asr', end_stage: 'tts' });
    await kitchen.stream([{ samples: clips.story, label: 'story' }, { samples: silence(3000) }]);
    await kitchen.next('audio-start', from);
    kitchen.disconnect();
    await until(() => lastRunOf('kitchen')[0] !== events[0] && lastRunOf('kitchen').some((e) => e.type === 'run-end'), 'the cut-off run to end');
    events = lastRunOf('kitchen');
    assert.equal(outcomeOf(events), 'interrupted');
    assert.ok(events.some((e) => e.type === 'barge-in' && /kitchen satellite went away/.test(e.detail ?? '')));
    await until(() => kitchen.connections > connections, 'JARVIS to reconnect');
    await kitchen.next('run-satellite', from + 1);
    kitchen.autoPlayed = true;
  });

  test('a satellite that cannot be reached is a problem on the HUD with the fix, retried until it is there', async () => {
    await until(() => daemon.assistant.state.problems.some((p) => p.id === 'satellite-garage'), 'the garage problem');
    const problem = daemon.assistant.state.problems.find((p) => p.id === 'satellite-garage')!;
    assert.match(problem.message, new RegExp(`"garage" satellite at 127\\.0\\.0\\.1:${garagePort} cannot be reached`));
    assert.match(problem.fix, /wyoming-satellite listens on port/);
    assert.equal(problem.blocking, false);
    const garage = await TestSatellite.start(garagePort);
    try {
      await garage.next('run-satellite');
      await until(() => !daemon.assistant.state.problems.some((p) => p.id === 'satellite-garage'), 'the garage problem to clear');
    } finally {
      await garage.close();
    }
  });
});
