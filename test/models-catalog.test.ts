import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { loadConfig, parseConfig } from '../config/load.ts';
import { ConfigError, ModelFileError } from '../base/errors.ts';
import { modelFileFix, pullFixFor } from '../models/model-fix.ts';
import { createLogger } from '../base/log.ts';
import { CATALOG, huggingFaceUrl } from '../models/catalog.ts';
import { ModelManagerError } from '../models/errors.ts';
import { planFirstRun } from '../models/first-run.ts';
import { applyModelSelection, readSelection, resolveModelPaths, selectModel, watchSelection } from '../models/selection.ts';
import { ModelStore } from '../models/store.ts';
import { interpretModelWords, pickRequestedModel } from '../core/live-models/voice-switch.ts';
import { matchIntent } from '../core/skills/intents.ts';
import { ensureTinyPiperVoice } from './models/piper-voice.ts';
import { ensureTinyWhisperModel } from './models/whisper-ggml.ts';
import { writeTinyGguf } from './models/tiny-gguf.ts';

/**
 * The catalog, the config section, choosing models (the selection file the daemon watches), importing your own
 * files (test-made models in the real formats), the first-run plan and spoken switch requests.
 */

function tempStore(): { dir: string; dataDir: string; store: ModelStore } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-catalog-'));
  const dir = path.join(root, 'data', 'models');
  fs.mkdirSync(dir, { recursive: true });
  return { dir, dataDir: path.join(root, 'data'), store: new ModelStore({ dir, baseUrl: 'https://huggingface.co' }) };
}

describe('catalog', () => {
  test('ids are unique; every downloadable file has a Hugging Face source, a size and a format', () => {
    const ids = CATALOG.map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const entry of CATALOG) {
      assert.ok(entry.files.length > 0 && entry.licence && entry.capabilities.length > 0, entry.id);
      for (const file of entry.files) {
        assert.ok(file.bytes > 0, `${entry.id} ${file.name}`);
        if (file.source.type === 'huggingface') assert.match(file.source.repo, /^[\w.-]+\/[\w.-]+$/);
        if (file.sha1) assert.match(file.sha1, /^[0-9a-f]{40}$/);
      }
    }
  });

  test('covers LLMs from 1B to 14B in Q4_K_M/Q5_K_M/Q8_0 with quantisation and context, a coder model, Whisper, two voices, an embedding model', () => {
    const llms = CATALOG.filter((e) => e.kind === 'llm');
    for (const id of ['llama-3.2-1b-q4_k_m', 'llama-3.2-3b-q5_k_m', 'llama-3.1-8b-q8_0', 'qwen2.5-7b-q4_k_m', 'qwen2.5-14b-q4_k_m', 'qwen2.5-coder-1.5b-q4_k_m']) {
      assert.ok(llms.some((e) => e.id === id), id);
    }
    for (const entry of llms) {
      assert.ok(['Q4_K_M', 'Q5_K_M', 'Q8_0'].includes(entry.llm!.quantization), entry.id);
      assert.ok(entry.llm!.contextLength >= 32_768, entry.id);
    }
    const params = llms.map((e) => e.llm!.parametersB);
    assert.ok(Math.min(...params) < 1.5 && Math.max(...params) > 14);
    assert.ok(llms.some((e) => e.capabilities.includes('code') && !e.capabilities.includes('tools')));
    for (const size of ['tiny.en', 'base.en', 'small.en']) assert.ok(CATALOG.some((e) => e.id === `whisper-${size}`));
    assert.ok(CATALOG.some((e) => e.kind === 'stt' && /-q\d/.test(e.id)), 'a quantised Whisper');
    const voices = CATALOG.filter((e) => e.kind === 'tts');
    assert.deepEqual(voices.map((v) => v.id).sort(), ['piper-en_GB-alan-medium', 'piper-en_US-lessac-medium']);
    for (const voice of voices) assert.deepEqual(voice.files.map((f) => f.format), ['onnx', 'piper-config']);
    assert.equal(CATALOG.filter((e) => e.kind === 'embedding').length, 1);
  });

  test('the published Whisper SHA-1s are in the catalog', () => {
    const sha1 = (id: string) => CATALOG.find((e) => e.id === id)!.files[0]!.sha1;
    assert.equal(sha1('whisper-base.en'), '137c40403d78fd54d454da0f9bd998f78703390c');
    assert.equal(sha1('whisper-tiny.en'), 'c78c86eb1a8faa21b369bcd33207cc90d64ae9df');
  });

  test('URLs follow Hugging Face\'s layout under the base URL (a mirror keeps it)', () => {
    const voice = CATALOG.find((e) => e.id === 'piper-en_GB-alan-medium')!;
    assert.equal(
      huggingFaceUrl('https://huggingface.co', voice.files[0]!.source as { repo: string; path: string }),
      'https://huggingface.co/rhasspy/piper-voices/resolve/main/en/en_GB/alan/medium/en_GB-alan-medium.onnx',
    );
    assert.equal(huggingFaceUrl('http://mirror.lan/hf/', { repo: 'a/b', path: 'x y.gguf' }), 'http://mirror.lan/hf/a/b/resolve/main/x%20y.gguf');
  });

  test('the shipped wake word and VAD are listed as installed', () => {
    const { store } = tempStore();
    assert.equal(store.state(store.find('silero-vad-v5')), 'shipped');
    assert.ok(fs.existsSync(store.mainPath(store.find('openwakeword-hey-jarvis'))));
  });
});

