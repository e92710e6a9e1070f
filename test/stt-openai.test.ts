import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SPOKEN } from '../core/pipeline/turn.ts';
import { JarvisError } from '../base/errors.ts';
import { ModelServerError } from '../base/openai-server.ts';
import { parseConfig } from '../config/load.ts';
import { OpenAiTranscriber, openAiTranscriber } from '../voice/stt/openai.ts';
import { configuredSpeechToText } from '../voice/stt/select.ts';
import { freePort } from './fixtures/llama-server.ts';
import { jsonLines, runJarvis, testModelsConfig } from './fixtures/cli.ts';
import { startSpeechServer } from './fixtures/openai-speech-server.ts';
import { concat, silence, speak } from './fixtures/speech.ts';
import { writeWavFile } from '../voice/wav.ts';
import { ensureTinyPiperVoice } from './models/piper-voice.ts';
import { startWhisperServer, type RunningWhisperServer } from './fixtures/whisper-server.ts';
import { ensureTinyWhisperModel, TINY_WHISPER_TEXT } from './models/whisper-ggml.ts';
import { rejectsWith as rejectsWithError } from './fixtures/rejects-with.ts';

/**
 * Speech to text through an OpenAI-compatible server (voice/stt/openai.ts) against a real one: whisper.cpp's own
 * whisper-server, built from the same sources as JARVIS's Whisper (`node scripts/build-whisper.js --server`), on
 * loopback with the test-made Whisper model. That model hears no words: it says TINY_WHISPER_TEXT once per 30 s
 * window, which is what comes back; the HTTP, the WAV upload, the aborts and the errors are the real ones.
 */

let server: RunningWhisperServer;
let request: Int16Array;

before(async () => {
  const [model, speech] = await Promise.all([ensureTinyWhisperModel(), speak('Jarvis, what is the weather like tomorrow?')]);
  request = concat(speech, silence(500));
  server = await startWhisperServer({ model });
});
after(async () => {
  await server?.kill();
});

const stt = (openai: Record<string, unknown>) => parseConfig({ stt: { engine: 'openai', openai: { maxRetries: 0, timeoutMs: 5000, ...openai } } }).stt;


const rejectsWith = (promise: Promise<unknown>, code: string, message: RegExp) => rejectsWithError(promise, code, message, ModelServerError);

