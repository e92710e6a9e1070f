import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { initialState, transition, type AssistantEvent } from '../core/state.ts';
import { type AssistantState, type Phase, type Problem } from '../core/protocol/state.ts';

const mic: Problem = { id: 'microphone', message: 'no microphone', fix: 'plug it in', blocking: true };
const voice: Problem = { id: 'piper-voice', message: 'no Piper voice', fix: 'download it', blocking: false };
const at = (phase: Phase, problems: Problem[] = []): AssistantState => ({ phase, problems });

const table: [Phase, AssistantEvent['type'], Phase][] = [
  ['booting', 'ready', 'idle'],
  ['booting', 'wake', 'booting'],
  ['idle', 'wake', 'listening'],
  ['idle', 'follow-up-speech', 'listening'],
  ['idle', 'text-request', 'thinking'],
  ['idle', 'utterance-end', 'idle'],
  ['idle', 'speaking', 'idle'],
  ['listening', 'utterance-end', 'thinking'],
  ['listening', 'no-speech', 'idle'],
  ['listening', 'wake', 'listening'],
  ['thinking', 'speaking', 'speaking'],
  ['thinking', 'turn-end', 'idle'],
  ['thinking', 'wake', 'listening'],
  ['thinking', 'interrupted', 'idle'],
  ['thinking', 'no-speech', 'thinking'],
  ['speaking', 'turn-end', 'idle'],
  ['speaking', 'interrupted', 'idle'],
  ['speaking', 'wake', 'listening'],
  ['speaking', 'follow-up-speech', 'speaking'],
  ['degraded', 'wake', 'degraded'],
  ['degraded', 'ready', 'degraded'],
];

describe('assistant state machine', () => {
  for (const [from, event, to] of table) {
    test(`${from} --${event}--> ${to}`, () => {
      const problems = from === 'degraded' ? [mic] : [];
      const next = transition(at(from, problems), { type: event } as AssistantEvent);
      assert.equal(next.phase, to);
    });
  }

  test('an ignored event returns the same object (nothing to publish)', () => {
    const state = at('idle');
    assert.equal(transition(state, { type: 'speaking' }), state);
  });

  test('a blocking problem degrades an idle assistant; clearing it returns to idle', () => {
    const degraded = transition(at('idle'), { type: 'problem', problem: mic });
    assert.deepEqual(degraded, { phase: 'degraded', problems: [mic] });
    assert.deepEqual(transition(degraded, { type: 'problem-cleared', id: 'microphone' }), { phase: 'idle', problems: [] });
  });

  test('a blocking problem during booting degrades at once', () => {
    assert.equal(transition(initialState, { type: 'problem', problem: mic }).phase, 'degraded');
  });

  test('a non-blocking problem is listed but does not degrade', () => {
    assert.deepEqual(transition(at('idle'), { type: 'problem', problem: voice }), { phase: 'idle', problems: [voice] });
  });

  test('the same problem reported twice is listed once (the latest)', () => {
    const again = { ...mic, message: 'still no microphone' };
    const state = transition(transition(at('idle'), { type: 'problem', problem: mic }), { type: 'problem', problem: again });
    assert.deepEqual(state.problems, [again]);
  });

  test('losing the microphone mid-answer lets the answer finish, then degrades', () => {
    const speaking = transition(at('speaking'), { type: 'problem', problem: mic });
    assert.equal(speaking.phase, 'speaking');
    assert.equal(transition(speaking, { type: 'turn-end' }).phase, 'degraded');
  });

  test('a typed question is still answered while degraded, and the state returns to degraded after', () => {
    const thinking = transition(at('degraded', [mic]), { type: 'text-request' });
    assert.equal(thinking.phase, 'thinking');
    assert.equal(transition(transition(thinking, { type: 'speaking' }), { type: 'turn-end' }).phase, 'degraded');
  });

  test('clearing one of two blocking problems stays degraded', () => {
    const other: Problem = { ...mic, id: 'speaker' };
    let state = transition(at('idle'), { type: 'problem', problem: mic });
    state = transition(state, { type: 'problem', problem: other });
    state = transition(state, { type: 'problem-cleared', id: 'microphone' });
    assert.equal(state.phase, 'degraded');
    assert.equal(transition(state, { type: 'problem-cleared', id: 'speaker' }).phase, 'idle');
  });
});
