import { formatLoadSummary, type LlamaResponderEvent, loadWarning } from '../llm/llama-responder.ts';
import type { Responder, ResponderInfo, ResponseRequest } from '../responder.ts';
import type { ModelPool, PoolModel } from './pool.ts';

/**
 * The LLM stage the assistant talks to, whatever model is active: it forwards each question to the pool's active
 * model, so `jarvis models use`, the HUD or a spoken "use the big model" changes the model between two questions
 * without a restart. While the model is still being downloaded on a first run, a spoken progress report
 * (`pendingMessage`) answers instead.
 */

export interface PooledResponderOptions {
  /** While the wanted model cannot be loaded yet (downloading), what to say instead. */
  readonly pendingMessage?: () => string | undefined;
}

export class PooledResponder implements Responder {
  readonly engine = 'llama.cpp';
  readonly #pool: ModelPool;
  readonly #options: PooledResponderOptions;
  #wanted: PoolModel | undefined;
  /** The model that wrote the last answer, for answerCutOff(). */
  #answeredBy: Responder | undefined;

  constructor(pool: ModelPool, wanted: PoolModel | undefined, options: PooledResponderOptions = {}) {
    this.#pool = pool;
    this.#wanted = wanted;
    this.#options = options;
  }

  get workerPid(): number | undefined {
    return this.#pool.activeResponder?.workerPid;
  }

  /** The model questions go to. */
  get wanted(): PoolModel | undefined {
    return this.#wanted;
  }

  /** Switches to `model` now (loading it if needed); the next question goes to it. A failed load changes nothing. */
  async use(model: PoolModel): Promise<ResponderInfo> {
    const responder = await this.#pool.activate(model);
    this.#wanted = model;
    const info = responder.loadInfo;
    const warning = loadWarning(info);
    return { summary: info ? formatLoadSummary(info, model.path) : `model ${model.key}`, ...(warning ? { warning } : {}) };
  }

  /** The model to load when next asked, without loading it now (a first run's pick, still downloading). */
  want(model: PoolModel): void {
    this.#wanted = model;
  }

  load(): Promise<ResponderInfo> {
    return this.use(this.#requireWanted());
  }

  async *respond(request: ResponseRequest): AsyncGenerator<string> {
    const pending = this.#options.pendingMessage?.();
    if (pending !== undefined) {
      this.#answeredBy = undefined;
      yield pending;
      return;
    }
    const wanted = this.#requireWanted();
    const responder = await this.#pool.activate(wanted);
    this.#answeredBy = responder;
    this.#pool.touch(wanted.key);
    try {
      yield* responder.respond(request);
    } finally {
      // A long answer must not count as idle time.
      this.#pool.touch(wanted.key);
    }
  }

  /** The active model's pick (loading it if needed, as its next question would); none while it is still downloading. */
  async classify(prompt: string, choices: readonly string[], signal: AbortSignal): Promise<string> {
    if (this.#options.pendingMessage?.() !== undefined) throw new Error('the language model is not ready yet');
    const wanted = this.#requireWanted();
    const responder = await this.#pool.activate(wanted);
    this.#pool.touch(wanted.key);
    return responder.classify(prompt, choices, signal);
  }

  async resetConversation(): Promise<void> {
    await this.#pool.activeResponder?.resetConversation();
  }

  async answerCutOff(heard: string): Promise<void> {
    await this.#answeredBy?.answerCutOff(heard);
  }

  async retract(): Promise<void> {
    await this.#answeredBy?.retract();
  }

  /** Worker restarts, exits and llama.cpp messages of every pooled model. */
  subscribe(listener: (event: LlamaResponderEvent) => void): () => void {
    const forward = (event: LlamaResponderEvent) => listener(event);
    this.#pool.on('llm', forward);
    return () => this.#pool.off('llm', forward);
  }

  async dispose(): Promise<void> {
    await this.#pool.dispose();
  }

  #requireWanted(): PoolModel {
    if (!this.#wanted) throw new Error('no LLM chosen');
    return this.#wanted;
  }
}
