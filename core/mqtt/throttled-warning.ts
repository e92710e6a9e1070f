import type { Logger } from '../../base/log.ts';

/**
 * A warning about something that can come in floods from the network (bad messages on a broker anyone in the
 * house may publish to): the first is logged at once, the next ones within `everyMs` only counted, and the count
 * rides on the next line logged. A flood costs one log line per `everyMs`, and nothing is lost from view.
 */
export class ThrottledWarning {
  #lastAt = Number.NEGATIVE_INFINITY;
  #suppressed = 0;

  constructor(
    private readonly log: Logger,
    private readonly everyMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  warn(fields: Record<string, unknown>, message: string): void {
    const now = this.now();
    if (now - this.#lastAt < this.everyMs) {
      this.#suppressed++;
      return;
    }
    const suppressed = this.#suppressed;
    this.#suppressed = 0;
    this.#lastAt = now;
    if (suppressed === 0) this.log.warn(fields, message);
    else this.log.warn({ ...fields, suppressed }, `${message} (and ${suppressed} more since the last such warning)`);
  }
}
