import { setTimeout as sleep } from 'node:timers/promises';
import { CAPTURE_SAMPLE_RATE, type AudioSource } from '../ports.ts';
import { readWavFile } from '../wav.ts';

/**
 * A WAV recording played into the pipeline as if it came from a microphone: `jarvis --input file.wav`, replays
 * and tests. Any WAV that decodeWav accepts is converted to 16 kHz mono; others are refused with
 * AudioFormatError from the first `next()`.
 */

export interface WavFileSourceOptions {
  /**
   * Real-time factor: 1 delivers audio as fast as a microphone would, 2 twice as fast; 0 or Infinity as fast
   * as the consumer takes it.
   */
  speed?: number;
  /** Silence appended after the file, so the end of its last utterance can be detected. */
  trailingSilenceMs?: number;
  chunkMs?: number;
}

const DEFAULT_CHUNK_MS = 80;

export class WavFileSource implements AudioSource {
  readonly description: string;
  readonly #speed: number;
  readonly #trailingSamples: number;
  readonly #chunkSamples: number;

  constructor(
    readonly path: string,
    options: WavFileSourceOptions = {},
  ) {
    const speed = options.speed ?? 1;
    if (!(speed >= 0)) throw new RangeError(`speed must be 0 (unpaced) or positive, got ${speed}`);
    this.#speed = speed === 0 ? Infinity : speed;
    this.#trailingSamples = Math.round(((options.trailingSilenceMs ?? 0) / 1000) * CAPTURE_SAMPLE_RATE);
    this.#chunkSamples = Math.max(1, Math.round(((options.chunkMs ?? DEFAULT_CHUNK_MS) / 1000) * CAPTURE_SAMPLE_RATE));
    const pace = this.#speed === Infinity ? 'unpaced' : this.#speed === 1 ? 'real time' : `${this.#speed}x real time`;
    this.description = `WAV file ${path} (${pace})`;
  }

  async *chunks(signal: AbortSignal): AsyncGenerator<Int16Array> {
    const decoded = await readWavFile(this.path, CAPTURE_SAMPLE_RATE);
    const total = decoded.length + this.#trailingSamples;
    const paced = Number.isFinite(this.#speed);
    const startedAt = performance.now();
    for (let offset = 0; offset < total; offset += this.#chunkSamples) {
      if (signal.aborted) return;
      const end = Math.min(total, offset + this.#chunkSamples);
      if (paced) {
        // A microphone hands over a chunk once it has been recorded: at its end time, not its start.
        const dueAt = startedAt + ((end / CAPTURE_SAMPLE_RATE) * 1000) / this.#speed;
        const wait = dueAt - performance.now();
        if (wait > 0) {
          try {
            await sleep(wait, undefined, { signal });
          } catch {
            return;
          }
        }
      }
      yield chunkOf(decoded, offset, end);
    }
  }
}

/** Samples [start, end) of `audio` followed by silence; copies so the consumer may keep or modify it. */
function chunkOf(audio: Int16Array, start: number, end: number): Int16Array {
  const out = new Int16Array(end - start);
  if (start < audio.length) out.set(audio.subarray(start, Math.min(end, audio.length)));
  return out;
}
