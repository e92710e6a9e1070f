import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isAbortError, JarvisError } from '../base/errors.ts';
import { createTranscriber, type SttSettings } from '../voice/stt/select.ts';
import { audioContextFor, LocalWhisperTranscriber } from '../voice/stt/whisper-local.ts';
import { findWhisperBuild, missingInstructionSets } from '../voice/stt/whisper-local-build.ts';
import { concat, silence, speak } from './fixtures/speech.ts';
import { BASE_EN_SHAPE, ensureTinyWhisperModel, TINY_WHISPER_TEXT } from './models/whisper-ggml.ts';

/**
 * The whisper.cpp built for this CPU at `npm install` (native/whisper, scripts/build-whisper.js), run for real on
 * test-made random-weight models: the 1-layer one of the other tests, and one of ggml-base.en.bin's shape (6+6 layers,
 * 512 wide, f16, 148 MB) where what it costs matters. Neither recognises words; both say TINY_WHISPER_TEXT once per
 * window. The behaviour both engines share is tested in test/stt-whisper.test.ts.
 */

const local = (model: string, audioContext: 'auto' | number = 'auto') => ({ model, threads: 2, language: 'en', audioContext });

const settings = (model: string, extra: Partial<SttSettings> = {}): SttSettings => ({
  model,
  threads: 2,
  language: 'en',
  useGpu: false,
  build: 'auto',
  audioContext: 'auto',
  ...extra,
});

test('audio_ctx "auto" holds the request and 2.56 s more, in steps of 64 frames, and is the full window (0) from 27 s on; a number is the smallest window', () => {
  assert.equal(audioContextFor('auto', 3000), 320); // 150 frames of request + 128, rounded up
  assert.equal(audioContextFor('auto', 1000), 192);
  assert.equal(audioContextFor('auto', 0), 128);
  assert.equal(audioContextFor('auto', 26_000), 1472);
  assert.equal(audioContextFor('auto', 27_000), 0);
  assert.equal(audioContextFor('auto', 45_000), 0);
  assert.equal(audioContextFor(0, 3000), 0);
  assert.equal(audioContextFor(1500, 3000), 0);
  assert.equal(audioContextFor(500, 3000), 500, 'at least the number configured');
  assert.equal(audioContextFor(200, 10_000), 640, 'but never ends inside the request');
});

