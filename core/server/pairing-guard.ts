import { TokenBucket } from './rate-limit.ts';

/**
 * How many wrong pairing codes may be tried, and from where. Guessing one of 10^6 codes must stay hopeless, and
 * a guesser must never stop the household from pairing with the code on the wall:
 *   - each address has its own small budget, so one guesser uses up only its own;
 *   - all addresses share a larger one, against guessers on many addresses;
 *   - an address with no wrong code of its own for a minute still gets its try when the shared budget is gone
 *     (from a third budget, so that many addresses cannot turn this into a guessing channel): the phone in
 *     someone's hand is heard while a flood from elsewhere goes on.
 */

const MINUTE_MS = 60_000;
/** Tracked addresses; the least recently seen are forgotten beyond this (IPv6 gives a guesser many). */
const MAX_TRACKED = 4096;

export interface PairingLimits {
  perAddressPerMinute: number;
  allPerMinute: number;
  /** Tries from addresses with a clean minute, once the shared budget is gone. */
  cleanAddressesPerMinute: number;
}

export const DEFAULT_PAIRING_LIMITS: PairingLimits = { perAddressPerMinute: 5, allPerMinute: 30, cleanAddressesPerMinute: 10 };

interface AddressRecord {
  readonly bucket: TokenBucket;
  lastWrongAt: number;
}

/** One attempt: settle it with right() or wrong() once the code was checked. */
export interface PairingAttempt {
  right(): void;
  wrong(): void;
}

export class PairingGuard {
  readonly #all: TokenBucket;
  readonly #clean: TokenBucket;
  readonly #byAddress = new Map<string, AddressRecord>();

  constructor(
    private readonly limits: PairingLimits = DEFAULT_PAIRING_LIMITS,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.#all = new TokenBucket(limits.allPerMinute / 60, limits.allPerMinute, now);
    this.#clean = new TokenBucket(limits.cleanAddressesPerMinute / 60, limits.cleanAddressesPerMinute, now);
  }

  /** An attempt from `address`, or undefined when it may not try now. Taken before the code is looked at. */
  attempt(address: string): PairingAttempt | undefined {
    const record = this.#record(address);
    if (!record.bucket.take()) return undefined;
    const budget = this.#all.take() ? this.#all : this.now() - record.lastWrongAt >= MINUTE_MS && this.#clean.take() ? this.#clean : undefined;
    if (!budget) {
      record.bucket.refund();
      return undefined;
    }
    return {
      // Only wrong codes count against the limits.
      right: () => {
        record.bucket.refund();
        budget.refund();
      },
      wrong: () => {
        record.lastWrongAt = this.now();
      },
    };
  }

  #record(address: string): AddressRecord {
    let record = this.#byAddress.get(address);
    if (record) {
      // Re-inserted: the map's order is then least recently seen first.
      this.#byAddress.delete(address);
    } else {
      record = { bucket: new TokenBucket(this.limits.perAddressPerMinute / 60, this.limits.perAddressPerMinute, this.now), lastWrongAt: -Infinity };
    }
    this.#byAddress.set(address, record);
    if (this.#byAddress.size > MAX_TRACKED) this.#byAddress.delete(this.#byAddress.keys().next().value!);
    return record;
  }
}
