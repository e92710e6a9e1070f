import { performance } from 'node:perf_hooks';
import type { AudioSink, PcmAudio } from '../../voice/ports.ts';
import type { VirtualSink } from '../../voice/audio/virtual-sink.ts';

/**
 * The daemon's sink, with a note of when it was silenced: a barge-in's end point. The virtual sink plays on
 * real-time timers and cuts off inside stop(), so the moment stop() reaches it is the moment it goes silent; a
 * sound card would add its own output buffer on top.
 */
export class ProbeSink implements AudioSink {
  readonly description: string;
  /** performance.now() of every stop(), with how much audio had been heard by then. */
  readonly stops: { at: number; heardMs: number }[] = [];

  constructor(private readonly inner: VirtualSink) {
    this.description = inner.description;
  }

  play(audio: PcmAudio): Promise<void> {
    return this.inner.play(audio);
  }

  stop(): void {
    this.stops.push({ at: performance.now(), heardMs: this.inner.heardMs() });
    this.inner.stop();
  }

  /** The first stop at or after `t`. */
  stopAfter(t: number): { at: number; heardMs: number } | undefined {
    return this.stops.find((s) => s.at >= t);
  }

  heardMs(): number {
    return this.inner.heardMs();
  }

  onPlayed(listener: (audio: PcmAudio) => void): () => void {
    return this.inner.onPlayed(listener);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
