import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { AudioDeviceError, AudioFormatError, PlaybackStoppedError } from '../base/errors.ts';
import { WavFileSource } from '../voice/audio/file-source.ts';
import { MicrophoneSource } from '../voice/audio/mic-source.ts';
import { Int16Assembler } from '../voice/audio/pcm-stream.ts';
import { SpeakerSink } from '../voice/audio/speaker-sink.ts';
import { StdinSource } from '../voice/audio/stdin-source.ts';
import { VirtualSink } from '../voice/audio/virtual-sink.ts';
import type { AudioSource, PcmAudio } from '../voice/ports.ts';
import { encodeWav, readWavFile, resampleInt16 } from '../voice/wav.ts';
import { startPulse, type PulseServer } from './fixtures/pulse.ts';
import { concat, silence, speak } from './fixtures/speech.ts';

/**
 * The capture and playback path against a real PulseAudio daemon with virtual devices (test/fixtures/pulse.ts):
 * real parec/arecord/pacat/aplay processes, real server timing. Needs Debian's pulseaudio, pulseaudio-utils,
 * alsa-utils, libasound2-plugins (ALSA's "pulse" device, for the arecord/aplay paths), sox and espeak-ng.
 */

const run = promisify(execFile);
const RATE = 16_000;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-audio-test-'));
let pulse: PulseServer;
let clip: Int16Array;

before(async () => {
  [pulse, clip] = await Promise.all([startPulse(), speak('turn on the kitchen lights')]);
});

