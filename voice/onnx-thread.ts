import './onnx-telemetry-off.ts';
import { Worker } from 'node:worker_threads';
import type * as ort from 'onnxruntime-node';

/**
 * An ONNX session in a worker thread of its own. onnxruntime-node runs a model synchronously on the calling
 * thread; for a model that takes tens to hundreds of milliseconds (a Piper voice synthesizing a sentence) that
 * would stall the daemon's event loop, and with it the microphone, the wake word that interrupts the answer, and
 * the HUD. The small always-on models (wake word, VAD) stay on the main thread, where a message round trip would
 * cost more than they do.
 */

/** A tensor as it crosses the thread boundary. */
export interface ThreadTensor {
  readonly type: ort.Tensor.Type;
  readonly data: Float32Array | BigInt64Array | Int32Array | Uint8Array;
  readonly dims: readonly number[];
}

type Reply =
  | { type: 'created'; inputNames: string[]; outputNames: string[] }
  | { type: 'ran'; id: number; outputs: Record<string, ThreadTensor> }
  | { type: 'failed'; id?: number; message: string };

export class ThreadSession {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (outputs: Record<string, ThreadTensor>) => void; reject: (error: Error) => void }>();
  #nextId = 1;

  private constructor(
    worker: Worker,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
  ) {
    this.#worker = worker;
    worker.on('message', (reply: Reply) => {
      if (reply.type !== 'ran' && reply.type !== 'failed') return;
      const pending = reply.id === undefined ? undefined : this.#pending.get(reply.id);
      if (!pending) return;
      this.#pending.delete(reply.id!);
      if (this.#pending.size === 0) worker.unref();
      if (reply.type === 'ran') pending.resolve(reply.outputs);
      else pending.reject(new Error(reply.message));
    });
    worker.on('error', (error) => this.#failAll(error));
    worker.on('exit', (code) => this.#failAll(new Error(`the ONNX worker thread exited (code ${code})`)));
    // Like a session on the main thread, an idle one does not keep the process alive; a run in progress does.
    worker.unref();
  }

  /** Loads `modelPath` in a new worker thread; rejects with onnxruntime's own message when it cannot. */
  static create(modelPath: string, options: ort.InferenceSession.SessionOptions): Promise<ThreadSession> {
    // From the sources, and from the compiled build (bin/build.js makes the worker an entry point beside this chunk).
    const worker = new Worker(new URL('./onnx-thread-worker.js', import.meta.url));
    return new Promise((resolve, reject) => {
      const onMessage = (reply: Reply) => {
        worker.off('message', onMessage);
        if (reply.type === 'created') resolve(new ThreadSession(worker, reply.inputNames, reply.outputNames));
        else {
          void worker.terminate();
          reject(new Error(reply.type === 'failed' ? reply.message : `unexpected ${reply.type}`));
        }
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
      worker.postMessage({ type: 'create', path: modelPath, options });
    });
  }

  /** Runs the model; the feeds' buffers are handed to the thread (do not use them afterwards). */
  run(feeds: Record<string, ThreadTensor>): Promise<Record<string, ThreadTensor>> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      if (this.#pending.size === 0) this.#worker.ref();
      this.#pending.set(id, { resolve, reject });
      const transfer = Object.values(feeds).map((tensor) => tensor.data.buffer as ArrayBuffer);
      this.#worker.postMessage({ type: 'run', id, feeds }, transfer);
    });
  }

  /** Ends the thread, and the session with it. */
  async release(): Promise<void> {
    await this.#worker.terminate();
  }

  #failAll(error: Error): void {
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }
}
