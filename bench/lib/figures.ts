import type { Summary } from './stats.ts';

/**
 * One line of the benchmark table. A figure either has a measured value (median / p95 over its runs) or says why
 * it could not be measured; goals are printed beside figures and never asserted.
 */

export type Unit = 'ms' | '%' | 'x' | 'tok/s' | 'MB' | 'per hour';

export interface Figure {
  readonly id: string;
  readonly section: string;
  readonly label: string;
  readonly unit: Unit;
  readonly value?: Summary;
  /** The same quantity without JARVIS around it, measured in the same run. */
  readonly baseline?: { readonly label: string; readonly value: Summary };
  /** value.median / baseline.median. */
  readonly ratio?: number;
  readonly goal?: string;
  readonly notMeasured?: string;
  readonly note?: string;
  /** A part of the figure above it (a stage of voice-to-voice, say). */
  readonly sub?: boolean;
}

/** The goals from issue #7 and DESIGN.md, printed beside the figures they belong to (and drawn on the plots). */
export const GOAL_VALUES = { voiceToVoiceMs: 400, overheadMs: 15, idleCpuPercent: 3, bargeInMs: 200, cliStartMs: 300, sttShortMs: 700, sttVsNative: 1.2 } as const;

export const GOALS = {
  voiceToVoice: `≤ ${GOAL_VALUES.voiceToVoiceMs} ms p50 (reference GPU, 8 B Q4)`,
  overhead: `≤ ${GOAL_VALUES.overheadMs} ms`,
  wake: 'FRR ≤ 5 % at ≤ 0.5 FA/h',
  idleCpu: `≤ ${GOAL_VALUES.idleCpuPercent} % of a core`,
  llmRate: '≥ 0.97 × raw',
  bargeIn: `sink silent ≤ ${GOAL_VALUES.bargeInMs} ms`,
  cliStart: `≤ ${GOAL_VALUES.cliStartMs} ms`,
  sttShort: `≤ ${GOAL_VALUES.sttShortMs} ms (issue #12), ≤ ${GOAL_VALUES.sttVsNative}× whisper-cli`,
} as const;

export function measured(
  base: Omit<Figure, 'value' | 'notMeasured' | 'ratio'>,
  value: Summary | undefined,
  why: string,
): Figure {
  if (!value) return { ...base, notMeasured: why };
  const ratio = base.baseline && base.baseline.value.median !== 0 ? value.median / base.baseline.value.median : undefined;
  return { ...base, value, ...(ratio !== undefined ? { ratio } : {}) };
}

export function notMeasured(base: Omit<Figure, 'value' | 'notMeasured'>, why: string): Figure {
  return { ...base, notMeasured: why };
}

/** A phase left out on purpose (--only): its figures say so instead of reporting a failure. */
export class PhaseSkipped extends Error {}
