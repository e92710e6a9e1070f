import type { Transcriber, Transcript } from '../../voice/ports.ts';

/**
 * The test-made Whisper model hears no words, and the turn's end is decided on words. With test-made models the
 * benchmark's Whisper still runs on every request and every pause (its time is real), and hands back the words the
 * person is saying (`saying()`, kept by the benchmark as it speaks). With real models (`--models`) it is not used.
 */
/** A whole request as Whisper writes one: a capital, and a question mark or a full stop. */
export function asWhisperWrites(request: string): string {
  const question = /^(?:what|when|where|who|why|how|which|is|are|do|does|can|could|will|would|should)\b/i.test(request);
  return `${request.charAt(0).toUpperCase()}${request.slice(1)}${question ? '?' : '.'}`;
}

export class ScriptWords implements Transcriber {
  readonly engine: string;

  constructor(
    private readonly real: Transcriber,
    private readonly saying: () => string,
  ) {
    this.engine = `${real.engine} (words from the script)`;
  }

  load(): Promise<void> {
    return this.real.load();
  }

  async transcribe(pcm16k: Int16Array, signal?: AbortSignal): Promise<Transcript> {
    const real = await this.real.transcribe(pcm16k, signal);
    return { text: this.saying(), audioMs: real.audioMs };
  }

  dispose(): Promise<void> {
    return this.real.dispose();
  }
}
