import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { silentLogger } from '../base/log.ts';
import { ConfigError } from '../base/errors.ts';
import { parseConfig } from '../config/load.ts';
import type { ConfigInput, JarvisConfig } from '../config/schema.ts';
import { createDaemon } from '../core/daemon/daemon.ts';
import { AudioStreamConverter } from '../core/wyoming/audio-format.ts';
import { EventDecoder, encodeEvent, WyomingFrameError, WYOMING_VERSION } from '../core/wyoming/framing.ts';
import { WyomingServer, type WyomingSettings } from '../core/wyoming/server.ts';
import type { WyomingEngines } from '../core/wyoming/session.ts';
import type { PcmAudio, Synthesizer, Transcriber, Transcript } from '../voice/ports.ts';
import { WhisperTranscriber } from '../voice/stt/whisper.ts';
import { PiperSynthesizer } from '../voice/tts/piper.ts';
import { createWakeDetector } from '../voice/wake/select.ts';
import { floatToInt16, resampleFloat } from '../voice/wav.ts';
import { ScriptedResponder } from './fixtures/scripted-responder.ts';
import { concat, silence, speak } from './fixtures/speech.ts';
import { ensureTinyPiperVoice, TINY_VOICE_NAME } from './models/piper-voice.ts';
import { ensureTinyWhisperModel, TINY_WHISPER_TEXT } from './models/whisper-ggml.ts';

/**
 * The Wyoming server against exchanges from rhasspy/wyoming (its README's event flows, and the byte layouts of its
 * tests/test_event.py), spoken by a client written here from that README (not with the server's own decoder).
 * The engines are real: whisper.cpp on the test-made random-weight model (its words are not words, so what is
 * checked is that the audio sent reached it, converted, and its answer came back), Piper on the test-made voice, and
 * openWakeWord's shipped "hey jarvis" model on espeak-ng speech.
 */

// ---------------------------------------------------------------------------------------------------------------
// A Wyoming client as the README describes the format: a JSON header line, data_length bytes of JSON data merged
// over the header's "data", payload_length bytes of payload.

interface ReceivedEvent {
  header: Record<string, unknown>;
  type: string;
  data: Record<string, unknown>;
  payload: Buffer;
}

