import path from 'node:path';
import { abortError, JarvisError } from '../../base/errors.ts';
import { CAPTURE_SAMPLE_RATE, type Transcriber, type Transcript } from '../ports.ts';
import { disposedError, LoadedOnce, modelKind, modelLoadError, settledFirst, transcriptionError, type WhisperModelOptions } from './whisper-common.ts';
import { findWhisperBuild, type AddonContext, type AddonLog, type WhisperAddon, type WhisperLocalBuild } from './whisper-local-build.ts';
import { inspectWhisperModel, WHISPER_AUDIO_CTX, type WhisperModelFileInfo } from './whisper-model-file.ts';
import { NativeLog } from './whisper-native.ts';

/**
 * Speech to text on the whisper.cpp built for this CPU at `npm install` (native/whisper, scripts/build-whisper.js).
 *
 * Like the prebuilt engine (whisper.ts) the model file is checked in JS before whisper.cpp sees it, and the model is
 * loaded once and kept. Unlike it: the load and every transcription run on a worker thread, so the event loop never
 * waits; an abort stops whisper.cpp between two ggml operations (native/whisper/abort-hook.h), so the next request
 * does not queue behind a cancelled one; the model keeps its threads between graphs instead of starting them for
 * every decoder step; and the encoder window (audio_ctx) is sized to each request instead of always encoding 30 s
 * (`stt.audioContext`).
 */

export interface LocalWhisperOptions extends WhisperModelOptions {
  /** "auto": sized to each request; 0: always the full 30 s window; another number: the smallest window. */
  readonly audioContext: 'auto' | number;
  /** The local build to use; default: the one `npm install` made. */
  readonly localBuild?: WhisperLocalBuild;
}

/** Frames of whisper.cpp's encoder window added after the request when it is sized automatically: 2.56 s. */
export const AUDIO_CONTEXT_MARGIN = 128;
const FRAME_MS = 30_000 / WHISPER_AUDIO_CTX;

/**
 * whisper.cpp's audio_ctx for a request of `audioMs`: 0 (its full window of `full` frames, 30 s) or a smaller window
 * that holds the request and a margin. Whisper was trained on 30 s windows, and too small a window makes it repeat
 * itself or stop early; whisper.cpp issue #1855 measured the length plus 128 frames on base.en (3× faster, same
 * words). The window never ends inside the request: the decoder seeks past a window's end, so audio there would be lost.
 */
export function audioContextFor(setting: 'auto' | number, audioMs: number, full = WHISPER_AUDIO_CTX): number {
  const fits = Math.ceil(Math.ceil(audioMs / FRAME_MS + AUDIO_CONTEXT_MARGIN) / 64) * 64;
  if (setting !== 'auto' && (setting === 0 || setting >= full)) return 0;
  const frames = setting === 'auto' ? fits : Math.max(setting, fits);
  return frames >= full ? 0 : frames;
}

/** ggml_log_level as NativeLog names them: NONE, DEBUG, INFO, WARN, ERROR, and CONT ("" continues the line). */
const LOG_LEVELS = ['info', 'debug', 'info', 'warn', 'error', ''];

/** One native run, as whisper.cpp timed it. */
export interface LocalWhisperRun {
  /** The encoder window used, in 20 ms frames (1500: the full 30 s). */
  readonly audioContext: number;
  readonly aborted: boolean;
  /** One encoder pass (the mean, where a request over 30 s took several). */
  readonly encodeMs: number;
  /** From the start of the native run to its end (an aborted run ends early). */
  readonly totalMs: number;
}

interface Loaded {
  readonly addon: WhisperAddon;
  readonly context: AddonContext;
  readonly info: WhisperModelFileInfo;
  readonly loadMs: number;
}

export class LocalWhisperTranscriber implements Transcriber {
  readonly engine = 'whisper.cpp';
  readonly #model = new LoadedOnce<Loaded>(() => this.#load(), (loaded) => loaded.addon.release(loaded.context));
  readonly #inFlight = new Set<(error: Error) => void>();
  /** The native run under way (or finished): transcriptions on one model run one after the other. */
  #running: Promise<unknown> = Promise.resolve();
  #lastRun: LocalWhisperRun | undefined;

  constructor(private readonly options: LocalWhisperOptions) {}

  get loadCount(): number {
    return this.#model.count;
  }

  /** Which build runs the model: always this CPU's. */
  get variant(): 'cpu' | undefined {
    return this.#model.value ? 'cpu' : undefined;
  }

