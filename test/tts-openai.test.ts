import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ModelServerError } from '../base/openai-server.ts';
import { parseConfig } from '../config/load.ts';
import { EspeakSynthesizer } from '../voice/tts/espeak.ts';
import { FallbackSynthesizer } from '../voice/tts/fallback.ts';
import { OpenAiSynthesizer, openAiSynthesizer } from '../voice/tts/openai.ts';
import { PiperSynthesizer } from '../voice/tts/piper.ts';
import { createSynthesizer } from '../voice/tts/select.ts';
import { StreamedAudioDecoder, UnplayableAudioError } from '../voice/tts/streamed-audio.ts';
import type { PcmAudio } from '../voice/ports.ts';
import { encodeWav, resampleInt16 } from '../voice/wav.ts';
import { freePort } from './fixtures/llama-server.ts';
import { startSpeechServer, type RunningSpeechServer } from './fixtures/openai-speech-server.ts';
import { ensureTinyPiperVoice } from './models/piper-voice.ts';
import { rejectsWith as rejectsWithError } from './fixtures/rejects-with.ts';

/**
 * The voice of an OpenAI-compatible speech server (voice/tts/openai.ts). No such server (kokoro-fastapi, speaches,
 * the XTTS/F5 front-ends) can be installed here, so these run against a test server that implements OpenAI's
 * documented POST /v1/audio/speech around the real Piper engine and the test-made voice
 * (test/fixtures/openai-speech-server.ts): what arrives must be exactly what Piper made.
 */

const SENTENCE = 'The kettle is on, and the tea will be ready in four minutes.';

let voice: string;
let piper: PiperSynthesizer;
let expected: PcmAudio;
let server: RunningSpeechServer;

before(async () => {
  voice = await ensureTinyPiperVoice();
  piper = new PiperSynthesizer({ voicePath: voice });
  [expected, server] = await Promise.all([piper.synthesize({ text: SENTENCE }), startSpeechServer({ voice })]);
});
after(async () => {
  await Promise.all([server?.close(), piper?.dispose()]);
});

const tts = (openai: Record<string, unknown>, rest: Record<string, unknown> = {}) => parseConfig({ tts: { engine: 'openai', ...rest, openai: { timeoutMs: 3000, ...openai } } }).tts;


const rejectsWith = (promise: Promise<unknown>, code: string, message: RegExp) => rejectsWithError(promise, code, message, ModelServerError);

