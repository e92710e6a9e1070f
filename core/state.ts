import type { AssistantState, Phase, Problem } from './protocol/state.ts';

/**
 * The assistant's state, as a pure function of the previous state and an event. The daemon applies it and
 * publishes the result; nothing else decides what state JARVIS is in.
 *
 * `problems` are the things a user must fix (no microphone, a model missing); while any of them is blocking,
 * the phase is `degraded` and it returns to `idle` when the last blocking one is cleared.
 */

export type AssistantEvent =
  | { type: 'ready' }
  | { type: 'wake' }
  | { type: 'follow-up-speech' }
  | { type: 'utterance-end' }
  | { type: 'text-request' }
  | { type: 'no-speech' }
  | { type: 'speaking' }
  | { type: 'turn-end' }
  | { type: 'interrupted' }
  | { type: 'problem'; problem: Problem }
  | { type: 'problem-cleared'; id: string };

export const initialState: AssistantState = { phase: 'booting', problems: [] };

const TURN_PHASES: readonly Phase[] = ['listening', 'thinking', 'speaking'];

export function transition(state: AssistantState, event: AssistantEvent): AssistantState {
  switch (event.type) {
    case 'problem': {
      const problems = [...state.problems.filter((p) => p.id !== event.problem.id), event.problem];
      return { problems, phase: settle(state.phase, problems) };
    }
    case 'problem-cleared': {
      if (!state.problems.some((p) => p.id === event.id)) return state;
      const problems = state.problems.filter((p) => p.id !== event.id);
      const phase = state.phase === 'degraded' ? settle('idle', problems) : settle(state.phase, problems);
      return { problems, phase };
    }
    default: {
      if (state.phase === 'booting' && event.type !== 'ready') return state;
      // Without a working voice loop only typed questions can start a turn.
      if (state.phase === 'degraded' && event.type !== 'text-request') return state;
      const next = nextPhase(state.phase, event.type);
      const settled = next === 'idle' ? settle('idle', state.problems) : next;
      return settled === state.phase ? state : { ...state, phase: settled };
    }
  }
}

function nextPhase(phase: Phase, event: Exclude<AssistantEvent['type'], 'problem' | 'problem-cleared'>): Phase {
  switch (event) {
    case 'ready':
      return phase === 'booting' ? 'idle' : phase;
    case 'wake':
      // A wake while thinking or speaking is a barge-in: the current answer is dropped and we listen again.
      return 'listening';
    case 'follow-up-speech':
      return phase === 'idle' ? 'listening' : phase;
    case 'utterance-end':
      return phase === 'listening' ? 'thinking' : phase;
    case 'text-request':
      return phase === 'idle' || phase === 'listening' || phase === 'degraded' ? 'thinking' : phase;
    case 'no-speech':
      return phase === 'listening' ? 'idle' : phase;
    case 'speaking':
      return phase === 'thinking' ? 'speaking' : phase;
    case 'turn-end':
    case 'interrupted':
      return TURN_PHASES.includes(phase) ? 'idle' : phase;
  }
}

function settle(phase: Phase, problems: readonly Problem[]): Phase {
  const blocked = problems.some((p) => p.blocking);
  if (blocked) return phase === 'idle' || phase === 'booting' || phase === 'listening' ? 'degraded' : phase;
  return phase === 'degraded' ? 'idle' : phase;
}
