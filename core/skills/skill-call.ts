import type { DaySpec } from './clock-time.ts';

/**
 * What a skill is asked to do, whoever asks: the local intent matcher (from a sentence) or the LLM (from a
 * function call). One shape for both, so a request does the same thing whichever way it came in.
 */

export type TimerKind = 'timer' | 'alarm' | 'reminder';

/** Which timer a request is about: by its name, its length ("the 5 minute timer") or its time ("my 7 am alarm"). */
export interface TimerTarget {
  readonly kind?: TimerKind;
  readonly label?: string;
  readonly durationMs?: number;
  readonly clock?: { readonly hour: number; readonly minute: number };
}

/** A call that cannot be carried out without asking for something more ("set a timer" → "For how long?"). */
export function asksForMore(call: SkillCall): boolean {
  return (call.skill === 'timer.set' && call.durationMs === undefined) || (call.skill === 'alarm.set' && call.dueAt === undefined) || (call.skill === 'model.switch' && call.target === undefined);
}

export type SkillCall =
  | { readonly skill: 'time' }
  | { readonly skill: 'date'; readonly dayOffset: number }
  | { readonly skill: 'timer.set'; readonly kind?: 'timer' | 'reminder'; readonly durationMs?: number; readonly label?: string }
  | {
      readonly skill: 'alarm.set';
      readonly kind: 'alarm' | 'reminder';
      /** Epoch ms; undefined: the request had no time, ask for one. */
      readonly dueAt?: number;
      /** The day that was said without a time ("remind me tomorrow to …"), for the answer to "At what time?". */
      readonly day?: DaySpec;
      readonly label?: string;
    }
  | { readonly skill: 'timer.list'; readonly kind?: TimerKind }
  | { readonly skill: 'timer.remaining'; readonly target?: TimerTarget }
  | { readonly skill: 'timer.cancel'; readonly target?: TimerTarget; readonly all: boolean }
  | { readonly skill: 'timer.snooze' }
  | { readonly skill: 'stop' }
  | { readonly skill: 'volume.set'; readonly level: number }
  | { readonly skill: 'volume.change'; readonly by: number }
  | { readonly skill: 'volume.mute'; readonly muted: boolean }
  | { readonly skill: 'volume.get' }
  | { readonly skill: 'microphone.mute' }
  | { readonly skill: 'gpu.temperature' }
  | { readonly skill: 'gpu.memory' }
  | { readonly skill: 'model.current' }
  | { readonly skill: 'model.switch'; readonly target?: string }
  | { readonly skill: 'memory.remember'; readonly fact: string }
  | { readonly skill: 'memory.recall'; readonly about?: string }
  | { readonly skill: 'memory.forget'; readonly about: string };

export type SkillName = SkillCall['skill'];

/** The arguments of a call, for the intent-start run event. */
export function callArguments(call: SkillCall): Record<string, unknown> {
  const { skill: _skill, ...args } = call;
  const out: Record<string, unknown> = { ...args };
  if (call.skill === 'alarm.set' && call.dueAt !== undefined) out.dueAt = new Date(call.dueAt).toISOString();
  return out;
}
