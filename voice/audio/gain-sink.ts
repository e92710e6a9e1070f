import type { AudioSink, PcmAudio } from '../ports.ts';

/**
 * Volume control in front of any sink: scales what is played by a gain in [0, 1]. The gain is applied before
 * the inner sink sees the audio, so everything that listens to the sink (the echo guard) hears what the room
 * hears. 1 passes the audio through untouched.
 */
export class GainSink implements AudioSink {
  #gain = 1;

  constructor(private readonly inner: AudioSink) {}

  get description(): string {
    return this.inner.description;
  }

  get gain(): number {
    return this.#gain;
  }

  set gain(value: number) {
    if (!(value >= 0 && value <= 1)) throw new RangeError(`gain must be between 0 and 1, got ${value}`);
    this.#gain = value;
  }

  play(audio: PcmAudio): Promise<void> {
    return this.inner.play(this.#gain === 1 ? audio : { sampleRate: audio.sampleRate, samples: scale(audio.samples, this.#gain) });
  }

  stop(): void {
    this.inner.stop();
  }

  onPlayed(listener: (audio: PcmAudio) => void): () => void {
    return this.inner.onPlayed(listener);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

function scale(samples: Int16Array, gain: number): Int16Array {
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = Math.round(samples[i]! * gain);
  return out;
}
