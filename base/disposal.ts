/**
 * One disposal stack for what a component opens, released in reverse order (like the TC39 AsyncDisposableStack,
 * which Node 20 does not have): each step runs even when an earlier one failed, and failures are reported, not
 * thrown, so a shutdown always finishes.
 */
export class DisposalStack {
  readonly #steps: (() => unknown)[] = [];
  #disposed = false;

  constructor(private readonly onError: (error: unknown) => void) {}

  /** Runs `dispose` at disposal, before everything deferred earlier. */
  defer(dispose: () => unknown): void {
    if (this.#disposed) throw new Error('defer() after dispose()');
    this.#steps.push(dispose);
  }

  /** Defers `resource.dispose()` and returns the resource. */
  use<T extends { dispose(): unknown }>(resource: T): T {
    this.defer(() => resource.dispose());
    return resource;
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const step of this.#steps.splice(0).reverse()) {
      try {
        await step();
      } catch (error) {
        this.onError(error);
      }
    }
  }
}
