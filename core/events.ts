import { EventEmitter } from 'node:events';
import { systemClock, type Clock } from '../base/clock.ts';
import type { BargeInCause, RunEvent, RunEventBody, RunEventType, RunOutcome, SatelliteRoom, TurnTrigger } from './protocol/run-events.ts';

/**
 * The per-turn run-event log (after Home Assistant's assist pipeline). Every stage reports here with a
 * monotonic timestamp from the bus's clock (the system's in the daemon, the audio's in a replayed test);
 * latency figures in the CLI, the HUD and the benchmarks are computed from these events and nowhere else.
 */

/** Fan-out of run events to subscribers (CLI --json, the HUD server, benchmarks, tests). */
export class RunEventBus {
  readonly #emitter = new EventEmitter();
  #nextRunId = 1;

  constructor(readonly clock: Clock = systemClock) {
    // Many subscribers (HUD clients, tests) are normal.
    this.#emitter.setMaxListeners(0);
  }

  subscribe(listener: (event: RunEvent) => void): () => void {
    this.#emitter.on('event', listener);
    return () => this.#emitter.off('event', listener);
  }

  /** Starts a run: its first event is run-start; use the returned recorder for the rest. `satellite`: the room it was heard in. */
  startRun(trigger: TurnTrigger, startedAt = this.clock.monotonic(), satellite?: SatelliteRoom): RunRecorder {
    return new RunRecorder(this.#nextRunId++, startedAt, trigger, (event) => this.#emitter.emit('event', event), this.clock, satellite);
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
    /** Times this run's events and the durations its stages report. */
    readonly clock: Clock = systemClock,
    /** The satellite the request was heard by (core/satellite); none: JARVIS's own microphone, keyboard or phone. */
    readonly satellite?: SatelliteRoom,
  ) {
    this.emit({ type: 'run-start', trigger, ...(satellite ? { satellite } : {}) }, startedAt);
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Milliseconds on the run's clock since `start` (a `clock.monotonic()` reading). */
  since(start: number): number {
    return this.clock.monotonic() - start;
  }

  emit(body: RunEventBody, t = this.clock.monotonic()): RunEvent {
    const event = { ...body, runId: this.runId, t, sinceStart: t - this.startedAt } as RunEvent;
    if (this.#ended) return event;
    if (body.type === 'run-end') this.#ended = true;
    this.events.push(event);
    this.publish(event);
    return event;
  }

  end(outcome: RunOutcome): RunEvent {
    return this.emit({ type: 'run-end', outcome, ms: this.since(this.startedAt) });
  }

  first<T extends RunEventType>(type: T): Extract<RunEvent, { type: T }> | undefined {
    return this.events.find((e) => e.type === type) as Extract<RunEvent, { type: T }> | undefined;
  }
}