  /** What the last native run did, including one aborted or cut short by dispose(). */
  get lastRun(): LocalWhisperRun | undefined {
    return this.#lastRun;
  }

  get description(): string {
    const file = path.basename(this.options.model);
    const loaded = this.#model.value;
    if (!loaded) return `whisper.cpp, ${file} (not loaded)`;
    const build = this.#build();
    const features = build.ok ? build.manifest.features.filter((f) => /^(AVX|FMA|F16C|AMX)/.test(f)).join(' ') : '';
    const window = this.options.audioContext === 'auto' ? 'audio_ctx sized to each request'
      : this.options.audioContext === 0 ? 'full 30 s audio_ctx' : `audio_ctx at least ${this.options.audioContext}`;
    return `whisper.cpp on CPU, ${this.options.threads} threads, built for this CPU (${build.ok ? `${build.manifest.whisperCpp}, ` : ''}` +
      `${features || 'no AVX'}), ${window}, ${file} (${modelKind(loaded.info)}), loaded in ${Math.round(loaded.loadMs)} ms`;
  }

  async load(): Promise<void> {
    await this.#model.get();
  }

  async transcribe(pcm16k: Int16Array, signal?: AbortSignal): Promise<Transcript> {
    const loaded = await this.#model.forTranscription(signal);
    const audioMs = (pcm16k.length * 1000) / CAPTURE_SAMPLE_RATE;
    const audioCtx = audioContextFor(this.options.audioContext, audioMs, loaded.info.hparams.nAudioCtx);
    const options = {
      threads: this.options.threads,
      language: loaded.info.multilingual ? this.options.language : 'en',
      audioCtx,
    };
    // A copy: the run may wait for the one before it, and the caller may reuse its buffer meanwhile.
    const samples = pcm16k.slice();
    return settledFirst<Transcript>(this.#inFlight, signal, (settle) => {
      let job: ReturnType<WhisperAddon['transcribe']> | undefined;
      let stopped = false;
      const start = () => {
        if (stopped) return undefined; // aborted while it waited for the one before
        job = loaded.addon.transcribe(loaded.context, samples, options);
        return job.promise.then(
          (result) => {
            const { aborted, encodeMs, totalMs } = result;
            this.#lastRun = { audioContext: audioCtx || loaded.info.hparams.nAudioCtx, aborted, encodeMs, totalMs };
            this.#debugLog(result.log);
            if (result.aborted) settle(this.#model.disposed ? disposedError() : abortError(signal, 'transcription aborted'));
            else settle(undefined, { text: result.text.trim(), audioMs });
          },
          (error: unknown) => settle(transcriptionError(error)),
        );
      };
      this.#running = this.#running.then(start, start);
      return () => {
        stopped = true;
        job?.abort();
      };
    });
  }

  async dispose(): Promise<void> {
    if (this.#model.disposed) return;
    const loaded = this.#model.dispose();
    for (const cancel of [...this.#inFlight]) cancel(disposedError());
    const model = await loaded;
    // A run still stopping (within one ggml operation) keeps the model until it has: addon.cpp frees it then.
    model?.addon.release(model.context);
  }

  #build(): WhisperLocalBuild {
    return this.options.localBuild ?? findWhisperBuild();
  }

  async #load(): Promise<Loaded> {
    const file = this.options.model;
    const started = performance.now();
    const info = await inspectWhisperModel(file);
    const build = this.#build();
    if (!build.ok) throw new JarvisError('stt-engine-unavailable', build.reason, build.fix);
    const log = this.#nativeLog();
    try {
      const { context, log: lines } = await build.addon.load(file);
      this.#replay(log, lines);
      return { addon: build.addon, context, info, loadMs: performance.now() - started };
    } catch (error) {
      this.#replay(log, (error as { log?: AddonLog }).log ?? []);
      throw modelLoadError(file, error, log);
    }
  }

  /** whisper.cpp's log goes to the debug log a line at a time; a failed load also shows its errors. */
  #nativeLog(): NativeLog {
    const debug = this.options.log;
    return new NativeLog(debug && ((line) => debug.debug({ whisperLevel: line.level }, `whisper.cpp: ${line.text}`)));
  }

  #replay(log: NativeLog, lines: AddonLog): void {
    for (const [level, text] of lines) log.write(LOG_LEVELS[level] ?? 'info', text);
    log.flush();
  }

  #debugLog(lines: AddonLog): void {
    if (this.options.log && lines.length > 0) this.#replay(this.#nativeLog(), lines);
  }
}
