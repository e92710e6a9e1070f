import type { RunRecorder } from '../events.ts';
import type { Alert } from '../pipeline/assistant.ts';
import { SpeechOutput, type SpeechOutputDeps } from '../pipeline/speech-output.ts';
import type { TurnResult } from '../pipeline/turn.ts';

/**
 * One sentence JARVIS says without being asked, as an alert run (so it waits for a turn in progress, and a wake
 * word or "stop" cuts it off): what a tapped "Yes" did, or that a confirmation question lapsed. `sentence` may act
 * first (the confirmed call runs inside the run, so its intent events belong to it). Without a voice the sentence
 * is still in the run events (the screens, `--json`).
 */
export class SentenceAlert implements Alert {
  constructor(
    private readonly sentence: (signal: AbortSignal, run: RunRecorder) => Promise<string | undefined>,
    private readonly voice: SpeechOutputDeps | undefined,
  ) {}

  hears(): boolean {
    return false;
  }

  async play(run: RunRecorder, signal: AbortSignal, onSpeaking: () => void): Promise<TurnResult> {
    const text = await this.sentence(signal, run);
    if (!text || signal.aborted) {
      const outcome = signal.aborted ? 'interrupted' : 'answered';
      run.end(outcome);
      return { outcome };
    }
    run.emit({ type: 'sentence', index: 0, text });
    let interrupted = false;
    if (this.voice) {
      const speech = new SpeechOutput(this.voice, run, signal, onSpeaking);
      speech.say(text);
      interrupted = (await speech.finish()).interrupted;
    }
    const outcome = interrupted || signal.aborted ? 'interrupted' : 'answered';
    run.end(outcome);
    return { outcome, answer: text };
  }
}
