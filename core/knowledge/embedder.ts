import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { backoffMs } from '../../base/backoff.ts';
import { JarvisError } from '../../base/errors.ts';
import type { Logger } from '../../base/log.ts';
import { EMBEDDING_WORKER_FLAG, type FromEmbeddingWorker, type ToEmbeddingWorker } from './embedding-worker.ts';

/**
 * Text → unit vectors, through the embedding worker process. nomic-embed-text is trained with task prefixes: a
 * passage is embedded as "search_document: …", a question as "search_query: …", or the two do not meet. A worker
 * that dies (killed, a driver fault) fails the requests in flight and is started again on the next request, after
 * a back-off that doubles with each crash in a row; the daemon never goes down with it.
 */

export interface EmbedderOptions {
  readonly modelPath: string;
  readonly gpu: 'auto' | 'cpu';
  readonly documentPrefix: string;
  readonly queryPrefix: string;
  /** The worker's CPU niceness: indexing must not slow the voice. */
  readonly niceness: number;
  readonly contextSize?: number;
  /** CPU threads of the embedding context: 1 leaves the other cores to the voice (and was 10× faster than 2 on a busy 2-core box). */
  readonly threads: number;
  /**
   * CPU threads for a question, on a context of its own (default: 2 where there are 2 cores, never fewer than
   * `threads`), used only when that many cores are free at the moment it is asked (Linux: the runnable tasks in
   * /proc/stat); otherwise `threads`. A question is embedded at the start of a turn, before the LLM has anything to
   * do, and the turn waits for it; passages are background work. ggml's threads spin at each step until all of them
   * arrive, so more threads than free cores is far slower than one (seconds, on the shared 2-core bench box).
   */
  readonly queryThreads?: number;
  /** First wait before starting a crashed worker again; doubles per crash in a row. */
  readonly restartMs?: number;
  /** How long a loaded worker may take to answer one request before it is taken for stuck (default 2 minutes). */
  readonly stuckMs?: number;
}

export interface TextEmbedder {
  readonly dimensions: number | undefined;
  /** An identity of the model, so vectors of another model are never mixed in. */
  readonly modelKey: string;
  /** Loads the model if it is not yet; resolves with the vector size. */
  load(): Promise<number>;
  embedDocuments(texts: readonly string[]): Promise<Float32Array[]>;
  embedQuery(text: string): Promise<Float32Array>;
  dispose(): Promise<void>;
}

/** Longest wait for the worker to load its model and embed one batch, on a busy CPU. */
const STUCK_WORKER_MS = 120_000;

interface Worker {
  readonly child: ChildProcess;
  readonly ready: Promise<number>;
  /** The model is loaded: a request is sent at once, in the caller's tick (Knowledge.search works on while it is embedded). */
  loaded: boolean;
  readonly pending: Map<number, { resolve: (v: Float32Array[]) => void; reject: (e: Error) => void }>;
}

export class Embedder implements TextEmbedder {
  #worker: Worker | undefined;
  #nextId = 1;
  #crashes = 0;
  #notBefore = 0;
  #disposed = false;
  #dimensions: number | undefined;
  /** Passages embedded since start, questions not counted (the bench's throughput, the tests' "nothing re-embedded"). */
  documentsEmbedded = 0;

  constructor(
    private readonly options: EmbedderOptions,
    private readonly log: Logger,
  ) {}

  get dimensions(): number | undefined {
    return this.#dimensions;
  }

  get modelKey(): string {
    return `${this.options.modelPath}|${this.options.documentPrefix}|${this.options.queryPrefix}`;
  }

  /** The worker's process id while one runs (tests kill it). */
  get pid(): number | undefined {
    return this.#worker?.child.pid;
  }

  /** Starts the worker and loads the model; resolves with the vector size. */
  async load(): Promise<number> {
    const worker = this.#ensureWorker();
    return this.#beforeDeadline(worker, () => worker.ready, STUCK_WORKER_MS);
  }

  async embedDocuments(texts: readonly string[]): Promise<Float32Array[]> {
    const vectors = await this.#embed(texts.map((t) => this.options.documentPrefix + t));
    this.documentsEmbedded += texts.length;
    return vectors;
  }

