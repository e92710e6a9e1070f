import { systemClock, type Clock } from '../../base/clock.ts';
import { type AudioSink, CAPTURE_SAMPLE_RATE, type PcmAudio, type WakeWordDetector } from '../../voice/ports.ts';
import { resampleInt16 } from '../../voice/wav.ts';
import { words } from './transcript.ts';

/**
 * Recognises JARVIS's own voice coming back through the microphone, so it neither wakes itself nor takes its
 * own words for the user's.
 *
 * Wake word: a second detector listens to exactly what the speaker plays (the reference). A wake detected on
 * the microphone is an echo when the reference scored the wake word in the moments before it; a person saying
 * "hey Jarvis" over the answer is not in the reference, so it still interrupts.
 * Words: a short utterance heard while speaking is an echo when its words are among the words just spoken.
 */

const STEP = 1280; // the wake detector's frame

export interface EchoGuardOptions {
  /** How far back a reference detection can explain a microphone detection (speaker + room + processing). */
  lookbackMs?: number;
  /** And how far ahead (the reference is scored as soon as a chunk starts, faster than it plays). */
  lookaheadMs?: number;
  /** The clock the microphone's detections are timed on (the assistant's). */
  clock?: Clock;
}

export class EchoGuard {
  #referenceHits: number[] = [];
  #queue: Promise<void> = Promise.resolve();
  #lastChunkEnd = -Infinity;
  #spokenWords: { word: string; at: number }[] = [];
  readonly #lookbackMs: number;
  readonly #lookaheadMs: number;
  readonly #clock: Clock;
  readonly #unsubscribe: () => void;

  constructor(
    sink: AudioSink,
    private readonly referenceDetector: WakeWordDetector,
    options: EchoGuardOptions = {},
  ) {
    this.#lookbackMs = options.lookbackMs ?? 3000;
    this.#lookaheadMs = options.lookaheadMs ?? 500;
    this.#clock = options.clock ?? systemClock;
    this.#unsubscribe = sink.onPlayed((audio) => this.#reference(audio, this.#clock.monotonic()));
  }

  /** Remembers text as it is spoken (for word echoes). */
  noteSpoken(text: string, at = this.#clock.monotonic()): void {
    for (const word of words(text)) this.#spokenWords.push({ word, at });
    this.#forget(at);
  }

  /** True when a wake word heard at `at` (the clock's monotonic ms) was our own playback. */
  async isWakeEcho(at = this.#clock.monotonic()): Promise<boolean> {
    await this.#queue;
    return this.#referenceHits.some((hit) => hit >= at - this.#lookbackMs && hit <= at + this.#lookaheadMs);
  }

  /** True when every word heard is among the words spoken in the last moments. */
  isWordEcho(heard: string, at = this.#clock.monotonic()): boolean {
    const heardWords = words(heard);
    if (heardWords.length === 0) return false;
    const recent = new Set(this.#spokenWords.filter((w) => w.at >= at - 15_000).map((w) => w.word));
    return heardWords.every((w) => recent.has(w));
  }

  async dispose(): Promise<void> {
    this.#unsubscribe();
    await this.#queue;
    await this.referenceDetector.dispose();
  }

  #reference(audio: PcmAudio, startedAt: number): void {
    this.#queue = this.#queue.then(async () => {
      const pcm = resampleInt16(audio, CAPTURE_SAMPLE_RATE).samples;
      if (startedAt - this.#lastChunkEnd > 1000) this.referenceDetector.reset();
      this.#lastChunkEnd = startedAt + (pcm.length / CAPTURE_SAMPLE_RATE) * 1000;
      for (let offset = 0; offset < pcm.length; offset += STEP) {
        const detections = await this.referenceDetector.process(pcm.subarray(offset, offset + STEP));
        if (detections.length > 0) this.#referenceHits.push(startedAt + ((offset + STEP) / CAPTURE_SAMPLE_RATE) * 1000);
      }
      this.#forget(startedAt);
    });
  }

  #forget(now: number): void {
    this.#referenceHits = this.#referenceHits.filter((t) => t > now - 60_000);
    this.#spokenWords = this.#spokenWords.filter((w) => w.at > now - 60_000);
  }
}
