import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { JarvisError } from '../../base/errors.ts';

/**
 * The @fugood/whisper.node 1.1.3 native binding: which build (CPU or CUDA) to load, and whisper.cpp's log.
 */

interface NativeTranscribeResult {
  result: string;
  isAborted: boolean;
}

export interface NativeWhisperContext {
  transcribeData(
    audio: ArrayBuffer,
    options: { language?: string; maxThreads?: number },
  ): { stop(): Promise<void>; promise: Promise<NativeTranscribeResult> };
  release(): Promise<void>;
}

export interface NativeWhisperModule {
  WhisperContext: {
    new (options: { filePath: string; useGpu: boolean }): NativeWhisperContext;
    /**
     * Global to the build: with a callback, whisper.cpp's and ggml's log goes to it (through a thread-safe function
     * that keeps the process alive until it is switched off); switched off, whisper.cpp prints to stderr again.
     */
    toggleNativeLog(enable: boolean, callback?: (level: string, text: string) => void): void;
  };
}

export type WhisperVariant = 'cpu' | 'cuda';

/**
 * The platform packages are whisper.node's optional dependencies, so they are resolved from its own directory.
 * They are required directly rather than through its initWhisper(): that caches the first variant for the whole
 * process and silently falls back to the CPU build, so it could not tell us which build we got.
 */
const requireFromBinding = (() => {
  let resolved: NodeJS.Require | undefined;
  return () => (resolved ??= createRequire(createRequire(import.meta.url).resolve('@fugood/whisper.node/package.json')));
})();

const nativeModules = new Map<WhisperVariant, NativeWhisperModule>();

function loadNativeModule(variant: WhisperVariant): NativeWhisperModule {
  let module = nativeModules.get(variant);
  if (!module) {
    const name = `@fugood/node-whisper-${process.platform}-${process.arch}${variant === 'cuda' ? '-cuda' : ''}`;
    module = requireFromBinding()(name) as NativeWhisperModule;
    nativeModules.set(variant, module);
  }
  return module;
}

const run = promisify(execFile);

/**
 * The prebuilt CUDA binding 1.1.3 links libcudart.so.12 and carries kernels for sm_89 only (SASS plus compute_89
 * PTX), so it runs on Ada and, through the PTX, newer GPUs. On anything older (the GTX 1080 Ti is sm_61) ggml would
 * abort the whole process at the first kernel launch, so such GPUs are refused here, before the library loads.
 */
const CUDA_MIN_COMPUTE_CAPABILITY = 8.9;

export async function cudaUnusableReason(): Promise<string | undefined> {
  let stdout: string;
  try {
    ({ stdout } = await run('nvidia-smi', ['--query-gpu=name,compute_cap', '--format=csv,noheader'], { timeout: 5000 }));
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { stderr?: string };
    return failure.code === 'ENOENT'
      ? 'no NVIDIA driver (nvidia-smi not found)'
      : `nvidia-smi could not report the GPU's compute capability: ${firstLine(failure.stderr?.trim() || failure.message)}`;
  }
  return cudaBlocker(stdout);
}

/**
 * Why the CUDA build must not run, from `nvidia-smi --query-gpu=name,compute_cap --format=csv,noheader` output
 * ("NVIDIA GeForce GTX 1080 Ti, 6.1" per line); undefined when it may. Every GPU must qualify: CUDA numbers the
 * devices fastest first, nvidia-smi by PCI bus, so the list cannot tell which one whisper.cpp's device 0 is.
 */
export function cudaBlocker(nvidiaSmiCsv: string): string | undefined {
  const gpus = nvidiaSmiCsv.trim().split('\n').filter((line) => line.trim()).map((line) => {
    const comma = line.lastIndexOf(',');
    return { name: line.slice(0, comma).trim(), capability: line.slice(comma + 1).trim() };
  });
  if (gpus.length === 0) return 'nvidia-smi lists no GPU';
  const old = gpus.find((gpu) => !(Number(gpu.capability) >= CUDA_MIN_COMPUTE_CAPABILITY));
  if (old) {
    return `${old.name} has compute capability ${old.capability}; the prebuilt CUDA build of whisper.node 1.1.3 only ` +
      `has kernels for ${CUDA_MIN_COMPUTE_CAPABILITY} and newer`;
  }
  return undefined;
}

