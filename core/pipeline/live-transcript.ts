import { isAbortError } from '../../base/errors.ts';
import type { Transcriber } from '../../voice/ports.ts';
import type { RequestPoint } from './voice-loop.ts';

/**
 * The transcript of a request while it is being spoken: the request so far is transcribed at its pauses and every
 * second or so of speech, one transcription at a time (a newer request waits for the one running, and only the
 * newest waits). At the end of the request, the transcript taken in its last pause is its transcript: Whisper
 * has already read every word of it, so the answer need not wait for speech to text after the endpoint.
 */

export interface PartialTranscript {
  readonly text: string;
  /** The request's speech when its audio was taken; the same speech at the end means nothing new was said. */
  readonly speechMs: number;
  readonly audioMs: number;
}

interface Pending {
  readonly audio: Int16Array;
  readonly at: RequestPoint;
  readonly resolve: (text: string | undefined) => void;
}

export class LiveTranscript {
  readonly #transcriber: Transcriber;
  readonly #onPartial: (partial: PartialTranscript) => void;
  readonly #onError: (error: unknown) => void;
  readonly #controller = new AbortController();
  #running = false;
  #waiting: Pending | undefined;
  /** The newest transcription asked for, done or not, with the speech it covers. */
  #latest: { readonly speechMs: number; readonly text: Promise<string | undefined> } | undefined;

  constructor(transcriber: Transcriber, handlers: { onPartial(partial: PartialTranscript): void; onError(error: unknown): void }) {
    this.#transcriber = transcriber;
    this.#onPartial = handlers.onPartial;
    this.#onError = handlers.onError;
  }

  /** Transcribes `audio`, the request so far; resolves with its text, or undefined when a newer one replaced it. */
  update(audio: Int16Array, at: RequestPoint): Promise<string | undefined> {
    const text = new Promise<string | undefined>((resolve) => {
      this.#waiting?.resolve(undefined);
      this.#waiting = { audio, at, resolve };
    });
    this.#latest = { speechMs: at.speechMs, text };
    this.#next();
    return text;
  }

  /** The text of a request whose speech ended at `speechMs`, if a transcription was taken after all of it. */
  covering(speechMs: number): Promise<string | undefined> | undefined {
    return this.#latest?.speechMs === speechMs ? this.#latest.text : undefined;
  }

  cancel(): void {
    this.#controller.abort();
    this.#waiting?.resolve(undefined);
    this.#waiting = undefined;
  }

  #next(): void {
    const job = this.#waiting;
    if (this.#running || !job || this.#controller.signal.aborted) return;
    this.#waiting = undefined;
    this.#running = true;
    this.#transcriber
      .transcribe(job.audio, this.#controller.signal)
      .then(
        ({ text, audioMs }) => {
          this.#onPartial({ text, speechMs: job.at.speechMs, audioMs });
          job.resolve(text);
        },
        (error: unknown) => {
          if (!isAbortError(error)) this.#onError(error);
          job.resolve(undefined);
        },
      )
      .finally(() => {
        this.#running = false;
        this.#next();
      });
  }
}
