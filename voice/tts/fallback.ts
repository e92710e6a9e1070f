import { isAbortError } from '../../base/errors.ts';
import type { PcmAudio, SpeechRequest, Synthesizer } from '../ports.ts';

/**
 * A voice that stands in for another behind the same port (after LiveKit's FallbackAdapter): each sentence is
 * asked of the primary voice (Piper) first, and of the fallback (espeak-ng) when the primary fails on it, so an
 * answer is never left mute. The request's `onFallback` hears of each switch, for the turn's run events.
 */
export class FallbackSynthesizer implements Synthesizer {
  constructor(
    readonly primary: Synthesizer,
    readonly fallback: Synthesizer,
  ) {}

  get engine(): string {
    return this.primary.engine;
  }

  /** Both are loaded; the primary's failure is the caller's to handle (the fallback alone can then be used). */
  async load(): Promise<void> {
    await Promise.all([this.primary.load(), this.fallback.load()]);
  }

  async synthesize(request: SpeechRequest): Promise<PcmAudio> {
    try {
      return await this.primary.synthesize(request);
    } catch (error) {
      if (isAbortError(error) || request.signal?.aborted) throw error;
      request.onFallback?.({ from: this.primary.engine, to: this.fallback.engine, error });
      return this.fallback.synthesize(request);
    }
  }

  async dispose(): Promise<void> {
    await Promise.all([this.primary.dispose(), this.fallback.dispose()]);
  }
}