describe('the voice of an OpenAI-style speech server (test server implementing OpenAI\'s /v1/audio/speech around the real Piper engine)', () => {
  test('tts.engine "openai": a streamed WAV arrives as exactly the audio Piper made, one request per sentence', async () => {
    const choice = createSynthesizer(tts({ baseUrl: server.baseUrl, voice: 'af_bella' }));
    assert.equal(choice.engine, 'openai');
    assert.ok(choice.synthesizer instanceof OpenAiSynthesizer);
    assert.match(choice.reason, /^voice "af_bella" of tts-1 at 127\.0\.0\.1:\d+ \(OpenAI-compatible speech server\)$/);
    await choice.synthesizer.load();
    const requests = server.requests.length;
    const audio = await choice.synthesizer.synthesize({ text: SENTENCE });
    assert.equal(audio.sampleRate, 22_050);
    assert.deepEqual(audio.samples, expected.samples);
    assert.deepEqual(server.requests.slice(requests), [{ model: 'tts-1', input: SENTENCE, voice: 'af_bella', responseFormat: 'wav', speed: undefined }]);
  });

  test('"pcm" is read at the rate configured (OpenAI\'s 24 kHz), and tts.rate goes as `speed`', async () => {
    const pcm = await openAiSynthesizer(tts({ baseUrl: server.baseUrl, format: 'pcm' })).synthesize({ text: SENTENCE });
    assert.equal(pcm.sampleRate, 24_000);
    assert.deepEqual(pcm.samples, resampleInt16(expected, 24_000).samples);
    const fast = await openAiSynthesizer(tts({ baseUrl: server.baseUrl }, { rate: 1.5 })).synthesize({ text: SENTENCE });
    assert.equal(server.requests.at(-1)?.speed, 1.5);
    assert.ok(fast.samples.length < expected.samples.length * 0.8, `${fast.samples.length} samples at 1.5× against ${expected.samples.length}`);
  });

  test('an abort (barge-in) while the audio streams in rejects at once and closes the stream', async () => {
    const live = await startSpeechServer({ voice, realTime: true });
    try {
      const controller = new AbortController();
      const started = performance.now();
      const pending = openAiSynthesizer(tts({ baseUrl: live.baseUrl })).synthesize({ text: SENTENCE, signal: controller.signal });
      const outcome = pending.then(() => 'spoken', (e: unknown) => e);
      // The sentence is 1.45 s of audio, sent as it would play: abort a third of the way in.
      for (let i = 0; live.requests.length === 0; i++) {
        assert.ok(i < 300, 'the server got the request');
        await new Promise((r) => setTimeout(r, 10));
      }
      await new Promise((r) => setTimeout(r, 500));
      const aborted = performance.now();
      controller.abort();
      const error = await outcome;
      assert.ok(error instanceof Error && error.name === 'AbortError', String(error));
      assert.ok(performance.now() - aborted < 100, 'rejected at once');
      assert.ok(performance.now() - started < 1400, 'before the audio had all come');
      for (let i = 0; live.cutOff === 0; i++) {
        assert.ok(i < 100, 'the server saw the client go');
        await new Promise((r) => setTimeout(r, 10));
      }
    } finally {
      await live.close();
    }
  });

  test('a wrong key: 401 said with its fix, the key in no error; the key from the variable apiKeyEnv names works', async () => {
    const guarded = await startSpeechServer({ voice, apiKey: 'right-tts-key' });
    try {
      const wrong = openAiSynthesizer(tts({ baseUrl: guarded.baseUrl, apiKey: 'wrong-tts-key' }));
      const error = await rejectsWith(wrong.synthesize({ text: SENTENCE }), 'tts-remote-auth', /^the voice server at .* refused the API key \(HTTP 401\)$/);
      assert.doesNotMatch(`${error.message} ${error.fix}`, /tts-key/);
      assert.match(error.fix, /tts\.openai\.apiKey/);
      const right = openAiSynthesizer(tts({ baseUrl: guarded.baseUrl, apiKeyEnv: 'MY_VOICE_KEY' }), { MY_VOICE_KEY: 'right-tts-key' });
      assert.deepEqual((await right.synthesize({ text: SENTENCE })).samples, expected.samples);
    } finally {
      await guarded.close();
    }
  });

  test('a 500 is said with the server\'s message; with a retry configured the next attempt answers', async () => {
    server.failNext(500);
    await rejectsWith(openAiSynthesizer(tts({ baseUrl: server.baseUrl })).synthesize({ text: SENTENCE }), 'tts-remote-failed', /failed \(HTTP 500: The server had an error/);
    server.failNext(500);
    const retried = await openAiSynthesizer(tts({ baseUrl: server.baseUrl, maxRetries: 1 })).synthesize({ text: SENTENCE });
    assert.deepEqual(retried.samples, expected.samples);
  });

  test('a model the server does not have (404) is said with the settings to check', async () => {
    const error = await rejectsWith(openAiSynthesizer(tts({ baseUrl: server.baseUrl, model: 'xtts-v2' })).synthesize({ text: SENTENCE }), 'tts-remote-not-found', /no model "xtts-v2"/);
    assert.match(error.fix, /tts\.openai\.model/);
  });

  test('the server down: a short error, and espeak-ng behind it says the sentence (as the daemon stacks them)', async () => {
    const nowhere = `http://127.0.0.1:${await freePort()}/v1`;
    const remote = openAiSynthesizer(tts({ baseUrl: nowhere }));
    await rejectsWith(remote.synthesize({ text: SENTENCE }), 'tts-remote-unreachable', /^the voice server at .* cannot be reached$/);
    const espeak = new EspeakSynthesizer({ voice: 'en-gb' });
    const voice = new FallbackSynthesizer(remote, espeak);
    const switches: { from: string; to: string; error: unknown }[] = [];
    const audio = await voice.synthesize({ text: SENTENCE, onFallback: (s) => switches.push(s) });
    assert.ok(audio.samples.length > 0);
    assert.equal(switches.length, 1);
    assert.equal(switches[0]!.from, 'openai');
    assert.equal(switches[0]!.to, 'espeak');
    assert.equal((switches[0]!.error as ModelServerError).code, 'tts-remote-unreachable');
    await voice.dispose();
  });

  test('`jarvis doctor`\'s check says a word for real and how soon', async () => {
    assert.match(await openAiSynthesizer(tts({ baseUrl: server.baseUrl })).check(), /^voice "alloy" of tts-1 at 127\.0\.0\.1:\d+ \(OpenAI-compatible speech server\): "Ready\." in \d+ ms \(\d+ ms of audio at 22050 Hz\)$/);
  });
});

describe('StreamedAudioDecoder', () => {
  const wav = (audio: PcmAudio, extraChunk = false) => {
    const bytes = Buffer.from(encodeWav(audio));
    if (!extraChunk) return bytes;
    // A LIST chunk between "fmt " and "data", as some writers put one.
    const list = Buffer.concat([Buffer.from('LIST'), Buffer.from([5, 0, 0, 0]), Buffer.from('INFOx'), Buffer.from([0])]);
    return Buffer.concat([bytes.subarray(0, 36), list, bytes.subarray(36)]);
  };
  const samples = Int16Array.from({ length: 1001 }, (_, i) => (i * 37) % 2000 - 1000);

  test('a WAV split anywhere, even one byte at a time, with a chunk before "data", gives its samples', () => {
    for (const bytes of [wav({ samples, sampleRate: 16_000 }), wav({ samples, sampleRate: 16_000 }, true)]) {
      const decoder = new StreamedAudioDecoder({ format: 'wav' }, 1e6);
      for (let i = 0; i < bytes.length; i++) decoder.push(bytes.subarray(i, i + 1));
      assert.deepEqual(decoder.finish(), { samples, sampleRate: 16_000 });
    }
  });

  test('raw PCM split inside a sample; too much audio, something not WAV, no audio: refused with what it was', () => {
    const decoder = new StreamedAudioDecoder({ format: 'pcm', sampleRate: 24_000 }, 1e6);
    const bytes = Buffer.from(samples.buffer);
    decoder.push(bytes.subarray(0, 3));
    decoder.push(bytes.subarray(3));
    assert.deepEqual(decoder.finish(), { samples, sampleRate: 24_000 });
    assert.throws(() => new StreamedAudioDecoder({ format: 'pcm', sampleRate: 24_000 }, 100).push(bytes), (e: unknown) => e instanceof UnplayableAudioError && /more than/.test(e.message));
    assert.throws(() => new StreamedAudioDecoder({ format: 'wav' }, 1e6).push(Buffer.from('{"error":{"message":"no"}}')), /not WAV audio \(it begins with "\{\\"er"\)/);
    assert.throws(() => new StreamedAudioDecoder({ format: 'wav' }, 1e6).finish(), /no audio/);
  });
});