describe('models config section', () => {
  test('defaults: Hugging Face, online, 0.5 GB headroom, first-run downloads on, models under dataDir', () => {
    const config = loadConfig({ env: {}, overrides: { dataDir: '/srv/jarvis' } });
    assert.equal(config.models.baseUrl, 'https://huggingface.co');
    assert.equal(config.models.offline, false);
    assert.equal(config.models.vramHeadroomMb, 512);
    assert.equal(config.models.downloadOnFirstRun, true);
    assert.equal(config.models.dir, '/srv/jarvis/models');
    assert.equal(config.llm.model, '/srv/jarvis/models/Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf');
  });

  test('models.dir moves $models too; a wrong base URL or extra model is refused with the key', () => {
    const moved = loadConfig({ env: { JARVIS_MODELS__DIR: '/mnt/big/models' } });
    assert.equal(moved.stt.model, '/mnt/big/models/ggml-base.en.bin');
    const error = (() => {
      try {
        parseConfig({ models: { baseUrl: 'ftp://mirror', extra: [{ id: 'X', kind: 'llm', repo: 'nope', files: [] }] } });
      } catch (e) {
        return e as ConfigError;
      }
      return undefined;
    })();
    assert.ok(error instanceof ConfigError);
    const keys = error.problems.map((p) => p.key);
    assert.ok(keys.includes('models.baseUrl') && keys.includes('models.extra.0.id') && keys.includes('models.extra.0.repo') && keys.includes('models.extra.0.files'), keys.join(', '));
  });

  test('the access token never reaches the log', () => {
    let written = '';
    const sink = { write: (chunk: string) => ((written += chunk), true) } as unknown as NodeJS.WritableStream;
    const config = parseConfig({ models: { token: 'hf_supersecret' } });
    createLogger('info', sink).info({ models: config.models }, 'config');
    assert.ok(!written.includes('hf_supersecret'), written);
    assert.match(written, /\[redacted\]/);
  });
});

