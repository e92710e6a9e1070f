import type { KnowledgePassage, RunEvent } from '../../../core/protocol/run-events.ts';
import type { TurnView } from '../../../core/protocol/wire.ts';
import { turnTimings, type TurnTimings } from '../../../core/protocol/timings.ts';

/** What the conversation panel shows of a turn, read from its run events (timings from core/timings.ts). */
export interface TurnSummary {
  runId: number;
  trigger: string;
  /** The room a satellite heard it in (its area, else its name); none: JARVIS's own microphone, keyboard or phone. */
  room?: string;
  question?: string;
  /** The question is what was heard so far, while the person is still speaking. */
  hearing: boolean;
  answer: string;
  /** Still being answered. */
  live: boolean;
  outcome?: string;
  error?: { message: string; fix?: string };
  /** Who answered when it was not the local model; `fallbackWhy` when the configured server could not. */
  answeredBy?: string;
  fallbackWhy?: string;
  /** The role whose model answered when it was not the chat model (llm.roles: "code" for "write a script…"). */
  answeredAs?: 'code' | 'vision';
  /** Who picked that role: the rule on the words, the user ("ask the coder …") or the chat model's routing call. */
  chosenBy?: 'rule' | 'user' | 'model';
  /** Passages of the household's documents the answer was drawn from (the last search of the turn). */
  sources?: KnowledgePassage[];
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
  const final = find(events, 'llm-start')?.text ?? find(events, 'stt-end')?.text;
  const heardSoFar = events.findLast((e): e is Extract<RunEvent, { type: 'stt-partial' }> => e.type === 'stt-partial')?.text;
  const question = final ?? heardSoFar;
  const end = find(events, 'run-end');
  const error = events.find((e): e is Extract<RunEvent, { type: 'error' }> => e.type === 'error');
  const summary: TurnSummary = {
    runId: turn.runId,
    trigger: start?.trigger ?? 'wake',
    hearing: final === undefined && heardSoFar !== undefined,
    answer: answerText(turn),
    live: !end,
    timings: turnTimings(events),
    stages: stages(events),
  };
  if (question !== undefined) summary.question = question;
  if (start?.satellite) summary.room = start.satellite.area ?? start.satellite.name;
  if (end) summary.outcome = end.outcome;
  if (error) summary.error = { message: error.message, ...(error.fix ? { fix: error.fix } : {}) };
  const backend = events.findLast((e): e is Extract<RunEvent, { type: 'llm-backend' }> => e.type === 'llm-backend');
  if (backend) summary.answeredBy = backend.backend;
  if (backend?.why) summary.fallbackWhy = backend.why;
  if (backend?.role) summary.answeredAs = backend.role;
  if (backend?.chosenBy) summary.chosenBy = backend.chosenBy;
  const knowledge = events.findLast((e): e is Extract<RunEvent, { type: 'knowledge' }> => e.type === 'knowledge');
  if (knowledge?.passages.length) summary.sources = knowledge.passages;
  return summary;
}

/** The streamed pieces when we have them; the sentences otherwise (a screen that connected mid-answer). */
export function answerText(turn: TurnView): string {
  const streamed = turn.answer.trim();
  if (streamed) return streamed;
  return turn.events.flatMap((e) => (e.type === 'sentence' ? [e.text] : [])).join(' ');
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

/**
 * `next`, sharing every part that equals `previous`'s (the same object when nothing changed), so a component that
 * reads only an unchanged part (the timings while the answer streams) is not updated.
 */
export function reuseUnchanged(previous: TurnSummary | undefined, next: TurnSummary | undefined): TurnSummary | undefined {
  if (!previous || !next || previous.runId !== next.runId) return next;
  const before = previous as unknown as Record<string, unknown>;
  const merged: Record<string, unknown> = { ...next };
  for (const [key, value] of Object.entries(merged)) if (JSON.stringify(before[key]) === JSON.stringify(value)) merged[key] = before[key];
  const keys = new Set([...Object.keys(before), ...Object.keys(merged)]);
  return [...keys].every((key) => before[key] === merged[key]) ? previous : (merged as unknown as TurnSummary);
}
