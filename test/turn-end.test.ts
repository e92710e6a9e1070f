import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { turnEnd, type TurnEndPolicy } from '../core/pipeline/turn-end.ts';
import type { TurnEndReason } from '../core/protocol/run-events.ts';

/** The turn-end rule: how much silence ends a request, from what was said so far (pure, table-tested). */

const policy: TurnEndPolicy = { completeMs: 250, unsureMs: 700, trailingMs: 1500 };

const cases: [transcript: string, intentMatched: boolean, reason: TurnEndReason][] = [
  // A local skill recognises it: end soon.
  ['what time is it', true, 'intent'],
  ['Set a timer for five minutes.', true, 'intent'],
  ['wake me at seven', true, 'intent'],
  // A complete question or command, by its shape.
  ['What is the capital of France?', false, 'complete'],
  ["What's the weather like tomorrow?", false, 'complete'],
  ['Tell me a joke about penguins.', false, 'complete'],
  ['Can you explain how a heat pump works?', false, 'complete'],
  ['Turn off the kitchen lights.', false, 'complete'],
  // Trailing off mid-phrase: wait for the rest, even when what came before was a complete request.
  ['Set a timer for', false, 'trailing'],
  ['Set a timer for', true, 'trailing'],
  ['Set a timer for twelve', false, 'trailing'],
  ['Set a timer for 12', false, 'trailing'],
  ['Remind me in ten', false, 'trailing'],
  ['Remind me to call mum and', false, 'trailing'],
  ["What's the weather like in", false, 'trailing'],
  ['Turn on the', false, 'trailing'],
  ['What is the capital of, um', false, 'trailing'],
  ['Um...', false, 'trailing'],
  ['Tell me about the…', false, 'trailing'],
  ['Play some music by', false, 'trailing'],
  ['Add eggs, milk,', false, 'trailing'],
  // Nothing says either way: the configured hangover.
  ['', false, 'unsure'],
  ['Paris', false, 'unsure'],
  ['The kitchen lights.', false, 'unsure'],
  ['set a timer', false, 'unsure'],
  ['What is two plus two', false, 'unsure'],
];

describe('turn end from what was said (core/pipeline/turn-end.ts)', () => {
  for (const [transcript, intentMatched, reason] of cases) {
    test(`${JSON.stringify(transcript)}${intentMatched ? ' (a local skill recognises it)' : ''} → ${reason}`, () => {
      const end = turnEnd(transcript, { intentMatched }, policy);
      assert.equal(end.reason, reason);
      const silence = { complete: policy.completeMs, intent: policy.completeMs, trailing: policy.trailingMs, unsure: policy.unsureMs }[reason];
      assert.equal(end.silenceMs, silence);
    });
  }
});