describe('choosing and importing models', () => {
  test('import checks a GGUF, a whisper.cpp model and a Piper voice with their engines and adds them', async () => {
    const { store, dir } = tempStore();
    const llm = await store.import(await writeTinyGguf(), { id: 'my-llm' });
    assert.equal(llm.kind, 'llm');
    assert.equal(llm.llm?.quantization, 'F32');
    const stt = await store.import(await ensureTinyWhisperModel());
    assert.equal(stt.kind, 'stt');
    assert.match(stt.id, /^user-tiny-whisper-en/);
    const voice = await store.import(await ensureTinyPiperVoice());
    assert.equal(voice.kind, 'tts');
    assert.deepEqual(voice.files.map((f) => f.name), ['en_US-test_tiny-x_low.onnx', 'en_US-test_tiny-x_low.onnx.json']);
    for (const entry of [llm, stt, voice]) {
      assert.equal(store.state(entry), 'installed');
      assert.equal((await store.verify(entry)).ok, true, entry.id);
    }
    assert.deepEqual(store.entries().filter((e) => e.imported).map((e) => e.id).sort(), [llm.id, stt.id, voice.id].sort());
    assert.ok(fs.existsSync(path.join(dir, 'en_US-test_tiny-x_low.onnx.json')));

    await store.remove(voice);
    assert.ok(!store.entries().some((e) => e.id === voice.id));
    assert.ok(!fs.existsSync(path.join(dir, 'en_US-test_tiny-x_low.onnx')));
  });

  test('import refuses what no engine reads, and a voice without its .onnx.json', async () => {
    const { store, dir } = tempStore();
    const text = path.join(dir, '..', 'notes.txt');
    fs.writeFileSync(text, 'hello');
    await assert.rejects(store.import(text), (e: unknown) => e instanceof ModelManagerError && e.code === 'import-unknown-format');
    const lonely = path.join(dir, '..', 'voice.onnx');
    fs.copyFileSync(await ensureTinyPiperVoice(), lonely);
    await assert.rejects(store.import(lonely), /voice\.onnx\.json is missing/);
  });

  test('use writes the selection; the chosen file replaces the configured path for every command', async () => {
    const { store, dataDir } = tempStore();
    const config = parseConfig({ dataDir });
    await assert.rejects(selectModel(store, dataDir, 'llama-3.2-1b-q4_k_m'), /not downloaded yet/);
    await assert.rejects(selectModel(store, dataDir, 'silero-vad-v5'), /only an LLM, a Whisper model or a voice/);
    const imported = await store.import(await writeTinyGguf(), { id: 'chosen' });
    const { kind, previous } = await selectModel(store, dataDir, 'chosen');
    assert.equal(kind, 'llm');
    assert.equal(previous, undefined);
    assert.deepEqual(readSelection(dataDir), { llm: 'chosen' });
    const resolved = resolveModelPaths(config, store, readSelection(dataDir));
    assert.equal(resolved.llm.path, store.mainPath(imported));
    assert.equal(resolved.llm.from, 'selection');
    assert.equal(resolved.stt.from, 'config');
    assert.equal(applyModelSelection(config, store).llm.model, store.mainPath(imported));
  });

  test('the selection file is watched: a change from another process is seen', async () => {
    const { store, dataDir } = tempStore();
    await store.import(await writeTinyGguf(), { id: 'watched' });
    const seen = new Promise<unknown>((resolve) => {
      const stop = watchSelection(dataDir, (selection) => {
        stop();
        resolve(selection);
      });
    });
    // Another process would do exactly this (`jarvis models use`): an atomic write of the file.
    const other = new ModelStore({ dir: store.dir, baseUrl: 'https://huggingface.co' });
    await selectModel(other, dataDir, 'watched');
    assert.deepEqual(await seen, { llm: 'watched' });
  });
});

describe('first-run plan', () => {
  const bestLlm = async () => ({ entry: CATALOG.find((e) => e.id === 'llama-3.2-1b-q5_k_m')!, reason: 'best fit' });

  test('default config, nothing downloaded: Whisper base.en and the Alan voice as configured, the LLM by fit', async () => {
    const { store, dataDir } = tempStore();
    const config = loadConfig({ env: {}, overrides: { dataDir } });
    const plan = await planFirstRun({ config, store, selection: {}, resolved: resolveModelPaths(config, store, {}), bestLlm });
    assert.deepEqual(plan.downloads.map((d) => [d.kind, d.entry.id]), [['stt', 'whisper-base.en'], ['tts', 'piper-en_GB-alan-medium'], ['llm', 'llama-3.2-1b-q5_k_m']]);
    assert.equal(plan.totalBytes, plan.downloads.reduce((s, d) => s + d.bytes, 0));
    assert.match(plan.downloads[2]!.why, /best fit/);
  });

  test('a user-named catalog LLM is fetched as named; files outside the models folder are never replaced', async () => {
    const { store, dataDir } = tempStore();
    const config = loadConfig({ env: {}, overrides: { dataDir, llm: { model: '$models/Qwen2.5-7B-Instruct-Q4_K_M.gguf' }, stt: { model: '/opt/mine/ggml-base.en.bin' }, tts: { engine: 'espeak' } } });
    const plan = await planFirstRun({ config, store, selection: {}, resolved: resolveModelPaths(config, store, {}), bestLlm });
    assert.deepEqual(plan.downloads.map((d) => [d.kind, d.entry.id, d.why]), [['llm', 'qwen2.5-7b-q4_k_m', 'the configured model']]);
    assert.deepEqual(plan.skipped.map((s) => [s.kind, s.path]), [['stt', '/opt/mine/ggml-base.en.bin']]);
  });

  test('with another model server answering (llm.backend "openai"), no local LLM is fetched', async () => {
    const { store, dataDir } = tempStore();
    const config = loadConfig({ env: {}, overrides: { dataDir, llm: { backend: 'openai' } } });
    const plan = await planFirstRun({ config, store, selection: {}, resolved: resolveModelPaths(config, store, {}), bestLlm });
    assert.deepEqual(plan.downloads.map((d) => d.kind), ['stt', 'tts']);
  });

  test('with speech servers (stt.engine and tts.engine "openai"), no Whisper model and no Piper voice are fetched', async () => {
    const { store, dataDir } = tempStore();
    const config = loadConfig({ env: {}, overrides: { dataDir, stt: { engine: 'openai' }, tts: { engine: 'openai' } } });
    const plan = await planFirstRun({ config, store, selection: {}, resolved: resolveModelPaths(config, store, {}), bestLlm });
    assert.deepEqual(plan.downloads.map((d) => d.kind), ['llm']);
  });
});

