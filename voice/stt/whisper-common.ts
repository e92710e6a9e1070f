import { abortError, JarvisError, ModelFileError } from '../../base/errors.ts';
import { whisperModelUrl, type WhisperModelFileInfo } from './whisper-model-file.ts';
import { firstLine, type NativeLog } from './whisper-native.ts';

/**
 * What both whisper.cpp engines (the local build, whisper-local.ts, and the prebuilt @fugood/whisper.node,
 * whisper.ts) do the same way: load the model once, settle a transcription at once when it is aborted or the
 * engine disposed, and say what failed.
 */

/** Gets whisper.cpp's log of each model load, a line at a time (pino's Logger fits); otherwise it is dropped. */
export interface WhisperDebugLog {
  debug(details: object, message?: string): void;
}

/** What both engines are given. */
export interface WhisperModelOptions {
  /** A whisper.cpp ggml model file (paths already resolved by the config loader). */
  readonly model: string;
  readonly threads: number;
  /** An ISO code such as "en", or "auto"; English-only models always transcribe English. */
  readonly language: string;
  readonly log?: WhisperDebugLog;
}

/** A model that is loaded once, loaded again after a failed load, and released if dispose() came first. */
export class LoadedOnce<T> {
  #loading: Promise<T> | undefined;
  #value: T | undefined;
  #disposed = false;
  #count = 0;

  constructor(
    private readonly load: () => Promise<T>,
    private readonly release: (value: T) => unknown,
  ) {}

  /** What was loaded, until dispose(). */
  get value(): T | undefined {
    return this.#value;
  }

  /** How many times the model was loaded: 1 after any number of transcriptions. */
  get count(): number {
    return this.#count;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /** The model for a transcription: loaded first if need be; an AbortError if `signal` aborts before it is there. */
  async forTranscription(signal: AbortSignal | undefined): Promise<T> {
    if (signal?.aborted) throw abortError(signal, 'transcription aborted');
    const value = await this.get();
    if (signal?.aborted) throw abortError(signal, 'transcription aborted');
    if (this.#disposed) throw disposedError(); // dispose() ran while it loaded
    return value;
  }

  get(): Promise<T> {
    if (this.#disposed) return Promise.reject(disposedError());
    if (this.#value) return Promise.resolve(this.#value);
    this.#loading ??= this.load().then(
      (value) => {
        this.#count++;
        if (this.#disposed) {
          void this.release(value);
          throw disposedError();
        }
        this.#value = value;
        return value;
      },
      (error: unknown) => {
        this.#loading = undefined; // the user may fix the file; the next turn tries again
        throw error;
      },
    );
    return this.#loading;
  }

  /** Marks it disposed and resolves with what was loaded (after a load under way), for the caller to release. */
  async dispose(): Promise<T | undefined> {
    this.#disposed = true;
    const value = this.#value ?? (await this.#loading?.catch(() => undefined));
    this.#value = undefined;
    return value;
  }
}

export type Settle<T> = (error: Error | undefined, value?: T) => void;

/**
 * A transcription's promise. `run` starts the native work, calls `settle` when it ends, and returns how to stop it.
 * Whatever happens first settles it: the native result, `signal` aborting (an AbortError), or the engine cancelling
 * everything in `inFlight` (dispose()); the native work is then told to stop, and its late result is ignored.
 */
export function settledFirst<T>(
  inFlight: Set<(error: Error) => void>,
  signal: AbortSignal | undefined,
  run: (settle: Settle<T>) => () => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let stop: (() => void) | undefined;
    const settle: Settle<T> = (error, value) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      inFlight.delete(cancel);
      if (error) reject(error);
      else resolve(value as T);
    };
    const cancel = (error: Error) => {
      stop?.();
      settle(error);
    };
    const onAbort = () => cancel(abortError(signal, 'transcription aborted'));
    inFlight.add(cancel);
    signal?.addEventListener('abort', onAbort, { once: true });
    stop = run(settle);
  });
}

/** The model's kind, for descriptions: "English-only, 6+6 layers, f16". */
export function modelKind(info: WhisperModelFileInfo): string {
  return `${info.multilingual ? 'multilingual' : 'English-only'}, ${info.hparams.nAudioLayer}+${info.hparams.nTextLayer} layers, ${info.weightType}`;
}

/** whisper.cpp refused a file that passed the JS check: its own words (the log's errors) and where to get a good one. */
export function modelLoadError(file: string, error: unknown, log: NativeLog): ModelFileError {
  const said = log.relevant();
  return new ModelFileError('model-load-failed', file,
    `whisper.cpp could not load ${file}: ${firstLine(error)}${said.map((line) => `\n  ${line}`).join('')}`,
    `If the file came from elsewhere, download ${whisperModelUrl(file)} instead.`,
    { cause: error });
}

export function transcriptionError(error: unknown): JarvisError {
  return new JarvisError('stt-failed', `whisper.cpp failed to transcribe: ${firstLine(error)}`,
    'Try again; if it keeps failing, check the model file and the whisper.cpp messages on stderr.', { cause: error });
}

export function disposedError(): JarvisError {
  return new JarvisError('stt-disposed', 'the Whisper transcriber was used after dispose()',
    'Create a new transcriber; dispose() is final.');
}
