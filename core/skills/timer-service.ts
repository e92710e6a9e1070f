import { EventEmitter } from 'node:events';
import type { Clock } from '../../base/clock.ts';
import { isProcessAlive } from '../../base/process.ts';
import type { TimerKind } from './skill-call.ts';
import type { SkillStore, StoredTimer } from './store.ts';

/**
 * Timers, alarms and reminders over the store: it keeps one clock timeout armed for the next one due and
 * reports `due` when it is, so the daemon can ring it. Everything lives in the store, so a timer set before a
 * restart rings after it, and one set by another process (`jarvis ask "set a timer…"`) is picked up by
 * `refresh()` (the runtime calls it when the database changed).
 *
 * The timeout is never armed for longer than `maxSleepMs`: the wall clock can jump (suspend, NTP) and an alarm
 * must still ring at the time on the clock, so it looks again at least that often. A timer ("in ten minutes") is
 * stored as a time of day too, so that it survives a restart; when the wall clock goes back (set by hand, an NTP
 * correction), its time of day moves back with it, so it still rings after the length that was asked for. A jump
 * forward is left alone: it is mostly a suspend, and a timer's time has then passed for the people waiting too.
 */

export interface TimerServiceOptions {
  /** A timer that fell due while nothing was running still rings at start if it is at most this late. */
  readonly missedGraceMs: number;
  readonly maxSleepMs?: number;
}

export type TimerServiceEvents = {
  /** Timers that are due now; they are in state "ringing" until finish() or cancel(). */
  due: [StoredTimer[]];
  /** Timers that fell due too long ago while JARVIS was not running; they are marked "missed". */
  missed: [StoredTimer[]];
  /** Any change to the open timers (set, cancelled, rang, finished). */
  changed: [];
};

/** A wall clock that drifted back by less than this from the monotonic one did not jump. */
const CLOCK_JUMP_MS = 2000;

/** The setting that names the process ringing this store's timers (its pid), so another one can tell if any does. */
const RINGER_SETTING = 'timers.ringer';

export class TimerService extends EventEmitter<TimerServiceEvents> {
  readonly #store: SkillStore;
  readonly #clock: Clock;
  readonly #missedGraceMs: number;
  readonly #maxSleepMs: number;
  #cancelArm: (() => void) | undefined;
  /** Both clocks at the last look, to see the wall clock jump between two looks. */
  #lastLook: { readonly wall: number; readonly monotonic: number } | undefined;
  #started = false;
  #disposed = false;

  constructor(store: SkillStore, clock: Clock, options: TimerServiceOptions) {
    super();
    this.#store = store;
    this.#clock = clock;
    this.#missedGraceMs = options.missedGraceMs;
    this.#maxSleepMs = options.maxSleepMs ?? 60_000;
  }

  get clock(): Clock {
    return this.#clock;
  }

  /**
   * Starts ringing: timers that fell due while nothing ran ring now if they are within the grace time (and
   * those that were ringing when the daemon stopped ring again); older ones are marked missed.
   */
  start(): void {
    if (this.#started || this.#disposed) return;
    this.#started = true;
    this.#store.setSetting(RINGER_SETTING, String(process.pid));
    const now = this.#clock.now();
    const overdue = this.#store.openTimers().filter((t) => t.dueAt <= now);
    const missed = overdue.filter((t) => now - t.dueAt > this.#missedGraceMs);
    if (missed.length > 0) {
      this.#store.setTimerState(missed.map((t) => t.id), 'missed', now);
      this.emit('changed');
      this.emit('missed', missed);
    }
    const again = overdue.filter((t) => t.state === 'ringing' && now - t.dueAt <= this.#missedGraceMs);
    if (again.length > 0) this.emit('due', again);
    this.#check();
  }

  /** Pending and ringing timers, soonest first. */
  list(kind?: TimerKind): StoredTimer[] {
    const open = this.#store.openTimers();
    return kind ? open.filter((t) => t.kind === kind) : open;
  }

  add(timer: { kind: TimerKind; dueAt: number; label?: string; durationMs?: number }): StoredTimer {
    const stored = this.#store.addTimer({ ...timer, createdAt: this.#clock.now() });
    this.#changed();
    return stored;
  }

  /** Cancels open timers; returns those that were still open. */
  cancel(ids: readonly number[]): number {
    const changed = this.#store.setTimerState(ids, 'cancelled', this.#clock.now());
    this.#changed();
    return changed;
  }

  /** A ringing timer was stopped by someone ("done") or rang out unanswered ("missed"). */
  finish(ids: readonly number[], state: 'done' | 'missed'): void {
    this.#store.setTimerState(ids, state, this.#clock.now());
    this.#changed();
  }

  /** Rings `id` again in `ms`. */
  snooze(id: number, ms: number): StoredTimer {
    this.#store.reschedule(id, this.#clock.now() + ms);
    this.#changed();
    return this.#store.timer(id)!;
  }

  /** Timers that ended within the last `ms` (to answer "stop the alarm" right after it was stopped). */
  endedWithin(ms: number): StoredTimer[] {
    return this.#store.endedSince(this.#clock.now() - ms);
  }

  /** Looks at the store again: another process may have added or cancelled a timer. */
  refresh(): void {
    this.emit('changed');
    if (this.#started) this.#check();
  }

  /** Whether a running process (this one or a daemon) rings these timers when they are due. */
  hasRinger(): boolean {
    if (this.#started) return true;
    const pid = Number(this.#store.setting(RINGER_SETTING));
    return Number.isInteger(pid) && pid > 0 && isProcessAlive(pid);
  }

  dispose(): void {
    if (this.#started && !this.#disposed && this.#store.setting(RINGER_SETTING) === String(process.pid)) this.#store.deleteSetting(RINGER_SETTING);
    this.#disposed = true;
    this.#cancelArm?.();
    this.#cancelArm = undefined;
    this.removeAllListeners();
  }

  #changed(): void {
    this.emit('changed');
    if (this.#started) this.#check();
  }

  #check(): void {
    if (this.#disposed) return;
    this.#cancelArm?.();
    this.#cancelArm = undefined;
    const now = this.#clock.now();
    this.#followClockGoingBack(now);
    const open = this.#store.openTimers();
    const due = open.filter((t) => t.state === 'pending' && t.dueAt <= now);
    if (due.length > 0) {
      this.#store.setTimerState(due.map((t) => t.id), 'ringing', now);
      const ringing = due.map((t) => ({ ...t, state: 'ringing' as const }));
      this.emit('changed');
      this.emit('due', ringing);
    }
    const next = open.find((t) => t.state === 'pending' && t.dueAt > now);
    if (!next) return;
    const wait = Math.min(next.dueAt - now, this.#maxSleepMs);
    this.#cancelArm = this.#clock.setTimeout(() => this.#check(), Math.max(0, wait));
  }

  /** Moves pending timers (not alarms at a clock time) back with a wall clock that went back since the last look. */
  #followClockGoingBack(now: number): void {
    const monotonic = this.#clock.monotonic();
    const last = this.#lastLook;
    this.#lastLook = { wall: now, monotonic };
    if (!last) return;
    const jump = now - last.wall - (monotonic - last.monotonic);
    if (jump > -CLOCK_JUMP_MS) return;
    const timers = this.#store.openTimers().filter((t) => t.state === 'pending' && t.durationMs !== undefined);
    for (const timer of timers) this.#store.reschedule(timer.id, timer.dueAt + jump);
    if (timers.length > 0) this.emit('changed');
  }
}
