import type { ToolDefinition } from '../responder.ts';

/**
 * The messages between LlamaResponder (the daemon) and the LLM worker process, over Node's fork() IPC channel.
 * llama.cpp runs in that child so a native abort (CUDA out of memory, a GPU fault) kills only the child; the
 * daemon sees the exit, fails the answer in flight and starts a new worker.
 *
 * Every request that expects a reply carries an `id` the reply repeats. The worker handles one request at a time
 * in arrival order; `abort` is the exception and overtakes the queue, and so is `tool-result`, the daemon's answer
 * to a `tool-call` the generation in progress is waiting on.
 */

/** The argument the worker is forked with, so importing worker.ts anywhere else never starts serving IPC. */
export const WORKER_FLAG = '--jarvis-llm-worker';

export type GpuChoice = 'auto' | 'cuda' | 'vulkan' | 'cpu';

/** What llama.cpp ended up running on; node-llama-cpp's `false` is "cpu" here. */
export type LlmDevice = 'cuda' | 'vulkan' | 'metal' | 'cpu';

/** How logs, the HUD and spoken answers name a device. */
export function deviceName(device: LlmDevice): string {
  return device === 'cuda' ? 'CUDA' : device === 'vulkan' ? 'Vulkan' : device === 'metal' ? 'Metal' : 'CPU';
}

export interface ConversationTurn {
  readonly question: string;
  readonly answer: string;
}

export interface WorkerLoadOptions {
  readonly modelPath: string;
  readonly gpu: GpuChoice;
  readonly gpuLayers: 'auto' | 'max' | number;
  readonly contextSize: number;
  readonly maxAnswerTokens: number;
  readonly temperature: number;
  /** Previous question/answer pairs kept in context when a new question is evaluated. */
  readonly historyTurns: number;
  readonly systemPrompt: string;
  /** CPU threads for llama.cpp; undefined lets the worker choose (see worker.ts). */
  readonly threads?: number;
  /** VRAM llama.cpp leaves free when it fits layers on the GPU (models.vramHeadroomMb); its own default otherwise. */
  readonly vramPaddingBytes?: number;
  /** Pairs to start from, so a conversation survives a worker restart. */
  readonly history: readonly ConversationTurn[];
  /**
   * The functions questions will offer, evaluated into the KV cache with the system prompt at load: their
   * definitions are a long prompt prefix that the first question would otherwise pay for.
   */
  readonly preloadTools?: readonly ToolDefinition[];
}

export interface GenerateTools {
  readonly definitions: readonly ToolDefinition[];
  /** Calls allowed in one answer; a further call, or the same call repeated, ends the answer. */
  readonly maxCalls: number;
}

export interface WorkerLoadInfo {
  readonly device: LlmDevice;
  readonly gpuNames: readonly string[];
  readonly layersOnGpu: number;
  readonly totalLayers: number;
  /** Growth of the device's used VRAM across model and context creation (getVramState), 0 on the CPU. */
  readonly vramUsedBytes: number;
  readonly vramTotalBytes: number;
  /** The device's used VRAM (all programs) before and after this load. */
  readonly vramBeforeBytes: number;
  readonly vramAfterBytes: number;
  /** getLlama() through the evaluated system prompt, inside the worker. */
  readonly loadMs: number;
  /** Of loadMs, evaluating the system prompt (and restored turns) into the KV cache. */
  readonly preloadMs: number;
  /** node-llama-cpp's chat wrapper, resolved from the model's chat template. */
  readonly chatWrapper: string;
  /** False when the function definitions offered with questions are too long for the context (then none are). */
  readonly functionsFit: boolean;
  readonly contextSize: number;
  readonly threads: number;
  readonly systemPromptTokens: number;
  /**
   * Set by the daemon, not the worker: with llm.gpu "auto", llama.cpp's GPU backend crashed the worker while it
   * loaded, and this load is the retry on the CPU.
   */
  readonly gpuFallback?: GpuFallback;
}

export interface GpuFallback {
  readonly from: LlmDevice;
  /** How the GPU worker died, with llama.cpp's own error line. */
  readonly detail: string;
  readonly fix: string;
}

/** toolLoop: the model repeated a function call or made too many in one answer, so the answer was ended. */
export type StopReason = 'eogToken' | 'maxTokens' | 'abort' | 'stopGenerationTrigger' | 'customStopTrigger' | 'functionCalls' | 'toolLoop';

export interface TurnStats {
  readonly stopReason: StopReason;
  /** The answer as kept in the conversation (partial when aborted). */
  readonly answer: string;
  readonly pieces: number;
  readonly outputTokens: number;
  /** Tokens llama.cpp had to evaluate for this turn; what was already in the KV cache is not counted. */
  readonly inputTokensEvaluated: number;
  /** Tokens in the context sequence when the answer ended. */
  readonly contextTokens: number;
  /** Earlier question/answer pairs that were in context when this question was evaluated. */
  readonly previousTurnsInContext: number;
  readonly firstPieceMs: number | null;
  readonly ms: number;
  /** Function calls the model made in this answer (each one ran in the daemon). */
  readonly toolCalls?: number;
}

