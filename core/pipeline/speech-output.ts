import { describeError, isAbortError } from '../../base/errors.ts';
import type { RunRecorder } from '../events.ts';
import type { AudioSink, PcmAudio, Synthesizer } from '../../voice/ports.ts';
import { durationMs } from '../../voice/wav.ts';
import { toSpokenText } from '../sentences.ts';

export interface SpeechOutputDeps {
  /** With a fallback voice behind it where there is one (voice/tts/fallback.ts). */
  synthesizer: Synthesizer;
  sink: AudioSink;
}

/**
 * Speaks the sentences of one answer in order, synthesizing sentence n+1 while sentence n plays, so speech starts
 * as soon as the first sentence is ready. A sentence whose synthesis fails is reported and skipped (after the
 * fallback voice, if the synthesizer has one, failed on it too); the answer still exists as text in the run events.
 */
export class SpeechOutput {
  #synthesisChain: Promise<void> = Promise.resolve();
  #playbackChain: Promise<void> = Promise.resolve();
  #index = 0;
  #started = false;
  #interrupted = false;
  #audioMs = 0;
  /** The sentences played to the end, and what was heard of the one cut off. */
  readonly #heard: string[] = [];
  #playing: { readonly text: string; readonly audioMs: number; readonly startedAt: number } | undefined;

  constructor(
    private readonly deps: SpeechOutputDeps,
    private readonly run: RunRecorder,
    private readonly signal: AbortSignal,
    private readonly onFirstAudio: () => void = () => {},
  ) {
    signal.addEventListener('abort', () => deps.sink.stop(), { once: true });
  }

  /** Queues one sentence; returns at once. */
  say(sentence: string): void {
    const text = toSpokenText(sentence);
    if (!text) return;
    const written = sentence.trim();
    const index = this.#index++;
    const audio = new Promise<PcmAudio | undefined>((resolve) => {
      this.#synthesisChain = this.#synthesisChain.then(async () => resolve(await this.#synthesize(index, text)));
    });
    this.#playbackChain = this.#playbackChain.then(async () => {
      const pcm = await audio;
      if (!pcm || pcm.samples.length === 0 || this.signal.aborted) return;
      if (!this.#started) {
        this.#started = true;
        this.onFirstAudio();
      }
      this.run.emit({ type: 'playback-start', index });
      // A listener of that event may have stopped the turn (the stop command on the phone, say).
      if (this.signal.aborted) {
        this.#interrupted = true;
        return;
      }
      this.#playing = { text: written, audioMs: durationMs(pcm), startedAt: this.run.clock.monotonic() };
      try {
        await this.deps.sink.play(pcm);
        this.#audioMs += durationMs(pcm);
        this.#heard.push(written);
      } catch (error) {
        if (isAbortError(error) || this.signal.aborted) {
          this.#interrupted = true;
          this.#heard.push(this.#heardOfPlaying());
          return;
        }
        const { code, message, fix } = describeError(error);
        this.run.emit({ type: 'error', stage: 'playback', code, message, fix });
      } finally {
        this.#playing = undefined;
      }
    });
  }

  /** The words of the sentence being played that were heard before it was cut off, by the time it played. */
  #heardOfPlaying(): string {
    const playing = this.#playing;
    if (!playing) return '';
    const words = playing.text.split(/\s+/);
    const fraction = Math.min(1, Math.max(0, (this.run.clock.monotonic() - playing.startedAt) / Math.max(1, playing.audioMs)));
    return words.slice(0, Math.round(words.length * fraction)).join(' ');
  }

  /**
   * Resolves when everything queued has been played, or cut off by an abort. `heard`: the text the listener
   * heard, up to the word where it was cut off.
   */
  async finish(): Promise<{ sentences: number; interrupted: boolean; audioMs: number; heard: string }> {
    await this.#synthesisChain;
    await this.#playbackChain;
    const interrupted = this.#interrupted || this.signal.aborted;
    if (this.#started) this.run.emit({ type: 'playback-end', interrupted });
    return { sentences: this.#index, interrupted, audioMs: this.#audioMs, heard: this.#heard.filter(Boolean).join(' ') };
  }

  async #synthesize(index: number, text: string): Promise<PcmAudio | undefined> {
    if (this.signal.aborted) return undefined;
    const { synthesizer } = this.deps;
    let engine = synthesizer.engine;
    const reportFailure = (failedEngine: string, error: unknown) => {
      const { code, message, fix } = describeError(error);
      this.run.emit({ type: 'error', stage: 'tts', code, message: `${failedEngine}: ${message}`, fix });
    };
    let started = this.run.clock.monotonic();
    this.run.emit({ type: 'tts-start', index, text });
    try {
      const audio = await synthesizer.synthesize({
        text,
        signal: this.signal,
        onFallback: ({ from, to, error }) => {
          reportFailure(from, error);
          engine = to;
          started = this.run.clock.monotonic();
          this.run.emit({ type: 'tts-start', index, text });
        },
      });
      this.run.emit({ type: 'tts-end', index, ms: this.run.since(started), audioMs: durationMs(audio), engine });
      return audio;
    } catch (error) {
      if (!isAbortError(error) && !this.signal.aborted) reportFailure(engine, error);
      return undefined;
    }
  }
}
