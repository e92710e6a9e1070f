import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseConfig } from '../config/load.ts';
import { JarvisError } from '../base/errors.ts';
import { OpenAiResponder, openAiResponder } from '../core/llm/openai-responder.ts';
import { jsonLines, runJarvis, testModelsConfig } from './fixtures/cli.ts';
import { freePort, startLlamaServer, type RunningLlamaServer } from './fixtures/llama-server.ts';
import { ensureTinyGguf } from './models/tiny-gguf.ts';
import { concat, silence, speak } from './fixtures/speech.ts';
import { writeWavFile } from '../voice/wav.ts';
import { rejectsWith } from './fixtures/rejects-with.ts';

/**
 * The OpenAI-compatible LLM backend (core/llm/openai-responder.ts) against a real llama-server built from the
 * llama.cpp sources node-llama-cpp ships (scripts/build-llama-server.js), serving the test-made random-weight
 * GGUF model on loopback: the answers are not words, but the HTTP, the streaming, the errors and the aborts are
 * the real ones.
 */

let model: string;
let server: RunningLlamaServer;

before(async () => {
  model = await ensureTinyGguf();
  server = await startLlamaServer({ model });
});
after(async () => {
  await server?.kill();
});

const llm = (openai: Record<string, unknown> = {}, maxAnswerTokens = 40) => parseConfig({ llm: { backend: 'openai', maxAnswerTokens, openai: { model: 'tiny', maxRetries: 0, timeoutMs: 5000, ...openai } } }).llm;
const responderFor = (baseUrl: string, openai: Record<string, unknown> = {}, maxAnswerTokens?: number) => openAiResponder(llm({ baseUrl, ...openai }, maxAnswerTokens), {});

async function answer(responder: OpenAiResponder, text: string, signal = new AbortController().signal): Promise<string[]> {
  const pieces: string[] = [];
  for await (const piece of responder.respond({ text, signal })) pieces.push(piece);
  return pieces;
}


describe('the OpenAI-compatible backend against a real llama-server', () => {
  test('checks the server and its model at load, and streams the answer in pieces', async () => {
    const responder = responderFor(server.baseUrl);
    const info = await responder.load();
    assert.equal(info.summary, `OpenAI-compatible server at ${server.baseUrl}, model tiny`);
    const pieces = await answer(responder, 'what is the capital of france');
    assert.ok(pieces.length > 3, `streamed in ${pieces.length} pieces`);
    assert.ok(pieces.join('').length > 0);
  });

  test('a model the server does not have is named at load, with what it has', async () => {
    await rejectsWith(responderFor(server.baseUrl, { model: 'llama-70b' }).load(), 'llm-remote-model', /has no model "llama-70b" \(it has tiny\)/);
  });

  test('an abort (barge-in) ends the answer at once, and the server answers the next question', async () => {
    const responder = responderFor(server.baseUrl, {});
    const controller = new AbortController();
    const pieces: string[] = [];
    const started = performance.now();
    await assert.rejects(
      (async () => {
        for await (const piece of responder.respond({ text: 'tell me a long story', signal: controller.signal })) {
          pieces.push(piece);
          if (pieces.length === 2) controller.abort();
        }
      })(),
      { name: 'AbortError' },
    );
    assert.equal(pieces.length, 2, 'nothing after the abort');
    assert.ok(performance.now() - started < 3000);
    assert.ok((await answer(responder, 'and now?')).length > 0);
  });

  test('nothing listening: a short error with its fix, at load and when asked', async () => {
    const nowhere = `http://127.0.0.1:${await freePort()}/v1`;
    const responder = responderFor(nowhere);
    await rejectsWith(responder.load(), 'llm-remote-unreachable', /cannot be reached/);
    await rejectsWith(answer(responder, 'hello'), 'llm-remote-unreachable', /cannot be reached/);
  });

  test('a wrong API key is refused with its fix; the right one works; the key is in no error', async () => {
    const guarded = await startLlamaServer({ model, apiKey: 'right-key-123' });
    try {
      const wrong = await rejectsWith(responderFor(guarded.baseUrl, { apiKey: 'wrong-key-456' }).load(), 'llm-remote-auth', /refused the API key \(HTTP 401\)/);
      assert.doesNotMatch(`${wrong.message} ${wrong.fix}`, /wrong-key|right-key/);
      // From the environment, as the README advises.
      const fromEnv = openAiResponder(llm({ baseUrl: guarded.baseUrl }), { OPENAI_API_KEY: 'right-key-123' });
      await fromEnv.load();
      assert.ok((await answer(fromEnv, 'hello')).length > 0);
    } finally {
      await guarded.kill();
    }
  });

  test('the server killed in the middle of an answer: the turn gets a short error; after a restart the next question works', async () => {
    const port = await freePort();
    let dying = await startLlamaServer({ model, port });
    // A long answer: 40 tokens of the tiny model are all sent (and buffered here) before a kill lands on a busy box.
    const responder = responderFor(dying.baseUrl, { timeoutMs: 3000 }, 4000);
    try {
      await rejectsWith(
        (async () => {
          let pieces = 0;
          for await (const _ of responder.respond({ text: 'tell me a long story', signal: new AbortController().signal })) {
            if (++pieces === 2) await dying.kill();
          }
        })(),
        'llm-remote-cut',
        /stopped in the middle of the answer/,
      );
      dying = await startLlamaServer({ model, port });
      assert.ok((await answer(responder, 'are you back?')).length > 0);
    } finally {
      await dying.kill();
    }
  });
});

