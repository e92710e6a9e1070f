/**
 * A token bucket: `ratePerSecond` on average, up to `burst` at once. Used per client for commands and audio
 * chunks, and across all clients for failed pairing attempts.
 */
export class TokenBucket {
  #tokens: number;
  #updatedAt: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.#tokens = burst;
    this.#updatedAt = now();
  }

  /** Takes one token; false when the bucket is empty. */
  take(): boolean {
    const now = this.now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#updatedAt) / 1000) * this.ratePerSecond);
    this.#updatedAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Gives back a token taken for something that turned out not to count. */
  refund(): void {
    this.#tokens = Math.min(this.burst, this.#tokens + 1);
  }
}
