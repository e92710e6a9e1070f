import { systemClock, type Clock } from '../../base/clock.ts';
import { PlaybackStoppedError } from '../../base/errors.ts';
import { concatInt16 } from '../pcm.ts';
import { CAPTURE_SAMPLE_RATE, type AudioSink, type PcmAudio } from '../ports.ts';
import { resampleInt16, writeWavFile } from '../wav.ts';

/**
 * A speaker with no device: "plays" on timers of its clock at `speed` times real time and records exactly what a
 * listener would have heard, for `--output reply.wav` and for tests of barge-in and echo handling. A chunk cut off
 * by stop() is recorded up to the moment of the stop. On a test's audio clock it plays in audio time.
 */

export interface VirtualSinkOptions {
  /** Real-time factor; 0 or Infinity plays everything at once. */
  speed?: number;
  /** Rate of the recording; every chunk is resampled to it. */
  sampleRate?: number;
  /** Record the silence between chunks that were played with a pause between them. */
  keepGaps?: boolean;
  /**
   * Keep what was played, for recording() and writeWav() (default true). false for a sink that only stands in for
   * a speaker in a long-running daemon (`jarvis start --output none`): kept, every answer would stay in memory.
   */
  record?: boolean;
  /** What "real time" is (default: the system clock). */
  clock?: Clock;
}

interface Queued {
  readonly audio: PcmAudio;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

interface Playing extends Queued {
  readonly samples: Int16Array;
  readonly startedAt: number;
  readonly cancel: () => void;
}

export class VirtualSink implements AudioSink {
  readonly description: string;
  readonly sampleRate: number;
  readonly #speed: number;
  readonly #keepGaps: boolean;
  readonly #recordPlayed: boolean;
  readonly #clock: Clock;
  readonly #listeners = new Set<(audio: PcmAudio) => void>();
  readonly #queue: Queued[] = [];
  readonly #heard: Int16Array[] = [];
  #playing: Playing | undefined;
  #lastEndedAt: number | undefined;
  #drainWaiters: (() => void)[] = [];
  #closed = false;

  constructor(options: VirtualSinkOptions = {}) {
    const speed = options.speed ?? 1;
    if (!(speed >= 0)) throw new RangeError(`speed must be 0 (instant) or positive, got ${speed}`);
    this.#speed = speed === 0 ? Infinity : speed;
    this.sampleRate = options.sampleRate ?? CAPTURE_SAMPLE_RATE;
    this.#keepGaps = options.keepGaps ?? false;
    this.#recordPlayed = options.record ?? true;
    this.#clock = options.clock ?? systemClock;
    this.description = `virtual speaker (${this.#speed === Infinity ? 'instant' : `${this.#speed}x real time`})`;
  }

  play(audio: PcmAudio): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('VirtualSink.play() after close()'));
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ audio, resolve, reject });
      if (!this.#playing) this.#startNext(true);
    });
  }

  stop(): void {
    const playing = this.#playing;
    this.#playing = undefined;
    const stopped = new PlaybackStoppedError();
    if (playing) {
      playing.cancel();
      this.#record(this.#heardOf(playing));
      this.#lastEndedAt = this.#clock.monotonic();
      playing.reject(stopped);
    }
    for (const item of this.#queue.splice(0)) item.reject(stopped);
    this.#settleIfDrained();
  }

  onPlayed(listener: (audio: PcmAudio) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Everything heard so far, at `sampleRate`, including the part of the current chunk already played. */
  recording(): PcmAudio {
    const partial = this.#playing ? this.#heardOf(this.#playing) : new Int16Array(0);
    return { samples: concatInt16(...this.#heard, partial).slice(), sampleRate: this.sampleRate };
  }

  /** Milliseconds of audio heard so far: recording()'s length without copying it, for frequent polling. */
  heardMs(): number {
    let samples = this.#playing ? this.#heardOf(this.#playing).length : 0;
    for (const part of this.#heard) samples += part.length;
    return (samples / this.sampleRate) * 1000;
  }

  async writeWav(file: string): Promise<void> {
    await writeWavFile(file, this.recording());
  }

  /** Lets queued audio finish. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#playing || this.#queue.length > 0) await new Promise<void>((resolve) => this.#drainWaiters.push(resolve));
  }

  /** `afterIdle`: the sink had nothing to play, so a pause (not timer lateness) precedes this chunk. */
  #startNext(afterIdle: boolean): void {
    // A loop, not recursion: at infinite speed a long queue finishes synchronously.
    for (let item = this.#queue.shift(); item; item = this.#queue.shift()) {
      const samples = resampleInt16(item.audio, this.sampleRate).samples;
      const now = this.#clock.monotonic();
      if (afterIdle && this.#keepGaps && this.#lastEndedAt !== undefined && now > this.#lastEndedAt) {
        this.#record(new Int16Array(Math.round((((now - this.#lastEndedAt) * this.#speed) / 1000) * this.sampleRate)));
      }
      afterIdle = false;
      for (const listener of this.#listeners) listener(item.audio);
      const durationMs = ((samples.length / this.sampleRate) * 1000) / this.#speed;
      if (!(durationMs > 0)) {
        this.#record(samples);
        this.#lastEndedAt = now;
        item.resolve();
        continue;
      }
      const current: Playing = {
        ...item,
        samples,
        startedAt: now,
        cancel: this.#clock.setTimeout(() => {
          if (this.#playing !== current) return;
          this.#playing = undefined;
          this.#record(samples);
          this.#lastEndedAt = current.startedAt + durationMs;
          item.resolve();
          this.#startNext(false);
        }, durationMs),
      };
      this.#playing = current;
      return;
    }
    this.#settleIfDrained();
  }

  #heardOf(playing: Playing): Int16Array {
    const heardMs = (this.#clock.monotonic() - playing.startedAt) * this.#speed;
    return playing.samples.subarray(0, Math.min(playing.samples.length, Math.round((heardMs / 1000) * this.sampleRate)));
  }

  #record(samples: Int16Array): void {
    if (samples.length > 0 && this.#recordPlayed) this.#heard.push(samples);
  }

  #settleIfDrained(): void {
    if (this.#playing || this.#queue.length > 0) return;
    for (const resolve of this.#drainWaiters.splice(0)) resolve();
  }
}
