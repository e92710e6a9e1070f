import { performance } from 'node:perf_hooks';
import { describeError } from '../../base/errors.ts';
import { formatBytes } from '../../base/format.ts';
import type { RunRecorder } from '../events.ts';
import type { IntentSource } from '../protocol/run-events.ts';
import type { Clock } from '../../base/clock.ts';
import type { DaySpec } from './clock-time.ts';
import { spokenDuration, spokenRemaining } from './durations.ts';
import type { HouseholdMemory } from './household-memory.ts';
import type { OutputLevel } from './output-level.ts';
import type { GpuReading, SkillProviders } from './providers.ts';
import { callArguments, type SkillCall, type TimerKind, type TimerTarget } from './skill-call.ts';
import { spokenClock, spokenDate, spokenList, spokenMoment } from './spoken.ts';
import type { StoredTimer } from './store.ts';
import type { TimerService } from './timer-service.ts';

/**
 * Carries out a SkillCall and says what it did. The same code runs for a local intent and for an LLM function
 * call, so "set a timer for 5 minutes" does the same thing whichever way it arrives. `say` is what JARVIS
 * speaks; `data` is the plain facts handed back to the LLM as the function's result.
 */

export type FollowUp =
  | { readonly expect: 'duration'; readonly kind: 'timer' | 'reminder'; readonly label?: string }
  | { readonly expect: 'time'; readonly kind: 'alarm' | 'reminder'; readonly label?: string; readonly day?: DaySpec };

export interface SkillResult {
  readonly ok: boolean;
  /** Spoken answer; empty for "stop". */
  readonly say: string;
  /** Why it could not be done (stable, for events and the LLM). */
  readonly code?: string;
  readonly data?: Readonly<Record<string, unknown>>;
  /** A question the next request may answer ("For how long?"). */
  readonly followUp?: FollowUp;
}

export interface SkillRunnerOptions {
  readonly maxTimerMs: number;
  readonly snoozeMs: number;
}

export interface SkillRunnerDeps {
  readonly timers: TimerService;
  readonly memory: HouseholdMemory;
  readonly output: OutputLevel;
  readonly clock: Clock;
  readonly providers: SkillProviders;
}

const JUST_ENDED_MS = 10 * 60_000;
const NOTES_READ_ALOUD = 5;

const done = (say: string, data?: Record<string, unknown>): SkillResult => ({ ok: true, say, ...(data ? { data } : {}) });
const failed = (code: string, say: string): SkillResult => ({ ok: false, code, say });
const capitalise = (text: string) => (text ? text[0]!.toUpperCase() + text.slice(1) : text);
const lowerFirst = (text: string) => (text && !/^[A-Z]{2}/.test(text) ? text[0]!.toLowerCase() + text.slice(1) : text);

export class SkillRunner {
  constructor(
    private readonly deps: SkillRunnerDeps,
    private readonly options: SkillRunnerOptions,
  ) {}

  /** Runs `call` between an intent-start and an intent-end event on `run` (the HUD and the benchmarks read them). */
  async runReported(call: SkillCall, via: IntentSource, run: RunRecorder | undefined): Promise<SkillResult> {
    const started = performance.now();
    run?.emit({ type: 'intent-start', skill: call.skill, args: callArguments(call), via });
    const result = await this.run(call);
    run?.emit({
      type: 'intent-end',
      skill: call.skill,
      ok: result.ok,
      ms: performance.now() - started,
      said: result.say,
      ...(result.code ? { code: result.code } : {}),
    });
    return result;
  }

  async run(call: SkillCall): Promise<SkillResult> {
    try {
      return await this.#run(call);
    } catch (error) {
      const storage = storageFailure(error);
      if (storage) return failed(storage.code, storage.say);
      const { code, message } = describeError(error);
      return failed(code, `Sorry, I could not do that: ${message}.`);
    }
  }

