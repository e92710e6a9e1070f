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

  test('server.host on a network address without server.lan (plain HTTP to the network) is refused with the fix', () => {
    for (const host of ['0.0.0.0', '192.168.1.20', '::']) {
      const [problem] = problems(() => load({ JARVIS_SERVER__HOST: host }));
      assert.equal(problem!.key, 'server.host');
      assert.match(problem!.allowed, /server\.lan.*HTTPS|--lan/);
    }
    assert.equal(load({ JARVIS_SERVER__HOST: '0.0.0.0', JARVIS_SERVER__LAN: 'true' }).server.host, '0.0.0.0');
    assert.equal(load({ JARVIS_SERVER__HOST: '127.0.0.1' }).server.host, '127.0.0.1');
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

  test('an environment variable cannot reach Object.prototype: constructor/prototype/__proto__ are refused by name', () => {
    const probe = {} as Record<string, unknown>;
    try {
      const found = problems(() => load({ JARVIS_CONSTRUCTOR__PROTOTYPE__POLLUTED: '1' }));
      assert.equal(probe.polluted, undefined, 'Object.prototype untouched');
      assert.deepEqual(found.map((p) => [p.key, p.value]), [['JARVIS_CONSTRUCTOR__PROTOTYPE__POLLUTED', '1']]);
      assert.match(found[0]!.allowed, /"constructor" is not a setting/);
      // A JSON value is a tree of its own: the same names are refused inside it.
      const inValue = problems(() => load({ JARVIS_LLM: '{"__proto__": {"polluted": 1}}' }));
      assert.deepEqual(inValue.map((p) => p.key), ['JARVIS_LLM']);
      assert.match(inValue[0]!.allowed, /"__proto__" is not a setting/);
      assert.equal(probe.polluted, undefined);
    } finally {
      delete (Object.prototype as Record<string, unknown>).polluted;
    }
  });

  test('other names that objects inherit (toString, valueOf) are plain unknown settings, not a way into built-ins', () => {
    const toString = Object.prototype.toString as unknown as Record<string, unknown>;
    try {
      const found = problems(() => load({ JARVIS_TO_STRING__CALL: '"broken"' }));
      assert.equal(toString.call, Function.prototype.call, 'Object.prototype.toString untouched');
      assert.deepEqual(found.map((p) => p.key), ['toString']);
      assert.match(found[0]!.allowed, /unknown setting/);
    } finally {
      delete toString.call;
    }
  });

  test('a config file with a "__proto__" key is refused, not merged into the prototype of the settings', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-cfg-')), 'config.json');
    fs.writeFileSync(file, '{ "__proto__": { "llm": { "contextSize": 1234 } } }');
    const [problem] = problems(() => loadConfig({ file, env: {} }));
    assert.equal(problem!.key, '__proto__');
    assert.match(problem!.allowed, /"__proto__" is not a setting/);
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
