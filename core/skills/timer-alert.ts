import { sleep, type Clock } from '../../base/clock.ts';
import type { Alert } from '../pipeline/assistant.ts';
import { describeError, isAbortError } from '../../base/errors.ts';
import type { RunRecorder } from '../events.ts';
import { SpeechOutput, type SpeechOutputDeps } from '../pipeline/speech-output.ts';
import type { TurnResult } from '../pipeline/turn.ts';
import { chime } from './chime.ts';
import { plainWords } from './normalize.ts';
import { spokenList, spokenClock } from './spoken.ts';
import type { StoredTimer } from './store.ts';
import type { TimerService } from './timer-service.ts';

/**
 * Timers that are due, ringing: a chime and a spoken announcement, again and again with a pause between, until
 * someone stops them or `ringTimeoutMs` passes. It is an Alert, so the Assistant plays it like an answer: a stop
 * phrase said without the wake word (heard while it rings), a wake word or the stop command ends it. "Snooze"
 * puts it off by `snoozeMs`. A timer that rang out unanswered is marked missed.
 */

export interface TimerAlertOptions {
  readonly voice: SpeechOutputDeps;
  /** Paces the rounds and the ring timeout (the daemon's clock). */
  readonly clock: Clock;
  readonly ringTimeoutMs: number;
  readonly pauseMs: number;
  readonly snoozeMs: number;
}

/** Said while it rings, these end it (with the stop phrases from the config). */
const DISMISS = new Set([
  'stop', 'stop it', 'stop the timer', 'stop the alarm', 'stop the reminder', 'turn it off', 'turn off', 'off', 'ok', 'okay',
  'thanks', 'thank you', 'got it', 'dismiss', 'cancel', 'enough', 'quiet', 'be quiet', 'shut up', 'i am up', 'im up',
  'alright', 'all right', 'done', 'yes', 'i know', 'heard', 'i heard', 'stop ringing', 'silence',
]);
const SNOOZE = /\bsnooze\b|^(?:5|five) more minutes$|^let me sleep$/;

export class TimerAlert implements Alert {
  #snoozed = false;
  /** Whether the chime played at least once; a speaker that fails is reported once, and the screens still ring. */
  #chimed = false;
  #speakerFailed = false;

  constructor(
    readonly timers: readonly StoredTimer[],
    private readonly service: TimerService,
    private readonly options: TimerAlertOptions,
  ) {}

  /** What it says each time: "Your pasta timer is done.", "It's 7 AM: your alarm.", "Reminder: call mum." */
  get announcement(): string {
    const sentences: string[] = [];
    const timers = this.timers.filter((t) => t.kind === 'timer');
    if (timers.length > 0) {
      const names = timers.map((t) => (t.label ? `${t.label} timer` : 'timer'));
      sentences.push(`Your ${spokenList(names)} ${timers.length === 1 ? 'is' : 'are'} done.`);
    }
    for (const alarm of this.timers.filter((t) => t.kind === 'alarm')) {
      sentences.push(`It's ${spokenClock(alarm.dueAt)}: your ${alarm.label ? `${alarm.label} ` : ''}alarm.`);
    }
    for (const reminder of this.timers.filter((t) => t.kind === 'reminder')) sentences.push(`Reminder: ${reminder.label ?? 'you asked me to remind you now'}.`);
    return sentences.join(' ');
  }

  hears(text: string): boolean {
    const said = plainWords(text);
    if (SNOOZE.test(said)) {
      this.#snoozed = true;
      return true;
    }
    return DISMISS.has(said);
  }

  async play(run: RunRecorder, signal: AbortSignal, onSpeaking: () => void): Promise<TurnResult> {
    const { clock } = this.options;
    const started = clock.monotonic();
    const ids = this.timers.map((t) => t.id);
    const text = this.announcement;
    run.emit({
      type: 'intent-start',
      skill: 'timer.ring',
      args: { timers: this.timers.map((t) => ({ id: t.id, kind: t.kind, ...(t.label ? { name: t.label } : {}) })) },
      via: 'timer',
    });
    run.emit({ type: 'sentence', index: 0, text });
    const bell = chime();
    let first = true;
    while (!signal.aborted && clock.monotonic() - started < this.options.ringTimeoutMs) {
      if (first) onSpeaking();
      first = false;
      await this.#round(run, signal, bell, text);
      if (signal.aborted) break;
      await sleep(clock, this.options.pauseMs, signal).catch(() => {});
    }
    const stopped = signal.aborted;
    if (stopped && this.#snoozed) for (const id of ids) this.service.snooze(id, this.options.snoozeMs);
    else this.service.finish(ids, stopped ? 'done' : 'missed');
    run.emit({
      type: 'intent-end',
      skill: 'timer.ring',
      ok: true,
      ms: clock.monotonic() - started,
      said: text,
      ...(stopped ? {} : { code: this.#chimed ? 'unanswered' : 'nothing-could-ring' }),
    });
    const outcome = stopped ? 'interrupted' : 'answered';
    run.end(outcome);
    return { outcome, answer: text };
  }

  /** One chime and one announcement; a round of its own signal, so listeners do not pile up on the alert's. */
  async #round(run: RunRecorder, signal: AbortSignal, bell: ReturnType<typeof chime>, text: string): Promise<void> {
    const round = new AbortController();
    const forward = () => round.abort();
    signal.addEventListener('abort', forward, { once: true });
    try {
      // A speaker that fails must not end the alert: it rings on the screens until stopped or timed out.
      const chimed = await this.options.voice.sink.play(bell).then(
        () => true,
        (error: unknown) => {
          if (isAbortError(error) || this.#speakerFailed) return false;
          this.#speakerFailed = true;
          const { code, message, fix } = describeError(error);
          run.emit({ type: 'error', stage: 'playback', code, message: `the timer could not ring on the speaker: ${message}`, fix });
          return false;
        },
      );
      this.#chimed ||= chimed;
      if (round.signal.aborted || !chimed) return;
      const speech = new SpeechOutput(this.options.voice, run, round.signal);
      speech.say(text);
      await speech.finish();
    } finally {
      signal.removeEventListener('abort', forward);
    }
  }
}
