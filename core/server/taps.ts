import type { Responder, ResponseRequest } from '../responder.ts';
import type { AudioSource } from '../../voice/ports.ts';

/**
 * Taps on the pipeline for the screens, put around engines before the assistant gets them: the answer as the
 * LLM writes it (run events carry only whole sentences) and the microphone's audio for the level meter.
 * Both pass everything through unchanged.
 */

export class AnswerTap implements Responder {
  readonly #listeners = new Set<(piece: string) => void>();

  constructor(private readonly inner: Responder) {}

  get engine(): string {
    return this.inner.engine;
  }

  onPiece(listener: (piece: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  load() {
    return this.inner.load();
  }

  async *respond(request: ResponseRequest): AsyncIterable<string> {
    for await (const piece of this.inner.respond(request)) {
      for (const listener of this.#listeners) listener(piece);
      yield piece;
    }
  }

  resetConversation(): Promise<void> {
    return this.inner.resetConversation();
  }

  dispose(): Promise<void> {
    return this.inner.dispose();
  }
}

export class SourceTap implements AudioSource {
  readonly #listeners = new Set<(samples: Int16Array) => void>();

  constructor(private readonly inner: AudioSource) {}

  get description(): string {
    return this.inner.description;
  }

  onAudio(listener: (samples: Int16Array) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async *chunks(signal: AbortSignal): AsyncIterable<Int16Array> {
    for await (const chunk of this.inner.chunks(signal)) {
      for (const listener of this.#listeners) listener(chunk);
      yield chunk;
    }
  }
}
