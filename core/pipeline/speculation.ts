import { AsyncQueue } from '../../base/async-queue.ts';
import type { Clock } from '../../base/clock.ts';
import type { RunRecorder } from '../events.ts';
import type { Responder } from '../responder.ts';

/**
 * An answer started before the request's end is confirmed: in a pause where what was said looks like a whole
 * request, the responder starts on it while the VAD still waits out the silence. The answer is only thought, not
 * acted on (skills and function calls wait for `confirmed`) and not spoken: the turn that confirms the request
 * takes the answer as it stands; if the person speaks on, it is withdrawn and the responder forgets the question.
 */
export class Speculation {
  readonly #pieces = new AsyncQueue<string>();
  readonly #controller = new AbortController();
  readonly #responder: Responder;
  readonly #clock: Clock;
  readonly #startedAt: number;
  readonly #generated: Promise<void>;
  #confirm!: () => void;
  #settled = false;

  constructor(
    responder: Responder,
    /** The request as the turn will read it (the wake word taken off). */
    readonly text: string,
    /** The request's speech when its transcript was taken: the endpoint must find the same to use it. */
    readonly speechMs: number,
    run: RunRecorder,
    clock: Clock,
  ) {
    this.#responder = responder;
    this.#clock = clock;
    this.#startedAt = clock.monotonic();
    const confirmed = new Promise<void>((resolve) => (this.#confirm = resolve));
    const signal = this.#controller.signal;
    this.#generated = (async () => {
      try {
        for await (const piece of responder.respond({ text, signal, run, confirmed })) this.#pieces.push(piece);
        this.#pieces.end();
      } catch (error) {
        this.#pieces.fail(error);
      }
    })();
  }

  /**
   * The request was confirmed as it is: the answer so far and the rest as it comes, for the turn. `signal` is
   * the turn's: aborting it stops the answer. `earlyMs`: how long before the confirmation the answer began.
   */
  confirm(signal: AbortSignal): { answer: AsyncIterable<string>; earlyMs: number } {
    this.#settled = true;
    this.#confirm();
    signal.addEventListener('abort', () => this.#controller.abort(signal.reason), { once: true });
    return { answer: this.#pieces, earlyMs: this.#clock.monotonic() - this.#startedAt };
  }

  /**
   * The person spoke on, or the request was dropped: the answer stops and the responder forgets the question.
   * False when it had already been confirmed or discarded.
   */
  discard(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    this.#controller.abort();
    void this.#generated.then(() => this.#responder.retract()).catch(() => undefined);
    return true;
  }
}
