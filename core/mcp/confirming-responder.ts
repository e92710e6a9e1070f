import { FrontResponder } from '../front-responder.ts';
import type { Responder, ResponseRequest } from '../responder.ts';
import type { Confirmations } from './confirmations.ts';
import { yesOrNo } from './yes-no.ts';

/**
 * The front of the answer chain while a tool call waits for confirmation: a "yes" or "no" as the next request
 * (in the follow-up window without the wake word, or after it) settles the question, says what was done and goes
 * no further; the endpointer hears it as a complete request. Any other request drops the question (nothing is
 * done) and is answered as usual.
 */
export class ConfirmingResponder extends FrontResponder {
  constructor(
    inner: Responder,
    private readonly confirmations: Confirmations,
  ) {
    super(inner);
  }

  override understands(text: string): boolean {
    return (this.confirmations.pending !== undefined && yesOrNo(text) !== undefined) || this.inner.understands?.(text) === true;
  }

  async *respond(request: ResponseRequest): AsyncGenerator<string> {
    const answer = this.confirmations.pending ? yesOrNo(request.text) : undefined;
    this.answeredHere = answer !== undefined;
    if (answer === undefined) {
      // Dropped only once the request is really the next one (not one started early and then withdrawn).
      if (this.confirmations.pending) void Promise.resolve(request.confirmed).then(() => request.signal.aborted || this.confirmations.drop());
      yield* this.inner.respond(request);
      return;
    }
    await request.confirmed;
    if (request.signal.aborted) return;
    const said = await this.confirmations.answer(answer, request.signal, request.run ? { run: request.run } : {});
    if (said) yield said;
  }

  override resetConversation(): Promise<void> {
    this.confirmations.drop();
    return this.inner.resetConversation();
  }
}