describe('spoken model switches (the skills hear the request, the model manager picks the model)', () => {
  const installed = CATALOG.filter((e) => ['llama-3.2-1b-q4_k_m', 'llama-3.1-8b-q4_k_m', 'qwen2.5-14b-q4_k_m'].includes(e.id)).map((entry) => ({ entry, quality: entry.llm!.parametersB }));
  const switchTarget = (text: string) => {
    const call = matchIntent(text, { now: Date.now(), stopPhrases: [], timerLabels: [] })?.call;
    return call?.skill === 'model.switch' ? call.target : undefined;
  };
  const cases: [string, string | undefined][] = [
    ['Use the big model.', 'qwen2.5-14b-q4_k_m'],
    ['Jarvis, switch to the fast model', 'llama-3.2-1b-q4_k_m'],
    ['use the smaller model please', 'llama-3.2-1b-q4_k_m'],
    ['switch to the llama 8b model', 'llama-3.1-8b-q4_k_m'],
    ['use the qwen model', 'qwen2.5-14b-q4_k_m'],
    ['use your biggest brain', 'qwen2.5-14b-q4_k_m'],
    ['go to a faster llm', 'llama-3.2-1b-q4_k_m'],
    ['change to the zebra model', undefined],
  ];
  for (const [text, expected] of cases) {
    test(`"${text}" → ${expected ?? 'nothing installed matches'}`, () => {
      const target = switchTarget(text);
      assert.ok(target, 'recognised as a switch request');
      const request = interpretModelWords(target);
      assert.ok(request, `"${target}" names a model`);
      assert.equal(pickRequestedModel(request, installed, undefined)?.id, expected);
    });
  }
  for (const text of ['what model of car is best', 'use the oven timer', 'how do I use a model railway']) {
    test(`"${text}" is a question for the LLM`, () => assert.equal(switchTarget(text), undefined));
  }
});

describe('the fix for a catalog model file (models/model-fix.ts)', () => {
  test('any file of a catalog model, the main one or another (a voice .onnx.json), is fixed by pulling that model; a file the catalog does not own has no such fix', () => {
    const store = ModelStore.fromConfig(parseConfig({ dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-fix-')) }));
    const voice = store.entries().find((e) => e.id === 'piper-en_GB-alan-medium')!;
    const [onnx, json] = voice.files.map((f) => store.filePath(voice, f));
    assert.ok(onnx && json && json.endsWith('.onnx.json'), voice.files.map((f) => f.name).join(', '));
    assert.equal(pullFixFor(store, onnx), 'Run `jarvis models pull piper-en_GB-alan-medium`.');
    assert.equal(pullFixFor(store, json), 'Run `jarvis models pull piper-en_GB-alan-medium`.');
    assert.equal(store.entryForPath(json), undefined, 'entryForPath knows main files only');
    assert.equal(store.entryOwning(json)?.id, voice.id);
    assert.equal(pullFixFor(store, '/somewhere/else/voice.onnx'), undefined);
    const broken = new ModelFileError('model-corrupt', onnx, 'the voice is damaged', 'Download it again from its URL.');
    assert.match(modelFileFix(store, broken) ?? '', /jarvis models rm --force piper-en_GB-alan-medium && jarvis models pull piper-en_GB-alan-medium/);
    assert.equal(modelFileFix(store, new Error('not a model file')), undefined);
  });
});
