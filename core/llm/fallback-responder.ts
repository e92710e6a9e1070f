import { describeError, JarvisError } from '../../base/errors.ts';
import type { Responder, ResponderInfo, ResponseRequest } from '../responder.ts';

/**
 * The configured model server, with the local model behind it (`llm.fallback: "local"`): when the server cannot
 * answer a question at all (down, too slow, busy, refusing, without the model), the local model answers it, and
 * the turn says so (an `llm-backend` run event the HUD shows). An answer the server had started and then lost is
 * not finished by another model: that turn ends with the server's error, as without a fallback. Each question
 * tries the server first again, so answers come from it as soon as it is back.
 */

/** The server's failures that mean "it cannot answer now", as opposed to a bug or a stopped turn. */
const UNAVAILABLE = new Set(['llm-remote-unreachable', 'llm-remote-timeout', 'llm-remote-busy', 'llm-remote-failed', 'llm-remote-model', 'llm-remote-auth']);

export interface NamedResponder extends Responder {
  readonly name: string;
}

export class FallbackResponder implements Responder {
  readonly engine: string;
  /** Which side answered last: a cut-off or a withdrawn request belongs to it. Each keeps its own conversation. */
  #lastAnsweredBy: Responder | undefined;

  constructor(
    private readonly primary: NamedResponder,
    private readonly fallback: Responder,
    private readonly fallbackName: string,
  ) {
    this.engine = `${primary.engine}+${fallback.engine}`;
  }

  get workerPid(): number | undefined {
    return this.fallback.workerPid;
  }

  /** Loads both; a server that is down at start is a warning, not a failure, while the local model answers. */
  async load(): Promise<ResponderInfo> {
    const [primary, fallback] = await Promise.allSettled([this.primary.load(), this.fallback.load()]);
    if (primary.status === 'fulfilled') {
      return { summary: `${primary.value.summary}; ${fallback.status === 'fulfilled' ? `${this.fallbackName} when it cannot answer` : 'no fallback (the local model did not load)'}` };
    }
    if (fallback.status === 'rejected') throw primary.reason;
    const { message, fix } = describeError(primary.reason);
    return { summary: `${this.fallbackName} (${message})`, warning: { message: `${message}; the ${this.fallbackName} answers meanwhile`, fix: fix ?? 'Start the model server.' } };
  }

  understands(text: string): boolean {
    return this.primary.understands?.(text) ?? false;
  }

  async *respond(request: ResponseRequest): AsyncIterable<string> {
    let answered = false;
    try {
      for await (const piece of this.primary.respond(request)) {
        answered = true;
        yield piece;
      }
      this.#lastAnsweredBy = this.primary;
      return;
    } catch (error) {
      if (answered || request.signal.aborted || !(error instanceof JarvisError) || !UNAVAILABLE.has(error.code)) throw error;
      request.run?.emit({ type: 'llm-backend', backend: this.fallbackName, fallbackFrom: this.primary.name, why: error.message });
    }
    this.#lastAnsweredBy = this.fallback;
    yield* this.fallback.respond(request);
  }

  /** The server's pick; when it cannot answer at all, the local model's, as for a question. */
  async classify(prompt: string, choices: readonly string[], signal: AbortSignal): Promise<string> {
    if (!this.primary.classify) throw new Error(`${this.primary.name} cannot pick between choices`);
    try {
      return await this.primary.classify(prompt, choices, signal);
    } catch (error) {
      if (signal.aborted || !(error instanceof JarvisError) || !UNAVAILABLE.has(error.code) || !this.fallback.classify) throw error;
      return this.fallback.classify(prompt, choices, signal);
    }
  }

  async resetConversation(): Promise<void> {
    await Promise.all([this.primary.resetConversation(), this.fallback.resetConversation()]);
  }

  async answerCutOff(heard: string): Promise<void> {
    await this.#lastAnsweredBy?.answerCutOff(heard);
  }

  async retract(): Promise<void> {
    await this.#lastAnsweredBy?.retract();
  }

  async dispose(): Promise<void> {
    await Promise.all([this.primary.dispose(), this.fallback.dispose()]);
  }
}
