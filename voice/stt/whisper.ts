import path from 'node:path';
import { abortError, JarvisError, ModelFileError } from '../../base/errors.ts';
import { CAPTURE_SAMPLE_RATE, type Transcriber, type Transcript } from '../ports.ts';
import { inspectWhisperModel, whisperModelUrl, type WhisperModelFileInfo } from './whisper-model-file.ts';
import {
  firstLine,
  NativeLog,
  pickVariant,
  withNativeLog,
  type NativeWhisperContext,
  type WhisperVariant,
} from './whisper-native.ts';

/**
 * Speech to text on whisper.cpp, in-process through @fugood/whisper.node 1.1.3.
 *
 * The model file is checked in JS before whisper.cpp sees it (whisper-model-file.ts), so that each bad file gets
 * its own error code and fix instead of whisper.cpp's one "Failed to initialize whisper context".
 *
 * Whisper always encodes a full 30 s window, whatever the utterance length. whisper.cpp can shrink that window
 * (`audio_ctx`), but the binding 1.1.3 only forwards `audioCtx` to Parakeet (src/common.cpp,
 * createParakeetParamsFromOptions); createFullParamsFromOptions, used for Whisper, ignores it. So a 2 s command
 * costs the same encoder time as 30 s of speech, and nothing here pretends otherwise.
 */

export interface WhisperTranscriberOptions {
  /** A whisper.cpp ggml model file (paths already resolved by the config loader). */
  readonly model: string;
  readonly threads: number;
  /** An ISO code such as "en", or "auto"; English-only models always transcribe English. */
  readonly language: string;
  readonly useGpu: boolean;
  /** Gets whisper.cpp's log of each model load, a line at a time (pino's Logger fits); otherwise it is dropped. */
  readonly log?: { debug(details: object, message?: string): void };
}

interface Loaded {
  readonly context: NativeWhisperContext;
  readonly variant: WhisperVariant;
  readonly info: WhisperModelFileInfo;
  readonly note?: string;
  readonly loadMs: number;
}

export class WhisperTranscriber implements Transcriber {
  readonly engine = 'whisper.cpp';
  #loading: Promise<Loaded> | undefined;
  #loaded: Loaded | undefined;
  #disposed = false;
  #loadCount = 0;
  /** Cancels a transcription still waiting for whisper.cpp. */
  readonly #inFlight = new Set<(error: Error) => void>();

  constructor(private readonly options: WhisperTranscriberOptions) {}

  /** How many times the native model was loaded: 1 after any number of transcriptions. */
  get loadCount(): number {
    return this.#loadCount;
  }

  /** Which build runs the model, once loaded. */
  get variant(): WhisperVariant | undefined {
    return this.#loaded?.variant;
  }

  /** For logs and `jarvis doctor`: model, build, threads, and why the GPU was not used when it was asked for. */
  get description(): string {
    const file = path.basename(this.options.model);
    const loaded = this.#loaded;
    if (!loaded) return `whisper.cpp, ${file} (not loaded)`;
    const { info } = loaded;
    const kind = `${info.multilingual ? 'multilingual' : 'English-only'}, ${info.hparams.nAudioLayer}+${info.hparams.nTextLayer} layers, ${info.weightType}`;
    const where = loaded.variant === 'cuda' ? 'CUDA GPU' : `CPU, ${this.options.threads} threads`;
    return `whisper.cpp on ${where}, ${file} (${kind}), loaded in ${Math.round(loaded.loadMs)} ms` +
      (loaded.note ? `; GPU not used: ${loaded.note}` : '');
  }

  async load(): Promise<void> {
    await this.#ready();
  }

