import { describeError } from '../../base/errors.ts';
import type { Clock } from '../../base/clock.ts';
import type { Logger } from '../../base/log.ts';
import { FrontResponder } from '../front-responder.ts';
import type { Responder, ResponseRequest } from '../responder.ts';
import { inArea, looksLikeHomeRequest } from './device-phrases.ts';
import type { HomeAssistant } from './home-assistant.ts';

/**
 * The answer stage with Home Assistant's own intent handling in front: a request that looks like device control
 * ("turn off the kitchen lights", "is the front door locked") goes to Home Assistant's built-in conversation agent
 * first, which acts and answers in one round trip, with no LLM; what it does not understand goes on to `inner` (the
 * local skills and the LLM, which has Home Assistant's MCP tools). Requests the local skills answer ("set the
 * volume to 5") never go to Home Assistant.
 */

export interface HomeAssistantResponderOptions {
  readonly language: string;
  readonly agentId: string;
  /** The area this microphone is in: "turn on the lights" means the lights there. */
  readonly area?: string;
  /** How long the agent's follow-up question ("Which light?") waits for its answer. */
  readonly followUpMs: number;
}

export class HomeAssistantResponder extends FrontResponder {
  /** Home Assistant asked something back ("Which light?"): the next request is its answer. */
  #conversation: { readonly id: string; readonly until: number } | undefined;

  constructor(
    inner: Responder,
    private readonly home: HomeAssistant,
    private readonly options: HomeAssistantResponderOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    super(inner, `Home Assistant + ${inner.engine}`);
  }

  override understands(text: string): boolean {
    return super.understands(text) || this.#forHome(text);
  }

  async *respond(request: ResponseRequest): AsyncGenerator<string> {
    if (request.signal.aborted) return;
    // Home Assistant's answers are not in the LLM's conversation.
    this.answeredHere = this.#forHome(request.text);
    if (!this.answeredHere) {
      yield* this.inner.respond(request);
      return;
    }
    // Acting on a request its speaker is still adding to would act on the wrong thing.
    await request.confirmed;
    if (request.signal.aborted) return;
    const said = await this.#askHome(request);
    if (said === undefined) {
      this.answeredHere = false;
      yield* this.inner.respond(request);
    } else if (said) {
      yield said;
    }
  }

  override async resetConversation(): Promise<void> {
    this.#conversation = undefined;
    await this.inner.resetConversation();
  }

  /** Home Assistant answers this, not `inner`: a device request the local skills do not take, or its follow-up. */
  #forHome(text: string): boolean {
    if (this.#pendingConversation()) return true;
    if (this.localCall(text) !== undefined) return false;
    return looksLikeHomeRequest(text);
  }

  #pendingConversation(): string | undefined {
    const pending = this.#conversation;
    return pending && this.clock.now() <= pending.until ? pending.id : undefined;
  }

  /** What to say (Home Assistant's words, or why it could not be asked); undefined: it did not understand. */
  async #askHome(request: ResponseRequest): Promise<string | undefined> {
    const { run, signal } = request;
    const text = inArea(request.text, request.area ?? this.options.area);
    const conversationId = this.#pendingConversation();
    this.#conversation = undefined;
    const started = performance.now();
    run?.emit({ type: 'intent-start', skill: 'home-assistant', args: { text }, via: 'local' });
    try {
      const result = await this.home.converse(text, { language: this.options.language, agentId: this.options.agentId, signal, ...(conversationId ? { conversationId } : {}) });
      run?.emit({ type: 'intent-end', skill: 'home-assistant', ok: result.handled && !result.errorCode, ms: performance.now() - started, said: result.handled ? result.speech : '', ...(result.errorCode ? { code: result.errorCode } : {}) });
      if (!result.handled) return undefined;
      if (result.continueConversation && result.conversationId) this.#conversation = { id: result.conversationId, until: this.clock.now() + this.options.followUpMs };
      return result.speech || (result.errorCode ? 'Home Assistant could not do that.' : 'Done.');
    } catch (error) {
      if (signal.aborted) return '';
      const { message, fix, code } = describeError(error);
      run?.emit({ type: 'intent-end', skill: 'home-assistant', ok: false, ms: performance.now() - started, said: '', code });
      this.log.warn({ fix }, message);
      return code === 'home-unauthorized' ? 'Home Assistant refused my access token.' : 'Home Assistant did not answer.';
    }
  }
}
