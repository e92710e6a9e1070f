/**
 * Decides, from per-frame speech probabilities, when a spoken request starts and ends. Pure and clocked by
 * audio time (frames), so it behaves the same on a live microphone and on a recording replayed at any speed.
 *
 * - Speech starts at the first frame at or above `threshold`.
 * - Silence starts at the first frame below `threshold - 0.15` and goes on until a frame reaches `threshold`
 *   again (Silero's own hysteresis, as its reference VADIterator applies it: frames in between neither start nor
 *   end a silence, so background noise hovering around the threshold cannot hold a request open).
 * - The request ends after `hangoverMs` of silence (changeable while it runs: requireSilence()), provided at least
 *   `minSpeechMs` of speech came before it; shorter blips (a click, a cough) are forgotten and waiting resumes.
 * - It is cut at `maxUtteranceMs`.
 * - With `noSpeechTimeoutMs`, giving up when no speech started within that time.
 */

export interface EndpointerOptions {
  frameMs: number;
  threshold: number;
  hangoverMs: number;
  minSpeechMs: number;
  maxUtteranceMs: number;
  /** Omit to wait for speech forever (the follow-up window applies its own timer). */
  noSpeechTimeoutMs?: number;
}

export type EndpointEvent =
  | { type: 'speech-start'; frame: number }
  | { type: 'speech-end'; frame: number; reason: 'silence' | 'max-length'; speechMs: number; utteranceStartFrame: number }
  | { type: 'no-speech'; frame: number; waitedMs: number };

type Phase = 'waiting' | 'speaking' | 'done';

export class Endpointer {
  #phase: Phase = 'waiting';
  #frame = 0;
  #startFrame = 0;
  /** The frame the current silence began at, while in one. */
  #silenceStart: number | undefined;
  #hangoverMs: number;
  readonly #releaseThreshold: number;

  constructor(private readonly options: EndpointerOptions) {
    this.#releaseThreshold = Math.max(0.01, options.threshold - 0.15);
    this.#hangoverMs = options.hangoverMs;
  }

  get phase(): Phase {
    return this.#phase;
  }

  /** Frames consumed so far. */
  get frame(): number {
    return this.#frame;
  }

  /** Milliseconds of the silence going on now (0 while speaking or waiting). */
  get silentMs(): number {
    return this.#silenceStart === undefined || this.#phase !== 'speaking' ? 0 : (this.#frame - this.#silenceStart) * this.options.frameMs;
  }

  /** Milliseconds of speech so far: from its start to the silence going on now (or to now). */
  get speechMs(): number {
    return this.#phase === 'waiting' ? 0 : ((this.#silenceStart ?? this.#frame) - this.#startFrame) * this.options.frameMs;
  }

  /**
   * How much silence ends the request from now on, e.g. less once what was said is known to be complete; the
   * silence already heard counts, so the next frame can end it.
   */
  requireSilence(ms: number): void {
    this.#hangoverMs = ms;
  }

  /** Feeds one frame's probability; returns the event it caused, if any. Call nothing after a final event. */
  push(probability: number): EndpointEvent | undefined {
    if (this.#phase === 'done') return undefined;
    const frame = this.#frame++;
    const { frameMs } = this.options;

    if (this.#phase === 'waiting') {
      if (probability >= this.options.threshold) {
        this.#phase = 'speaking';
        this.#startFrame = frame;
        this.#silenceStart = undefined;
        return { type: 'speech-start', frame };
      }
      const waitedMs = (frame + 1) * frameMs;
      if (this.options.noSpeechTimeoutMs !== undefined && waitedMs >= this.options.noSpeechTimeoutMs) {
        this.#phase = 'done';
        return { type: 'no-speech', frame, waitedMs };
      }
      return undefined;
    }

    // speaking
    if (probability >= this.options.threshold) this.#silenceStart = undefined;
    else if (probability < this.#releaseThreshold && this.#silenceStart === undefined) this.#silenceStart = frame;
    const utteranceMs = (frame - this.#startFrame + 1) * frameMs;
    if (this.silentMs >= this.#hangoverMs) {
      const speechMs = this.speechMs;
      if (speechMs < this.options.minSpeechMs) {
        this.#phase = 'waiting';
        return undefined;
      }
      this.#phase = 'done';
      return { type: 'speech-end', frame, reason: 'silence', speechMs, utteranceStartFrame: this.#startFrame };
    }
    if (utteranceMs >= this.options.maxUtteranceMs) {
      this.#phase = 'done';
      return { type: 'speech-end', frame, reason: 'max-length', speechMs: this.speechMs, utteranceStartFrame: this.#startFrame };
    }
    return undefined;
  }
}
