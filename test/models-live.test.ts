import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../config/load.ts';
import type { JarvisConfig } from '../config/schema.ts';
import { silentLogger } from '../base/log.ts';
import { LiveModels, type LiveModelEvent } from '../core/live-models/live-models.ts';
import { liveModelSelector } from '../core/live-models/skill-providers.ts';
import type { Responder } from '../core/responder.ts';
import { SkillsRuntime } from '../core/skills/skills-runtime.ts';
import { ModelFileError } from '../base/errors.ts';
import { DEFAULT_LLM_MODEL_FILE } from '../models/gguf-file.ts';
import { readSelection } from '../models/selection.ts';
import { WhisperTranscriber } from '../voice/stt/whisper.ts';
import { createSynthesizer } from '../voice/tts/select.ts';
import { runJarvis, type JarvisProcess } from './fixtures/cli.ts';
import { sha256, startModelMirror, type ModelMirror } from './fixtures/model-mirror.ts';
import { buildTinyGguf } from './models/tiny-gguf.ts';
import { ensureTinyPiperVoice } from './models/piper-voice.ts';
import { ensureTinyWhisperModel, TINY_WHISPER_TEXT } from './models/whisper-ggml.ts';

/**
 * The model manager inside the running assistant, on the real engines (node-llama-cpp workers, whisper.cpp,
 * onnxruntime Piper) with test-made models served by a loopback mirror: a first run downloads the configured LLM
 * while answering "still downloading", then swaps it in; `jarvis models use` in another process, a spoken
 * "switch to the … model" and the HUD's select() all change models without a restart.
 */

let mirror: ModelMirror;
let dir: string;
let configFile: string;
const alpha = buildTinyGguf({ seed: 501, name: 'tiny alpha' });
const bravo = buildTinyGguf({ seed: 502, name: 'tiny bravo' });
const charlie = buildTinyGguf({ seed: 503, name: 'tiny charlie' });

function extraLlm(id: string, title: string, file: string, bytes: Buffer) {
  return { id, kind: 'llm', title, repo: 'test/live-GGUF', files: [{ path: file, bytes: bytes.length, sha256: sha256(bytes) }], capabilities: ['chat'] };
}

before(async () => {
  mirror = await startModelMirror();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-models-live-'));
  // Slow enough (about 1.5 s) to ask a question while it downloads.
  mirror.put('test/live-GGUF', 'tiny-alpha.gguf', { content: alpha, chunkDelayMs: 200 });
  mirror.put('test/live-GGUF', 'tiny-bravo.gguf', { content: bravo });
  mirror.put('test/live-GGUF', 'tiny-charlie.gguf', { content: charlie });
  const voice = await ensureTinyPiperVoice();
  mirror.put('test/live-voice', 'en_GB-test_live-x_low.onnx', { content: fs.readFileSync(voice) });
  mirror.put('test/live-voice', 'en_GB-test_live-x_low.onnx.json', { content: fs.readFileSync(`${voice}.json`) });
  mirror.put('test/live-whisper', 'ggml-live-test.bin', { content: fs.readFileSync(await ensureTinyWhisperModel()) });
  configFile = path.join(dir, 'config.json');
  fs.writeFileSync(
    configFile,
    JSON.stringify({
      dataDir: path.join(dir, 'data'),
      server: { enabled: false },
      wake: { verifyTranscript: false },
      // The LLM is a catalog (extra) model not downloaded yet; Whisper and the voice are the test-made files.
      llm: { model: '$models/tiny-alpha.gguf', contextSize: 512, maxAnswerTokens: 8, threads: 1 },
      stt: { model: await ensureTinyWhisperModel(), threads: 1 },
      tts: { voice },
      models: {
        baseUrl: mirror.baseUrl,
        retries: 1,
        stallTimeoutMs: 5000,
        extra: [
          extraLlm('test-alpha', 'Tiny Alpha', 'tiny-alpha.gguf', alpha),
          extraLlm('test-bravo', 'Tiny Bravo', 'tiny-bravo.gguf', bravo),
          extraLlm('test-charlie', 'Tiny Charlie', 'tiny-charlie.gguf', charlie),
          { id: 'test-live-voice', kind: 'tts', repo: 'test/live-voice', files: [{ path: 'en_GB-test_live-x_low.onnx' }, { path: 'en_GB-test_live-x_low.onnx.json' }] },
          { id: 'test-live-stt', kind: 'stt', repo: 'test/live-whisper', files: [{ path: 'ggml-live-test.bin' }] },
        ],
      },
    }),
  );
});

