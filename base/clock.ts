import { abortError } from './errors.ts';

/**
 * Time, passed in. The daemon runs on the system clock; tests run on clocks they move themselves: a manual one for
 * timers (test/fixtures/manual-clock.ts), and one that advances with the audio a test room delivers
 * (test/fixtures/audio-clock.ts), so a spoken conversation replays faster than real time and still means the same.
 */
export interface Clock {
  /** Epoch milliseconds: the time of day (timers, alarms, what the screens print). */
  now(): number;
  /** Monotonic milliseconds: run-event timestamps and durations. */
  monotonic(): number;
  /** Calls `callback` after `ms` of this clock; the returned function cancels it. */
  setTimeout(callback: () => void, ms: number): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout(callback, ms) {
    // Like any timer it keeps the process alive (a sound still playing must finish): what arms one disposes it.
    const timer = setTimeout(callback, ms);
    return () => clearTimeout(timer);
  },
};

/** Resolves after `ms` of `clock`; rejects with an AbortError when `signal` aborts first. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortError(signal));
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      cancel();
      reject(abortError(signal));
    };
    const cancel = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