export interface WorkerState {
  /** Question/answer pairs the chat session holds now. */
  readonly turns: number;
  readonly questions: readonly string[];
  readonly contextTokens: number;
  readonly busy: boolean;
  /** The function calls in the last answer, with the results the model was given: what its context holds. */
  readonly lastFunctionCalls: readonly { readonly name: string; readonly params: unknown; readonly result: unknown }[];
  /** The text of the last answer as the history holds it. */
  readonly lastAnswer: string | undefined;
}

/** How an answer cut off by the user is kept in the conversation: what was heard, and that it was cut there. */
export function cutOffAnswer(heard: string): string {
  const said = heard.trim();
  return said ? `${said} [interrupted by the user]` : '[interrupted by the user before anything was said]';
}

/** An error as it crosses the process boundary; `code`/`fix` follow JarvisError when the worker knows them. */
export interface WireError {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly fix?: string;
}

export type ToWorker =
  | { readonly type: 'load'; readonly options: WorkerLoadOptions }
  | { readonly type: 'generate'; readonly id: number; readonly text: string; readonly tools?: GenerateTools }
  | { readonly type: 'abort'; readonly id: number }
  | { readonly type: 'reset'; readonly id: number }
  /** Other function definitions for the KV cache (an MCP server's tool list changed): the next question pays nothing for them. */
  | { readonly type: 'preload'; readonly id: number; readonly tools: readonly ToolDefinition[] }
  /** The last answer was heard only up to `answer` (already marked as interrupted): the history keeps that. */
  | { readonly type: 'cut-off'; readonly id: number; readonly answer: string }
  /** The last question was withdrawn: the history forgets it and its answer. */
  | { readonly type: 'retract'; readonly id: number }
  | { readonly type: 'inspect'; readonly id: number }
  /**
   * A side question outside the conversation (Responder.classify): which of `choices` the model picks for `prompt`,
   * under their grammar. The chat history is as it was afterwards; `abort` with the same id stops it.
   */
  | { readonly type: 'classify'; readonly id: number; readonly prompt: string; readonly choices: readonly string[] }
  | { readonly type: 'tool-result'; readonly callId: number; readonly result: unknown }
  | { readonly type: 'dispose' };

export type FromWorker =
  /** Sent as soon as llama.cpp's backend is chosen, before the model loads: a crash after it is that backend's. */
  | { readonly type: 'backend'; readonly device: LlmDevice }
  | { readonly type: 'loaded'; readonly info: WorkerLoadInfo }
  | { readonly type: 'load-failed'; readonly error: WireError }
  | { readonly type: 'piece'; readonly id: number; readonly text: string }
  | { readonly type: 'tool-call'; readonly id: number; readonly callId: number; readonly name: string; readonly params: unknown }
  | { readonly type: 'done'; readonly id: number; readonly stats: TurnStats }
  | { readonly type: 'error'; readonly id: number; readonly error: WireError }
  | { readonly type: 'reset-done'; readonly id: number }
  | { readonly type: 'preload-done'; readonly id: number }
  | { readonly type: 'cut-off-done'; readonly id: number }
  | { readonly type: 'retract-done'; readonly id: number }
  | { readonly type: 'state'; readonly id: number; readonly state: WorkerState }
  /** classify's answer (one of its choices), or why there is none. */
  | { readonly type: 'classified'; readonly id: number; readonly choice?: string; readonly error?: WireError }
  | { readonly type: 'log'; readonly level: 'debug' | 'info' | 'warn' | 'error'; readonly message: string }
  | { readonly type: 'disposed' };

// Every message type once: the compiler says when a new one is missing here.
const toWorkerTypes = new Set<string>(
  Object.keys({ load: true, generate: true, abort: true, reset: true, preload: true, 'cut-off': true, retract: true, inspect: true, classify: true, 'tool-result': true, dispose: true } satisfies Record<ToWorker['type'], true>),
);
const fromWorkerTypes = new Set<string>(
  Object.keys({
    backend: true, loaded: true, 'load-failed': true, piece: true, 'tool-call': true, done: true, error: true, 'reset-done': true,
    'preload-done': true, 'cut-off-done': true, 'retract-done': true, state: true, classified: true, log: true, disposed: true,
  } satisfies Record<FromWorker['type'], true>),
);

// The IPC channel is ours at both ends; the guards keep a stray message (a library calling process.send) from
// being taken for a protocol message.
export function isToWorker(message: unknown): message is ToWorker {
  return typeof message === 'object' && message !== null && toWorkerTypes.has((message as { type?: unknown }).type as string);
}

export function isFromWorker(message: unknown): message is FromWorker {
  return typeof message === 'object' && message !== null && fromWorkerTypes.has((message as { type?: unknown }).type as string);
}

export function toWireError(error: unknown): WireError {
  if (error instanceof Error) {
    const { code, fix } = error as { code?: unknown; fix?: unknown };
    return {
      name: error.name,
      message: error.message,
      ...(typeof code === 'string' ? { code } : {}),
      ...(typeof fix === 'string' ? { fix } : {}),
    };
  }
  return { name: 'Error', message: String(error) };
}
