import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';

/**
 * The per-turn run-event log (after Home Assistant's assist pipeline). Every stage reports here with a
 * monotonic timestamp; latency figures in the CLI, the HUD and the benchmarks are computed from these events
 * and nowhere else.
 */

/**
 * remote: push-to-talk on the phone remote (no wake word; the phone decides where the request ends).
 * alert: no request at all: a timer or alarm ringing (core/skills), played like an answer and stopped like one.
 */
export type TurnTrigger = 'wake' | 'follow-up' | 'text' | 'file' | 'remote' | 'alert';
export type BargeInCause = 'wake' | 'stop-phrase' | 'command';
export type RunOutcome = 'answered' | 'interrupted' | 'no-speech' | 'empty-transcript' | 'false-wake' | 'error' | 'shutdown';

export type RunEventBody =
  | { type: 'run-start'; trigger: TurnTrigger }
  | { type: 'wake'; keyword: string; score: number; engine: string }
  | { type: 'vad-start' }
  | { type: 'vad-end'; reason: 'silence' | 'max-length' | 'source-ended' | 'released'; speechMs: number }
  | { type: 'no-speech'; waitedMs: number }
  | { type: 'stt-start'; audioMs: number }
  | { type: 'stt-end'; text: string; ms: number }
  | { type: 'wake-rejected'; heard: string }
  | { type: 'intent-start'; skill: string; args: Record<string, unknown>; via: IntentSource }
  | { type: 'intent-end'; skill: string; ok: boolean; ms: number; said: string; code?: string }
  | { type: 'llm-start'; text: string }
  | { type: 'first-token'; ms: number }
  | { type: 'sentence'; index: number; text: string }
  | { type: 'llm-end'; text: string; ms: number; pieces: number; aborted: boolean }
  | { type: 'tts-start'; index: number; text: string }
  | { type: 'tts-end'; index: number; ms: number; audioMs: number; engine: string }
  | { type: 'playback-start'; index: number }
  | { type: 'playback-end'; interrupted: boolean }
  | { type: 'barge-in'; cause: BargeInCause; detail?: string }
  | { type: 'error'; stage: Stage; code: string; message: string; fix?: string }
  | { type: 'run-end'; outcome: RunOutcome; ms: number };

/** Who asked for a skill: the local intent matcher, the LLM (a function call) or a timer that rang. */
export type IntentSource = 'local' | 'llm' | 'timer';

export type Stage = 'audio' | 'wake' | 'vad' | 'stt' | 'llm' | 'tts' | 'playback' | 'pipeline';

export type RunEvent = RunEventBody & {
  runId: number;
  /** Monotonic milliseconds (performance.now() of this process). */
  t: number;
  /** Milliseconds since this run's run-start. */
  sinceStart: number;
};

export type RunEventType = RunEvent['type'];

/** Fan-out of run events to subscribers (CLI --json, the HUD server, benchmarks, tests). */
export class RunEventBus {
  readonly #emitter = new EventEmitter();
  #nextRunId = 1;

  constructor() {
    // Many subscribers (HUD clients, tests) are normal.
    this.#emitter.setMaxListeners(0);
  }

  subscribe(listener: (event: RunEvent) => void): () => void {
    this.#emitter.on('event', listener);
    return () => this.#emitter.off('event', listener);
  }

  /** Starts a run: its first event is run-start; use the returned recorder for the rest. */
  startRun(trigger: TurnTrigger, startedAt = performance.now()): RunRecorder {
    return new RunRecorder(this.#nextRunId++, startedAt, trigger, (event) => this.#emitter.emit('event', event));
  }
}

export class RunRecorder {
  readonly events: RunEvent[] = [];
  #ended = false;

  constructor(
    readonly runId: number,
    readonly startedAt: number,
    readonly trigger: TurnTrigger,
    private readonly publish: (event: RunEvent) => void,
  ) {
    this.emit({ type: 'run-start', trigger }, startedAt);
  }

  get ended(): boolean {
    return this.#ended;
  }

  emit(body: RunEventBody, t = performance.now()): RunEvent {
    const event = { ...body, runId: this.runId, t, sinceStart: t - this.startedAt } as RunEvent;
    if (this.#ended) return event;
    if (body.type === 'run-end') this.#ended = true;
    this.events.push(event);
    this.publish(event);
    return event;
  }

  end(outcome: RunOutcome): RunEvent {
    return this.emit({ type: 'run-end', outcome, ms: performance.now() - this.startedAt });
  }

  first<T extends RunEventType>(type: T): Extract<RunEvent, { type: T }> | undefined {
    return this.events.find((e) => e.type === type) as Extract<RunEvent, { type: T }> | undefined;
  }
}