describe('LocalWhisperTranscriber: real whisper.cpp built for this CPU', () => {
  let tiny: string;
  let base: string;
  let request: Int16Array;

  before(async () => {
    const build = findWhisperBuild();
    assert.ok(build.ok, `the whisper.cpp build for this CPU is needed: ${build.ok ? '' : `${build.reason}. ${build.fix}`}`);
    const speech = await speak('Jarvis, what is the weather like tomorrow?');
    [tiny, base] = await Promise.all([ensureTinyWhisperModel(), ensureTinyWhisperModel({ ...BASE_EN_SHAPE, ftype: 1 })]);
    request = concat(speech, silence(Math.max(0, 3000 - speech.length / 16))); // a 3 s request
  });

  test('loads the model once when transcriptions arrive together before any load(), and runs them one after the other (test-made random-weight model)', async () => {
    const transcriber = new LocalWhisperTranscriber(local(tiny));
    try {
      const transcripts = await Promise.all([1, 2, 3].map(() => transcriber.transcribe(request)));
      assert.deepEqual(transcripts.map((t) => t.text), [TINY_WHISPER_TEXT, TINY_WHISPER_TEXT, TINY_WHISPER_TEXT]);
      assert.equal(transcriber.loadCount, 1);
      assert.match(transcriber.description, /whisper\.cpp on CPU, 2 threads, built for this CPU \(1\.\d+\.\d+, .*\), audio_ctx sized to each request/);
    } finally {
      await transcriber.dispose();
    }
  });

  describe('on a model of ggml-base.en.bin\'s shape (test-made, random weights, f16)', () => {
    let full: LocalWhisperTranscriber;
    let sized: LocalWhisperTranscriber;
    /** One run with the full window, shared by both tests: at 4 s a run on 2 cores, the suite cannot afford more. */
    let fullText: string;
    let fullRun: NonNullable<LocalWhisperTranscriber['lastRun']>;

    before(async () => {
      full = new LocalWhisperTranscriber(local(base, 0));
      sized = new LocalWhisperTranscriber(local(base));
      await Promise.all([full.load(), sized.load()]);
      fullText = (await full.transcribe(request)).text;
      fullRun = full.lastRun!;
      // The first run of a model pays for first-time allocations: the sized run compared is a later one (the full
      // run keeps its first-run cost, which only makes it slower than the comparison needs).
      await sized.transcribe(request);
    });

    after(async () => {
      await Promise.all([full?.dispose(), sized?.dispose()]);
    });

    test('audio_ctx sized to a 3 s request encodes 320 frames instead of 1500, several times faster, with the same transcript (real whisper.cpp built for this CPU)', async (t) => {
      const sizedText = (await sized.transcribe(request)).text;
      const sizedRun = sized.lastRun!;
      assert.equal(fullText, TINY_WHISPER_TEXT);
      assert.equal(sizedText, TINY_WHISPER_TEXT, 'the 6-layer decoder still says its text with the smaller window');
      assert.equal(fullRun.audioContext, 1500);
      assert.equal(sizedRun.audioContext, 320);
      assert.ok(sizedRun.encodeMs < fullRun.encodeMs / 2, // about 5× when the machine is quiet
        `encoder ${sizedRun.encodeMs.toFixed(0)} ms with audio_ctx 320, ${fullRun.encodeMs.toFixed(0)} ms with 1500`);
      t.diagnostic(`3 s request, 2 threads: audio_ctx 1500 ${fullRun.totalMs.toFixed(0)} ms (encoder ${fullRun.encodeMs.toFixed(0)} ms), ` +
        `audio_ctx 320 ${sizedRun.totalMs.toFixed(0)} ms (encoder ${sizedRun.encodeMs.toFixed(0)} ms)`);
    });

    test('an abort stops whisper.cpp inside the encoder pass instead of after it, and the next request works (real whisper.cpp built for this CPU)', async (t) => {
      const fullMs = fullRun.totalMs;
      let started = performance.now();

      const controller = new AbortController();
      const abortAfterMs = fullMs / 5; // well inside the encoder, which is most of the run
      setTimeout(() => controller.abort(), abortAfterMs);
      started = performance.now();
      await assert.rejects(full.transcribe(request, controller.signal), (error: unknown) => isAbortError(error));
      const rejectedMs = performance.now() - started;
      assert.ok(rejectedMs < abortAfterMs + 100, `rejected ${rejectedMs.toFixed(0)} ms after the start`);
      // The promise settles at once; the native run reports when it has really stopped.
      while (!full.lastRun?.aborted && performance.now() - started < 2 * fullMs) await new Promise((resolve) => setTimeout(resolve, 5));
      const aborted = full.lastRun!;
      assert.equal(aborted.aborted, true);
      assert.ok(aborted.totalMs < abortAfterMs + fullMs / 4,
        `the native run went on to ${aborted.totalMs.toFixed(0)} ms after an abort at ${abortAfterMs.toFixed(0)} ms; a whole run takes ${fullMs.toFixed(0)} ms`);

      assert.equal((await full.transcribe(request)).text, TINY_WHISPER_TEXT);
      assert.equal(full.loadCount, 1);
      t.diagnostic(`full run ${fullMs.toFixed(0)} ms; aborted at ${abortAfterMs.toFixed(0)} ms, rejected at ${rejectedMs.toFixed(0)} ms, native run stopped at ${aborted.totalMs.toFixed(0)} ms`);
    });

    test('the event loop keeps turning while whisper.cpp loads the model and transcribes a full window (real whisper.cpp built for this CPU)', async (t) => {
      let last = performance.now();
      let worstGap = 0;
      const timer = setInterval(() => {
        const now = performance.now();
        worstGap = Math.max(worstGap, now - last);
        last = now;
      }, 5);
      const started = performance.now();
      const another = new LocalWhisperTranscriber(local(base, 0));
      try {
        await another.load();
        await another.transcribe(request);
      } finally {
        clearInterval(timer);
        await another.dispose();
      }
      const ms = performance.now() - started;
      // Blocking would stand it still for the whole load or run; other test files loading the cores cause shorter gaps.
      assert.ok(worstGap < Math.min(500, ms / 3), `the event loop stood still for ${worstGap.toFixed(0)} ms of ${ms.toFixed(0)} ms`);
      t.diagnostic(`load + full-window transcription ${ms.toFixed(0)} ms; longest event-loop gap ${worstGap.toFixed(0)} ms`);
    });
  });
});

