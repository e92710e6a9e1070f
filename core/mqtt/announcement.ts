import type { RunRecorder } from '../events.ts';
import type { Alert } from '../pipeline/assistant.ts';
import { SpeechOutput, type SpeechOutputDeps } from '../pipeline/speech-output.ts';
import type { TurnResult } from '../pipeline/turn.ts';
import { SentenceSplitter } from '../sentences.ts';

/**
 * Text an automation asked JARVIS to say ("The washing machine is done."), spoken once. It is an Alert, as a
 * ringing timer is, so the Assistant plays it after the request or answer in progress (it never cuts into a
 * question) and the same things stop it: a stop phrase, the wake word, the stop button or command.
 */
export class Announcement implements Alert {
  constructor(
    readonly text: string,
    private readonly voice: SpeechOutputDeps,
    /** Called once it has been said, or stopped. */
    private readonly onEnd: () => void = () => {},
  ) {}

  /** Only the stop phrases (the Assistant checks those itself) end it: it is short and said once. */
  hears(): boolean {
    return false;
  }

  async play(run: RunRecorder, signal: AbortSignal, onSpeaking: () => void): Promise<TurnResult> {
    try {
      return await this.#say(run, signal, onSpeaking);
    } finally {
      this.onEnd();
    }
  }

  async #say(run: RunRecorder, signal: AbortSignal, onSpeaking: () => void): Promise<TurnResult> {
    const speech = new SpeechOutput(this.voice, run, signal, onSpeaking);
    const splitter = new SentenceSplitter();
    let index = 0;
    for (const sentence of [...splitter.push(this.text), ...splitter.flush()]) {
      run.emit({ type: 'sentence', index: index++, text: sentence });
      speech.say(sentence);
    }
    const played = await speech.finish();
    const outcome = played.interrupted ? 'interrupted' : 'answered';
    run.end(outcome);
    return { outcome, answer: this.text };
  }
}