class TestClient {
  readonly events: ReceivedEvent[] = [];
  #bytes = Buffer.alloc(0);
  #waiters: (() => void)[] = [];
  closed: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.#bytes = Buffer.concat([this.#bytes, chunk]);
      this.#parse();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    void this.closed.then(() => this.#wake());
  }

  static connect(port: number, localAddress?: string): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: '127.0.0.1', ...(localAddress ? { localAddress } : {}) }, () => resolve(new TestClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Raw bytes, as they are. */
  write(bytes: Buffer | string): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(bytes, (error) => (error ? reject(error) : resolve())));
  }

  /** An event as the Python library writes it: data after the header (data_length), then the payload. */
  send(type: string, data: Record<string, unknown> = {}, payload?: Uint8Array): Promise<void> {
    const dataBytes = Object.keys(data).length > 0 ? Buffer.from(JSON.stringify(data)) : undefined;
    const header = { type, version: '1.7.0', ...(dataBytes ? { data_length: dataBytes.length } : {}), ...(payload?.length ? { payload_length: payload.length } : {}) };
    return this.write(Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), ...(dataBytes ? [dataBytes] : []), ...(payload?.length ? [Buffer.from(payload)] : [])]));
  }

  /** Audio in Wyoming's three events, `samplesPerChunk` frames per chunk (as wav_to_chunks does). */
  async sendAudio(audio: Buffer, format: { rate: number; width: number; channels: number }, samplesPerChunk = 1024): Promise<void> {
    await this.send('audio-start', { ...format, timestamp: 0 });
    const frame = format.width * format.channels;
    let timestamp = 0;
    for (let at = 0; at < audio.length; at += samplesPerChunk * frame) {
      const chunk = audio.subarray(at, at + samplesPerChunk * frame);
      await this.send('audio-chunk', { ...format, timestamp }, chunk);
      timestamp += Math.floor((chunk.length / frame / format.rate) * 1000);
    }
    await this.send('audio-stop', { timestamp });
  }

  /** The next event of `type` (or an error, or the end of the connection, which fail the wait). */
  async next(type: string, timeoutMs = 5000): Promise<ReceivedEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.events.findIndex((e) => e.type === type || e.type === 'error');
      if (index !== -1) {
        const [event] = this.events.splice(index, 1);
        if (event!.type !== type) throw new Error(`expected ${type}, got error ${JSON.stringify(event!.data)}`);
        return event!;
      }
      if (this.socket.destroyed) throw new Error(`connection closed before ${type}`);
      if (Date.now() > deadline) throw new Error(`no ${type} within ${timeoutMs} ms; got ${this.events.map((e) => e.type).join(', ')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The error event the server closes with, and the close. */
  async refusal(): Promise<Record<string, unknown>> {
    await this.closed;
    const error = this.events.find((e) => e.type === 'error');
    assert.ok(error, `an error event before the close; got ${this.events.map((e) => e.type).join(', ') || 'nothing'}`);
    return error.data;
  }

  close(): void {
    this.socket.destroy();
  }

  #parse(): void {
    for (;;) {
      const end = this.#bytes.indexOf(0x0a);
      if (end === -1) return;
      const header = JSON.parse(this.#bytes.subarray(0, end).toString('utf8')) as Record<string, unknown>;
      const dataLength = (header.data_length as number | undefined) ?? 0;
      const payloadLength = (header.payload_length as number | undefined) ?? 0;
      if (this.#bytes.length < end + 1 + dataLength + payloadLength) return;
      const data = { ...((header.data as Record<string, unknown> | undefined) ?? {}), ...(dataLength ? (JSON.parse(this.#bytes.subarray(end + 1, end + 1 + dataLength).toString('utf8')) as Record<string, unknown>) : {}) };
      const payload = Buffer.from(this.#bytes.subarray(end + 1 + dataLength, end + 1 + dataLength + payloadLength));
      this.#bytes = this.#bytes.subarray(end + 1 + dataLength + payloadLength);
      this.events.push({ header, type: header.type as string, data, payload });
      this.#wake();
    }
  }

  #wake(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }
}

// ---------------------------------------------------------------------------------------------------------------

/** The transcriber, recording the audio it was given. */
class RecordingTranscriber implements Transcriber {
  readonly engine: string;
  readonly heard: Int16Array[] = [];
  constructor(private readonly real: Transcriber) {
    this.engine = real.engine;
  }
  load = () => this.real.load();
  dispose = async () => {};
  transcribe(pcm16k: Int16Array, signal?: AbortSignal): Promise<Transcript> {
    this.heard.push(pcm16k);
    return this.real.transcribe(pcm16k, signal);
  }
}

/** The voice; its second sentence waits until `gate` opens (the client has heard the first one). */
class GatedSynthesizer implements Synthesizer {
  readonly engine: string;
  readonly sentences: string[] = [];
  gate: Promise<void> = Promise.resolve();
  constructor(private readonly real: Synthesizer) {
    this.engine = real.engine;
  }
  load = () => this.real.load();
  dispose = async () => {};
  async synthesize(request: { text: string; signal?: AbortSignal }): Promise<PcmAudio> {
    this.sentences.push(request.text);
    if (this.sentences.length > 1) await this.gate;
    return this.real.synthesize(request);
  }
}

const toBytes = (samples: Int16Array) => Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);

/** 16 kHz mono speech as 48 kHz, 16-bit, stereo (the same in both channels). */
function asStereo48k(speech: Int16Array): Buffer {
  const up = floatToInt16(resampleFloat(Float64Array.from(speech, (s) => s / 32768), 16_000, 48_000));
  const stereo = new Int16Array(up.length * 2);
  up.forEach((s, i) => {
    stereo[2 * i] = s;
    stereo[2 * i + 1] = s;
  });
  return toBytes(stereo);
}

function correlation(a: Int16Array, b: Int16Array): number {
  const n = Math.min(a.length, b.length);
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < n; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}

let dataDir: string;
let config: JarvisConfig;
let whisper: WhisperTranscriber;
let piper: PiperSynthesizer;
let heyJarvis: Int16Array;
let request: Int16Array;
let otherSpeech: Int16Array;
const servers: WyomingServer[] = [];

function testConfig(extra: ConfigInput = {}): JarvisConfig {
  return parseConfig({ dataDir, ...extra });
}

async function startServer(options: { settings?: Partial<WyomingSettings>; limits?: Partial<WyomingSettings['limits']>; engines?: WyomingEngines } = {}): Promise<{ server: WyomingServer; port: number }> {
  const settings: WyomingSettings = { ...config.wyoming, port: 0, ...options.settings, limits: { ...config.wyoming.limits, ...options.limits } };
  const server = new WyomingServer({
    settings,
    engines: options.engines ?? { transcriber: whisper, synthesizer: piper, createWakeDetector: () => createWakeDetector(config, silentLogger) },
    config: () => config,
    log: silentLogger,
  });
  servers.push(server);
  const { port } = await server.start();
  return { server, port };
}

before(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-wyoming-'));
  const [whisperModel, voice] = await Promise.all([ensureTinyWhisperModel(), ensureTinyPiperVoice()]);
  config = testConfig({ stt: { model: whisperModel }, tts: { voice } });
  whisper = new WhisperTranscriber({ model: whisperModel, threads: 2, language: 'en', useGpu: false });
  piper = new PiperSynthesizer({ voicePath: voice, rate: 1 });
  [heyJarvis, request, otherSpeech] = await Promise.all([
    speak('hey jarvis', { engine: 'espeak', voice: 'en-us', wordsPerMinute: 150 }),
    speak('what is the weather like tomorrow', { engine: 'espeak', voice: 'en-gb' }),
    speak('what a lovely day it is', { engine: 'espeak', voice: 'en-us' }),
  ]);
  await Promise.all([whisper.load(), piper.load()]);
});

after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await Promise.all([whisper?.dispose(), piper?.dispose()]);
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('framing, byte for byte as rhasspy/wyoming tests/test_event.py', () => {
  const limits = { maxHeaderBytes: 1024, maxDataBytes: 1024, maxPayloadBytes: 1024 };
  // test_read_event: inline "data" in the header, overwritten key by key by the data after it; Python's json.dumps.
  const pythonBytes = Buffer.from(
    '{"type": "test-event", "version": "1.7.0", "data_length": 16, "payload_length": 12, ' +
      '"data": {"test": "this will be overwritten by DATA", "test2": "this will not"}}\n' +
      '{"test": "data"}' +
      'test\npayload',
  );
  const expected = { type: 'test-event', data: { test: 'data', test2: 'this will not' }, payload: Buffer.from('test\npayload') };

  test('test_read_event: data_length bytes merge over inline data, then the payload (whole, and one byte per packet)', () => {
    const whole = new EventDecoder(limits).push(pythonBytes);
    assert.equal(whole.length, 1);
    assert.deepEqual({ ...whole[0], payload: Buffer.from(whole[0]!.payload!) }, expected);
    const decoder = new EventDecoder(limits);
    const events = [...pythonBytes].flatMap((byte) => decoder.push(Uint8Array.of(byte)));
    assert.deepEqual(events.map((e) => ({ ...e, payload: Buffer.from(e.payload!) })), [expected]);
    assert.equal(decoder.pendingBytes, 0);
  });

  test('test_write_event: header {type, version, data_length, payload_length}, then the data, then the payload, and nothing more', () => {
    const bytes = encodeEvent({ type: 'test-event', data: { test: 'data' }, payload: Buffer.from('test\npayload') });
    const end = bytes.indexOf(0x0a);
    const header = JSON.parse(bytes.subarray(0, end).toString()) as Record<string, unknown>;
    const dataLength = Buffer.byteLength(JSON.stringify({ test: 'data' }));
    assert.deepEqual(header, { type: 'test-event', version: WYOMING_VERSION, data_length: dataLength, payload_length: 12 });
    assert.deepEqual(JSON.parse(bytes.subarray(end + 1, end + 1 + dataLength).toString()), { test: 'data' });
    assert.equal(bytes.subarray(end + 1 + dataLength).toString(), 'test\npayload');

    // test_write_event_no_payload: no payload_length at all.
    const noPayload = encodeEvent({ type: 'test-event', data: { test: 'data' } });
    const line = noPayload.subarray(0, noPayload.indexOf(0x0a)).toString();
    assert.deepEqual(JSON.parse(line), { type: 'test-event', version: WYOMING_VERSION, data_length: dataLength });
    assert.equal(noPayload.length, line.length + 1 + dataLength);
  });

  test('malformed and oversize frames are refused as soon as they are seen, with what is wrong', () => {
    const refusal = (bytes: string, code: WyomingFrameError['code']) =>
      assert.throws(() => new EventDecoder(limits).push(Buffer.from(bytes)), (error: unknown) => error instanceof WyomingFrameError && error.code === code);
    refusal('not json\n', 'malformed-header');
    refusal('{"data": {}}\n', 'malformed-header');
    refusal('["describe"]\n', 'malformed-header');
    refusal('{"type": "x", "data": [1]}\n', 'malformed-header');
    refusal('{"type": "x", "data_length": -1}\n', 'malformed-header');
    refusal('{"type": "x", "data_length": 3}\n[1]', 'malformed-data');
    refusal(`{"type": "${'x'.repeat(2000)}`, 'header-too-long'); // no newline needed to know
    refusal('{"type": "x", "data_length": 5000}\n', 'data-too-long'); // before any of the data arrives
    refusal('{"type": "x", "payload_length": 5000}\n', 'payload-too-long');
    // "__proto__" in data is a plain key, not a way into Object.prototype.
    const hostile = '{"__proto__": {"bad": true}}';
    const [event] = new EventDecoder(limits).push(Buffer.from(`{"type": "x", "data_length": ${hostile.length}}\n${hostile}`));
    assert.equal(({} as Record<string, unknown>).bad, undefined);
    assert.deepEqual(Object.keys(event!.data), ['__proto__']);
  });
});

