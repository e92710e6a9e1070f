/**
 * A single-consumer queue that turns pushed values into an async iterator: the IPC handler pushes answer pieces
 * as they arrive, `respond()` reads them at the pace its consumer pulls. `end()` finishes the iteration after the
 * queued values; `fail()` makes the next read throw once the queued values are read.
 */
export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  readonly #values: T[] = [];
  #waiting: { resolve: (result: IteratorResult<T>) => void; reject: (error: unknown) => void } | undefined;
  #closed = false;
  #error: { value: unknown } | undefined;

  get closed(): boolean {
    return this.#closed;
  }

  push(value: T): void {
    if (this.#closed) return;
    if (this.#waiting) {
      const waiting = this.#waiting;
      this.#waiting = undefined;
      waiting.resolve({ value, done: false });
    } else {
      this.#values.push(value);
    }
  }

  end(): void {
    this.#close(undefined);
  }

  fail(error: unknown): void {
    this.#close({ value: error });
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#values.length > 0) return Promise.resolve({ value: this.#values.shift()!, done: false });
    if (this.#error) return Promise.reject(this.#error.value);
    if (this.#closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
    });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  #close(error: { value: unknown } | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#error = error;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (!waiting) return;
    if (error) waiting.reject(error.value);
    else waiting.resolve({ value: undefined, done: true });
  }
}
