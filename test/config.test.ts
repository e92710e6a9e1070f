import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { configFromEnv, loadConfig } from '../config/load.ts';
import { ConfigError } from '../base/errors.ts';

const noFile = path.join(os.tmpdir(), 'jarvis-no-such-config.json');
const load = (env: Record<string, string>, file?: string) => loadConfig({ env: { JARVIS_CONFIG: file ?? '', ...env }, ...(file ? { file } : {}) });

function problems(fn: () => unknown) {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('config', () => {
  test('defaults are complete and paths are expanded', () => {
    const config = loadConfig({ env: {}, file: undefined, overrides: { dataDir: '~/jarvis-data' } });
    assert.equal(config.dataDir, path.join(os.homedir(), 'jarvis-data'));
    assert.equal(config.llm.model, path.join(os.homedir(), 'jarvis-data', 'models', 'Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf'));
    assert.equal(config.wake.threshold, 0.5);
    assert.equal(config.conversation.followUpMs, 8000);
  });

  test('environment variables override, with nested and camel-cased keys', () => {
    const env = { JARVIS_LLM__CONTEXT_SIZE: '2048', JARVIS_WAKE__PORCUPINE__ACCESS_KEY: 'abc', JARVIS_TTS__ENGINE: 'espeak', HOME_X: '1' };
    assert.deepEqual(configFromEnv(env), { llm: { contextSize: 2048 }, wake: { porcupine: { accessKey: 'abc' } }, tts: { engine: 'espeak' } });
    const config = loadConfig({ env, file: undefined });
    assert.equal(config.llm.contextSize, 2048);
    assert.equal(config.tts.engine, 'espeak');
  });

  test('a file is merged under the environment', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-cfg-')), 'config.json');
    fs.writeFileSync(file, JSON.stringify({ llm: { contextSize: 1024, temperature: 0.2 }, vad: { hangoverMs: 500 } }));
    const config = loadConfig({ file, env: { JARVIS_LLM__CONTEXT_SIZE: '3000' } });
    assert.equal(config.llm.contextSize, 3000);
    assert.equal(config.llm.temperature, 0.2);
    assert.equal(config.vad.hangoverMs, 500);
  });

  test('a wrong value names the key, the value and what is allowed', () => {
    const found = problems(() => load({ JARVIS_WAKE__THRESHOLD: '1.5', JARVIS_LLM__GPU: 'tpu' }));
    assert.deepEqual(found.map((p) => [p.key, p.value]), [['wake.threshold', 1.5], ['llm.gpu', 'tpu']]);
    assert.match(found[0]!.allowed, /between 0 and 1/);
    assert.match(found[1]!.allowed, /"auto", "cuda", "vulkan", "cpu"/);
  });

  test('an unknown key is refused with the known keys listed (typos do not pass silently)', () => {
    const [problem] = problems(() => load({ JARVIS_LLM__CONTEXTSIZE: '1' }));
    assert.equal(problem!.key, 'llm.contextsize');
    assert.match(problem!.allowed, /contextSize/);
  });

  test('a missing explicit file and a malformed file are errors with the path', () => {
    assert.match(problems(() => loadConfig({ file: noFile, env: {} }))[0]!.allowed, /existing JSON config file/);
    const bad = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-cfg-')), 'config.json');
    fs.writeFileSync(bad, '{ "llm": ');
    assert.match(problems(() => loadConfig({ file: bad, env: {} }))[0]!.allowed, /JSON object/);
  });

  test('the message is readable on its own', () => {
    try {
      load({ JARVIS_VAD__HANGOVER_MS: '"long"' });
      assert.fail('expected an error');
    } catch (error) {
      assert.match((error as Error).message, /vad\.hangoverMs = "long": .*number/);
    }
  });
});
