import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { isAbortError, JarvisError, ModelFileError } from '../base/errors.ts';
import type { Transcriber } from '../voice/ports.ts';
import { WhisperTranscriber, type WhisperTranscriberOptions } from '../voice/stt/whisper.ts';
import { LocalWhisperTranscriber } from '../voice/stt/whisper-local.ts';
import { findWhisperBuild } from '../voice/stt/whisper-local-build.ts';
import { inspectWhisperModel } from '../voice/stt/whisper-model-file.ts';
import { cudaBlocker, NativeLog, withNativeLog, type NativeWhisperModule } from '../voice/stt/whisper-native.ts';
import { concat, repoRoot, silence, speak } from './fixtures/speech.ts';
import { TINY_WHISPER_TEXT, ensureTinyWhisperModel } from './models/whisper-ggml.ts';

/**
 * These run the real whisper.cpp runtimes, both of them: the build made for this CPU at `npm install`
 * (LocalWhisperTranscriber, native/whisper) and the prebuilt @fugood/whisper.node binding (WhisperTranscriber), on a
 * test-made whisper.cpp model with random weights: no Whisper weights can be downloaded here. That model does not
 * recognise speech; it says TINY_WHISPER_TEXT once per 30 s window, so the tests check the code path, the errors and
 * the timing, not the words. What only the local build does is in test/stt-whisper-local.test.ts.
 */

const scratch = path.join(repoRoot, '.cache', 'test-models', 'stt-whisper-scratch');

const options = (model: string, extra: Partial<WhisperTranscriberOptions> = {}): WhisperTranscriberOptions => ({
  model,
  threads: 2,
  language: 'en',
  useGpu: false,
  ...extra,
});

type TestedEngine = Transcriber & { readonly loadCount: number; readonly variant: string | undefined; readonly description: string };

const ENGINES = [
  {
    name: 'LocalWhisperTranscriber (whisper.cpp built for this CPU)',
    module: './voice/stt/whisper-local.ts',
    className: 'LocalWhisperTranscriber',
    make: (o: WhisperTranscriberOptions): TestedEngine => new LocalWhisperTranscriber({ ...o, audioContext: 'auto' }),
  },
  {
    name: 'WhisperTranscriber (prebuilt @fugood/whisper.node)',
    module: './voice/stt/whisper.ts',
    className: 'WhisperTranscriber',
    make: (o: WhisperTranscriberOptions): TestedEngine => new WhisperTranscriber(o),
  },
] as const;