  async #run(call: SkillCall): Promise<SkillResult> {
    const now = this.deps.clock.now();
    switch (call.skill) {
      case 'time':
        return done(`It's ${spokenClock(now)}.`, { now: new Date(now).toISOString() });
      case 'date': {
        const day = now + call.dayOffset * 86_400_000;
        const lead = call.dayOffset === 1 ? 'Tomorrow is' : call.dayOffset === -1 ? 'Yesterday was' : "It's";
        return done(`${lead} ${spokenDate(day)}.`, { date: new Date(day).toDateString() });
      }
      case 'timer.set':
        return this.#setTimer(call.durationMs, call.label, call.kind ?? 'timer');
      case 'alarm.set':
        return this.#setAlarm(call.kind, call.dueAt, call.label, now, call.day);
      case 'timer.list':
        return this.#list(call.kind, now);
      case 'timer.remaining':
        return this.#remaining(call.target, now);
      case 'timer.cancel':
        return this.#cancel(call.target, call.all);
      case 'timer.snooze':
        return this.#snooze();
      case 'stop':
        return done('');
      case 'volume.set':
      case 'volume.change':
      case 'volume.mute':
      case 'volume.get':
        return this.#volume(call);
      case 'microphone.mute':
        return failed(
          'not-by-voice',
          "I can't turn my own microphone off by voice: I couldn't hear you say unmute. Use the mute button on the phone remote.",
        );
      case 'gpu.temperature':
        return this.#gpuTemperature();
      case 'gpu.memory':
        return this.#gpuMemory();
      case 'model.current':
        return this.#currentModel();
      case 'model.switch':
        return this.#switchModel(call.target);
      case 'memory.remember': {
        const { note, added } = this.deps.memory.remember(call.fact);
        return added
          ? done(`Okay, I'll remember that ${lowerFirst(note.text)}.`, { noteId: note.id })
          : done('I already knew that.', { noteId: note.id });
      }
      case 'memory.recall':
        return this.#recall(call.about);
      case 'memory.forget': {
        const gone = this.deps.memory.forget(call.about);
        if (gone.length === 0) return failed('no-such-note', `I don't have a note about ${call.about}.`);
        return done(`Okay, I forgot that ${spokenList(gone.map((n) => lowerFirst(n.text)))}.`, { forgotten: gone.map((n) => n.text) });
      }
    }
  }

  #setTimer(durationMs: number | undefined, label: string | undefined, kind: 'timer' | 'reminder'): SkillResult {
    if (durationMs === undefined) {
      return { ok: true, say: kind === 'reminder' ? 'When should I remind you?' : 'For how long?', followUp: { expect: 'duration', kind, ...(label ? { label } : {}) } };
    }
    if (durationMs < 1000) return failed('too-short', 'That is too short for a timer.');
    if (durationMs > this.options.maxTimerMs) {
      return failed('too-long', `Timers can run for up to ${spokenDuration(this.options.maxTimerMs)}. For later than that, set an alarm.`);
    }
    const timer = this.deps.timers.add({ kind, dueAt: this.deps.clock.now() + durationMs, durationMs, ...(label ? { label } : {}) });
    const length = spokenDuration(durationMs);
    const say =
      kind === 'reminder' ? `Reminder set for ${length} from now: ${label ?? 'no subject'}.` : label ? `${capitalise(label)} timer set for ${length}.` : `Timer set for ${length}.`;
    return done(say, describeForModel(timer));
  }

  #setAlarm(kind: 'alarm' | 'reminder', dueAt: number | undefined, label: string | undefined, now: number, day: DaySpec | undefined): SkillResult {
    if (dueAt === undefined) {
      const followUp = { expect: 'time', kind, ...(label ? { label } : {}), ...(day ? { day } : {}) } as const;
      return { ok: true, say: kind === 'reminder' ? 'At what time should I remind you?' : 'For what time?', followUp };
    }
    if (dueAt <= now) return failed('time-passed', `${capitalise(spokenMoment(dueAt, now))} has already passed. Say tomorrow if you mean tomorrow.`);
    const timer = this.deps.timers.add({ kind, dueAt, ...(label ? { label } : {}) });
    const moment = spokenMoment(dueAt, now);
    const say = kind === 'reminder' ? `Reminder set for ${moment}: ${label ?? 'no subject'}.` : label ? `${capitalise(label)} alarm set for ${moment}.` : `Alarm set for ${moment}.`;
    return done(say, describeForModel(timer));
  }

  #list(kind: TimerKind | undefined, now: number): SkillResult {
    const open = this.deps.timers.list(kind);
    const noun = kind === 'alarm' ? 'alarms' : kind === 'reminder' ? 'reminders' : 'timers';
    if (open.length === 0) return done(`You have no ${noun} set.`, { timers: [] });
    const items = open.map((t) => describeTimer(t, now));
    const count = open.length === 1 ? `one ${noun.slice(0, -1)}` : `${open.length} ${kind ? noun : 'timers and alarms'}`;
    return done(`You have ${count}: ${spokenList(items)}.`, { timers: open.map(describeForModel) });
  }

  #remaining(target: TimerTarget | undefined, now: number): SkillResult {
    const open = this.deps.timers.list();
    if (open.length === 0) return failed('no-timers', 'You have no timers or alarms set.');
    const matching = open.filter((t) => matchesTarget(t, target));
    if (matching.length === 0) return failed('no-such-timer', `You don't have ${describeTarget(target)}.`);
    const sentences = matching.map((t) => {
      const left = t.state === 'ringing' ? 'is ringing now' : `has ${spokenRemaining(t.dueAt - now)} left`;
      if (t.kind === 'timer') return `${capitalise(timerName(t))} ${left}.`;
      return `${capitalise(timerName(t))} is set for ${spokenMoment(t.dueAt, now)}, in ${spokenRemaining(t.dueAt - now)}.`;
    });
    return done(sentences.join(' '), { timers: matching.map(describeForModel) });
  }

  #cancel(target: TimerTarget | undefined, all: boolean): SkillResult {
    const open = this.deps.timers.list();
    const matching = open.filter((t) => matchesTarget(t, target));
    if (matching.length === 0) {
      const justEnded = this.deps.timers.endedWithin(JUST_ENDED_MS).filter((t) => t.state !== 'cancelled' && matchesTarget(t, target));
      if (justEnded.length > 0 && this.deps.clock.now() - (justEnded[0]!.endedAt ?? 0) < 120_000) return done("It's already off.");
      return failed('no-such-timer', `You don't have ${describeTarget(target)}.`);
    }
    if (matching.length > 1 && !all) {
      const names = matching.map((t) => timerName(t));
      return failed('which-timer', `You have ${spokenList(names)}. Say which one to cancel, or say cancel all.`);
    }
    this.deps.timers.cancel(matching.map((t) => t.id));
    const say =
      matching.length === 1
        ? `${capitalise(timerName(matching[0]!))} is cancelled.`
        : `${matching.length === 2 ? 'Both' : `All ${matching.length}`} ${target?.kind ? `${target.kind}s` : 'timers'} are cancelled.`;
    return done(say, { cancelled: matching.map(describeForModel) });
  }

  #snooze(): SkillResult {
    const ringing = this.deps.timers.list().filter((t) => t.state === 'ringing');
    const recent = ringing[0] ?? this.deps.timers.endedWithin(JUST_ENDED_MS).find((t) => t.state !== 'cancelled');
    if (!recent) return failed('nothing-to-snooze', "There's nothing to snooze.");
    const timer = this.deps.timers.snooze(recent.id, this.options.snoozeMs);
    return done(`Snoozed for ${spokenDuration(this.options.snoozeMs)}.`, describeForModel(timer));
  }

  #volume(call: Extract<SkillCall, { skill: 'volume.set' | 'volume.change' | 'volume.mute' | 'volume.get' }>): SkillResult {
    const output = this.deps.output;
    const before = output.state;
    switch (call.skill) {
      case 'volume.get':
        return done(before.muted ? `I'm muted. My volume is ${before.level} percent when unmuted.` : `My volume is ${before.level} percent.`, { ...before });
      case 'volume.mute': {
        const after = output.setMuted(call.muted);
        return done(call.muted ? 'Muted.' : `Sound is back on, at ${after.level} percent.`, { ...after });
      }
      case 'volume.set': {
        const after = output.setLevel(call.level);
        return done(after.level === 0 ? 'Muted.' : `Volume ${after.level} percent.`, { ...after });
      }
      case 'volume.change': {
        if (call.by > 0 && before.level >= 100 && !before.muted) return done("I'm already at full volume.", { ...before });
        if (call.by < 0 && (before.level <= 10 || before.muted)) return done("I'm as quiet as I go without muting. Say mute to silence me.", { ...before });
        const after = output.setLevel(before.muted ? Math.max(10, call.by) : before.level + call.by);
        return done(`Volume ${after.level} percent.`, { ...after });
      }
    }
  }

  async #gpuTemperature(): Promise<SkillResult> {
    const gpus = await this.#gpus();
    if ('say' in gpus) return gpus;
    const withTemperature = gpus.filter((g) => g.temperatureC !== undefined);
    if (withTemperature.length === 0) return failed('no-gpu-temperature', 'The graphics card does not report its temperature.');
    const sentences = withTemperature.map((g) => {
      const t = Math.round(g.temperatureC!);
      return `The ${g.name} is at ${t} degrees${t >= 85 ? ', which is hot' : ''}.`;
    });
    return done(sentences.join(' '), { gpus: withTemperature.map((g) => ({ name: g.name, temperatureC: g.temperatureC })) });
  }

  async #gpuMemory(): Promise<SkillResult> {
    const models = this.deps.providers.models?.loadedModels() ?? [];
    const llm = models.find((m) => m.role === 'llm');
    const modelPart = llm?.vramBytes ? ` The language model takes ${gigabytes(llm.vramBytes)} of it.` : '';
    const gpus = await this.#gpus();
    if ('say' in gpus) {
      if (llm?.vramBytes) return done(`The language model uses ${gigabytes(llm.vramBytes)} of graphics memory.`, { llmVramBytes: llm.vramBytes });
      return gpus;
    }
    const known = gpus.filter((g) => g.memoryUsedBytes !== undefined && g.memoryTotalBytes !== undefined);
    if (known.length === 0) return failed('no-gpu-memory', 'The graphics card does not report its memory.');
    const sentences = known.map((g) => `The ${g.name} is using ${memoryShare(g.memoryUsedBytes!, g.memoryTotalBytes!)} of graphics memory.`);
    return done(sentences.join(' ') + modelPart, { gpus: known.map((g) => ({ name: g.name, usedBytes: g.memoryUsedBytes, totalBytes: g.memoryTotalBytes })) });
  }

  async #gpus(): Promise<readonly GpuReading[] | SkillResult> {
    const provider = this.deps.providers.gpu;
    if (!provider) return failed('no-telemetry', "I can't read the graphics card: GPU telemetry is not running.");
    const state = await provider.gpuState();
    if (!state.available) return failed('no-gpu', `I can't read the graphics card: ${state.reason.replace(/[.…]+$/, '')}.`);
    if (state.gpus.length === 0) return failed('no-gpu', "I can't see a graphics card.");
    return state.gpus;
  }

  #currentModel(): SkillResult {
    const models = this.deps.providers.models?.loadedModels() ?? [];
    const llm = models.find((m) => m.role === 'llm');
    if (!llm) return failed('no-model-status', "I can't tell which model is loaded.");
    const speech = models.filter((m) => m.role !== 'llm').map((m) => `${m.role === 'stt' ? 'I hear with' : 'I speak with'} ${m.name}`);
    const say = `I'm using ${llm.name}${llm.detail ? `, ${llm.detail}` : ''}.${speech.length ? ` ${capitalise(spokenList(speech))}.` : ''}`;
    return done(say, { models: models.map((m) => ({ role: m.role, name: m.name, ...(m.detail ? { detail: m.detail } : {}) })) });
  }

  async #switchModel(target: string | undefined): Promise<SkillResult> {
    const selector = this.deps.providers.modelSelector;
    if (!selector) {
      return failed(
        'no-model-manager',
        "I can't switch models by voice in this installation: the model manager is not connected. Set llm.model in the config and restart me.",
      );
    }
    if (!target) return { ok: true, say: 'Which model? Say, for example, switch to the small model.' };
    const selected = await selector.selectModel(target);
    if (selected.already) return done(`I am already using ${selected.name}.`, { model: selected.name });
    const took = selected.ms === undefined ? '' : `, it took ${(selected.ms / 1000).toFixed(1)} seconds`;
    return done(`Switched to ${selected.name}${took}.`, { model: selected.name });
  }

  #recall(about: string | undefined): SkillResult {
    const memory = this.deps.memory;
    if (about === undefined) {
      const notes = memory.list();
      if (notes.length === 0) return done("You haven't asked me to remember anything yet.", { notes: [] });
      const read = notes.slice(-NOTES_READ_ALOUD).map((n) => `${n.text}.`);
      const more = notes.length > NOTES_READ_ALOUD ? ` And ${notes.length - NOTES_READ_ALOUD} more: jarvis memory list shows them all.` : '';
      return done(`I remember ${notes.length === 1 ? 'one thing' : `${notes.length} things`}. ${read.join(' ')}${more}`, { notes: notes.map((n) => n.text) });
    }
    const found = memory.find(about);
    if (found.length === 0) return failed('no-such-note', `I don't have anything about ${about}.`);
    if (found.length === 1) return done(`You told me that ${lowerFirst(found[0]!.text)}.`, { notes: [found[0]!.text] });
    return done(`You told me ${found.length} things about ${about}. ${found.map((n) => `${n.text}.`).join(' ')}`, { notes: found.map((n) => n.text) });
  }
}

