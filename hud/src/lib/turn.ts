import type { RunEvent } from '../../../core/protocol/run-events.ts';
import type { TurnView } from '../../../core/protocol/wire.ts';
import { turnTimings, type TurnTimings } from '../../../core/protocol/timings.ts';

/** What the conversation panel shows of a turn, read from its run events (timings from core/timings.ts). */
export interface TurnSummary {
  runId: number;
  trigger: string;
  question?: string;
  answer: string;
  /** Still being answered. */
  live: boolean;
  outcome?: string;
  error?: { message: string; fix?: string };
  timings: TurnTimings;
  stages: Stage[];
}

/** A bar of the turn's waterfall, in ms since the run started. */
export interface Stage {
  name: string;
  from: number;
  to: number;
}

const find = <T extends RunEvent['type']>(events: readonly RunEvent[], type: T) =>
  events.find((e) => e.type === type) as Extract<RunEvent, { type: T }> | undefined;

export function summarize(turn: TurnView): TurnSummary {
  const events = turn.events;
  const start = find(events, 'run-start');
  const question = find(events, 'llm-start')?.text ?? find(events, 'stt-end')?.text;
  const end = find(events, 'run-end');
  const error = events.find((e): e is Extract<RunEvent, { type: 'error' }> => e.type === 'error');
  const sentences = events.filter((e) => e.type === 'sentence').map((e) => (e as { text: string }).text);
  const summary: TurnSummary = {
    runId: turn.runId,
    trigger: start?.trigger ?? 'wake',
    // The streamed pieces when we have them; the sentences otherwise (a screen that connected mid-answer).
    answer: turn.answer.trim() || sentences.join(' '),
    live: !end,
    timings: turnTimings(events),
    stages: stages(events),
  };
  if (question !== undefined) summary.question = question;
  if (end) summary.outcome = end.outcome;
  if (error) summary.error = { message: error.message, ...(error.fix ? { fix: error.fix } : {}) };
  return summary;
}

function stages(events: readonly RunEvent[]): Stage[] {
  const at = (type: RunEvent['type']) => find(events, type)?.sinceStart;
  const out: Stage[] = [];
  const add = (name: string, from: number | undefined, to: number | undefined) => {
    if (from !== undefined && to !== undefined && to >= from) out.push({ name, from, to });
  };
  add('listening', at('vad-start') ?? at('run-start'), at('vad-end'));
  add('speech to text', at('stt-start'), at('stt-end'));
  add('first token', at('llm-start'), at('first-token'));
  add('answer', at('first-token'), at('llm-end'));
  const firstTts = events.find((e) => e.type === 'tts-start');
  const firstTtsEnd = events.find((e) => e.type === 'tts-end');
  add('voice', firstTts?.sinceStart, firstTtsEnd?.sinceStart);
  add('speaking', at('playback-start'), at('playback-end') ?? at('run-end'));
  return out;
}
