import { fork, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { JarvisConfig } from '../../config/schema.ts';
import { RunEventBus } from '../../core/events.ts';
import { type RunEvent } from '../../core/protocol/run-events.ts';
import { LlamaResponder } from '../../core/llm/llama-responder.ts';
import { runTurn } from '../../core/pipeline/turn.ts';
import { QUESTIONS } from '../lib/corpus.ts';
import { alternately } from '../lib/stats.ts';
import { RAW_LLM_FLAG, type RawLlmCommand, type RawLlmReply, type RawLlmSample } from './llm-raw.ts';

/**
 * The LLM through JARVIS (LlamaResponder: llama.cpp in the worker process, pieces over IPC, read from the run
 * events of a typed turn) against node-llama-cpp called directly (llm-raw.ts), on the same model file, system
 * prompt, questions, context size, threads, GPU layers, temperature and answer length, in the same run.
 *
 * Both are loaded at once and take turns question by question, so a busy machine slows both alike; if two
 * copies do not fit (a large model in VRAM), they run one after the other.
 * Both start every question from the system prompt alone (JARVIS with llm.historyTurns = 0, raw with
 * resetChatHistory()), so both reuse the system prompt's KV cache and evaluate only the question. Rates count
 * streamed text pieces (one per token except where a character spans tokens) after the first, the same way on
 * both sides; the raw side also counts tokens, to show how close pieces are to tokens.
 */

export interface LlmSample {
  readonly firstTokenMs: number;
  readonly totalMs: number;
  readonly pieces: number;
  readonly piecesPerSecond: number;
  readonly tokens?: number;
  /** Prompt tokens evaluated for the question: both sides must evaluate the same. */
  readonly inputTokens?: number;
}

export interface LlmResult {
  readonly jarvis: LlmSample[];
  readonly raw: LlmSample[];
  readonly device: string;
  readonly summary: string;
  readonly maxTokens: number;
  /** How the two sides took turns. */
  readonly order: string;
}

const WARMUP = 1;

const rate = (pieces: number, firstMs: number, totalMs: number) => (pieces > 1 && totalMs > firstMs ? ((pieces - 1) * 1000) / (totalMs - firstMs) : Number.NaN);

export async function measureLlm(config: JarvisConfig, options: { runs: number; maxTokens: number }): Promise<LlmResult> {
  const prompts = Array.from({ length: options.runs + WARMUP }, (_, i) => QUESTIONS[i % QUESTIONS.length]!);
  const jarvis = new LlamaResponder({ ...config.llm, historyTurns: 0, maxAnswerTokens: options.maxTokens }, config.llm.threads ? { threads: config.llm.threads } : {});
  let raw = new RawLlmProcess();
  try {
    const loaded = await jarvis.load();
    const bus = new RunEventBus();
    const viaJarvis = (text: string) => askJarvis(jarvis, bus, text);
    const viaRaw = async (text: string) => withRate(await raw.ask(text));
    const through: LlmSample[] = [];
    const direct: LlmSample[] = [];
    let order = 'interleaved, question by question, so both share the same machine load';
    const rawLoad = await raw.load(config.llm, options.maxTokens).catch((error: unknown) => error as Error);
    // Two copies of a large model may not fit beside each other in VRAM (an error, or fewer layers on the GPU for
    // the second): then one after the other, each with the GPU to itself.
    const sideBySide =
      rawLoad instanceof Error
        ? `both at once failed: ${rawLoad.message}`
        : rawLoad !== loaded.info.layersOnGpu
          ? `both at once would not put the same layers on the GPU (${loaded.info.layersOnGpu} and ${rawLoad})`
          : undefined;
    if (sideBySide) {
      order = `one after the other (${sideBySide})`;
      for (const text of prompts) through.push(await viaJarvis(text));
      await jarvis.dispose();
      await raw.close();
      raw = new RawLlmProcess();
      await raw.load(config.llm, options.maxTokens);
      for (const text of prompts) direct.push(await viaRaw(text));
    } else {
      for (const [i, text] of prompts.entries()) {
        const [j, r] = await alternately(i, () => viaJarvis(text), () => viaRaw(text));
        through.push(j);
        direct.push(r);
      }
    }
    return { jarvis: through.slice(WARMUP), raw: direct.slice(WARMUP), device: loaded.info.device, summary: loaded.summary, maxTokens: options.maxTokens, order };
  } finally {
    await jarvis.dispose();
    await raw.close();
  }
}

async function askJarvis(responder: LlamaResponder, bus: RunEventBus, text: string): Promise<LlmSample> {
  const run = bus.startRun('text');
  await runTurn({ responder, verifyWakeWord: false }, run, { text }, new AbortController().signal);
  const first = run.first('first-token');
  const end = run.events.find((e): e is Extract<RunEvent, { type: 'llm-end' }> => e.type === 'llm-end');
  if (!first || !end) throw new Error(`the LLM gave no answer to "${text}": ${run.events.map((e) => e.type).join(', ')}`);
  const inputTokens = responder.lastTurn?.inputTokensEvaluated;
  return { firstTokenMs: first.ms, totalMs: end.ms, pieces: end.pieces, piecesPerSecond: rate(end.pieces, first.ms, end.ms), ...(inputTokens !== undefined ? { inputTokens } : {}) };
}

function withRate(sample: RawLlmSample): LlmSample {
  return { ...sample, piecesPerSecond: rate(sample.pieces, sample.firstTokenMs, sample.totalMs) };
}

/** The raw baseline's process (llm-raw.ts), started like the worker and spoken to over IPC. */
class RawLlmProcess {
  readonly #child: ChildProcess;
  readonly #replies: ((reply: RawLlmReply) => void)[] = [];
  readonly #stderr: string[] = [];
  readonly #exited: Promise<void>;

  constructor() {
    this.#child = fork(fileURLToPath(new URL('./llm-raw.ts', import.meta.url)), [RAW_LLM_FLAG], {
      execArgv: ['--import', import.meta.resolve('tsx')],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'json',
    });
    this.#child.on('message', (reply: RawLlmReply) => this.#replies.shift()?.(reply));
    createInterface({ input: this.#child.stderr! }).on('line', (line) => this.#stderr.push(line));
    this.#exited = new Promise((resolve) => this.#child.once('close', () => resolve()));
    void this.#exited.then(() => {
      for (const waiter of this.#replies.splice(0)) waiter({ error: `the process exited: ${this.#stderr.slice(-5).join(' | ')}` });
    });
  }

  /** Loads the model; resolves with the layers it put on the GPU. */
  async load(llm: JarvisConfig['llm'], maxTokens: number): Promise<number> {
    const reply = await this.#request({ load: llm, maxTokens }, 600_000);
    if (!('loaded' in reply)) throw new Error('unexpected reply');
    return reply.gpuLayers;
  }

  async ask(text: string): Promise<RawLlmSample> {
    const reply = await this.#request({ ask: text }, 300_000);
    if (!('sample' in reply)) throw new Error('unexpected reply');
    return reply.sample;
  }

  async close(): Promise<void> {
    if (this.#child.connected) this.#child.disconnect();
    // A ref'd timer: once disconnected, nothing else may keep this process alive while the child winds down.
    const timeout = new AbortController();
    const closed = await Promise.race([this.#exited.then(() => true), sleep(15_000, false, { signal: timeout.signal }).catch(() => true)]);
    timeout.abort();
    if (!closed) this.#child.kill('SIGKILL');
  }

  #request(command: RawLlmCommand, timeoutMs: number): Promise<RawLlmReply> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`raw node-llama-cpp did not answer within ${timeoutMs / 1000} s`)), timeoutMs);
      this.#replies.push((reply) => {
        clearTimeout(timer);
        if ('error' in reply) reject(new Error(reply.error));
        else resolve(reply);
      });
      this.#child.send(command);
    });
  }
}