describe('audio conversion', () => {
  test('a stream converted chunk by chunk equals the whole recording converted at once (48 kHz stereo 16-bit and 22.05 kHz 32-bit → 16 kHz mono)', () => {
    const speech = concat(request, silence(100));
    const stereo = asStereo48k(speech);
    const whole = new AudioStreamConverter({ rate: 48_000, width: 2, channels: 2 }, 16_000).push(stereo);
    const stream = new AudioStreamConverter({ rate: 48_000, width: 2, channels: 2 }, 16_000);
    const parts: Int16Array[] = [];
    // Odd sizes: frames split between chunks, and chunks shorter than the filter.
    for (let at = 0, size = 7; at < stereo.length; at += size, size = (size * 7) % 4093 + 3) parts.push(stream.push(stereo.subarray(at, at + size)));
    parts.push(stream.end());
    const streamed = concat(...parts);
    assert.equal(streamed.length, Math.floor((stereo.length / 4) / 3));
    assert.ok(Math.abs(streamed.length - speech.length) <= 1);
    let worst = 0;
    for (let i = 0; i < whole.length; i++) worst = Math.max(worst, Math.abs(whole[i]! - streamed[i]!));
    assert.ok(worst <= 1, `streamed differs from whole by up to ${worst}`);
    assert.ok(correlation(streamed, speech) > 0.99, 'the speech itself comes out');

    const floats = resampleFloat(Float64Array.from(speech, (s) => s / 32768), 16_000, 22_050);
    const int32 = Buffer.alloc(floats.length * 4);
    floats.forEach((f, i) => int32.writeInt32LE(Math.round(Math.max(-1, Math.min(1, f)) * 0x7fffffff), i * 4));
    const back = new AudioStreamConverter({ rate: 22_050, width: 4, channels: 1 }, 16_000);
    const down = concat(...Array.from({ length: Math.ceil(int32.length / 4096) }, (_, i) => back.push(int32.subarray(i * 4096, (i + 1) * 4096))), back.end());
    assert.ok(Math.abs(down.length - speech.length) <= 2);
    assert.ok(correlation(down, speech) > 0.99);
  });
});