describe('speech to text through a real whisper-server (OpenAI /v1/audio/transcriptions)', () => {
  test('stt.engine "openai" gives the server\'s transcript through the port, one line however many segments', async () => {
    const transcriber = configuredSpeechToText(stt({ baseUrl: server.baseUrl }));
    assert.ok(transcriber instanceof OpenAiTranscriber);
    assert.equal(transcriber.engine, 'openai');
    assert.match(transcriber.description, /^whisper-1 at 127\.0\.0\.1:\d+ \(OpenAI-compatible speech-to-text server\)$/);
    await transcriber.load();
    const transcript = await transcriber.transcribe(request);
    assert.equal(transcript.text, TINY_WHISPER_TEXT);
    assert.equal(transcript.audioMs, (request.length / 16_000) * 1000);
    // 40 s: two 30 s windows, two segments on two lines from the server.
    const long = await transcriber.transcribe(concat(request, silence(40_000 - request.length / 16)));
    assert.equal(long.text, `${TINY_WHISPER_TEXT} ${TINY_WHISPER_TEXT}`);
  });

  test('an abort (barge-in) mid-request rejects at once, whisper-server stops decoding, and the next request is answered', async () => {
    const transcriber = openAiTranscriber(stt({ baseUrl: server.baseUrl }));
    const controller = new AbortController();
    const before = server.log().split('processing').length;
    // Three minutes of audio: six windows, well over a second of decoding for the server.
    const pending = transcriber.transcribe(concat(request, silence(180_000)), controller.signal);
    const outcome = pending.then(() => 'transcribed', (e: unknown) => e);
    for (let i = 0; server.log().split('processing').length === before; i++) {
      assert.ok(i < 200, 'the server started on the request');
      await new Promise((r) => setTimeout(r, 10));
    }
    const aborted = performance.now();
    controller.abort();
    const error = await outcome;
    assert.ok(error instanceof Error && error.name === 'AbortError', String(error));
    assert.ok(performance.now() - aborted < 100, 'rejected at once');
    for (let i = 0; !server.log().includes('client disconnected, aborted processing'); i++) {
      assert.ok(i < 300, `whisper-server stopped decoding:\n${server.log().slice(-800)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal((await transcriber.transcribe(request)).text, TINY_WHISPER_TEXT);
  });

  test('nothing listening: a short error that names the server and the setting to fix', async () => {
    const nowhere = `http://127.0.0.1:${await freePort()}/v1`;
    const error = await rejectsWith(openAiTranscriber(stt({ baseUrl: nowhere })).transcribe(request), 'stt-remote-unreachable', /^the speech-to-text server at http:\/\/127\.0\.0\.1:\d+\/v1 cannot be reached$/);
    assert.match(error.fix, /stt\.openai\.baseUrl/);
  });

  test('a path the server does not serve (404): said, with the whisper-server flag that serves it', async () => {
    const wrongRoot = server.baseUrl.replace(/\/v1$/, '/v2');
    const error = await rejectsWith(openAiTranscriber(stt({ baseUrl: wrongRoot })).transcribe(request), 'stt-remote-not-found', /no model "whisper-1" or no \/audio\/transcriptions \(HTTP 404\)/);
    assert.match(error.fix, /--inference-path \/v1\/audio\/transcriptions/);
  });

  test('`jarvis doctor`\'s check transcribes for real and says how soon; the key is taken from the variable apiKeyEnv names', async () => {
    const transcriber = openAiTranscriber(stt({ baseUrl: server.baseUrl, apiKeyEnv: 'MY_STT_KEY' }), { MY_STT_KEY: 'secret-stt-key' });
    assert.match(await transcriber.check(), /^whisper-1 at 127\.0\.0\.1:\d+ \(OpenAI-compatible speech-to-text server\): transcribed 1 s of audio in \d+ ms$/);
    const nowhere = `http://127.0.0.1:${await freePort()}/v1`;
    const down = openAiTranscriber(stt({ baseUrl: nowhere, apiKeyEnv: 'MY_STT_KEY' }), { MY_STT_KEY: 'secret-stt-key' });
    const error = await rejectsWith(down.check(), 'stt-remote-unreachable', /cannot be reached/);
    assert.doesNotMatch(`${error.message} ${error.fix}`, /secret-stt-key/);
  });
});

// The two turns are separate processes with nothing shared: side by side.
describe('`jarvis turn` with both speech engines on servers (whisper-server; the voice: test server implementing OpenAI\'s /v1/audio/speech around the real Piper engine)', { concurrency: true }, () => {
  /** A spoken turn from a recording; the LLM is a server that is down, so no model loads and the turn ends in a spoken error. */
  async function turn(sttBaseUrl: string, ttsBaseUrl: string) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-speech-servers-'));
    const input = path.join(dir, 'question.wav');
    await writeWavFile(input, { samples: concat(silence(300), request, silence(1500)), sampleRate: 16_000 });
    const nowhere = `http://127.0.0.1:${await freePort()}/v1`;
    const config = await testModelsConfig({
      stt: { engine: 'openai', openai: { baseUrl: sttBaseUrl, maxRetries: 0 } },
      tts: { engine: 'openai', voice: await ensureTinyPiperVoice(), openai: { baseUrl: ttsBaseUrl } },
      llm: { backend: 'openai', openai: { baseUrl: nowhere, maxRetries: 0 } },
      skills: { enabled: false },
    });
    const jarvis = runJarvis(['-c', config, 'turn', '--input', input, '--output', path.join(dir, 'reply.wav'), '--json']);
    await jarvis.exit;
    return jsonLines(jarvis.stdout);
  }

  test('the request is transcribed by whisper-server, and what is said is spoken by the speech server', async () => {
    const voice = await startSpeechServer({ voice: await ensureTinyPiperVoice() });
    try {
      const events = await turn(server.baseUrl, voice.baseUrl);
      const types = JSON.stringify(events.map((e) => e.type));
      assert.equal(events.find((e) => e.type === 'stt-end')?.text, TINY_WHISPER_TEXT, types);
      assert.deepEqual(voice.requests.map((r) => r.input), [SPOKEN.llmFailed]);
      const spoken = events.find((e) => e.type === 'tts-end');
      assert.equal(spoken?.engine, 'openai');
      assert.ok(Number(spoken?.audioMs) > 0);
      assert.ok(events.some((e) => e.type === 'playback-start'), types);
    } finally {
      await voice.close();
    }
  });

  test('the speech-to-text server down: the turn says so (not "I didn\'t catch that"), in espeak-ng when the voice server is down too', async () => {
    const down = `http://127.0.0.1:${await freePort()}/v1`;
    const events = await turn(down, down);
    const error = events.find((e) => e.type === 'error' && e.stage === 'stt');
    assert.equal(error?.code, 'stt-remote-unreachable', JSON.stringify(events));
    assert.match(String(error?.fix), /stt\.openai\.baseUrl/);
    assert.equal(events.find((e) => e.type === 'tts-start')?.text, SPOKEN.sttServerFailed);
    assert.equal(events.find((e) => e.type === 'tts-end')?.engine, 'espeak', 'espeak-ng said it');
    assert.equal(events.find((e) => e.type === 'error' && e.stage === 'tts')?.code, 'tts-remote-unreachable');
    assert.equal(events.at(-1)?.outcome, 'error');
  });
});