/** Memory as nvidia-smi and llama.cpp count it, spoken: "11 gigabytes" for an 11 GiB card, "512 megabytes". */
function gigabytes(bytes: number): string {
  return formatBytes(bytes, { style: 'spoken', binary: true, smallest: 'MB' });
}

/** "5.3 of 11 gigabytes": the unit is said once where both amounts are in it. */
function memoryShare(used: number, total: number): string {
  const [amount, unit] = gigabytes(used).split(' ');
  const whole = gigabytes(total);
  return whole.endsWith(` ${unit}`) ? `${amount} of ${whole}` : `${gigabytes(used)} of ${whole}`;
}

/** "the pasta timer", "your 5 minute timer", "your alarm for 7 AM", "the reminder: call mum" */
export function timerName(timer: StoredTimer): string {
  // "your 3 minute timer": the length as an adjective is singular.
  if (timer.kind === 'timer') return timer.label ? `the ${timer.label} timer` : `your ${spokenDuration(timer.durationMs ?? 0).replace(/(\d+ (?:second|minute|hour|day))s\b/g, '$1')} timer`;
  if (timer.kind === 'alarm') return timer.label ? `the ${timer.label} alarm` : `your alarm`;
  return timer.label ? `the reminder to ${timer.label}` : 'your reminder';
}