describe('createTranscriber: which whisper.cpp runs it, and why (real runtimes, test-made random-weight model)', () => {
  let tiny: string;
  let scratch: string;
  let speech: Int16Array;

  before(async () => {
    [tiny, speech] = await Promise.all([ensureTinyWhisperModel(), speak('Jarvis, stop.')]);
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-whisper-build-'));
  });

  after(() => fs.rmSync(scratch, { recursive: true, force: true }));

  /** A build folder holding `manifest` as its build.json (none when undefined). */
  function buildDir(name: string, manifest?: object): string {
    const dir = path.join(scratch, name);
    fs.mkdirSync(dir, { recursive: true });
    if (manifest) fs.writeFileSync(path.join(dir, 'build.json'), JSON.stringify(manifest));
    return dir;
  }

  function warnings() {
    const said: { details: { reason: string; fix: string }; message: string }[] = [];
    return { said, log: { debug: () => undefined, warn: (details: object, message?: string) => said.push({ details: details as never, message: message ?? '' }) } };
  }

  test('the local build when it is there', async () => {
    const whisper = createTranscriber(settings(tiny));
    try {
      assert.equal((await whisper.transcribe(speech)).text, TINY_WHISPER_TEXT);
      assert.equal(whisper.runtime, 'local');
      assert.equal(whisper.fallback, undefined);
      assert.match(whisper.description, /built for this CPU/);
    } finally {
      await whisper.dispose();
    }
  });

  const missing = [
    { name: 'never built (npm install --ignore-scripts)', manifest: undefined, says: /not there .*build\.json.*--ignore-scripts/ },
    { name: 'not built for want of cmake', manifest: { ok: false, reason: 'not built: cmake not found', fix: 'sudo apt install cmake' }, says: /missing: not built: cmake not found/ },
    {
      name: 'built on a CPU with instructions this one lacks',
      manifest: { ok: true, addon: 'jarvis-whisper.node', whisperCpp: '1.9.1', source: 'x', cpu: 'Future CPU', cpuFlags: ['avx2', 'made_up_flag'], features: [], compiler: 'g++' },
      says: /made for another CPU \(Future CPU\); this one lacks made_up_flag/,
    },
    {
      name: 'a file that is not a loadable addon',
      manifest: { ok: true, addon: 'broken.node', whisperCpp: '1.9.1', source: 'x', cpu: 'x', cpuFlags: [], features: [], compiler: 'g++' },
      says: /did not load \(.*broken\.node: /,
    },
  ];
  for (const { name, manifest, says } of missing) {
    test(`a local build ${name}: the prebuilt binding stands in, and the log and the description say why and how to fix it`, async () => {
      const dir = buildDir(name.replace(/\W+/g, '-'), manifest);
      fs.writeFileSync(path.join(dir, 'broken.node'), 'not an ELF file');
      const { said, log } = warnings();
      const whisper = createTranscriber(settings(tiny), log, { buildDir: dir });
      try {
        assert.equal((await whisper.transcribe(speech)).text, TINY_WHISPER_TEXT);
        assert.equal(whisper.runtime, 'prebuilt');
        assert.match(whisper.fallback?.reason ?? '', says);
        assert.match(whisper.description, /prebuilt @fugood\/whisper\.node.*; the whisper\.cpp build .*(for this CPU|for another CPU)/);
        assert.equal(said.length, 1);
        assert.match(said[0]!.message, /falls back to the prebuilt @fugood\/whisper\.node/);
        assert.match(said[0]!.details.reason, says);
        assert.ok(said[0]!.details.fix.length > 10, said[0]!.details.fix);
      } finally {
        await whisper.dispose();
      }
    });
  }

  test('stt.build "local" without the local build fails to load with the reason and the fix, instead of falling back', async () => {
    const whisper = createTranscriber(settings(tiny, { build: 'local' }), undefined, { buildDir: buildDir('none') });
    await assert.rejects(whisper.load(), (error: unknown) => {
      assert.ok(error instanceof JarvisError);
      assert.equal(error.code, 'stt-engine-unavailable');
      assert.match(error.fix, /npm run build:whisper/);
      return true;
    });
    await whisper.dispose();
  });

  test('stt.build "prebuilt" runs the @fugood/whisper.node binding even with the local build there', async () => {
    const whisper = createTranscriber(settings(tiny, { build: 'prebuilt' }));
    try {
      await whisper.load();
      assert.equal(whisper.runtime, 'prebuilt');
      assert.equal(whisper.fallback, undefined);
    } finally {
      await whisper.dispose();
    }
  });

  test('a build needs every instruction set it was made with', () => {
    assert.deepEqual(missingInstructionSets(['avx2', 'avx512f'], new Set(['avx2'])), ['avx512f']);
    assert.deepEqual(missingInstructionSets(['avx2'], new Set(['avx2', 'fma'])), []);
    assert.deepEqual(missingInstructionSets(['avx2'], undefined), [], 'no /proc/cpuinfo: not checked');
  });
});
