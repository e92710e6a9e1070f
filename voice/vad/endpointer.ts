/**
 * Decides, from per-frame speech probabilities, when a spoken request starts and ends. Pure and clocked by
 * audio time (frames), so it behaves the same on a live microphone and on a recording replayed at any speed.
 *
 * - Speech starts at the first frame at or above `threshold`.
 * - It ends after `hangoverMs` of frames below `threshold - 0.15` (Silero's own hysteresis), provided at least
 *   `minSpeechMs` of speech was heard; shorter blips (a click, a cough) are forgotten and waiting resumes.
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
  #speechFrames = 0;
  #silentRun = 0;
  readonly #releaseThreshold: number;

  constructor(private readonly options: EndpointerOptions) {
    this.#releaseThreshold = Math.max(0.01, options.threshold - 0.15);
  }

  get phase(): Phase {
    return this.#phase;
  }

  /** Frames consumed so far. */
  get frame(): number {
    return this.#frame;
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
        this.#speechFrames = 1;
        this.#silentRun = 0;
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
    if (probability >= this.#releaseThreshold) {
      this.#speechFrames += this.#silentRun + 1; // a short dip inside speech counts as speech
      this.#silentRun = 0;
    } else {
      this.#silentRun++;
    }
    const utteranceMs = (frame - this.#startFrame + 1) * frameMs;
    const speechMs = this.#speechFrames * frameMs;
    if (this.#silentRun * frameMs >= this.options.hangoverMs) {
      if (speechMs < this.options.minSpeechMs) {
        this.#phase = 'waiting';
        return undefined;
      }
      this.#phase = 'done';
      return { type: 'speech-end', frame, reason: 'silence', speechMs, utteranceStartFrame: this.#startFrame };
    }
    if (utteranceMs >= this.options.maxUtteranceMs) {
      this.#phase = 'done';
      return { type: 'speech-end', frame, reason: 'max-length', speechMs, utteranceStartFrame: this.#startFrame };
    }
    return undefined;
  }
}
