import { getLlama, LlamaLogLevel, type LlamaEmbeddingContext, type LlamaModel } from 'node-llama-cpp';

/**
 * The embedding worker: a child process holding the embedding model (node-llama-cpp's LlamaEmbeddingContext), so a
 * native abort (a GPU fault, out of memory) ends only this process; Embedder (embedder.ts) starts it again. Texts
 * arrive with their task prefix already on; vectors go back as they come out of the model.
 */

export const EMBEDDING_WORKER_FLAG = '--jarvis-embedding-worker';

export type ToEmbeddingWorker =
  | { type: 'load'; modelPath: string; gpu: 'auto' | 'cpu'; contextSize: number; threads: number; queryThreads?: number; queryContextSize?: number }
  /** purpose 'query': a question, embedded on its own context, not queued behind passages. */
  | { type: 'embed'; id: number; texts: string[]; purpose?: 'query' | 'document'; threads?: number };

export type FromEmbeddingWorker =
  | { type: 'loaded'; dimensions: number; device: string }
  | { type: 'load-failed'; message: string }
  | { type: 'embedded'; id: number; vectors: Float32Array[] }
  | { type: 'embed-failed'; id: number; message: string };

interface Context {
  readonly context: LlamaEmbeddingContext;
  readonly size: number;
}

let model: LlamaModel | undefined;
/** Passages: `threads` CPU threads, the configured context. */
let documents: Context | undefined;
/**
 * Questions: contexts of their own, so a question never waits behind a batch of passages (seconds on a CPU): one
 * with `threads` threads and, when `queryThreads` is more, one with that many; the request says which (Embedder
 * picks by what the CPU is doing). node-llama-cpp splits the worker's `max(threads, queryThreads)` threads between
 * the contexts, so a question beside a passage gets what the passage leaves. The weights are shared; each context
 * costs its KV cache and compute buffers (512 tokens).
 */
const queries = new Map<number, Context>();
/** Passage requests one at a time, in order (the passages context evaluates one sequence). */
let queue: Promise<void> = Promise.resolve();
/** Question requests one at a time, beside the passages. */
let queryQueue: Promise<void> = Promise.resolve();

/** Longest question embedded whole (longer ones are cut): questions are a sentence or two. */
const QUERY_CONTEXT = 512;

async function handle(message: ToEmbeddingWorker, send: (reply: FromEmbeddingWorker) => void): Promise<void> {
  if (message.type === 'load') {
    try {
      const queryThreads = Math.max(1, message.queryThreads ?? message.threads);
      const llama = await getLlama({ gpu: message.gpu === 'cpu' ? false : 'auto', logLevel: LlamaLogLevel.error, maxThreads: Math.max(message.threads, queryThreads) });
      model = await llama.loadModel({ modelPath: message.modelPath });
      const size = Math.min(message.contextSize, model.trainContextSize);
      documents = { context: await model.createEmbeddingContext({ contextSize: size, threads: message.threads }), size };
      const querySize = Math.min(message.queryContextSize ?? QUERY_CONTEXT, size);
      for (const threads of new Set([message.threads, queryThreads])) queries.set(threads, { context: await model.createEmbeddingContext({ contextSize: querySize, threads }), size: querySize });
      send({ type: 'loaded', dimensions: model.embeddingVectorSize, device: llama.gpu === false ? 'cpu' : llama.gpu });
    } catch (error) {
      send({ type: 'load-failed', message: (error as Error).message });
    }
    return;
  }
  const target = message.purpose === 'query' ? (queries.get(message.threads ?? 0) ?? queries.values().next().value) : documents;
  if (!target) {
    send({ type: 'embed-failed', id: message.id, message: 'the embedding model is not loaded' });
    return;
  }
  try {
    const vectors: Float32Array[] = [];
    for (const text of message.texts) {
      // A passage longer than the context is cut, not refused: its start still says what it is about.
      const tokens = model!.tokenize(text);
      const input = tokens.length < target.size ? tokens : tokens.slice(0, Math.max(1, target.size - 8));
      vectors.push(Float32Array.from((await target.context.getEmbeddingFor(input)).vector));
    }
    send({ type: 'embedded', id: message.id, vectors });
  } catch (error) {
    send({ type: 'embed-failed', id: message.id, message: (error as Error).message });
  }
}

if (process.send && process.argv.includes(EMBEDDING_WORKER_FLAG)) {
  const send = (reply: FromEmbeddingWorker) => {
    if (process.connected) process.send!(reply);
  };
  process.on('message', (message: ToEmbeddingWorker) => {
    // A request that failed in a way handle() did not catch must not stop every later one (a rejected chain skips
    // the rest): the parent would wait for answers that never come.
    const run = (after: Promise<void>) =>
      after
        .then(() => handle(message, send))
        .catch((error: unknown) => {
          if (message.type === 'embed') send({ type: 'embed-failed', id: message.id, message: (error as Error).message });
          else send({ type: 'load-failed', message: (error as Error).message });
        })
        .catch(() => {});
    // A question waits only for the load (first in `queue`) and the questions before it, never for passages.
    if (message.type === 'embed' && message.purpose === 'query') queryQueue = run(queries.size > 0 ? queryQueue : Promise.all([queue, queryQueue]).then(() => {}));
    else queue = run(queue);
  });
  // The daemon is gone: nobody is left to answer.
  process.on('disconnect', () => process.exit(0));
}
