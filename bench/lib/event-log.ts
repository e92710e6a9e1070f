import type { RunEventBus } from '../../core/events.ts';
import type { RunEvent } from '../../core/protocol/run-events.ts';

/** Every run event the bus publishes, with a way to wait for the next one that matches (never forever). */
export class EventLog {
  readonly events: RunEvent[] = [];
  readonly #waiters = new Set<() => void>();
  readonly #unsubscribe: () => void;

  constructor(bus: RunEventBus) {
    this.#unsubscribe = bus.subscribe((event) => {
      this.events.push(event);
      for (const waiter of [...this.#waiters]) waiter();
    });
  }

  /** A position to search from: events published after this call. */
  mark(): number {
    return this.events.length;
  }

  find(from: number, match: (event: RunEvent) => boolean): RunEvent | undefined {
    for (let i = from; i < this.events.length; i++) if (match(this.events[i]!)) return this.events[i];
    return undefined;
  }

  /** The first matching event at or after `from`, or undefined after `timeoutMs`. */
  next(from: number, match: (event: RunEvent) => boolean, timeoutMs: number): Promise<RunEvent | undefined> {
    const found = this.find(from, match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => {
      const waiter = () => {
        const event = this.find(from, match);
        if (!event) return;
        this.#waiters.delete(waiter);
        clearTimeout(timer);
        resolve(event);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        resolve(undefined);
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  ofRun(runId: number): RunEvent[] {
    return this.events.filter((e) => e.runId === runId);
  }

  dispose(): void {
    this.#unsubscribe();
    this.#waiters.clear();
  }
}