describe('Wyoming server, real engines', () => {
  test('describe → info: asr, tts and wake programs with their models, attribution, languages, installed, version', async () => {
    const { port } = await startServer();
    const client = await TestClient.connect(port);
    await client.send('describe');
    const info = await client.next('info');
    client.close();
    assert.equal(info.header.version, WYOMING_VERSION);
    assert.equal(typeof info.header.data_length, 'number', 'data after the header, as the Python library writes it');
    const programs = info.data as Record<string, Record<string, unknown>[]>;
    // Every field info.py's from_dict requires (description and version may be null).
    const artifact = (a: Record<string, unknown>) => {
      for (const key of ['name', 'attribution', 'installed', 'description', 'version']) assert.ok(key in a, `${String(a.name)} has ${key}`);
      const attribution = a.attribution as Record<string, unknown>;
      assert.equal(typeof attribution.name, 'string');
      assert.match(String(attribution.url), /^https:\/\//);
    };
    const [asr] = programs.asr!;
    const [tts] = programs.tts!;
    const [wake] = programs.wake!;
    for (const program of [asr!, tts!, wake!]) {
      artifact(program);
      assert.equal(program.installed, true);
    }
    const asrModels = asr!.models as Record<string, unknown>[];
    asrModels.forEach(artifact);
    assert.deepEqual(asrModels.map((m) => [m.name, m.languages, m.installed]), [[path.basename(config.stt.model, '.bin'), ['en'], true]]);
    const voices = tts!.voices as Record<string, unknown>[];
    voices.forEach(artifact);
    assert.deepEqual(voices.map((v) => [v.name, v.languages, v.installed]), [[TINY_VOICE_NAME, ['en_US'], true]]);
    const wakeModels = wake!.models as Record<string, unknown>[];
    wakeModels.forEach(artifact);
    assert.deepEqual(wakeModels.map((m) => [m.name, m.phrase, m.languages, m.installed]), [['hey_jarvis', 'hey jarvis', ['en'], true]]);
    assert.deepEqual(programs.handle, []);
  });

  test('transcribe + 48 kHz stereo audio → transcript from whisper.cpp, which got the speech as 16 kHz mono', async () => {
    const transcriber = new RecordingTranscriber(whisper);
    const { port } = await startServer({ engines: { transcriber } });
    const client = await TestClient.connect(port);
    await client.send('transcribe', { language: 'en' });
    await client.sendAudio(asStereo48k(request), { rate: 48_000, width: 2, channels: 2 });
    const transcript = await client.next('transcript', 15_000);
    client.close();
    // The test-made model says this for any audio: the check that it was the engine's answer for this audio is below.
    assert.deepEqual(transcript.data, { text: TINY_WHISPER_TEXT, language: 'en' });
    assert.equal(transcriber.heard.length, 1);
    const heard = transcriber.heard[0]!;
    assert.ok(Math.abs(heard.length - request.length) <= 1, `${heard.length} samples at 16 kHz for ${request.length} spoken`);
    assert.ok(correlation(heard, request) > 0.99, 'whisper.cpp got the speech that was sent');
  });

  test('synthesize → audio-start at the voice\'s rate, the sentences streamed as chunks (the first before the second is made), audio-stop', async () => {
    const voice = new GatedSynthesizer(piper);
    const { port } = await startServer({ engines: { synthesizer: voice } });
    const client = await TestClient.connect(port);
    let opened!: () => void;
    voice.gate = new Promise<void>((resolve) => (opened = resolve));
    await client.send('synthesize', { text: 'Hello there. The kitchen lights are on.', voice: { name: TINY_VOICE_NAME } });
    const start = await client.next('audio-start');
    const first = await client.next('audio-chunk');
    opened(); // the second sentence is synthesized only now: had the server waited for the whole text, this would time out
    const stop = await client.next('audio-stop', 10_000);
    const chunks = [first, ...client.events.filter((e) => e.type === 'audio-chunk')];
    client.close();

    assert.deepEqual(voice.sentences, ['Hello there.', 'The kitchen lights are on.']);
    assert.deepEqual({ rate: start.data.rate, width: start.data.width, channels: start.data.channels }, { rate: 22_050, width: 2, channels: 1 });
    for (const chunk of chunks) {
      assert.deepEqual([chunk.data.rate, chunk.data.width, chunk.data.channels], [22_050, 2, 1]);
      assert.ok(chunk.payload.length > 0 && chunk.payload.length <= 2048);
    }
    const [one, two] = await Promise.all([piper.synthesize({ text: 'Hello there.' }), piper.synthesize({ text: 'The kitchen lights are on.' })]);
    const sent = Buffer.concat(chunks.map((c) => c.payload));
    assert.equal(sent.length, (one.samples.length + two.samples.length) * 2, 'as long as what the engine made');
    assert.ok(sent.equals(Buffer.concat([toBytes(one.samples), toBytes(two.samples)])), 'and the same audio');
    assert.equal(stop.data.timestamp, Math.round(((one.samples.length + two.samples.length) / 22_050) * 1000));
  });

  test('detect + "hey jarvis" (real speech) → detection with its name and time; other speech → not-detected at audio-stop', async () => {
    const { port } = await startServer();
    const wake = await TestClient.connect(port);
    await wake.send('detect', { names: ['hey_jarvis'] });
    const spoken = concat(silence(1000), heyJarvis, silence(1000));
    await wake.sendAudio(toBytes(spoken), { rate: 16_000, width: 2, channels: 1 });
    const detection = await wake.next('detection');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(detection.data.name, 'hey_jarvis');
    const timestamp = detection.data.timestamp as number;
    assert.ok(timestamp >= 1000 && timestamp <= 1000 + (heyJarvis.length / 16) + 600, `detected at ${timestamp} ms, the phrase is at 1000–${1000 + Math.round(heyJarvis.length / 16)} ms`);

    const other = await TestClient.connect(port);
    await other.send('detect');
    await other.sendAudio(toBytes(concat(silence(500), otherSpeech, silence(500))), { rate: 16_000, width: 2, channels: 1 });
    await other.next('not-detected');
    assert.deepEqual(other.events.filter((e) => e.type === 'detection'), []);
    wake.close();
    other.close();
  });

  test('a wake word this server does not have, and a service it does not serve, are refused with the fix', async () => {
    const { port } = await startServer({ engines: { createWakeDetector: () => createWakeDetector(config, silentLogger) } });
    const client = await TestClient.connect(port);
    await client.send('detect', { names: ['ok_nabu'] });
    const refusal = await client.refusal();
    assert.equal(refusal.code, 'unknown-wake-word');
    assert.match(String(refusal.text), /hey_jarvis/);

    const tts = await TestClient.connect(port);
    await tts.send('synthesize', { text: 'Hello.' });
    assert.equal((await tts.refusal()).code, 'not-served');
  });
});

describe('Wyoming server, the wire', () => {
  test('data inline in the header and after it (data_length) are the same request; a payload split across TCP packets arrives whole', async () => {
    const transcriber = new RecordingTranscriber(whisper);
    const { port } = await startServer({ engines: { transcriber } });
    const client = await TestClient.connect(port);
    client.socket.setNoDelay(true);
    await client.write('{"type": "ping", "data": {"text": "inline"}}\n');
    assert.deepEqual((await client.next('pong')).data, { text: 'inline' });
    await client.write(`{"type": "ping", "data_length": ${'{"text": "separate"}'.length}}\n{"text": "separate"}`);
    assert.deepEqual((await client.next('pong')).data, { text: 'separate' });

    // One audio-chunk written in four pieces, the header itself cut in two, a pause between each.
    await client.write('{"type": "transcribe", "data": {"language": "en"}}\n{"type": "audio-start", "data": {"rate": 16000, "width": 2, "channels": 1}}\n');
    const audio = toBytes(request);
    const chunk = Buffer.concat([Buffer.from(`{"type": "audio-chunk", "data": {"rate": 16000, "width": 2, "channels": 1}, "payload_length": ${audio.length}}\n`), audio]);
    for (const cut of [[0, 20], [20, 200], [200, 9001], [9001, chunk.length]]) {
      await client.write(chunk.subarray(cut[0], cut[1]));
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
    await client.write('{"type": "audio-stop"}\n');
    await client.next('transcript', 15_000);
    client.close();
    assert.ok(Buffer.from(toBytes(transcriber.heard[0]!)).equals(audio), 'every byte of the payload, in order');
  });

  test('malformed and oversize input: an error event, that connection closed, the server still serving the next', async () => {
    const { port } = await startServer({ limits: { maxHeaderBytes: 512, maxPayloadBytes: 4096, maxAudioSeconds: 1 } });
    const expectRefusal = async (code: string, send: (client: TestClient) => Promise<void>) => {
      const client = await TestClient.connect(port);
      await send(client).catch(() => {}); // the server may close before all of it is written
      const refusal = await client.refusal();
      assert.equal(refusal.code, code, JSON.stringify(refusal));
      assert.ok(String(refusal.text).length > 20, 'says what is wrong');
    };
    await expectRefusal('malformed-header', (c) => c.write('this is not json\n'));
    await expectRefusal('header-too-long', (c) => c.write(`{"type": "describe", "data": {"x": "${'y'.repeat(600)}`));
    await expectRefusal('payload-too-long', (c) => c.write('{"type": "audio-chunk", "payload_length": 100000}\n'));
    await expectRefusal('no-request', (c) => c.send('audio-chunk', { rate: 16000, width: 2, channels: 1 }, new Uint8Array(64)));
    await expectRefusal('bad-audio-format', async (c) => {
      await c.send('transcribe');
      await c.send('audio-start', { rate: 16000, width: 5, channels: 1 });
    });
    await expectRefusal('too-much-audio', async (c) => {
      await c.send('transcribe');
      await c.sendAudio(toBytes(silence(1500)), { rate: 16_000, width: 2, channels: 1 }, 1000);
    });
    const client = await TestClient.connect(port);
    await client.send('describe');
    await client.next('info');
    client.close();
  });

  test('connections over wyoming.limits.maxConnections and idle ones are closed with an error event', async () => {
    const { port } = await startServer({ limits: { maxConnections: 2, idleTimeoutMs: 300 } });
    const [one, two] = await Promise.all([TestClient.connect(port), TestClient.connect(port)]);
    await one.send('ping');
    await one.next('pong');
    const three = await TestClient.connect(port);
    assert.equal((await three.refusal()).code, 'busy');
    // Nothing sent for idleTimeoutMs: closed, and room for a new client again.
    const idle = await two.refusal();
    assert.equal(idle.code, 'idle-timeout');
    one.close();
    await one.closed;
    const four = await TestClient.connect(port);
    await four.send('ping');
    await four.next('pong');
    four.close();
  });

  test('with allowedClients, another address is refused with the fix; a listed one is served', async () => {
    const { port } = await startServer({ settings: { host: '127.0.0.1', allowedClients: ['127.0.0.2', '10.0.0.0/8'] } });
    const stranger = await TestClient.connect(port, '127.0.0.1');
    const refusal = await stranger.refusal();
    assert.equal(refusal.code, 'not-allowed');
    assert.match(String(refusal.text), /127\.0\.0\.1.*wyoming\.allowedClients/);
    const known = await TestClient.connect(port, '127.0.0.2');
    await known.send('describe');
    await known.next('info');
    known.close();
  });

  test('config: a network address without allowedClients is refused at validation with the fix; defaults are loopback:10700, off', () => {
    assert.deepEqual([config.wyoming.enabled, config.wyoming.host, config.wyoming.port], [false, '127.0.0.1', 10_700]);
    assert.throws(() => testConfig({ wyoming: { enabled: true, host: '0.0.0.0' } }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.problems.map((p) => p.key), ['wyoming.allowedClients']);
      assert.match(error.problems[0]!.allowed, /wyoming\.allowedClients.*192\.168\.1\.20.*or set wyoming\.host to 127\.0\.0\.1/);
      return true;
    });
    assert.throws(() => testConfig({ wyoming: { allowedClients: ['kitchen', '10.0.0.0/33'] } }), (error: unknown) => error instanceof ConfigError && error.problems.length === 2);
    assert.equal(testConfig({ wyoming: { enabled: true, host: '0.0.0.0', allowedClients: ['192.168.1.0/24', 'fd00::1'] } }).wyoming.host, '0.0.0.0');
  });
});

describe('in the daemon', () => {
  test('createDaemon serves Wyoming with its engines, its voice too on a box with no speaker; a port in use is a problem with the fix, not a crash; dispose closes it', async () => {
    const make = (port: number) =>
      createDaemon(testConfig({ stt: { model: config.stt.model }, tts: { voice: config.tts.voice }, skills: { enabled: false }, wyoming: { enabled: true, port } }), {
        log: silentLogger,
        wyoming: true,
        engines: { transcriber: whisper, synthesizer: piper, llm: new ScriptedResponder(() => 'Fine.') },
      });
    const daemon = await make(0);
    const port = daemon.wyoming!.address!.port;
    const client = await TestClient.connect(port);
    await client.send('describe');
    const info = (await client.next('info')).data as Record<string, unknown[]>;
    assert.deepEqual([info.asr!.length, info.tts!.length, info.wake!.length], [1, 1, 1]);
    await client.send('synthesize', { text: 'Good evening.' });
    await client.next('audio-stop');
    client.close();

    const second = await make(port);
    assert.equal(second.wyoming, undefined);
    const problem = second.assistant.state.problems.find((p) => p.id === 'wyoming-server');
    assert.ok(problem, JSON.stringify(second.assistant.state.problems));
    assert.match(problem.message, new RegExp(`port ${port}.*in use`));
    assert.match(problem.fix, /wyoming\.port/);
    await second.dispose();

    await daemon.dispose();
    await assert.rejects(TestClient.connect(port), /ECONNREFUSED/);
  });
});
