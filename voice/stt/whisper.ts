import path from 'node:path';
import { abortError } from '../../base/errors.ts';
import { CAPTURE_SAMPLE_RATE, type Transcriber, type Transcript } from '../ports.ts';
import {
  disposedError,
  LoadedOnce,
  modelKind,
  modelLoadError,
  settledFirst,
  transcriptionError,
  type WhisperModelOptions,
} from './whisper-common.ts';
import { inspectWhisperModel, type WhisperModelFileInfo } from './whisper-model-file.ts';
import { NativeLog, pickVariant, withNativeLog, type NativeWhisperContext, type WhisperVariant } from './whisper-native.ts';

/**
 * Speech to text on whisper.cpp, in-process through the prebuilt @fugood/whisper.node 1.1.3: the fallback for the
 * build made on this machine (whisper-local.ts; voice/stt/select.ts picks), and the only one with a CUDA build.
 * Its CPU build has no AVX, AVX2, FMA or F16C instructions: a 3 s request on a base.en-sized model takes 45 s on 2
 * cores, against 1.9 s for the local build with the same 30 s window and 0.33 s with audio_ctx fitted to the request.
 *
 * The model file is checked in JS before whisper.cpp sees it (whisper-model-file.ts), so that each bad file gets
 * its own error code and fix instead of whisper.cpp's one "Failed to initialize whisper context".
 *
 * Whisper always encodes a full 30 s window, whatever the utterance length. whisper.cpp can shrink that window
 * (`audio_ctx`), but the binding 1.1.3 only forwards `audioCtx` to Parakeet (src/common.cpp,
 * createParakeetParamsFromOptions); createFullParamsFromOptions, used for Whisper, ignores it. So a 2 s command
 * costs the same encoder time as 30 s of speech, and nothing here pretends otherwise.
 */

export interface WhisperTranscriberOptions extends WhisperModelOptions {
  readonly useGpu: boolean;
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
  readonly #model = new LoadedOnce<Loaded>(() => this.#load(), (loaded) => loaded.context.release());
  /** Cancels a transcription still waiting for whisper.cpp. */
  readonly #inFlight = new Set<(error: Error) => void>();

  constructor(private readonly options: WhisperTranscriberOptions) {}

  /** How many times the native model was loaded: 1 after any number of transcriptions. */
  get loadCount(): number {
    return this.#model.count;
  }

  /** Which build runs the model, once loaded. */
  get variant(): WhisperVariant | undefined {
    return this.#model.value?.variant;
  }

  /** For logs and `jarvis doctor`: model, build, threads, and why the GPU was not used when it was asked for. */
  get description(): string {
    const file = path.basename(this.options.model);
    const loaded = this.#model.value;
    if (!loaded) return `whisper.cpp, ${file} (not loaded)`;
    const where = loaded.variant === 'cuda' ? 'CUDA GPU' : `CPU, ${this.options.threads} threads, prebuilt @fugood/whisper.node (no AVX)`;
    return `whisper.cpp on ${where}, ${file} (${modelKind(loaded.info)}), loaded in ${Math.round(loaded.loadMs)} ms` +
      (loaded.note ? `; GPU not used: ${loaded.note}` : '');
  }

  async load(): Promise<void> {
    await this.#model.get();
  }

  async transcribe(pcm16k: Int16Array, signal?: AbortSignal): Promise<Transcript> {
    const loaded = await this.#model.forTranscription(signal);
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
    return settledFirst<Transcript>(this.#inFlight, signal, (settle) => {
      job.promise.then(
        (result) => {
          if (result.isAborted) settle(this.#model.disposed ? disposedError() : abortError(signal, 'transcription aborted'));
          else settle(undefined, { text: result.result.trim(), audioMs });
        },
        (error: unknown) => settle(transcriptionError(error)),
      );
      return () => void job.stop().catch(() => undefined);
    });
  }

  async dispose(): Promise<void> {
    if (this.#model.disposed) return;
    const loaded = this.#model.dispose();
    for (const cancel of [...this.#inFlight]) cancel(disposedError());
    // Release cancels queued jobs; a running one keeps the native context alive until it returns.
    await (await loaded)?.context.release();
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
      throw modelLoadError(file, error, log);
    }
    return { context, variant, info, loadMs: performance.now() - started, ...(note ? { note } : {}) };
  }
}

/** The binding reads the whole ArrayBuffer, ignoring a view's offset and length. */
function exactArrayBuffer(pcm: Int16Array): ArrayBuffer {
  if (pcm.buffer instanceof ArrayBuffer && pcm.byteOffset === 0 && pcm.byteLength === pcm.buffer.byteLength) return pcm.buffer;
  return pcm.slice().buffer as ArrayBuffer;
}