  async embedQuery(text: string): Promise<Float32Array> {
    return (await this.#embed([this.options.queryPrefix + text], 'query', this.threadsForQuestion()))[0]!;
  }

  /** The most threads a question is embedded on (see EmbedderOptions.queryThreads). */
  get queryThreads(): number {
    return Math.max(this.options.threads, this.options.queryThreads ?? Math.min(2, os.availableParallelism()));
  }

  /** Threads for a question asked now: queryThreads if the cores for them are free (this process's own thread counted), else `threads`. */
  threadsForQuestion(): number {
    const wanted = this.queryThreads;
    if (wanted <= this.options.threads) return this.options.threads;
    const running = runnableTasks();
    return running !== undefined && running - 1 + wanted <= os.availableParallelism() ? wanted : this.options.threads;
  }

  async dispose(): Promise<void> {
    this.#disposed = true;
    const worker = this.#worker;
    this.#worker = undefined;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => {
      if (worker.child.exitCode !== null || worker.child.signalCode !== null) resolve();
      else worker.child.once('exit', () => resolve());
    });
    worker.child.disconnect?.();
    const timer = setTimeout(() => worker.child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  }

  async #embed(texts: string[], purpose: 'query' | 'document' = 'document', threads?: number): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    const worker = this.#ensureWorker();
    // Loading (a new worker after a crash) has the long deadline; the request itself its own. Once loaded, no await
    // comes before the send: the request leaves in this tick.
    if (!worker.loaded) await this.#beforeDeadline(worker, () => worker.ready, STUCK_WORKER_MS);
    const vectors = await this.#beforeDeadline(
      worker,
      () =>
        new Promise<Float32Array[]>((resolve, reject) => {
          const id = this.#nextId++;
          worker.pending.set(id, { resolve, reject });
          worker.child.send({ type: 'embed', id, texts, purpose, ...(threads !== undefined ? { threads } : {}) } satisfies ToEmbeddingWorker);
        }),
      this.options.stuckMs ?? STUCK_WORKER_MS,
    );
    this.#crashes = 0;
    return vectors.map(unitLength);
  }

  /**
   * A worker that neither answers nor dies (a stuck native call, a lost message) would stall indexing and every
   * question about the documents for good: past the deadline it is killed and let go (the next request starts a
   * new one), and the wait ends with an error here whether or not its exit is ever seen.
   */
  async #beforeDeadline<T>(worker: Worker, work: () => Promise<T>, limitMs: number): Promise<T> {
    let deadline: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      deadline = setTimeout(() => {
        this.log.warn({ pid: worker.child.pid }, `the embedding worker did not answer within ${limitMs / 1000} s: stopped`);
        worker.child.kill('SIGKILL');
        if (this.#worker === worker) this.#worker = undefined;
        reject(new JarvisError('embedding-crashed', `the embedding worker did not answer within ${limitMs / 1000} s and was stopped`, 'It starts again by itself; if this repeats, set knowledge.gpu to "cpu".'));
      }, limitMs);
    });
    try {
      return await Promise.race([work(), expired]);
    } finally {
      clearTimeout(deadline);
    }
  }

  #ensureWorker(): Worker {
    if (this.#disposed) throw new JarvisError('knowledge-closed', 'the knowledge index is closed', 'Start JARVIS again.');
    if (this.#worker) return this.#worker;
    const wait = this.#notBefore - Date.now();
    if (wait > 0) {
      throw new JarvisError('embedding-restarting', `the embedding worker crashed and starts again in ${Math.ceil(wait / 1000)} s`, 'Wait a moment; if it keeps crashing, set knowledge.gpu to "cpu" or check the model file.');
    }
    const fromSources = import.meta.url.endsWith('.ts');
    const child = fork(fileURLToPath(new URL(fromSources ? './embedding-worker.ts' : './embedding-worker.js', import.meta.url)), [EMBEDDING_WORKER_FLAG], {
      execArgv: fromSources ? ['--import', import.meta.resolve('tsx')] : [],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    if (child.pid !== undefined) {
      try {
        os.setPriority(child.pid, this.options.niceness);
      } catch (error) {
        this.log.debug({ err: error }, 'could not lower the embedding worker priority');
      }
    }
    // A message that cannot be sent (the worker just died) is an 'error' event: without a listener it would end the daemon.
    child.on('error', (error) => this.log.warn({ err: error.message }, 'embedding worker error'));
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-2000);
    });
    let settleReady!: { resolve: (n: number) => void; reject: (e: Error) => void };
    const ready = new Promise<number>((resolve, reject) => (settleReady = { resolve, reject }));
    ready.catch(() => {});
    const worker: Worker = { child, ready, loaded: false, pending: new Map() };
    this.#worker = worker;
    child.on('message', (message: FromEmbeddingWorker) => {
      switch (message.type) {
        case 'loaded':
          this.#dimensions = message.dimensions;
          worker.loaded = true;
          this.log.info({ dimensions: message.dimensions, device: message.device }, 'embedding model loaded');
          settleReady.resolve(message.dimensions);
          return;
        case 'load-failed':
          settleReady.reject(new JarvisError('embedding-load-failed', `cannot load the embedding model ${this.options.modelPath}: ${message.message}`, 'Run `jarvis models pull nomic-embed-text-v1.5-q8_0`, or point knowledge.model at an embedding GGUF.'));
          child.kill('SIGKILL');
          return;
        case 'embedded':
        case 'embed-failed': {
          const request = worker.pending.get(message.id);
          worker.pending.delete(message.id);
          if (message.type === 'embedded') request?.resolve(message.vectors);
          else request?.reject(new JarvisError('embedding-failed', `the embedding model failed: ${message.message}`, 'See the log; a file that keeps failing can be moved out of the folder.'));
        }
      }
    });
    child.on('exit', (code, signal) => {
      if (this.#worker === worker) this.#worker = undefined;
      const crashed = !this.#disposed;
      const error = new JarvisError('embedding-crashed', `the embedding worker stopped (${signal ?? `exit code ${code}`})${stderr ? `: ${stderr.trim().split('\n').pop()}` : ''}`, 'It starts again by itself; if this repeats, set knowledge.gpu to "cpu".');
      settleReady.reject(error);
      for (const request of worker.pending.values()) request.reject(error);
      worker.pending.clear();
      if (crashed) {
        this.#notBefore = Date.now() + backoffMs(this.options.restartMs ?? 500, this.#crashes++, 60_000);
        this.log.warn({ signal, code }, 'embedding worker stopped; it starts again on the next request');
      }
    });
    child.send({ type: 'load', modelPath: this.options.modelPath, gpu: this.options.gpu, contextSize: this.options.contextSize ?? 2048, threads: this.options.threads, queryThreads: this.queryThreads } satisfies ToEmbeddingWorker);
    return worker;
  }
}

/**
 * Tasks running or ready to run, this one included (Linux /proc/stat procs_running): the fewest seen within about a
 * millisecond; undefined off Linux. The fewest, because one reading also counts what is runnable for microseconds (a
 * kernel thread, the threads of the last request winding down: read in a loop on an idle 2-core box, 1 only 4 times
 * in 10), while a busy box keeps its work runnable the whole millisecond. Read in a loop, not awaited: the question
 * must leave in this tick (the keyword search runs while it is embedded).
 */
function runnableTasks(windowMs = 1): number | undefined {
  const until = performance.now() + windowMs;
  let fewest = Infinity;
  try {
    do {
      const match = /^procs_running (\d+)$/m.exec(fs.readFileSync('/proc/stat', 'latin1'));
      if (!match) return undefined;
      fewest = Math.min(fewest, Number(match[1]));
    } while (fewest > 1 && performance.now() < until);
    return fewest;
  } catch {
    return undefined;
  }
}

function unitLength(vector: Float32Array): Float32Array {
  let norm = 0;
  for (const v of vector) norm += v * v;
  if (norm === 0) return vector;
  const scale = 1 / Math.sqrt(norm);
  for (let i = 0; i < vector.length; i++) vector[i]! *= scale;
  return vector;
}
