import type { Responder, ResponderInfo, ResponseRequest } from './responder.ts';

/**
 * A stage of the answer chain in front of another (`inner`): Home Assistant's intents, device phrases, the documents,
 * confirmations, more tools. What a stage does not change goes to `inner`. A stage that answers a request itself
 * sets `answeredHere`, so that a cut-off or withdrawn answer of its own is not reported to `inner`, whose
 * conversation never saw it.
 */
export abstract class FrontResponder implements Responder {
  readonly engine: string;
  /** The last request was answered by this stage, not by `inner`. */
  protected answeredHere = false;

  constructor(
    readonly inner: Responder,
    engine = inner.engine,
  ) {
    this.engine = engine;
  }

  get workerPid(): number | undefined {
    return this.inner.workerPid;
  }

  /** The local skills' matcher (SkillResponder.localCall), passed through, for stages that let the skills go first. */
  localCall(text: string): unknown {
    return (this.inner as Partial<{ localCall(text: string): unknown }>).localCall?.(text);
  }

  load(): Promise<ResponderInfo> {
    return this.inner.load();
  }

  understands(text: string): boolean {
    return this.inner.understands?.(text) === true;
  }

  abstract respond(request: ResponseRequest): AsyncIterable<string>;

  resetConversation(): Promise<void> {
    return this.inner.resetConversation();
  }

  async answerCutOff(heard: string): Promise<void> {
    if (!this.answeredHere) await this.inner.answerCutOff(heard);
  }

  async retract(): Promise<void> {
    if (!this.answeredHere) await this.inner.retract();
  }

  dispose(): Promise<void> {
    return this.inner.dispose();
  }
}
