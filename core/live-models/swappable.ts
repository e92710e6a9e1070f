import type { PcmAudio, SpeechRequest, Synthesizer, Transcriber, Transcript } from '../../voice/ports.ts';

/**
 * A stage engine that can be replaced while JARVIS runs (a new Whisper model or voice chosen with `jarvis models
 * use`): the new engine is loaded first, so a failure leaves the old one working; calls already running finish
 * on the old engine, which is disposed once the last of them returns.
 */
class EngineSlot<T extends { dispose(): Promise<void> }> {
  #current: T;
  readonly #busy = new Map<T, number>();
  readonly #retired = new Set<T>();

  constructor(initial: T) {
    this.#current = initial;
  }

  get current(): T {
    return this.#current;
  }

  async use<R>(body: (engine: T) => Promise<R>): Promise<R> {
    const engine = this.#current;
    this.#busy.set(engine, (this.#busy.get(engine) ?? 0) + 1);
    try {
      return await body(engine);
    } finally {
      const left = (this.#busy.get(engine) ?? 1) - 1;
      if (left > 0) this.#busy.set(engine, left);
      else {
        this.#busy.delete(engine);
        if (this.#retired.delete(engine)) await engine.dispose().catch(() => undefined);
      }
    }
  }

  /** Puts `next` in place (already loaded by the caller) and disposes the old engine when it is free. */
  async replace(next: T): Promise<void> {
    const old = this.#current;
    if (old === next) return;
    this.#current = next;
    if (this.#busy.has(old)) this.#retired.add(old);
    else await old.dispose().catch(() => undefined);
  }

  async dispose(): Promise<void> {
    await this.#current.dispose();
    for (const engine of this.#retired) await engine.dispose().catch(() => undefined);
    this.#retired.clear();
  }
}

interface Engine {
  readonly engine: string;
  load(): Promise<void>;
  dispose(): Promise<void>;
}

/** What both stages share: the engine in use, loading, swapping, disposing. */
abstract class SwappableEngine<T extends Engine> {
  protected readonly slot: EngineSlot<T>;

  constructor(initial: T) {
    this.slot = new EngineSlot(initial);
  }

  get engine(): string {
    return this.slot.current.engine;
  }

  get current(): T {
    return this.slot.current;
  }

  load(): Promise<void> {
    return this.slot.current.load();
  }

  /** Loads `next`, then puts it in place; if the load fails the current one stays and the error is thrown. */
  async swap(next: T): Promise<void> {
    try {
      await next.load();
    } catch (error) {
      await next.dispose().catch(() => undefined);
      throw error;
    }
    await this.slot.replace(next);
  }

  dispose(): Promise<void> {
    return this.slot.dispose();
  }
}

export class SwappableTranscriber extends SwappableEngine<Transcriber> implements Transcriber {
  transcribe(pcm16k: Int16Array, signal?: AbortSignal): Promise<Transcript> {
    return this.slot.use((engine) => engine.transcribe(pcm16k, signal));
  }
}

export class SwappableSynthesizer extends SwappableEngine<Synthesizer> implements Synthesizer {
  synthesize(request: SpeechRequest): Promise<PcmAudio> {
    return this.slot.use((engine) => engine.synthesize(request));
  }
}
