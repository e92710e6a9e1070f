import type { Responder, ResponderInfo, ResponseRequest, ToolHost } from '../responder.ts';
import type { Clock } from '../../base/clock.ts';
import type { HouseholdMemory } from './household-memory.ts';
import { matchIntent, parseDurationAnswer, parseTimeAnswer } from './intents.ts';
import { asksForMore, type SkillCall } from './skill-call.ts';
import type { FollowUp, SkillRunner } from './skill-runner.ts';
import { spokenClock, spokenDate } from './spoken.ts';
import type { TimerService } from './timer-service.ts';

/**
 * The answer stage with skills in front of the LLM. A request the local patterns recognise is carried out and
 * answered at once, without the LLM (well under 50 ms after the transcript); anything else goes to the LLM, with
 * the current date and time and the household notes that match the question put in front of it, and with the
 * skills as functions it may call (see SkillTools). A skill that needs one more thing asks for it ("For how
 * long?") and takes the next request as the answer, within the follow-up window.
 */

export interface SkillResponderDeps {
  readonly runner: SkillRunner;
  readonly timers: TimerService;
  readonly memory: HouseholdMemory;
  readonly clock: Clock;
  /** The skills as functions for the LLM; none: the LLM only talks. */
  readonly tools?: ToolHost;
}

export interface SkillResponderOptions {
  /** conversation.stopPhrases: said as a request, they end the turn silently. */
  readonly stopPhrases: readonly string[];
  /** Date, time and matching notes in front of every LLM question. */
  readonly injectContext: boolean;
  /** How long a skill's question ("For how long?") waits for its answer. */
  readonly followUpMs: number;
}

const NOTES_IN_CONTEXT = 3;

export class SkillResponder implements Responder {
  readonly engine: string;
  #followUp: { readonly question: FollowUp; readonly until: number } | undefined;
  /** The last answer came from the LLM (a local skill's answers are not in its conversation). */
  #llmAnswered = false;

  constructor(
    readonly llm: Responder,
    private readonly deps: SkillResponderDeps,
    private readonly options: SkillResponderOptions,
  ) {
    this.engine = `local skills + ${llm.engine}`;
  }

  get workerPid(): number | undefined {
    return this.llm.workerPid;
  }

  async load(): Promise<ResponderInfo> {
    const info = await this.llm.load();
    return { ...info, summary: `${info.summary}; local skills first` };
  }

  understands(text: string): boolean {
    const call = this.localCall(text);
    return call !== undefined && !asksForMore(call);
  }

  /** The skill call `text` makes without the LLM, if any. */
  localCall(text: string): SkillCall | undefined {
    const now = this.deps.clock.now();
    const answer = this.#followUpAnswer(text, now);
    if (answer) return answer;
    return matchIntent(text, {
      now,
      stopPhrases: this.options.stopPhrases,
      timerLabels: this.deps.timers.list().flatMap((t) => (t.label ? [t.label] : [])),
    })?.call;
  }

  async *respond(request: ResponseRequest): AsyncGenerator<string> {
    if (request.signal.aborted) return;
    const call = this.localCall(request.text);
    this.#llmAnswered = !call;
    if (call) {
      // A request started before its speaker finished acts only once it is confirmed.
      await request.confirmed;
      if (request.signal.aborted) return;
      const result = await this.deps.runner.runReported(call, 'local', request.run);
      this.#followUp = result.followUp ? { question: result.followUp, until: this.deps.clock.now() + this.options.followUpMs } : undefined;
      if (result.say) yield result.say;
      return;
    }
    this.#followUp = undefined;
    yield* this.llm.respond({
      ...request,
      text: this.options.injectContext ? this.#withContext(request.text) : request.text,
      ...(this.deps.tools ? { tools: this.deps.tools } : {}),
    });
  }

  async resetConversation(): Promise<void> {
    this.#followUp = undefined;
    await this.llm.resetConversation();
  }

  async answerCutOff(heard: string): Promise<void> {
    if (this.#llmAnswered) await this.llm.answerCutOff(heard);
  }

  async retract(): Promise<void> {
    if (this.#llmAnswered) await this.llm.retract();
  }

  async dispose(): Promise<void> {
    await this.llm.dispose();
  }

  #followUpAnswer(text: string, now: number): SkillCall | undefined {
    const pending = this.#followUp;
    if (!pending || now > pending.until) return undefined;
    const { question } = pending;
    const label = question.label ? { label: question.label } : {};
    if (question.expect === 'duration') {
      const durationMs = parseDurationAnswer(text);
      return durationMs === undefined ? undefined : { skill: 'timer.set', kind: question.kind, durationMs, ...label };
    }
    const dueAt = parseTimeAnswer(text, now, question.kind === 'alarm', question.day);
    return dueAt === undefined ? undefined : { skill: 'alarm.set', kind: question.kind, dueAt, ...label };
  }

  /**
   * "[Tuesday the 25th of November, 2025, 3:05 PM. Household notes: The wifi password is on the fridge.] …". In
   * the question, not the system prompt, so the system prompt's KV cache stays valid as the clock moves.
   */
  #withContext(text: string): string {
    const now = this.deps.clock.now();
    const notes = this.deps.memory.find(text).slice(0, NOTES_IN_CONTEXT);
    const noteText = notes.length ? ` Household notes: ${notes.map((n) => `${n.text}.`).join(' ')}` : '';
    return `[${spokenDate(now)}, ${spokenClock(now)}.${noteText}] ${text}`;
  }
}
