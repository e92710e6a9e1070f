import { performance } from 'node:perf_hooks';
import { getLlama, LlamaChatSession, LlamaLogLevel, type Llama, type LlamaContext, type LlamaModel } from 'node-llama-cpp';
import type { JarvisConfig } from '../../config/schema.ts';

/**
 * node-llama-cpp called directly, the baseline for the LLM figures: what core/llm/worker.ts does (same calls,
 * same settings), without the worker protocol, the responder and the run events around it. It runs in a process
 * of its own, as the worker does, so both sides run in the same kind of process: on a small CPU, llama.cpp's
 * threads are sensitive to whatever else the process has running.
 */

export const RAW_LLM_FLAG = '--jarvis-bench-raw-llm';

export interface RawLlmSample {
  readonly firstTokenMs: number;
  readonly totalMs: number;
  readonly pieces: number;
  readonly tokens: number;
  /** Prompt tokens evaluated for this question (the system prompt's cache is reused). */
  readonly inputTokens: number;
}

/** One model, context and chat session, loaded as the worker loads them, answering one question at a time. */
export class RawLlm {
  private constructor(
    private readonly llama: Llama,
    private readonly model: LlamaModel,
    private readonly context: LlamaContext,
    private readonly session: LlamaChatSession,
    private readonly llm: JarvisConfig['llm'],
    private readonly maxTokens: number,
  ) {}

  static async load(llm: JarvisConfig['llm'], maxTokens: number): Promise<RawLlm> {
    const llama = await getLlama({
      build: 'never',
      logLevel: LlamaLogLevel.error,
      gpu: llm.gpu === 'cpu' ? false : llm.gpu,
      ...(llm.threads !== undefined ? { maxThreads: llm.threads } : {}),
    });
    try {
      const model = await llama.loadModel({ modelPath: llm.model, gpuLayers: llama.supportsGpuOffloading ? llm.gpuLayers : 0 });
      const threads = llm.threads ?? (llama.gpu === false ? llama.cpuMathCores : undefined);
      const context = await model.createContext({ contextSize: llm.contextSize, sequences: 1, ...(threads !== undefined ? { threads } : {}) });
      const session = new LlamaChatSession({ contextSequence: context.getSequence(), systemPrompt: llm.systemPrompt, autoDisposeSequence: true });
      await session.preloadPrompt('');
      return new RawLlm(llama, model, context, session, llm, maxTokens);
    } catch (error) {
      await llama.dispose();
      throw error;
    }
  }

  /** Layers llama.cpp put on the GPU: with gpuLayers 'auto' this depends on the VRAM left free. */
  get gpuLayers(): number {
    return this.model.gpuLayers;
  }

  async ask(text: string): Promise<RawLlmSample> {
    // As the worker trims a conversation to llm.historyTurns = 0: the system prompt alone, its KV cache kept.
    const history = this.session.getChatHistory();
    const firstTurn = history.findIndex((item) => item.type !== 'system');
    if (firstTurn >= 0) this.session.setChatHistory(history.slice(0, firstTurn));
    const meter = this.session.sequence.tokenMeter.getState();
    let pieces = 0;
    let firstTokenMs = Number.NaN;
    const started = performance.now();
    await this.session.promptWithMeta(text, {
      maxTokens: this.maxTokens,
      temperature: this.llm.temperature,
      signal: new AbortController().signal,
      stopOnAbortSignal: true,
      onTextChunk: (chunk) => {
        if (chunk === '') return;
        if (pieces++ === 0) firstTokenMs = performance.now() - started;
      },
    });
    const totalMs = performance.now() - started;
    // Counted from the token meter, as the worker does, not with an onToken callback the worker does not have.
    const used = this.session.sequence.tokenMeter.diff(meter);
    return { firstTokenMs, totalMs, pieces, tokens: used.usedOutputTokens, inputTokens: used.usedInputTokens };
  }

  async dispose(): Promise<void> {
    this.session.dispose();
    await this.context.dispose();
    await this.model.dispose();
    await this.llama.dispose();
  }
}

/** The messages to the child over its IPC channel, and its replies, one per message in order. */
export type RawLlmCommand = { readonly load: JarvisConfig['llm']; readonly maxTokens: number } | { readonly ask: string };
export type RawLlmReply = { readonly loaded: true; readonly gpuLayers: number } | { readonly sample: RawLlmSample } | { readonly error: string };

// Forked by llm.ts exactly as LlamaResponder forks its worker (tsx, a JSON IPC channel); disconnecting ends it.
if (process.send && process.argv.includes(RAW_LLM_FLAG)) {
  let raw: RawLlm | undefined;
  let queue = Promise.resolve();
  const reply = (message: RawLlmReply) => process.connected && process.send!(message);
  process.on('message', (command: RawLlmCommand) => {
    queue = queue.then(async () => {
      try {
        if ('load' in command) {
          raw = await RawLlm.load(command.load, command.maxTokens);
          reply({ loaded: true, gpuLayers: raw.gpuLayers });
        } else {
          if (!raw) throw new Error('ask before load');
          reply({ sample: await raw.ask(command.ask) });
        }
      } catch (error) {
        reply({ error: error instanceof Error ? error.message : String(error) });
      }
    });
  });
  process.on('disconnect', () => {
    void queue.then(async () => {
      await raw?.dispose();
      process.exit(0);
    });
  });
}