/** The CUDA build where it was asked for and can run, else the CPU build with `note` saying why not. */
export async function pickVariant(useGpu: boolean): Promise<{ variant: WhisperVariant; module: NativeWhisperModule; note?: string }> {
  let note: string | undefined;
  if (useGpu) {
    note = await cudaUnusableReason();
    if (!note) {
      try {
        return { variant: 'cuda', module: loadNativeModule('cuda') };
      } catch (error) {
        note = `the CUDA build did not load: ${firstLine(error)}`;
      }
    }
  }
  try {
    return { variant: 'cpu', module: loadNativeModule('cpu'), ...(note ? { note } : {}) };
  } catch (error) {
    throw new JarvisError(
      'stt-engine-unavailable',
      `the whisper.cpp binding for ${process.platform}-${process.arch} did not load: ${firstLine(error)}`,
      'Run `npm install` again so that @fugood/whisper.node can install its prebuilt binding for this platform.',
      { cause: error },
    );
  }
}

export const firstLine = (error: unknown) => (error instanceof Error ? error.message : String(error)).split('\n')[0]!;

// ---------------------------------------------------------------------------------------------------------------
// whisper.cpp's log. Its default callback prints every step of a model load (some 30 lines) to stderr.

export interface NativeLogLine {
  /** "error", "warn", "info" or "debug", as the binding names ggml's levels. */
  readonly level: string;
  readonly text: string;
}

/**
 * Lines of whisper.cpp's log as the binding delivers them: in pieces that end mid-line at times (ggml's
 * continuation level arrives as ""), put back together, the last `keep` kept for an error message and each one
 * passed to `forward`.
 */
export class NativeLog {
  readonly #recent: NativeLogLine[] = [];
  #partial = '';
  #level = 'info';

  constructor(
    private readonly forward?: (line: NativeLogLine) => void,
    private readonly keep = 20,
  ) {}

  /** The callback for toggleNativeLog. */
  readonly write = (level: string, text: string): void => {
    if (level) this.#level = level; // "" continues the line before
    const pieces = (this.#partial + text).split('\n');
    this.#partial = pieces.pop()!;
    for (const piece of pieces) this.#line(piece);
  };

  /** Ends a last line that came without its newline. */
  flush(): void {
    if (this.#partial) this.#line(this.#partial);
    this.#partial = '';
  }

  get recent(): readonly NativeLogLine[] {
    return this.#recent;
  }

  /** What says why a load failed: the errors and warnings among the kept lines, or else the last three. */
  relevant(): string[] {
    const problems = this.#recent.filter((line) => line.level === 'error' || line.level === 'warn');
    return (problems.length > 0 ? problems : this.#recent.slice(-3)).map((line) => line.text);
  }

  #line(raw: string): void {
    const text = raw.trimEnd();
    if (!text) return;
    const line = { level: this.#level, text };
    this.#recent.push(line);
    if (this.#recent.length > this.keep) this.#recent.shift();
    this.forward?.(line);
  }
}

/**
 * Runs `work`, synchronous whisper.cpp work such as creating a context, with whisper.cpp's log going to `log`
 * instead of stderr, and resolves (or rejects, as `work` did) once every line it logged has reached `log`.
 *
 * The JS callback is only hooked for that time: the binding's thread-safe function keeps the event loop alive for
 * as long as it is on, so a script that loaded a model would never exit. Switching it off hands the log back to
 * whisper.cpp's default (stderr), which says nothing while transcribing.
 */
export async function withNativeLog<T>(module: NativeWhisperModule, log: NativeLog, work: () => T): Promise<T> {
  module.WhisperContext.toggleNativeLog(true, log.write);
  try {
    return work();
  } finally {
    module.WhisperContext.toggleNativeLog(false);
    await nativeLogDelivered();
    log.flush();
  }
}

/**
 * Lines logged on this thread are queued for the event loop, which delivers them in its next poll phase (switching
 * the log off still delivers what is queued). Two setImmediate turns always span one poll phase, wherever in the
 * loop this is called from.
 */
function nativeLogDelivered(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}