after(async () => {
  await mirror.close();
});

/** `to`: the model manager's own LLM stage, or an answer chain in front of it. */
async function answer(to: LiveModels | Responder, text: string): Promise<string> {
  const responder = to instanceof LiveModels ? to.responder : to;
  let reply = '';
  for await (const piece of responder.respond({ text, signal: new AbortController().signal })) reply += piece;
  return reply;
}

function nextEvent(models: LiveModels, match: (event: LiveModelEvent) => boolean, timeoutMs: number, what: string): Promise<LiveModelEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      models.off('event', listener);
      reject(new Error(`timed out waiting for ${what}`));
    }, timeoutMs);
    const listener = (event: LiveModelEvent) => {
      if (!match(event)) return;
      clearTimeout(timer);
      models.off('event', listener);
      resolve(event);
    };
    models.on('event', listener);
  });
}

describe('models in the running assistant (real engines, test-made models, loopback mirror)', () => {
  let config: JarvisConfig;
  let models: LiveModels;
  let stt: ReturnType<LiveModels['wrapTranscriber']>;
  let tts: ReturnType<LiveModels['wrapSynthesizer']>;
  const events: LiveModelEvent[] = [];

  before(() => {
    config = loadConfig({ file: configFile, env: {} });
    models = new LiveModels(config, silentLogger);
    models.on('event', (event) => events.push(event));
    stt = models.wrapTranscriber(new WhisperTranscriber({ model: config.stt.model, threads: 1, language: 'en', useGpu: false }));
    tts = models.wrapSynthesizer(createSynthesizer(config.tts).synthesizer);
    models.watch();
  });

  after(async () => {
    await models.dispose();
  });

  test('first run: plans the missing LLM, answers "still downloading" meanwhile, then swaps it in', async () => {
    const plan = await models.planDownloads();
    assert.deepEqual(plan.downloads.map((d) => [d.kind, d.entry.id, d.why]), [['llm', 'test-alpha', 'the configured model']]);
    assert.equal(plan.totalBytes, alpha.length);
    const downloading = models.download(plan);
    await nextEvent(models, (e) => e.type === 'download-progress' && e.progress.phase === 'downloading' && e.progress.receivedBytes > 0, 10_000, 'download progress');
    assert.match(await answer(models, 'what time is it'), /^I am still downloading my language model: \d+ percent of 123 kilobytes\. Please ask me again in a few minutes\.$/);
    await downloading;
    assert.ok(events.some((e) => e.type === 'download-done' && e.id === 'test-alpha'));
    assert.ok(events.some((e) => e.type === 'problem' && e.problem.id === 'models-downloading'));
    assert.ok(events.some((e) => e.type === 'problem-cleared' && e.id === 'llm-model'), 'the missing-model problem is solved');
    const reply = await answer(models, 'what time is it');
    assert.ok(reply.length > 0 && !reply.startsWith('I am still downloading'), reply);
    assert.equal(models.pool.activeKey, 'test-alpha');
  });

  test('`jarvis models use` in another process switches the running assistant\'s LLM without a restart', async () => {
    await models.store.pull(models.store.find('test-bravo'));
    const before = models.pool.activeResponder!.workerPid;
    const switched = nextEvent(models, (e) => e.type === 'switched' && e.id === 'test-bravo', 60_000, 'the switch to test-bravo');
    const cli = runJarvis(['-c', configFile, 'models', 'use', 'test-bravo']);
    assert.equal(await cli.exit, 0, cli.stderr.join('\n'));
    const exited = performance.now();
    const event = await switched;
    console.log(`# switched ${Math.round(performance.now() - exited)} ms after \`jarvis models use\` exited (load ${event.type === 'switched' ? Math.round(event.ms) : '?'} ms)`);
    assert.equal(models.pool.activeKey, 'test-bravo');
    assert.notEqual(models.pool.activeResponder!.workerPid, before);
    assert.ok((await answer(models, 'hello')).length > 0);
  });

  test('"switch to the alpha model", said aloud: the skills hear it, the model manager switches', async () => {
    // The answer chain as the daemon builds it: local skills in front of the pooled LLM, the manager behind them.
    const skills = new SkillsRuntime(config, silentLogger);
    skills.providers.modelSelector = liveModelSelector(models);
    const spoken = skills.responder(models.responder);
    try {
      const reply = await answer(spoken, 'Jarvis, switch to the alpha model.');
      assert.match(reply, /^Switched to Tiny Alpha, it took \d+\.\d seconds\.$/);
      assert.equal(models.pool.activeKey, 'test-alpha');
      assert.equal(await answer(spoken, 'use the alpha model'), 'I am already using Tiny Alpha.');
      assert.match(await answer(spoken, 'use the zebra model'), /I have no language model called zebra/);
    } finally {
      skills.dispose();
    }
  });

  test('select() (the HUD\'s command) swaps the voice and the Whisper model; a broken model leaves the current one', async () => {
    await models.store.pull(models.store.find('test-live-voice'));
    await models.store.pull(models.store.find('test-live-stt'));
    const firstVoice = tts.current;
    await models.select('test-live-voice');
    assert.equal(models.paths.tts.entry?.id, 'test-live-voice');
    assert.notEqual(tts.current, firstVoice, 'a new Piper voice is in place');
    assert.ok((await tts.synthesize({ text: 'hello there' })).samples.length > 0);
    assert.equal(models.effectiveConfig.tts.voice, path.join(models.store.dir, 'en_GB-test_live-x_low.onnx'));
    const firstWhisper = stt.current;
    await models.select('test-live-stt');
    assert.equal(models.paths.stt.entry?.id, 'test-live-stt');
    assert.notEqual(stt.current, firstWhisper);
    assert.equal((await stt.transcribe(new Int16Array(16_000))).text, TINY_WHISPER_TEXT);

    // A download damaged after it was verified (a disk error): the switch fails and Alpha stays.
    await models.store.pull(models.store.find('test-charlie'));
    fs.writeFileSync(path.join(models.store.dir, 'tiny-charlie.gguf'), 'not a model any more');
    await assert.rejects(models.select('test-charlie'), /not a GGUF model/);
    assert.ok(events.some((e) => e.type === 'switch-failed' && e.id === 'test-charlie'));
    assert.equal(models.pool.activeKey, 'test-alpha');
    assert.ok((await answer(models, 'hello')).length > 0, 'the current model still answers');
  });
});

