import { describeError } from '../../base/errors.ts';
import type { Clock } from '../../base/clock.ts';
import type { Logger } from '../../base/log.ts';
import type { Responder, ResponderInfo, ResponseRequest } from '../responder.ts';
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

/** The skill stage, when it is what `inner` is: its local requests stay local. */
interface LocalSkills {
  localCall(text: string): unknown;
}

export class HomeAssistantResponder implements Responder {
  readonly engine: string;
  /** Home Assistant asked something back ("Which light?"): the next request is its answer. */
  #conversation: { readonly id: string; readonly until: number } | undefined;
  /** The last answer came from `inner` (Home Assistant's answers are not in the LLM's conversation). */
  #innerAnswered = false;

  constructor(
    readonly inner: Responder,
    private readonly home: HomeAssistant,
    private readonly options: HomeAssistantResponderOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.engine = `Home Assistant + ${inner.engine}`;
  }

  get workerPid(): number | undefined {
    return this.inner.workerPid;
  }

  async load(): Promise<ResponderInfo> {
    return this.inner.load();
  }

  understands(text: string): boolean {
    return this.inner.understands?.(text) === true || this.#forHome(text);
  }

  async *respond(request: ResponseRequest): AsyncGenerator<string> {
    if (request.signal.aborted) return;
    this.#innerAnswered = !this.#forHome(request.text);
    if (this.#innerAnswered) {
      yield* this.inner.respond(request);
      return;
    }
    // Acting on a request its speaker is still adding to would act on the wrong thing.
    await request.confirmed;
    if (request.signal.aborted) return;
    const said = await this.#askHome(request);
    if (said === undefined) {
      this.#innerAnswered = true;
      yield* this.inner.respond(request);
    } else if (said) {
      yield said;
    }
  }

  async resetConversation(): Promise<void> {
    this.#conversation = undefined;
    await this.inner.resetConversation();
  }

  async answerCutOff(heard: string): Promise<void> {
    if (this.#innerAnswered) await this.inner.answerCutOff(heard);
  }

  async retract(): Promise<void> {
    if (this.#innerAnswered) await this.inner.retract();
  }

  async dispose(): Promise<void> {
    await this.inner.dispose();
  }

  /** Home Assistant answers this, not `inner`: a device request the local skills do not take, or its follow-up. */
  #forHome(text: string): boolean {
    if (this.#pendingConversation()) return true;
    const skills = this.inner as Partial<LocalSkills>;
    if (typeof skills.localCall === 'function' && skills.localCall(text) !== undefined) return false;
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
