import type { ChatSessionModelFunction, ChatSessionModelFunctions, GbnfJsonSchema } from 'node-llama-cpp';
import type { FromWorker, GenerateTools } from './protocol.ts';
import type { ToolDefinition } from '../responder.ts';

/**
 * The worker's side of function calling. node-llama-cpp generates a call's name and arguments under a grammar
 * built from the tool's JSON schema and then runs the function's handler; here every handler forwards the call
 * to the daemon (`tool-call`) and waits for its `tool-result`, because the timers, notes and speaker live there.
 *
 * Models loop: a call repeated with the same arguments, or more calls in one answer than allowed, is not run
 * again; the answer is ended instead (`stopSignal`), so a confused model cannot set ten timers.
 */

export interface GenerationTools {
  readonly functions: ChatSessionModelFunctions;
  /** Aborts when the model loops; combine it with the generation's own signal. */
  readonly stopSignal: AbortSignal;
  /** Calls forwarded to the daemon in this generation. */
  readonly calls: () => number;
}

export class ToolBridge {
  readonly #pending = new Map<number, (result: unknown) => void>();
  /** Unique for the worker's life, so a late result for an ended answer cannot settle a call of the next one. */
  #nextCallId = 1;

  constructor(private readonly send: (message: FromWorker) => void) {}

  /** Functions for generation `id`; a call that is still waiting when `signal` aborts gets an "aborted" result. */
  /**
   * The same functions as forGeneration() renders into the prompt, for evaluating that prompt ahead of a
   * question; nothing generates with them, so they are never called.
   */
  definitionsOnly(definitions: readonly ToolDefinition[]): Record<string, ChatSessionModelFunction> {
    return this.forGeneration(0, AbortSignal.abort(), { definitions, maxCalls: 0 }).functions;
  }

  forGeneration(id: number, signal: AbortSignal, tools: GenerateTools): GenerationTools {
    const loop = new AbortController();
    const seen = new Set<string>();
    let calls = 0;
    const functions: Record<string, ChatSessionModelFunction> = {};
    for (const tool of tools.definitions) {
      // What defineChatSessionFunction() returns, built from a schema that arrives over IPC.
      functions[tool.name] = {
        description: tool.description,
        ...(tool.params ? { params: tool.params as GbnfJsonSchema } : {}),
        handler: (params: unknown) => {
          const key = `${tool.name}${JSON.stringify(params)}`;
          if (seen.has(key) || calls >= tools.maxCalls) {
            loop.abort();
            return { error: seen.has(key) ? 'not run again: this exact call was already made in this answer' : 'not run: too many calls in one answer' };
          }
          seen.add(key);
          calls++;
          return this.#forward(id, tool.name, params, signal);
        },
      };
    }
    return { functions, stopSignal: loop.signal, calls: () => calls };
  }

  /** The daemon's result for a call (IPC `tool-result`). */
  resolve(callId: number, result: unknown): void {
    const resolve = this.#pending.get(callId);
    this.#pending.delete(callId);
    resolve?.(result);
  }

  #forward(id: number, name: string, params: unknown, signal: AbortSignal): Promise<unknown> {
    if (signal.aborted) return Promise.resolve({ error: 'aborted' });
    const callId = this.#nextCallId++;
    return new Promise((resolve) => {
      const onAbort = () => this.resolve(callId, { error: 'aborted' });
      signal.addEventListener('abort', onAbort, { once: true });
      this.#pending.set(callId, (result) => {
        signal.removeEventListener('abort', onAbort);
        resolve(result);
      });
      this.send({ type: 'tool-call', id, callId, name, params });
    });
  }
}
