import { sleep, type Clock } from '../../base/clock.ts';
import { isAbortError, PlaybackStoppedError } from '../../base/errors.ts';
import type { AudioSink, PcmAudio } from '../../voice/ports.ts';
import { durationMs } from '../../voice/wav.ts';
import { int16ToBytes } from '../wyoming/audio-format.ts';
import type { WyomingEvent } from '../wyoming/framing.ts';

/**
 * A satellite's speaker, as an AudioSink: each sentence goes to the satellite as one audio stream (audio-start,
 * audio-chunks, audio-stop) and counts as heard when the satellite says `played` (wyoming-satellite sends it once
 * its sound program has played the stream to the end). A satellite that never says so (an older one, or one
 * without `--snd-command`) is taken to have played it after its length and a grace.
 *
 * stop() ends the stream being sent at once; Wyoming has no event that recalls audio a satellite already has, so
 * a sentence it received plays to its end there (one sentence at most: the next is sent only after `played`).
 */

/** Samples per audio-chunk, as Home Assistant sends them to satellites (2048 bytes of 16-bit audio). */
const CHUNK_SAMPLES = 1024;
/** How much longer than its audio a sentence may take to be `played` (Home Assistant waits 1 s too). */
const PLAYED_GRACE_MS = 1000;

export class SatelliteSink implements AudioSink {
  readonly description: string;
  readonly #listeners = new Set<(audio: PcmAudio) => void>();
  /** The sentence being played: aborted by stop(), resolved by `played`. */
  #playing: { readonly controller: AbortController; readonly played: () => void } | undefined;

  constructor(
    name: string,
    private readonly send: (event: WyomingEvent) => Promise<void>,
    private readonly clock: Clock,
  ) {
    this.description = `satellite "${name}"`;
  }

  async play(audio: PcmAudio): Promise<void> {
    this.stop();
    const controller = new AbortController();
    const { signal } = controller;
    // Armed before the first byte goes out, so a `played` that comes back at once is not missed.
    const played = new Promise<void>((resolve) => (this.#playing = { controller, played: resolve }));
    const format = { rate: audio.sampleRate, width: 2, channels: 1 };
    for (const listener of this.#listeners) listener(audio);
    await this.send({ type: 'audio-start', data: { ...format, timestamp: 0 } });
    let timestamp = 0;
    for (let at = 0; at < audio.samples.length && !signal.aborted; at += CHUNK_SAMPLES) {
      const samples = audio.samples.subarray(at, at + CHUNK_SAMPLES);
      await this.send({ type: 'audio-chunk', data: { ...format, timestamp: Math.round(timestamp) }, payload: int16ToBytes(samples) });
      timestamp += (samples.length / audio.sampleRate) * 1000;
    }
    await this.send({ type: 'audio-stop', data: { timestamp: Math.round(timestamp) } });
    try {
      await Promise.race([played, sleep(this.clock, durationMs(audio) + PLAYED_GRACE_MS, signal)]);
    } catch (error) {
      if (isAbortError(error)) throw new PlaybackStoppedError();
      throw error;
    } finally {
      if (this.#playing?.controller === controller) this.#playing = undefined;
    }
    if (signal.aborted) throw new PlaybackStoppedError();
  }

  /** The satellite's `played`: the sentence sent last has been heard. */
  played(): void {
    this.#playing?.played();
  }

  stop(): void {
    const playing = this.#playing;
    this.#playing = undefined;
    playing?.controller.abort();
  }

  onPlayed(listener: (audio: PcmAudio) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.stop();
  }
}