describe('jarvis start on a first run', () => {
  let daemon: JarvisProcess | undefined;
  after(() => {
    daemon?.child.kill('SIGKILL');
  });

  test('--no-download says what is missing and what to run, and keeps listening', async () => {
    const fresh = path.join(dir, 'fresh-1');
    daemon = runJarvis(['-c', configFile, 'start', '--input', '-', '--no-download'], { JARVIS_DATA_DIR: fresh });
    const line = await daemon.waitFor((l) => l.includes('not downloading them because --no-download was given'), 60_000, 'the refusal');
    assert.match(line, /models missing \(123 kB\).*run `jarvis models pull test-alpha`/);
    await daemon.waitFor((l) => l.includes('listening to raw s16le'), 30_000, 'listening');
    daemon.child.stdin!.end();
    assert.equal(await daemon.exit, 0);
    assert.ok(!fs.existsSync(path.join(fresh, 'models', 'tiny-alpha.gguf')));
  });

  test('a download that fails (the model is not on the server yet) is tried again, backing off, and then used', async () => {
    const delta = buildTinyGguf({ seed: 504, name: 'tiny delta' });
    const raw = JSON.parse(fs.readFileSync(configFile, 'utf8')) as { llm: Record<string, unknown>; models: { extra: unknown[] } & Record<string, unknown> };
    const deltaConfig = path.join(dir, 'config-delta.json');
    fs.writeFileSync(deltaConfig, JSON.stringify({
      ...raw,
      llm: { ...raw.llm, model: '$models/tiny-delta.gguf' },
      models: { ...raw.models, downloadRetryMs: 500, extra: [...raw.models.extra, extraLlm('test-delta', 'Tiny Delta', 'tiny-delta.gguf', delta)] },
    }));
    const fresh = path.join(dir, 'fresh-3');
    daemon = runJarvis(['-c', deltaConfig, 'start', '--input', '-'], { JARVIS_DATA_DIR: fresh });
    const retrying = await daemon.waitFor((l) => l.includes('download failed; trying again in'), 60_000, 'the first failure');
    assert.match(retrying, /"waitMs":500/);
    await daemon.waitFor((l) => l.includes('download failed; trying again in') && l.includes('"waitMs":1000'), 30_000, 'the second failure, backed off');
    mirror.put('test/live-GGUF', 'tiny-delta.gguf', { content: delta });
    await daemon.waitFor((l) => l.includes('downloaded and verified test-delta'), 30_000, 'the download, once the file is there');
    await daemon.waitFor((l) => l.includes('now using test-delta for the language model'), 60_000, 'the swap');
    daemon.child.stdin!.end();
    assert.equal(await daemon.exit, 0);
    assert.deepEqual(fs.readFileSync(path.join(fresh, 'models', 'tiny-delta.gguf')), delta);
  });

  test('downloads the missing model while listening, then uses it', async () => {
    const fresh = path.join(dir, 'fresh-2');
    daemon = runJarvis(['-c', configFile, 'start', '--input', '-'], { JARVIS_DATA_DIR: fresh });
    const plan = await daemon.waitFor((l) => l.includes('models missing: downloading'), 60_000, 'the download plan');
    assert.match(plan, /downloading test-alpha \(123 kB, the configured model\): 123 kB in all/);
    await daemon.waitFor((l) => l.includes('downloaded and verified test-alpha'), 30_000, 'the download');
    await daemon.waitFor((l) => l.includes('now using test-alpha for the language model'), 60_000, 'the swap');
    daemon.child.stdin!.end();
    assert.equal(await daemon.exit, 0);
    assert.deepEqual(fs.readFileSync(path.join(fresh, 'models', 'tiny-alpha.gguf')), alpha);
  });
});

