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
export const GOAL_VALUES = {
  voiceToVoiceMs: 500,
  voiceToVoiceGpuMs: 400,
  overheadMs: 15,
  idleCpuPercent: 1.5,
  talkCpuPercent: 2.5,
  bargeInMs: 200,
  hudPaintMs: 50,
  cliStartMs: 300,
  sttShortMs: 700,
  sttVsNative: 1.2,
} as const;

export const GOALS = {
  voiceToVoice: `≤ ${GOAL_VALUES.voiceToVoiceMs} ms p50 here (issue #12); ≤ ${GOAL_VALUES.voiceToVoiceGpuMs} ms on the reference GPU`,
  overhead: `≤ ${GOAL_VALUES.overheadMs} ms`,
  wake: 'FRR ≤ 5 % at ≤ 0.5 FA/h',
  idleCpu: `≤ ${GOAL_VALUES.idleCpuPercent} % of a core in silence`,
  talkCpu: `≤ ${GOAL_VALUES.talkCpuPercent} % of a core`,
  hudPaint: `≤ ${GOAL_VALUES.hudPaintMs} ms p95`,
  llmRate: '≥ 0.97 × raw',
  llmServerRate: '≥ 0.97 × direct',
  llmServerOverhead: '≤ 10 ms',
  bargeIn: `sink silent ≤ ${GOAL_VALUES.bargeInMs} ms p95`,
  cliStart: `≤ ${GOAL_VALUES.cliStartMs} ms`,
  endpointComplete: '≤ 300 ms p50',
  finalTranscript: '≤ 150 ms',
  hesitationCut: '0 %',
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
