import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { CAPTURE_SAMPLE_RATE, type AudioSource } from '../../voice/ports.ts';
import { MICROPHONE_CHUNK_MS } from '../../voice/audio/mic-source.ts';
import { msToSamples } from '../../voice/pcm.ts';

/**
 * A microphone in a quiet room where the benchmark decides, as it goes, what a person says: `say()` queues a
 * clip, the room delivers it in real time (silence in between), and reports the wall-clock time at which its
 * first and last samples were due. Those due times are the ground truth that endpoint, detection and barge-in
 * delays are measured from: a person who stops speaking at sample i stopped at startedAt + i / 16 ms.
 */

export interface Spoken {
  /** performance.now() at which the clip's first sample was due. */
  readonly startAt: number;
  /** performance.now() at which its last sample was due: the end of speech. */
  readonly endAt: number;
}

interface Queued {
  readonly samples: Int16Array;
  offset: number;
  startIndex?: number;
  readonly resolve: (spoken: Spoken) => void;
  readonly reject: (error: Error) => void;
}

export class LiveRoom implements AudioSource {
  readonly description = 'benchmark room (generated speech in real time)';
  readonly #chunkSamples: number;
  readonly #queue: Queued[] = [];
  #delivered = 0;
  #startedAt: number | undefined;
  #ended = false;

  /** `chunkMs`: as often as the real microphone hands over audio, since the endpoint and the wake word wait for it. */
  constructor(chunkMs = MICROPHONE_CHUNK_MS) {
    this.#chunkSamples = msToSamples(chunkMs, CAPTURE_SAMPLE_RATE);
  }

  /** Queues `samples` after whatever is queued; resolves once the last of it has been delivered. */
  say(samples: Int16Array): Promise<Spoken> {
    if (this.#ended) return Promise.reject(new Error('the room has ended'));
    return new Promise((resolve, reject) => this.#queue.push({ samples, offset: 0, resolve, reject }));
  }

  /** Silence for `ms`, then resolves. */
  async pause(ms: number): Promise<void> {
    await this.say(new Int16Array(msToSamples(ms, CAPTURE_SAMPLE_RATE)));
  }

  /** Ends the stream at the next chunk; queued clips are dropped. */
  end(): void {
    this.#ended = true;
    for (const item of this.#queue.splice(0)) item.reject(new Error('the room ended before the clip was said'));
  }

  async *chunks(signal: AbortSignal): AsyncGenerator<Int16Array> {
    this.#startedAt = performance.now();
    while (!signal.aborted && !this.#ended) {
      const chunk = new Int16Array(this.#chunkSamples);
      const finished: { item: Queued; endIndex: number }[] = [];
      let filled = 0;
      while (filled < chunk.length && this.#queue.length > 0) {
        const item = this.#queue[0]!;
        item.startIndex ??= this.#delivered + filled;
        const take = Math.min(chunk.length - filled, item.samples.length - item.offset);
        chunk.set(item.samples.subarray(item.offset, item.offset + take), filled);
        item.offset += take;
        filled += take;
        if (item.offset >= item.samples.length) {
          this.#queue.shift();
          finished.push({ item, endIndex: this.#delivered + filled });
        }
      }
      this.#delivered += chunk.length;
      const wait = this.#timeOf(this.#delivered) - performance.now();
      if (wait > 0) await sleep(wait);
      yield chunk;
      for (const { item, endIndex } of finished) item.resolve({ startAt: this.#timeOf(item.startIndex!), endAt: this.#timeOf(endIndex) });
    }
  }

  #timeOf(sample: number): number {
    return this.#startedAt! + (sample / CAPTURE_SAMPLE_RATE) * 1000;
  }
}