describe('jarvis with llm.backend "openai"', () => {
  const remoteConfig = () => testModelsConfig({ llm: { backend: 'openai', maxAnswerTokens: 24, openai: { baseUrl: server.baseUrl, model: 'tiny' } }, skills: { enabled: false } });

  test('a spoken turn (`jarvis turn` on a recording) is answered through the llama-server and spoken', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-openai-'));
    const input = path.join(dir, 'question.wav');
    await writeWavFile(input, { samples: concat(silence(500), await speak('hey jarvis, tell me a story', { engine: 'espeak', voice: 'en-us' }), silence(2000)), sampleRate: 16000 });
    const jarvis = runJarvis(['-c', await remoteConfig(), 'turn', '--input', input, '--output', path.join(dir, 'reply.wav'), '--json']);
    assert.equal(await jarvis.exit, 0, jarvis.stderr.join('\n'));
    const events = jsonLines(jarvis.stdout);
    const end = events.find((e) => e.type === 'llm-end');
    assert.ok(end && String(end.text).length > 0, JSON.stringify(events.map((e) => e.type)));
    assert.ok(events.some((e) => e.type === 'playback-start'), 'the answer was spoken');
    assert.equal(events.at(-1)!.outcome, 'answered');
  });

  test('`jarvis ask` answers through the llama-server', async () => {
    const config = await remoteConfig();
    const jarvis = runJarvis(['-c', config, 'ask', '--json', 'what is the capital of france']);
    assert.equal(await jarvis.exit, 0, jarvis.stderr.join('\n'));
    const events = jsonLines(jarvis.stdout);
    const end = events.find((e) => e.type === 'llm-end');
    assert.ok(end && String(end.text).length > 0, JSON.stringify(events.map((e) => e.type)));
    const backend = events.find((e) => e.type === 'llm-backend');
    assert.equal(backend?.backend, `tiny at ${new URL(server.baseUrl).host}`, 'the turn names the server that answered');
  });

  test('`jarvis doctor` checks the model server (its model, how soon it answers) and the local model behind it', async () => {
    const config = await testModelsConfig({ llm: { backend: 'openai', fallback: 'local', model: await ensureTinyGguf(), openai: { baseUrl: server.baseUrl, model: 'tiny' } } });
    const jarvis = runJarvis(['-c', config, 'doctor', '--json'], { PULSE_SERVER: 'unix:/nonexistent/socket' });
    await jarvis.exit;
    const report = JSON.parse(jarvis.stdout.join('\n')) as { checks: { name: string; ok: boolean; detail: string }[] };
    const byName = Object.fromEntries(report.checks.map((c) => [c.name, c]));
    assert.ok(byName['model server']?.ok, byName['model server']?.detail);
    assert.match(byName['model server']!.detail, /^OpenAI-compatible server at .*, model tiny; first token in \d+ ms$/);
    assert.ok(byName['local model (fallback)']?.ok, byName['local model (fallback)']?.detail);
    assert.equal(byName['language model'], undefined);

    const nowhere = await testModelsConfig({ llm: { backend: 'openai', openai: { baseUrl: `http://127.0.0.1:${await freePort()}/v1`, model: 'tiny', maxRetries: 0 } } });
    const down = runJarvis(['-c', nowhere, 'doctor', '--json'], { PULSE_SERVER: 'unix:/nonexistent/socket' });
    await down.exit;
    const failed = (JSON.parse(down.stdout.join('\n')) as { checks: { name: string; ok: boolean; detail: string; fix?: string }[] }).checks.find((c) => c.name === 'model server');
    assert.equal(failed?.ok, false);
    assert.match(failed!.detail, /cannot be reached/);
    assert.match(failed!.fix ?? '', /llm\.openai\.baseUrl/);
  });

  test('with llm.fallback "local", a server that is down: the local model answers, and the turn says why', async () => {
    const nowhere = `http://127.0.0.1:${await freePort()}/v1`;
    const config = await testModelsConfig({
      llm: { backend: 'openai', fallback: 'local', model: await ensureTinyGguf(), maxAnswerTokens: 16, openai: { baseUrl: nowhere, model: 'tiny', maxRetries: 0 } },
      skills: { enabled: false },
    });
    // Without the fallback the same question gets the server's short error instead (run side by side: both wait on the server).
    const plain = await testModelsConfig({ llm: { backend: 'openai', maxAnswerTokens: 16, openai: { baseUrl: nowhere, model: 'tiny', maxRetries: 0 } }, skills: { enabled: false } });
    const json = runJarvis(['-c', config, 'ask', '--json', 'what is the capital of france']);
    const failed = runJarvis(['-c', plain, 'ask', '--json', 'what is the capital of france']);
    assert.equal(await json.exit, 0, json.stderr.join('\n'));
    const events = jsonLines(json.stdout);
    const backend = events.find((e) => e.type === 'llm-backend');
    assert.equal(backend?.backend, 'the local model');
    assert.equal(backend?.fallbackFrom, `tiny at ${new URL(nowhere).host}`);
    assert.match(String(backend?.why), /cannot be reached/);
    const end = events.find((e) => e.type === 'llm-end');
    assert.ok(end && String(end.text).length > 0, 'the local model answered');
    assert.ok(!events.some((e) => e.type === 'error'), JSON.stringify(events.filter((e) => e.type === 'error')));
    await failed.exit;
    const error = jsonLines(failed.stdout).find((e) => e.type === 'error');
    assert.match(String(error?.message), /cannot be reached/);
  });
});
