import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RunEvent } from '../core/protocol/run-events.ts';
import { unreadableAnswer } from '../core/pipeline/unreadable-answer.ts';
import { startTestHud } from './fixtures/hud-server.ts';
import { ScriptedResponder } from './fixtures/scripted-responder.ts';

/** A model with damaged weights "answers" control characters: the turn says so instead of counting it answered. */

test('text in any script, with emoji, numbers and punctuation, is readable; control and replacement characters are not', () => {
  for (const answer of [
    'It is sunny today, take a hat.',
    '今日は晴れです。帽子を持って行ってください。',
    'Сегодня солнечно, возьмите шляпу.',
    'Sure! 🌞🌞 Take a hat, and 2 litres of water.',
    'Line one.\n\tLine two, indented.\r\n',
  ]) {
    assert.equal(unreadableAnswer(answer), undefined, answer);
  }
  assert.equal(unreadableAnswer('\u0001\u0002'), undefined, 'too short to tell');
  const damaged = unreadableAnswer('\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008\u000e\u000f\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019ab\ufffd\ufffd');
  assert.equal(damaged?.code, 'llm-unreadable');
  assert.match(damaged!.fix, /jarvis models pull/);
  assert.ok(unreadableAnswer('\ufffd'.repeat(30)));
});

test('a turn whose model answers control characters ends with an error and its fix, not as answered', async () => {
  const garbage = Array.from({ length: 60 }, (_, i) => String.fromCharCode(1 + (i % 7))).join('');
  const hud = await startTestHud({ responder: new ScriptedResponder(() => garbage) });
  try {
    const events: RunEvent[] = [];
    const off = hud.assistant.bus.subscribe((e) => events.push(e));
    const result = await hud.assistant.ask('what is the weather');
    off();
    assert.equal(result.outcome, 'error');
    const error = events.find((e) => e.type === 'error');
    assert.ok(error?.type === 'error' && error.code === 'llm-unreadable', JSON.stringify(error));
    assert.ok(!events.some((e) => e.type === 'sentence' && /[\u0000-\u0008]/.test(e.text)), 'none of it was said');
  } finally {
    await hud.close();
  }
});
