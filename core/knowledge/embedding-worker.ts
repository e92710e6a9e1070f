import { getLlama, LlamaLogLevel, type LlamaEmbeddingContext, type LlamaModel } from 'node-llama-cpp';

/**
 * The embedding worker: a child process holding the embedding model (node-llama-cpp's LlamaEmbeddingContext), so a
 * native abort (a GPU fault, out of memory) ends only this process; Embedder (embedder.ts) starts it again. Texts
 * arrive with their task prefix already on; vectors go back as they come out of the model.
 */

export const EMBEDDING_WORKER_FLAG = '--jarvis-embedding-worker';

export type ToEmbeddingWorker =
  | { type: 'load'; modelPath: string; gpu: 'auto' | 'cpu'; contextSize: number; threads: number }
  | { type: 'embed'; id: number; texts: string[] };

export type FromEmbeddingWorker =
  | { type: 'loaded'; dimensions: number; device: string }
  | { type: 'load-failed'; message: string }
  | { type: 'embedded'; id: number; vectors: Float32Array[] }
  | { type: 'embed-failed'; id: number; message: string };

let model: LlamaModel | undefined;
let context: LlamaEmbeddingContext | undefined;
let contextSize = 0;
/** One request at a time: the context evaluates one sequence. */
let queue: Promise<void> = Promise.resolve();

async function handle(message: ToEmbeddingWorker, send: (reply: FromEmbeddingWorker) => void): Promise<void> {
  if (message.type === 'load') {
    try {
      const llama = await getLlama({ gpu: message.gpu === 'cpu' ? false : 'auto', logLevel: LlamaLogLevel.error });
      model = await llama.loadModel({ modelPath: message.modelPath });
      context = await model.createEmbeddingContext({ contextSize: Math.min(message.contextSize, model.trainContextSize), threads: message.threads });
      contextSize = Math.min(message.contextSize, model.trainContextSize);
      send({ type: 'loaded', dimensions: model.embeddingVectorSize, device: llama.gpu === false ? 'cpu' : llama.gpu });
    } catch (error) {
      send({ type: 'load-failed', message: (error as Error).message });
    }
    return;
  }
  if (!context) {
    send({ type: 'embed-failed', id: message.id, message: 'the embedding model is not loaded' });
    return;
  }
  try {
    const vectors: Float32Array[] = [];
    for (const text of message.texts) {
      // A passage longer than the context is cut, not refused: its start still says what it is about.
      const tokens = model!.tokenize(text);
      const input = tokens.length < contextSize ? tokens : tokens.slice(0, Math.max(1, contextSize - 8));
      vectors.push(Float32Array.from((await context.getEmbeddingFor(input)).vector));
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
    queue = queue
      .then(() => handle(message, send))
      .catch((error: unknown) => {
        if (message.type === 'embed') send({ type: 'embed-failed', id: message.id, message: (error as Error).message });
        else send({ type: 'load-failed', message: (error as Error).message });
      })
      .catch(() => {});
  });
  // The daemon is gone: nobody is left to answer.
  process.on('disconnect', () => process.exit(0));
}
