/**
 * Wall-clock time and timeouts, injected so that timers can be tested with a clock the test moves by hand
 * (test/fixtures/manual-clock.ts) rather than by waiting.
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Calls `callback` after `ms`; the returned function cancels it. */
  setTimeout(callback: () => void, ms: number): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(callback, ms) {
    const timer = setTimeout(callback, ms);
    // Timers must not keep a CLI process alive; the daemon is kept alive by its audio source.
    timer.unref();
    return () => clearTimeout(timer);
  },
};