  async transcribe(pcm16k: Int16Array, signal?: AbortSignal): Promise<Transcript> {
    if (signal?.aborted) throw abortError(signal, 'transcription aborted');
    const loaded = await this.#ready();
    if (signal?.aborted) throw abortError(signal, 'transcription aborted');
    if (this.#disposed) throw disposedError(); // dispose() ran while we waited
    const audioMs = (pcm16k.length * 1000) / CAPTURE_SAMPLE_RATE;

    const job = loaded.context.transcribeData(exactArrayBuffer(pcm16k), {
      language: loaded.info.multilingual ? this.options.language : 'en',
      maxThreads: this.options.threads,
    });
    // Every way out but success is settled here, never by the binding. Its stop() only raises a flag that whisper.cpp
    // does not poll for Whisper (no abort_callback is wired, unlike its Parakeet path), so the run goes on in the
    // background. And when a run ends in error ("Transcription cancelled", "Transcription failed"), the binding never
    // settles its promise: the worker's OnError calls back with one argument, which the callback in
    // WhisperContext.cpp ignores. A caller that needs a bound on a failing native run passes a signal with a timeout.
    return new Promise<Transcript>((resolve, reject) => {
      const finish = (error?: Error, transcript?: Transcript) => {
        signal?.removeEventListener('abort', onAbort);
        this.#inFlight.delete(cancel);
        if (error) reject(error);
        else resolve(transcript!);
      };
      const cancel = (error: Error) => {
        void job.stop().catch(() => undefined);
        finish(error);
      };
      const onAbort = () => cancel(abortError(signal, 'transcription aborted'));
      this.#inFlight.add(cancel);
      signal?.addEventListener('abort', onAbort, { once: true });
      job.promise.then(
        (result) => {
          if (result.isAborted) finish(this.#disposed ? disposedError() : abortError(signal, 'transcription aborted'));
          else finish(undefined, { text: result.result.trim(), audioMs });
        },
        (error: unknown) => {
          finish(new JarvisError('stt-failed', `whisper.cpp failed to transcribe: ${firstLine(error)}`,
            'Try again; if it keeps failing, check the model file and the whisper.cpp messages on stderr.', { cause: error }));
        },
      );
    });
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const cancel of [...this.#inFlight]) cancel(disposedError());
    const loaded = this.#loaded ?? (await this.#loading?.catch(() => undefined));
    this.#loaded = undefined;
    // Release cancels queued jobs; a running one keeps the native context alive until it returns.
    await loaded?.context.release();
  }

  #ready(): Promise<Loaded> {
    if (this.#disposed) return Promise.reject(disposedError());
    if (this.#loaded) return Promise.resolve(this.#loaded);
    this.#loading ??= this.#load().then(
      (loaded) => {
        if (this.#disposed) {
          void loaded.context.release();
          throw disposedError();
        }
        this.#loaded = loaded;
        return loaded;
      },
      (error: unknown) => {
        this.#loading = undefined; // the user may fix the file; the next turn tries again
        throw error;
      },
    );
    return this.#loading;
  }

  async #load(): Promise<Loaded> {
    const file = this.options.model;
    const started = performance.now();
    const info = await inspectWhisperModel(file);
    const { variant, module, note } = await pickVariant(this.options.useGpu);
    // whisper.cpp logs each step of the load: kept off stderr, passed to the debug log, and shown if the load fails.
    const debug = this.options.log;
    const log = new NativeLog(debug && ((line) => debug.debug({ whisperLevel: line.level }, `whisper.cpp: ${line.text}`)));
    let context: NativeWhisperContext;
    try {
      // Synchronous in the binding: the event loop waits while whisper.cpp reads the weights.
      context = await withNativeLog(module, log, () => new module.WhisperContext({ filePath: file, useGpu: variant === 'cuda' }));
    } catch (error) {
      const said = log.relevant();
      throw new ModelFileError('model-load-failed', file,
        `whisper.cpp could not load ${file}: ${firstLine(error)}${said.map((line) => `\n  ${line}`).join('')}`,
        `If the file came from elsewhere, download ${whisperModelUrl(file)} instead.`,
        { cause: error });
    }
    this.#loadCount++;
    return { context, variant, info, loadMs: performance.now() - started, ...(note ? { note } : {}) };
  }
}

/** The binding reads the whole ArrayBuffer, ignoring a view's offset and length. */
function exactArrayBuffer(pcm: Int16Array): ArrayBuffer {
  if (pcm.buffer instanceof ArrayBuffer && pcm.byteOffset === 0 && pcm.byteLength === pcm.buffer.byteLength) return pcm.buffer;
  return pcm.slice().buffer as ArrayBuffer;
}

function disposedError(): JarvisError {
  return new JarvisError('stt-disposed', 'the Whisper transcriber was used after dispose()',
    'Create a new WhisperTranscriber; dispose() is final.');
}
