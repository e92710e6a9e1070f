import path from 'node:path';
import { abortError, JarvisError } from '../../base/errors.ts';
import type { JarvisConfig } from '../../config/schema.ts';
import type { Transcriber, Transcript } from '../ports.ts';
import { disposedError, type WhisperDebugLog } from './whisper-common.ts';
import { WhisperTranscriber } from './whisper.ts';
import { OpenAiTranscriber, openAiTranscriber } from './openai.ts';
import { LocalWhisperTranscriber } from './whisper-local.ts';
import { findWhisperBuild, WHISPER_BUILD_DIR } from './whisper-local-build.ts';
import { cudaUnusableReason } from './whisper-native.ts';

/**
 * Picks which whisper.cpp transcribes (`stt.build`): the build made for this CPU at `npm install` (whisper-local.ts),
 * or the prebuilt @fugood/whisper.node (whisper.ts) where that build is missing, with a warning that says why and how
 * to get it, or where `stt.useGpu` asks for a GPU that the prebuilt CUDA build can run on. The daemon, the model
 * switch and `jarvis doctor` all get their Whisper here.
 */

export type SttSettings = Pick<JarvisConfig['stt'], 'model' | 'threads' | 'language' | 'useGpu' | 'build' | 'audioContext'>;

export interface SttLog extends WhisperDebugLog {
  warn(details: object, message?: string): void;
}

export interface SttOptions {
  /** Where the local build is looked for (tests); default .cache/whisper-cpp. */
  readonly buildDir?: string;
}

export function createTranscriber(stt: SttSettings, log?: SttLog, options: SttOptions = {}): ConfiguredWhisper {
  return new ConfiguredWhisper(stt, log, options);
}

/**
 * Speech to text as stt.engine asks: Whisper here (above), or an OpenAI-compatible server. The server's model is
 * the server's: the model manager does not swap it.
 */
export function configuredSpeechToText(stt: JarvisConfig['stt'], log?: SttLog): ConfiguredWhisper | OpenAiTranscriber {
  if (stt.engine !== 'openai') return createTranscriber(stt, log);
  return openAiTranscriber(stt);
}

type Engine = WhisperTranscriber | LocalWhisperTranscriber;

interface Choice {
  readonly engine: Engine;
  readonly runtime: 'local' | 'prebuilt';
  /** The prebuilt engine stands in for a local build that is not there: why, and what brings it back. */
  readonly fallback?: { readonly reason: string; readonly fix: string };
  /** Why stt.useGpu did not get a GPU. */
  readonly gpuNote?: string;
}

/** Whisper as configured. The engine is chosen on the first load() or transcribe() (the GPU check is a process). */
export class ConfiguredWhisper implements Transcriber {
  readonly engine = 'whisper.cpp';
  #choice: Promise<Choice> | undefined;
  #chosen: Choice | undefined;
  #disposed = false;

  constructor(
    private readonly stt: SttSettings,
    private readonly log?: SttLog,
    private readonly options: SttOptions = {},
  ) {}

  /** Which build runs it, once chosen. */
  get runtime(): Choice['runtime'] | undefined {
    return this.#chosen?.runtime;
  }

  /** Set when the prebuilt binding stands in for the local build. */
  get fallback(): Choice['fallback'] {
    return this.#chosen?.fallback;
  }

  get loadCount(): number {
    return this.#chosen?.engine.loadCount ?? 0;
  }

  get variant(): 'cpu' | 'cuda' | undefined {
    return this.#chosen?.engine.variant;
  }

  /** For the start-up log and `jarvis doctor`: which build, on what, with which model; and why not a better one. */
  get description(): string {
    const chosen = this.#chosen;
    if (!chosen) return `whisper.cpp, ${path.basename(this.stt.model)} (not loaded)`;
    return chosen.engine.description +
      (chosen.gpuNote ? `; GPU not used: ${chosen.gpuNote}` : '') +
      (chosen.fallback ? `; ${chosen.fallback.reason}` : '');
  }

  async load(): Promise<void> {
    await (await this.#choose()).engine.load();
  }

  async transcribe(pcm16k: Int16Array, signal?: AbortSignal): Promise<Transcript> {
    if (signal?.aborted) throw abortError(signal, 'transcription aborted');
    return (await this.#choose()).engine.transcribe(pcm16k, signal);
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    const chosen = this.#chosen ?? (await this.#choice?.catch(() => undefined));
    await chosen?.engine.dispose();
  }

  #choose(): Promise<Choice> {
    if (this.#disposed) return Promise.reject(disposedError());
    this.#choice ??= this.#decide().then(
      (choice) => (this.#chosen = choice),
      (error: unknown) => {
        this.#choice = undefined; // `npm run build:whisper` may have run since: look again next time
        throw error;
      },
    );
    return this.#choice;
  }

  async #decide(): Promise<Choice> {
    const { stt, log } = this;
    const prebuilt = (useGpu: boolean) => new WhisperTranscriber({ model: stt.model, threads: stt.threads, language: stt.language, useGpu, ...(log ? { log } : {}) });
    if (stt.build === 'prebuilt') return { engine: prebuilt(stt.useGpu), runtime: 'prebuilt' };
    let gpuNote: string | undefined;
    if (stt.useGpu) {
      gpuNote = stt.build === 'local' ? 'stt.build is "local", which runs on the CPU' : await cudaUnusableReason();
      if (!gpuNote) return { engine: prebuilt(true), runtime: 'prebuilt' }; // its CUDA build
    }
    const build = findWhisperBuild(this.options.buildDir ?? WHISPER_BUILD_DIR);
    if (build.ok) {
      const engine = new LocalWhisperTranscriber({
        model: stt.model, threads: stt.threads, language: stt.language, audioContext: stt.audioContext, localBuild: build, ...(log ? { log } : {}),
      });
      return { engine, runtime: 'local', ...(gpuNote ? { gpuNote } : {}) };
    }
    if (stt.build === 'local') throw new JarvisError('stt-engine-unavailable', build.reason, build.fix);
    const fallback = { reason: build.reason, fix: build.fix };
    log?.warn(fallback, 'speech to text falls back to the prebuilt @fugood/whisper.node (no AVX: 25 to 100 times slower)');
    return { engine: prebuilt(false), runtime: 'prebuilt', fallback, ...(gpuNote ? { gpuNote } : {}) };
  }
}