after(async () => {
  await pulse?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

// ---------- signal helpers ----------

/** RMS per 10 ms frame. */
function envelope(samples: Int16Array, frame = RATE / 100): Float64Array {
  const out = new Float64Array(Math.floor(samples.length / frame));
  for (let f = 0; f < out.length; f++) {
    let sum = 0;
    for (let i = f * frame; i < (f + 1) * frame; i++) sum += samples[i]! * samples[i]!;
    out[f] = Math.sqrt(sum / frame);
  }
  return out;
}

/**
 * Where `reference` sits inside `captured` and how alike the two are there (normalised cross-correlation,
 * 1 = identical up to gain). Coarse search on energy envelopes, then sample-exact around the best frame.
 */
function locate(captured: Int16Array, reference: Int16Array): { lag: number; ncc: number } {
  const frame = RATE / 100;
  const ce = envelope(captured, frame);
  const re = envelope(reference, frame);
  let bestFrame = 0;
  let bestScore = -Infinity;
  for (let lag = 0; lag + re.length <= ce.length; lag++) {
    let score = 0;
    for (let i = 0; i < re.length; i++) score += ce[lag + i]! * re[i]!;
    if (score > bestScore) [bestScore, bestFrame] = [score, lag];
  }
  let best = { lag: 0, ncc: -Infinity };
  let refEnergy = 0;
  for (const s of reference) refEnergy += s * s;
  for (let lag = Math.max(0, (bestFrame - 2) * frame); lag <= (bestFrame + 2) * frame; lag++) {
    if (lag + reference.length > captured.length) break;
    let dot = 0;
    let capEnergy = 0;
    for (let i = 0; i < reference.length; i++) {
      const c = captured[lag + i]!;
      dot += c * reference[i]!;
      capEnergy += c * c;
    }
    const ncc = dot / Math.sqrt(capEnergy * refEnergy || 1);
    if (ncc > best.ncc) best = { lag, ncc };
  }
  return best;
}

/** Indices of the first and last sample above `threshold`, or [-1, -1]. */
function audibleSpan(samples: Int16Array, threshold = 300): [number, number] {
  let first = -1;
  let last = -1;
  for (let i = 0; i < samples.length; i++) {
    if (Math.abs(samples[i]!) > threshold) {
      if (first < 0) first = i;
      last = i;
    }
  }
  return [first, last];
}

function tone(hz: number, ms: number, rate: number, amplitude = 12_000): Int16Array {
  const length = Math.round((ms / 1000) * rate);
  return Int16Array.from({ length }, (_, i) => Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / rate)));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Collects a source's chunks with their arrival times until `signal` aborts or the source ends. */
async function collect(source: AudioSource, signal: AbortSignal) {
  const chunks: Int16Array[] = [];
  const arrivals: [endSample: number, at: number][] = [];
  let total = 0;
  for await (const chunk of source.chunks(signal)) {
    chunks.push(chunk);
    total += chunk.length;
    arrivals.push([total, performance.now()]);
  }
  return { samples: concat(...chunks), chunks, arrivals };
}

async function expectDeviceError(promise: Promise<unknown>, fixPattern: RegExp, withinMs: number): Promise<AudioDeviceError> {
  const startedAt = performance.now();
  const error = await promise.then(
    () => assert.fail('expected an AudioDeviceError'),
    (e: unknown) => e,
  );
  const elapsed = performance.now() - startedAt;
  assert.ok(error instanceof AudioDeviceError, `expected AudioDeviceError, got ${String(error)}`);
  assert.match(error.fix, fixPattern);
  assert.ok(elapsed < withinMs, `took ${elapsed.toFixed(0)} ms, allowed ${withinMs}`);
  return error;
}

async function sourceOutputs(): Promise<number> {
  return (await pulse.pactl('list', 'short', 'source-outputs')).trim().split('\n').filter(Boolean).length;
}

// ---------- microphone ----------

describe('MicrophoneSource on a real PulseAudio server', () => {
  for (const [backend, device] of [['parec', 'default'], ['arecord', 'pulse']] as const) {
    test(`${backend} captures espeak-ng speech played into the virtual microphone`, async (t) => {
      const mic = new MicrophoneSource({ backend, device, env: pulse.env });
      const controller = new AbortController();
      const capture = collect(mic, controller.signal);
      await sleep(150);
      const playedAt = performance.now();
      await pulse.playIntoMic(clip);
      await sleep(250);
      controller.abort();
      const { samples, chunks, arrivals } = await capture;

      assert.ok(chunks.every((c) => c instanceof Int16Array));
      const { lag, ncc } = locate(samples, clip);
      // The mic sink runs at 16 kHz mono like the clip, so apart from timing the capture is the clip itself.
      assert.ok(ncc > 0.95, `captured audio matches the spoken clip (ncc ${ncc.toFixed(3)})`);
      const [onset] = audibleSpan(clip);
      const arrival = arrivals.find(([end]) => end > lag + onset)![1];
      const latency = arrival - (playedAt + (onset / RATE) * 1000);
      t.diagnostic(
        `${backend}: ncc ${ncc.toFixed(3)}; play-to-capture latency ${latency.toFixed(0)} ms; ${chunks.length} chunks`,
      );
      assert.ok(latency < 500, `speech reached the consumer ${latency.toFixed(0)} ms after it was played`);
    });
  }

  test("'auto' uses parec when the server answers and arecord when none does", async () => {
    assert.equal(await new MicrophoneSource({ env: pulse.env }).resolveBackend(), 'parec');
    const noServer = { ...pulse.env, PULSE_SERVER: 'unix:/nonexistent/socket' };
    assert.equal(await new MicrophoneSource({ env: noServer }).resolveBackend(), 'arecord');
  });

  test('aborting ends the iteration and the recorder process', async () => {
    const before = await sourceOutputs();
    const controller = new AbortController();
    const capture = collect(new MicrophoneSource({ backend: 'parec', env: pulse.env }), controller.signal);
    await sleep(200);
    assert.equal(await sourceOutputs(), before + 1);
    controller.abort();
    const { samples } = await capture;
    assert.ok(samples.length > 0);
    for (let i = 0; i < 20 && (await sourceOutputs()) > before; i++) await sleep(25);
    assert.equal(await sourceOutputs(), before, 'the recorder left the server');
  });

  test('no sound server, a missing device or a missing recorder: AudioDeviceError with a fix, promptly', async () => {
    const noServer = { ...pulse.env, PULSE_SERVER: 'unix:/nonexistent/socket' };
    const first = (source: MicrophoneSource) => source.chunks(new AbortController().signal)[Symbol.asyncIterator]().next();

    const e1 = await expectDeviceError(first(new MicrophoneSource({ backend: 'parec', env: noServer })), /start the sound server/i, 2000);
    assert.match(e1.message, /Connection refused/);
    // 'auto' falls back to ALSA; with no server its default device does not exist either.
    const e2 = await expectDeviceError(first(new MicrophoneSource({ env: noServer })), /start the sound server.*arecord -L/is, 3000);
    assert.match(e2.message, /arecord/);
    const badParec = new MicrophoneSource({ backend: 'parec', device: 'no-such-mic', env: pulse.env });
    await expectDeviceError(first(badParec), /pactl list short sources/, 2000);
    const badArecord = new MicrophoneSource({ backend: 'arecord', device: 'hw:9,0', env: pulse.env });
    await expectDeviceError(first(badArecord), /plug in a microphone.*arecord -L/i, 2000);
    await expectDeviceError(
      first(new MicrophoneSource({ backend: 'parec', env: { ...pulse.env, PATH: '/nonexistent' } })),
      /apt install pulseaudio-utils/,
      2000,
    );
  });

  test('a recorder that delivers nothing is an error, not a hang', async () => {
    // A suspended sink's monitor hands out no audio although parec stays connected.
    const mic = new MicrophoneSource({ backend: 'parec', env: pulse.env, noAudioTimeoutMs: 800 });
    const controller = new AbortController();
    const capture = collect(mic, controller.signal);
    await sleep(200);
    await pulse.pactl('suspend-sink', 'mic', '1');
    try {
      const error = await expectDeviceError(capture, /suspended/, 2500);
      assert.match(error.message, /no audio .* for 800 ms/);
    } finally {
      controller.abort();
      await pulse.pactl('suspend-sink', 'mic', '0');
    }
  });

  test('the sound server going away mid-stream fails capture and playback promptly', async () => {
    const doomed = await startPulse();
    try {
      const controller = new AbortController();
      const capture = collect(new MicrophoneSource({ backend: 'parec', env: doomed.env }), controller.signal);
      const speaker = new SpeakerSink({ backend: 'pacat', env: doomed.env });
      const playing = speaker.play({ samples: tone(440, 3000, RATE), sampleRate: RATE });
      await sleep(300);
      const killedAt = performance.now();
      process.kill(doomed.pid, 'SIGKILL');
      // Both at once: whichever fails second must already have a handler.
      await Promise.all([
        expectDeviceError(capture, /start the sound server/i, 1500),
        expectDeviceError(playing, /start the sound server/i, 1500),
      ]);
      assert.ok(performance.now() - killedAt < 1500);
      controller.abort();
      await speaker.close();
    } finally {
      await doomed.stop();
    }
  });
});

// ---------- speaker ----------

describe('SpeakerSink on a real PulseAudio server', () => {
  test('pacat: consecutive chunks play gap-free through one process and arrive at the speaker monitor', async (t) => {
    const voice = resampleInt16({ samples: clip, sampleRate: RATE }, 22_050);
    const third = Math.floor(voice.samples.length / 3);
    const parts = [0, 1, 2].map((i) => voice.samples.subarray(i * third, i === 2 ? undefined : (i + 1) * third));
    const recording = pulse.recordSpeaker();
    await recording.ready;
    const sink = new SpeakerSink({ backend: 'pacat', env: pulse.env });
    const played: number[] = [];
    sink.onPlayed((audio) => played.push(audio.samples.length));
    const startedAt = performance.now();
    const plays = parts.map((samples) => sink.play({ samples, sampleRate: 22_050 }));
    await sleep(100);
    assert.equal(sink.playerPids.length, 1, 'one player for one sample rate');
    await Promise.all(plays);
    const resolvedAfter = performance.now() - startedAt;
    await sleep(200);
    const heard = await recording.stop();
    await sink.close();

    assert.deepEqual(played, parts.map((p) => p.length));
    // Any gap between the chunks would break the sample-level match with the whole clip.
    const { lag, ncc } = locate(heard.samples, clip);
    assert.ok(ncc > 0.85, `monitor recording matches the clip (ncc ${ncc.toFixed(3)})`);
    const [first, last] = audibleSpan(heard.samples);
    const [clipFirst, clipLast] = audibleSpan(clip);
    assert.ok(Math.abs(last - first - (clipLast - clipFirst)) < RATE * 0.03, 'as long as the clip');
    const clipMs = (clip.length / RATE) * 1000;
    const soundedAt = heard.timeAt(lag) - startedAt;
    t.diagnostic(
      `clip sounds ${soundedAt.toFixed(0)} ms after play(); plays resolved after ${resolvedAfter.toFixed(0)} ms ` +
        `for ${clipMs.toFixed(0)} ms of audio; ncc ${ncc.toFixed(3)}`,
    );
    assert.ok(resolvedAfter >= clipMs && resolvedAfter < clipMs + 400, `play() resolved when heard (${resolvedAfter.toFixed(0)} ms)`);
  });

  test('aplay through ALSA reaches the same speaker', async () => {
    const recording = pulse.recordSpeaker();
    await recording.ready;
    const sink = new SpeakerSink({ backend: 'aplay', device: 'pulse', env: pulse.env });
    const samples = clip.subarray(0, RATE);
    await sink.play({ samples, sampleRate: RATE });
    await sleep(150);
    const heard = await recording.stop();
    await sink.close();
    const { ncc } = locate(heard.samples, samples);
    assert.ok(ncc > 0.85, `ncc ${ncc.toFixed(3)}`);
  });

  test('a change of sample rate plays in order without overlap', async (t) => {
    const recording = pulse.recordSpeaker();
    await recording.ready;
    const sink = new SpeakerSink({ backend: 'pacat', env: pulse.env });
    const order: number[] = [];
    sink.onPlayed((audio) => order.push(audio.sampleRate));
    await Promise.all([
      sink.play({ samples: tone(440, 400, RATE), sampleRate: RATE }),
      sink.play({ samples: tone(440, 400, 22_050), sampleRate: 22_050 }),
    ]);
    await sleep(150);
    const heard = await recording.stop();
    await sink.close();
    assert.deepEqual(order, [RATE, 22_050]);
    const [first, last] = audibleSpan(heard.samples);
    const spanMs = ((last - first) / RATE) * 1000;
    t.diagnostic(`pause between rates ${(spanMs - 800).toFixed(0)} ms`);
    // Two 400 ms tones: overlapping they would span less than 800 ms.
    assert.ok(spanMs > 795 && spanMs < 1100, `tones span ${spanMs.toFixed(0)} ms`);
  });

  test('stop() silences the speaker within 200 ms and rejects pending plays', async (t) => {
    const recording = pulse.recordSpeaker();
    await recording.ready;
    const sink = new SpeakerSink({ backend: 'pacat', env: pulse.env });
    const long = { samples: tone(440, 3000, 22_050), sampleRate: 22_050 };
    const plays = [sink.play(long), sink.play(long)];
    await sleep(800);
    const pids = sink.playerPids;
    assert.equal(pids.length, 1);
    const stoppedAt = performance.now();
    sink.stop();
    const outcomes = await Promise.allSettled(plays);
    let exitedAfter = Infinity;
    while (performance.now() - stoppedAt < 1000) {
      if (!isAlive(pids[0]!)) {
        exitedAfter = performance.now() - stoppedAt;
        break;
      }
      await sleep(2);
    }
    await sleep(300);
    const heard = await recording.stop();
    const [, last] = audibleSpan(heard.samples);
    const silentAfter = heard.timeAt(last) - stoppedAt;
    t.diagnostic(`stop-to-silence ${silentAfter.toFixed(0)} ms at the monitor; player exited after ${exitedAfter.toFixed(0)} ms`);

    for (const outcome of outcomes) {
      assert.equal(outcome.status, 'rejected');
      assert.ok((outcome as PromiseRejectedResult).reason instanceof PlaybackStoppedError);
    }
    assert.ok(exitedAfter < 200, `player exited ${exitedAfter.toFixed(0)} ms after stop()`);
    assert.ok(silentAfter < 200, `monitor silent ${silentAfter.toFixed(0)} ms after stop()`);
    // The sink stays usable after a stop.
    await sink.play({ samples: tone(440, 100, RATE), sampleRate: RATE });
    await sink.close();
  });

  test('no sound server or no player: AudioDeviceError with a fix, promptly', async () => {
    const noServer = { ...pulse.env, PULSE_SERVER: 'unix:/nonexistent/socket' };
    const audio = { samples: tone(440, 500, RATE), sampleRate: RATE };
    const attempt = async (sink: SpeakerSink) => {
      try {
        await sink.play(audio);
      } finally {
        await sink.close();
      }
    };
    await expectDeviceError(attempt(new SpeakerSink({ backend: 'pacat', env: noServer })), /start the sound server/i, 1500);
    await expectDeviceError(attempt(new SpeakerSink({ env: noServer })), /start the sound server.*aplay -L/is, 3000);
    const badSink = new SpeakerSink({ backend: 'pacat', device: 'no-such-sink', env: pulse.env });
    await expectDeviceError(attempt(badSink), /pactl list short sinks/, 1500);
    const noAplay = new SpeakerSink({ backend: 'aplay', env: { ...pulse.env, PATH: '/nonexistent' } });
    await expectDeviceError(attempt(noAplay), /apt install alsa-utils/, 1500);
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// ---------- WAV file, stdin ----------

describe('WavFileSource', () => {
  let rawClip: string;
  before(() => {
    rawClip = path.join(tmp, 'clip.raw');
    fs.writeFileSync(rawClip, Buffer.from(clip.buffer, clip.byteOffset, clip.byteLength));
  });
  const soxFromClip = async (name: string, ...format: string[]) => {
    const file = path.join(tmp, name);
    await run('sox', ['-t', 'raw', '-r', String(RATE), '-e', 'signed-integer', '-b', '16', '-c', '1', rawClip, ...format, file]);
    return file;
  };
  const all = (source: AudioSource) => collect(source, new AbortController().signal);

  for (const [label, format] of [
    ['44.1 kHz stereo 24-bit', ['-r', '44100', '-c', '2', '-b', '24', '-e', 'signed-integer']],
    ['48 kHz mono 32-bit float', ['-r', '48000', '-c', '1', '-b', '32', '-e', 'floating-point']],
  ] as const) {
    test(`${label} is converted to 16 kHz mono`, async () => {
      const file = await soxFromClip(`${label.replace(/\W+/g, '-')}.wav`, ...format);
      const { samples, chunks } = await all(new WavFileSource(file, { speed: Infinity }));
      assert.ok(Math.abs(samples.length - clip.length) < 20, `${samples.length} samples for ${clip.length}`);
      assert.ok(chunks.slice(0, -1).every((c) => c.length === 1280), '80 ms chunks');
      const { lag, ncc } = locate(samples, clip.subarray(0, clip.length - 40));
      assert.ok(lag < 10 && ncc > 0.97, `lag ${lag}, ncc ${ncc.toFixed(3)}`);
    });
  }

  test('MP3-in-WAV, garbage and missing files are refused with AudioFormatError', async () => {
    const mp3InWav = path.join(tmp, 'mp3.wav');
    fs.writeFileSync(mp3InWav, mpeg3Wav());
    const garbage = path.join(tmp, 'garbage.wav');
    fs.writeFileSync(garbage, Buffer.from('this is not audio at all, just some text pretending to be a WAV file'));
    for (const [file, pattern] of [
      [mp3InWav, /format tag 85/],
      [garbage, /not a readable WAV/],
      [path.join(tmp, 'absent.wav'), /cannot read/],
    ] as const) {
      await assert.rejects(all(new WavFileSource(file, { speed: Infinity })), (error: unknown) => {
        assert.ok(error instanceof AudioFormatError, String(error));
        assert.match(error.message, pattern);
        return true;
      });
    }
  });

  test('speed 1 takes about real time, speed Infinity does not wait, trailing silence is appended', async () => {
    const file = path.join(tmp, 'second.wav');
    fs.writeFileSync(file, encodeWav({ samples: tone(300, 1000, RATE), sampleRate: RATE }));
    let startedAt = performance.now();
    const paced = await all(new WavFileSource(file, { speed: 1, trailingSilenceMs: 240 }));
    const pacedMs = performance.now() - startedAt;
    assert.equal(paced.samples.length, RATE + 0.24 * RATE);
    assert.ok(pacedMs > 1150 && pacedMs < 1800, `1.24 s of audio took ${pacedMs.toFixed(0)} ms`);
    assert.equal(audibleSpan(paced.samples.subarray(RATE))[0], -1, 'the tail is silence');

    const long = path.join(tmp, 'ten-seconds.wav');
    fs.writeFileSync(long, encodeWav({ samples: concat(...Array.from({ length: 10 }, () => tone(300, 1000, RATE))), sampleRate: RATE }));
    startedAt = performance.now();
    const fast = await all(new WavFileSource(long, { speed: Infinity }));
    assert.equal(fast.samples.length, 10 * RATE);
    // Decoding alone takes a few hundred ms (more on a busy machine); paced, this would take 10 s.
    const unpacedMs = performance.now() - startedAt;
    assert.ok(unpacedMs < 2500, `10 s of audio unpaced took ${unpacedMs.toFixed(0)} ms`);

    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    startedAt = performance.now();
    const aborted = await collect(new WavFileSource(file, { speed: 1 }), controller.signal);
    const abortedAfter = performance.now() - startedAt;
    assert.ok(abortedAfter < 600 && aborted.samples.length < RATE, `abort ended a paced file after ${abortedAfter.toFixed(0)} ms`);
  });
});

describe('StdinSource', () => {
  test('reassembles samples split at odd byte offsets and ends with the stream', async () => {
    const input = new PassThrough();
    const source = new StdinSource(input, 'a pipe');
    const expected = clip.subarray(0, 4001);
    const bytes = Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength);
    const capture = collect(source, new AbortController().signal);
    for (let offset = 0, step = 1; offset < bytes.length; offset += step, step = (step % 7) + 2) {
      input.write(bytes.subarray(offset, offset + step));
    }
    input.end();
    const { samples } = await capture;
    assert.deepEqual(samples, expected);
  });

  test('abort ends the iteration without destroying the stream', async () => {
    const input = new PassThrough();
    const controller = new AbortController();
    const capture = collect(new StdinSource(input), controller.signal);
    input.write(Buffer.alloc(320));
    setTimeout(() => controller.abort(), 50);
    const { samples } = await capture;
    assert.equal(samples.length, 160);
    assert.equal(input.destroyed, false);
  });

  test('Int16Assembler carries a lone byte into the next chunk', () => {
    const assembler = new Int16Assembler();
    assert.deepEqual(assembler.push(Uint8Array.of(0x01)), new Int16Array(0));
    assert.deepEqual(assembler.push(Uint8Array.of(0x02, 0x03)), Int16Array.of(0x0201));
    assert.equal(assembler.pending, true);
    assert.deepEqual(assembler.push(Uint8Array.of(0x80)), Int16Array.of(-32765));
  });
});

// ---------- virtual sink ----------

describe('VirtualSink', () => {
  test('records what was heard, truncated at stop(), resampled to one rate, as a valid WAV', async () => {
    const sink = new VirtualSink({ sampleRate: RATE });
    const started: number[] = [];
    sink.onPlayed((audio) => started.push(audio.sampleRate));
    const plays = [
      sink.play({ samples: tone(440, 1000, 22_050), sampleRate: 22_050 }),
      sink.play({ samples: tone(440, 1000, RATE), sampleRate: RATE }),
    ];
    await sleep(150);
    const midway = (sink.recording().samples.length / RATE) * 1000;
    assert.ok(Math.abs(sink.heardMs() - midway) < 5);
    assert.ok(midway > 130 && midway < 220, `recording() includes the chunk playing now (${midway.toFixed(0)} ms)`);
    await sleep(150);
    sink.stop();
    const outcomes = await Promise.allSettled(plays);
    assert.ok(outcomes.every((o) => o.status === 'rejected' && o.reason instanceof PlaybackStoppedError));
    assert.deepEqual(started, [22_050], 'the second chunk never started');
    const heard = sink.recording();
    assert.equal(heard.sampleRate, RATE);
    const heardMs = (heard.samples.length / RATE) * 1000;
    assert.ok(heardMs > 280 && heardMs < 360, `heard ${heardMs.toFixed(0)} ms`);

    const file = path.join(tmp, 'reply.wav');
    await sink.writeWav(file);
    assert.deepEqual(await readWavFile(file), heard.samples);
    await sink.close();
  });

  test('with record: false (`jarvis start --output none`, a daemon running for weeks) it plays on time and keeps nothing', async () => {
    const sink = new VirtualSink({ speed: 50, record: false });
    const started = performance.now();
    for (let i = 0; i < 20; i++) await sink.play({ samples: tone(440, 1000, 22_050), sampleRate: 22_050 });
    const ms = performance.now() - started;
    assert.ok(ms > 300, `20 s of audio at 50x took ${ms.toFixed(0)} ms`);
    assert.equal(sink.heardMs(), 0);
    assert.equal(sink.recording().samples.length, 0);
    await sink.close();
  });

  test('plays everything at `speed`, in order, and resolves each play when heard', async () => {
    const sink = new VirtualSink({ speed: 20 });
    const chunks: PcmAudio[] = [
      { samples: tone(440, 1000, RATE), sampleRate: RATE },
      { samples: silence(500, 24_000), sampleRate: 24_000 },
      { samples: tone(880, 1000, 22_050), sampleRate: 22_050 },
    ];
    const startedAt = performance.now();
    await Promise.all(chunks.map((c) => sink.play(c)));
    const elapsed = performance.now() - startedAt;
    assert.ok(elapsed > 110 && elapsed < 400, `2.5 s at 20x took ${elapsed.toFixed(0)} ms`);
    assert.equal(sink.recording().samples.length, 2.5 * RATE);

    const gaps = new VirtualSink({ keepGaps: true });
    const beep = { samples: tone(440, 100, RATE), sampleRate: RATE };
    await gaps.play(beep);
    await sleep(200);
    await gaps.play(beep);
    const withGapMs = (gaps.recording().samples.length / RATE) * 1000;
    assert.ok(withGapMs > 390 && withGapMs < 480, `keepGaps records the pause (${withGapMs.toFixed(0)} ms)`);

    const instant = new VirtualSink({ speed: Infinity });
    await Promise.all(chunks.map((c) => instant.play(c)));
    assert.equal(instant.recording().samples.length, 2.5 * RATE);
    await Promise.all([sink.close(), gaps.close(), instant.close()]);
  });
});

/** A WAV whose data is MPEG layer 3 (format tag 0x55), as some tools write: header plus a few frame headers. */
function mpeg3Wav(): Buffer {
  const fmt = Buffer.alloc(30);
  fmt.writeUInt16LE(0x55, 0); // WAVE_FORMAT_MPEGLAYER3
  fmt.writeUInt16LE(1, 2); // channels
  fmt.writeUInt32LE(44_100, 4);
  fmt.writeUInt32LE(16_000, 8); // bytes per second (128 kbit/s)
  fmt.writeUInt16LE(1, 12); // block align
  fmt.writeUInt16LE(0, 14); // bits per sample
  fmt.writeUInt16LE(12, 16); // extra bytes
  fmt.writeUInt16LE(1, 18); // MPEGLAYER3_ID_MPEG
  fmt.writeUInt32LE(2, 20); // padding flags
  fmt.writeUInt16LE(417, 24); // block size
  fmt.writeUInt16LE(1, 26); // frames per block
  fmt.writeUInt16LE(1393, 28); // codec delay
  const data = Buffer.alloc(417 * 4);
  for (let i = 0; i < 4; i++) data.set([0xff, 0xfb, 0x90, 0x64], i * 417);
  const chunk = (id: string, body: Buffer) => {
    const header = Buffer.alloc(8);
    header.write(id, 0, 'latin1');
    header.writeUInt32LE(body.length, 4);
    return Buffer.concat([header, body]);
  };
  const fact = Buffer.alloc(4);
  fact.writeUInt32LE(4 * 1152, 0);
  const body = Buffer.concat([Buffer.from('WAVE'), chunk('fmt ', fmt), chunk('fact', fact), chunk('data', data)]);
  return chunk('RIFF', body);
}