describe('a first run on the default config', () => {
  test('the LLM picked for this machine is the one named everywhere before it is downloaded: the stages open it, its problem says `jarvis models pull <id>`, `jarvis models list` marks it active', async () => {
    const dataDir = path.join(dir, 'default-config');
    const config = loadConfig({ env: {}, overrides: { dataDir, server: { enabled: false }, models: { offline: true } } });
    const models = new LiveModels(config, silentLogger);
    let picked: string;
    try {
      const plan = await models.planDownloads();
      const llm = plan.downloads.find((d) => d.kind === 'llm');
      assert.ok(llm, 'the LLM is planned');
      assert.match(llm.why, /best fit for this machine/);
      picked = llm.entry.id;
      const file = models.store.mainPath(llm.entry);
      assert.equal(models.paths.llm.path, file);
      assert.equal(models.effectiveConfig.llm.model, file, 'every command opens it');
      const isDefaultFile = path.basename(file) === DEFAULT_LLM_MODEL_FILE;
      if (!isDefaultFile) assert.equal(readSelection(dataDir).llm, picked, 'recorded for the other commands');
      const error = await models.responder.load().then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof ModelFileError && error.code === 'model-missing', String(error));
      assert.equal(error.path, file);
      if (isDefaultFile) assert.match(error.fix, /^Run `jarvis models pull`/);
      else assert.equal(error.fix, `Run \`jarvis models pull ${picked}\`.`);
    } finally {
      await models.dispose();
    }
    const list = runJarvis(['models', 'list'], { JARVIS_DATA_DIR: dataDir });
    assert.equal(await list.exit, 0, list.stderr.join('\n'));
    assert.ok(list.stdout.includes(`The active LLM ${picked} is not downloaded yet: jarvis models pull ${picked}`), list.stdout.join('\n'));
  });
});