function describeTimer(timer: StoredTimer, now: number): string {
  if (timer.state === 'ringing') return `${timerName(timer)}, ringing now`;
  if (timer.kind === 'timer') return `${timerName(timer)} with ${spokenRemaining(timer.dueAt - now)} left`;
  return `${timerName(timer)} at ${spokenMoment(timer.dueAt, now)}`;
}

function describeTarget(target: TimerTarget | undefined): string {
  const noun = target?.kind ?? 'timer';
  if (target?.label) return `a ${target.label} ${noun}`;
  if (target?.durationMs) return `a ${spokenDuration(target.durationMs)} ${noun}`;
  if (target?.clock) return `an ${noun} at ${spokenClock(new Date(2000, 0, 1, target.clock.hour, target.clock.minute).getTime())}`;
  return noun === 'alarm' ? 'any alarms' : noun === 'reminder' ? 'any reminders' : 'any timers';
}

export function matchesTarget(timer: StoredTimer, target: TimerTarget | undefined): boolean {
  if (!target) return true;
  if (target.kind && timer.kind !== target.kind) return false;
  if (target.label) {
    const want = target.label.toLowerCase();
    const have = (timer.label ?? '').toLowerCase();
    if (!have || !(have === want || have.includes(want) || want.includes(have))) return false;
  }
  if (target.durationMs !== undefined && timer.durationMs !== target.durationMs) return false;
  if (target.clock) {
    const due = new Date(timer.dueAt);
    if (due.getHours() !== target.clock.hour || due.getMinutes() !== target.clock.minute) return false;
  }
  return true;
}

/** A timer as facts for the LLM. */
function describeForModel(timer: StoredTimer): Record<string, unknown> {
  return {
    id: timer.id,
    kind: timer.kind,
    ...(timer.label ? { name: timer.label } : {}),
    ringsAt: new Date(timer.dueAt).toISOString(),
    ...(timer.durationMs ? { lengthSeconds: Math.round(timer.durationMs / 1000) } : {}),
    state: timer.state,
  };
}

/**
 * A write the disk refused (SQLite's or the file system's code), said so that a person knows what to do; what was
 * stored before stays, since SQLite rolls the failed write back.
 */
function storageFailure(error: unknown): { code: string; say: string } | undefined {
  const code = String((error as { code?: unknown } | null)?.code ?? '');
  if (code === 'SQLITE_FULL' || code === 'ENOSPC') return { code: 'disk-full', say: 'Sorry, I could not save that: the disk is full. Free some space on it.' };
  if (code.startsWith('SQLITE_READONLY') || code === 'EROFS') return { code: 'storage-read-only', say: 'Sorry, I could not save that: my data folder is read-only.' };
  return undefined;
}