function expectModelError(code: ConstructorParameters<typeof ModelFileError>[0], file: string) {
  return (error: unknown) => {
    assert.ok(error instanceof ModelFileError, `expected ModelFileError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.equal(error.path, file);
    assert.ok(error.fix.length > 20, 'a fix the user can act on');
    return true;
  };
}

for (const engine of ENGINES) describe(`${engine.name}: real whisper.cpp runtime, test-made random-weight model`, () => {
  const scratchDir = `${scratch}-${engine.className}`;
  let model: string;
  let speech: Int16Array;
  let transcriber: TestedEngine;

  before(async () => {
    if (engine.className === 'LocalWhisperTranscriber') {
      const build = findWhisperBuild();
      assert.ok(build.ok, `the whisper.cpp build for this CPU is needed: ${build.ok ? '' : `${build.reason}. ${build.fix}`}`);
    }
    fs.rmSync(scratchDir, { recursive: true, force: true });
    fs.mkdirSync(scratchDir, { recursive: true });
    [model, speech] = await Promise.all([
      ensureTinyWhisperModel(),
      speak('Jarvis, what is the weather like tomorrow?'),
    ]);
    transcriber = engine.make(options(model));
  });

  after(async () => {
    await transcriber?.dispose();
    fs.rmSync(scratchDir, { recursive: true, force: true });
  });

  test('the test-made random-weight model passes the JS format check and loads once in the real whisper.cpp runtime, even when load() is called concurrently', async (t) => {
    const info = await inspectWhisperModel(model);
    assert.equal(info.multilingual, false);
    assert.equal(info.hparams.nAudioCtx, 1500);

    const started = performance.now();
    await Promise.all([transcriber.load(), transcriber.load(), transcriber.load()]);
    const loadMs = performance.now() - started;
    await transcriber.load();
    assert.equal(transcriber.loadCount, 1);
    assert.equal(transcriber.variant, 'cpu');
    assert.match(transcriber.description, /whisper\.cpp on CPU, 2 threads/);
    t.diagnostic(`model ${(info.sizeBytes / 1e6).toFixed(1)} MB, load ${loadMs.toFixed(0)} ms: ${transcriber.description}`);
  });

  test('transcribes real espeak-ng speech through the real whisper.cpp runtime (test-made random-weight model) to a string with the right audioMs', async (t) => {
    const started = performance.now();
    const transcript = await transcriber.transcribe(speech);
    const ms = performance.now() - started;
    assert.equal(typeof transcript.text, 'string');
    assert.equal(transcript.text, TINY_WHISPER_TEXT, 'trimmed text of the one 30 s window');
    assert.equal(transcript.audioMs, (speech.length / 16_000) * 1000);
    assert.ok(transcript.audioMs > 2000 && transcript.audioMs < 5000, `espeak-ng clip of ${transcript.audioMs} ms`);
    t.diagnostic(`${transcript.audioMs.toFixed(0)} ms of audio transcribed in ${ms.toFixed(0)} ms`);
  });

  test('keeps the model loaded: a second transcription does not reload it (real whisper.cpp runtime, test-made random-weight model)', async (t) => {
    const times: number[] = [];
    for (let i = 0; i < 2; i++) {
      const started = performance.now();
      assert.equal((await transcriber.transcribe(speech)).text, TINY_WHISPER_TEXT);
      times.push(performance.now() - started);
    }
    assert.equal(transcriber.loadCount, 1);
    t.diagnostic(`two more transcriptions: ${times.map((ms) => ms.toFixed(0)).join(' ms, ')} ms, loads still 1`);
  });

  test('sends only the samples of a subarray view, not the whole buffer behind it (real whisper.cpp runtime, test-made random-weight model)', async () => {
    // 45 s behind a 3 s view: if the binding saw the whole buffer it would decode two 30 s windows.
    const backing = concat(speech, silence(42_000));
    const view = backing.subarray(0, speech.length);
    const transcript = await transcriber.transcribe(view);
    assert.equal(transcript.text, TINY_WHISPER_TEXT);
    assert.equal(transcript.audioMs, (speech.length / 16_000) * 1000);
    const whole = await transcriber.transcribe(backing);
    assert.equal(whole.text, `${TINY_WHISPER_TEXT} ${TINY_WHISPER_TEXT}`, 'over 30 s: one segment per window');
  });

  test('aborting mid-transcription rejects promptly as aborted, and the next transcription still works (real whisper.cpp runtime, test-made random-weight model)', async (t) => {
    const long = concat(speech, silence(42_000)); // two encoder windows, so there is time to abort in the middle
    let started = performance.now();
    await transcriber.transcribe(long);
    const fullMs = performance.now() - started;

    const controller = new AbortController();
    // Early enough to be inside the run even when the timed run was slowed by a busy machine and this one is not
    // (the quickest whole run seen here, the build for this CPU on a quiet box, took 850 ms).
    const abortAfterMs = Math.min(fullMs / 4, 150);
    setTimeout(() => controller.abort(), abortAfterMs);
    started = performance.now();
    await assert.rejects(transcriber.transcribe(long, controller.signal), (error: unknown) => {
      assert.ok(isAbortError(error), `expected an AbortError, got ${String(error)}`);
      return true;
    });
    const rejectedAfterMs = performance.now() - started;
    assert.ok(rejectedAfterMs < abortAfterMs + 100, `rejected ${rejectedAfterMs.toFixed(0)} ms after the start`);
    assert.ok(rejectedAfterMs < fullMs * 0.75, 'before the native run could have finished');

    const already = new AbortController();
    already.abort();
    await assert.rejects(transcriber.transcribe(speech, already.signal), { name: 'AbortError' });

    assert.equal((await transcriber.transcribe(speech)).text, TINY_WHISPER_TEXT);
    assert.equal(transcriber.loadCount, 1);
    t.diagnostic(`full run ${fullMs.toFixed(0)} ms; aborted at ${abortAfterMs.toFixed(0)} ms, rejected at ${rejectedAfterMs.toFixed(0)} ms`);
  });

  test('a missing model file gives model-missing with the Hugging Face URL and where to save it, without crashing', async () => {
    const file = path.join(scratchDir, 'models', 'ggml-base.en.bin');
    const missing = engine.make(options(file));
    await assert.rejects(missing.load(), (error: unknown) => {
      expectModelError('model-missing', file)(error);
      const { fix } = error as ModelFileError;
      assert.ok(fix.includes('https://huggingface.co/ggerganov/whisper.cpp/resolve/main/ggml-base.en.bin'), fix);
      assert.ok(fix.includes(file), fix);
      return true;
    });
    // Also through transcribe(), and a later load() tries again rather than caching the failure.
    await assert.rejects(missing.transcribe(speech), expectModelError('model-missing', file));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.copyFileSync(model, file);
    await missing.load();
    assert.equal(missing.loadCount, 1);
    await missing.dispose();
  });

  test('a truncated model (the test-made model cut in half, or cut before its tensors) gives model-corrupt, without crashing', async () => {
    const bytes = fs.readFileSync(model);
    const half = path.join(scratchDir, 'half.bin');
    fs.writeFileSync(half, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await assert.rejects(engine.make(options(half)).load(), (error: unknown) => {
      expectModelError('model-corrupt', half)(error);
      assert.match((error as Error).message, /needs at least \d+/);
      return true;
    });

    // whisper.cpp itself would load this one as an "empty model for testing" and decode nonsense.
    const firstTensor = bytes.indexOf('encoder.positional_embedding') - (3 + 2) * 4;
    const headerOnly = path.join(scratchDir, 'header-only.bin');
    fs.writeFileSync(headerOnly, bytes.subarray(0, firstTensor));
    await assert.rejects(engine.make(options(headerOnly)).load(), (error: unknown) => {
      expectModelError('model-corrupt', headerOnly)(error);
      assert.match((error as Error).message, /ends after 0 of the \d+ tensors/);
      return true;
    });
  });

  test('a file that is not a ggml Whisper model (random bytes, a GGUF file) gives model-wrong-format, without crashing', async () => {
    const noise = path.join(scratchDir, 'noise.bin');
    const random = Buffer.alloc(64 * 1024);
    for (let i = 0; i < random.length; i++) random[i] = (i * 2654435761) >>> 24;
    fs.writeFileSync(noise, random);
    await assert.rejects(engine.make(options(noise)).load(), expectModelError('model-wrong-format', noise));

    const gguf = path.join(scratchDir, 'model.gguf');
    const header = Buffer.alloc(24);
    header.write('GGUF', 0, 'latin1');
    header.writeUInt32LE(3, 4); // version 3, zero tensors, zero metadata
    fs.writeFileSync(gguf, header);
    await assert.rejects(engine.make(options(gguf)).load(), (error: unknown) => {
      expectModelError('model-wrong-format', gguf)(error);
      assert.match((error as Error).message, /GGUF/);
      return true;
    });
  });

  // The local build has the CPU backend only; the prebuilt binding is the one with a CUDA build.
  if (engine.className === 'WhisperTranscriber') {
    test('useGpu picks the CUDA build only where it can run, and otherwise says why it used the CPU (real whisper.cpp runtime, test-made random-weight model)', async (t) => {
      const gpu = new WhisperTranscriber(options(model, { useGpu: true }));
      await gpu.load();
      if (gpu.variant === 'cuda') assert.match(gpu.description, /CUDA GPU/);
      else assert.match(gpu.description, /on CPU.*GPU not used: .+/);
      assert.equal((await gpu.transcribe(speech)).text, TINY_WHISPER_TEXT);
      t.diagnostic(gpu.description);
      await gpu.dispose();
    });
  }

  test('whisper.cpp\'s model-load log goes to the debug logger instead of stderr, and a script that loads and transcribes still exits by itself (real whisper.cpp runtime, test-made random-weight model)', async () => {
    const script = `
      const { ${engine.className} } = await import('${engine.module}');
      const messages = [];
      const log = { debug: (details, message) => messages.push({ details, message }) };
      const transcriber = new ${engine.className}({ model: process.argv[1], threads: 2, language: 'en', useGpu: false, audioContext: 'auto', log });
      await transcriber.load();
      const transcript = await transcriber.transcribe(new Int16Array(16000));
      console.log(JSON.stringify({ messages, text: transcript.text }));
    `; // no dispose(): nothing whisper.cpp leaves behind may keep the process alive
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script, model],
      { cwd: repoRoot, timeout: 30_000 },
    );
    const { messages, text } = JSON.parse(stdout) as { messages: { details: { whisperLevel: string }; message: string }[]; text: string };
    assert.equal(text, TINY_WHISPER_TEXT);
    assert.doesNotMatch(stderr, /whisper_|ggml_/, 'nothing from whisper.cpp on stderr');
    assert.ok(messages.some((m) => /^whisper\.cpp: whisper_model_load: n_vocab += 51864$/.test(m.message)), JSON.stringify(messages));
    assert.ok(messages.every((m) => m.details.whisperLevel === 'info' && !m.message.includes('\n')), 'one info line per message');
  });

  test('after dispose(), transcribe and load fail with a clear stt-disposed error, and so does a transcription dispose() cut short', async () => {
    const disposable = engine.make(options(model));
    await disposable.load();
    const inFlight = disposable.transcribe(concat(speech, silence(42_000))); // two 30 s windows: it takes a while
    await new Promise((resolve) => setTimeout(resolve, 50)); // inside whisper.cpp by now
    await disposable.dispose();
    await assert.rejects(inFlight, { code: 'stt-disposed' });
    await disposable.dispose(); // idempotent
    for (const attempt of [() => disposable.transcribe(speech), () => disposable.load()]) {
      await assert.rejects(attempt(), (error: unknown) => {
        assert.ok(error instanceof JarvisError);
        assert.equal(error.code, 'stt-disposed');
        assert.match(error.message, /after dispose/);
        return true;
      });
    }
  });
});

describe('the prebuilt binding\'s GPU check and log (no model)', () => {
  test('the CUDA build is refused on GPUs its sm_89 kernels cannot run on, such as the Pascal GTX 1080 Ti', () => {
    // Lines as `nvidia-smi --query-gpu=name,compute_cap --format=csv,noheader` prints them.
    assert.match(cudaBlocker('NVIDIA GeForce GTX 1080 Ti, 6.1\n') ?? '', /GTX 1080 Ti has compute capability 6\.1/);
    assert.match(cudaBlocker('NVIDIA GeForce RTX 4090, 8.9\nNVIDIA GeForce RTX 3090, 8.6\n') ?? '', /RTX 3090/);
    assert.match(cudaBlocker('NVIDIA GeForce RTX 4090, [N/A]\n') ?? '', /\[N\/A\]/);
    assert.match(cudaBlocker('') ?? '', /no GPU/);
    assert.equal(cudaBlocker('NVIDIA GeForce RTX 4090, 8.9\n'), undefined);
    assert.equal(cudaBlocker('NVIDIA H100 80GB HBM3, 9.0\n'), undefined);
  });

  test('withNativeLog puts whisper.cpp\'s log pieces back into lines, keeps the last ones, says which explain a failure, and switches the JS log off again', async () => {
    const toggles: boolean[] = [];
    let callback: ((level: string, text: string) => void) | undefined;
    const fake = {
      WhisperContext: {
        toggleNativeLog(enable: boolean, cb?: (level: string, text: string) => void) {
          toggles.push(enable);
          callback = enable ? cb : undefined;
        },
      },
    } as unknown as NativeWhisperModule;
    const forwarded: string[] = [];
    const log = new NativeLog((line) => forwarded.push(`${line.level}: ${line.text}`), 4);
    const failure = new Error('Failed to initialize whisper context');
    await assert.rejects(
      withNativeLog(fake, log, () => {
        const send = callback!;
        // The binding delivers on a later turn of the event loop, as its thread-safe function does.
        const later = (level: string, text: string) => setImmediate(() => send(level, text));
        for (let i = 1; i <= 3; i++) later('info', `whisper_model_load: line ${i}\n`);
        later('info', 'whisper_model_load: loading ');
        later('', 'model\n'); // ggml's continuation level
        later('error', 'whisper_model_load: unknown tensor \'x\' in model file\n\n');
        later('info', 'whisper_init: failed to load model');
        throw failure;
      }),
      (error: unknown) => error === failure,
    );
    assert.deepEqual(toggles, [true, false]);
    assert.deepEqual(forwarded, [
      'info: whisper_model_load: line 1',
      'info: whisper_model_load: line 2',
      'info: whisper_model_load: line 3',
      'info: whisper_model_load: loading model',
      "error: whisper_model_load: unknown tensor 'x' in model file",
      'info: whisper_init: failed to load model',
    ]);
    assert.equal(log.recent.length, 4, 'only the last lines are kept');
    assert.deepEqual(log.relevant(), ["whisper_model_load: unknown tensor 'x' in model file"]);

    const quiet = new NativeLog();
    assert.equal(await withNativeLog(fake, quiet, () => {
      callback!('info', 'a\nb\nc\nd\n');
      return 42;
    }), 42);
    assert.deepEqual(toggles, [true, false, true, false]);
    assert.deepEqual(quiet.relevant(), ['b', 'c', 'd'], 'without errors or warnings, the last three lines');
  });
});
