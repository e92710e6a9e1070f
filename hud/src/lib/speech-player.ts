import type { SpeechAudio } from '../../../core/protocol/wire.ts';

/**
 * Plays the answer on the phone as well: each chunk the core's speaker starts is queued right after the
 * previous one. Browsers start audio only after a user gesture, so `enable()` is called from the toggle's click.
 */
export class SpeechPlayer {
  #context: AudioContext | undefined;
  #nextAt = 0;
  readonly #playing = new Set<AudioBufferSourceNode>();
  /** Chunks received while enabled (the tests read it). */
  chunks = 0;

  get enabled(): boolean {
    return this.#context !== undefined;
  }

  async enable(): Promise<void> {
    this.#context ??= new AudioContext({ latencyHint: 'playback' });
    await this.#context.resume();
  }

  disable(): void {
    this.stop();
    void this.#context?.close();
    this.#context = undefined;
  }

  play(audio: SpeechAudio): void {
    const context = this.#context;
    if (!context) return;
    // socket.io hands binary to the browser as an ArrayBuffer.
    const bytes = audio.pcm instanceof ArrayBuffer ? audio.pcm : audio.pcm.buffer.slice(audio.pcm.byteOffset, audio.pcm.byteOffset + audio.pcm.byteLength);
    const samples = new Int16Array(bytes as ArrayBuffer);
    if (samples.length === 0) return;
    const buffer = context.createBuffer(1, samples.length, audio.sampleRate);
    const channel = buffer.getChannelData(0);
    for (let i = 0; i < samples.length; i++) channel[i] = samples[i]! / 32768;
    const source = context.createBufferSource();
    source.buffer = buffer;
    source.connect(context.destination);
    const at = Math.max(context.currentTime + 0.05, this.#nextAt);
    source.start(at);
    this.#nextAt = at + buffer.duration;
    this.#playing.add(source);
    source.onended = () => this.#playing.delete(source);
    this.chunks++;
  }

  /** Silence now (the answer was stopped or interrupted). */
  stop(): void {
    for (const source of this.#playing) source.stop();
    this.#playing.clear();
    this.#nextAt = 0;
  }
}
