import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RunEvent, RunEventBody } from '../core/protocol/run-events.ts';
import { summarize } from '../hud/src/lib/turn.ts';

/** What the conversation panel reads from a turn's run events: here, who answered it. */

function turn(bodies: RunEventBody[]): { runId: number; events: RunEvent[]; answer: string } {
  const events = bodies.map((body, i) => ({ ...body, runId: 7, sinceStart: i * 10, t: i * 10 }) as RunEvent);
  return { runId: 7, events, answer: 'Paris.' };
}

test('a turn answered by the model server names it; one answered by the fallback says why', () => {
  const start: RunEventBody[] = [{ type: 'run-start', trigger: 'text' }, { type: 'llm-start', text: 'capital of france' }];
  const byServer = summarize(turn([...start, { type: 'llm-backend', backend: 'qwen at 10.0.0.5:8080' }, { type: 'first-token', ms: 80 }]));
  assert.equal(byServer.answeredBy, 'qwen at 10.0.0.5:8080');
  assert.equal(byServer.fallbackWhy, undefined);

  const byFallback = summarize(
    turn([...start, { type: 'llm-backend', backend: 'the local model', fallbackFrom: 'qwen at 10.0.0.5:8080', why: 'the model server at http://10.0.0.5:8080/v1 cannot be reached' }]),
  );
  assert.equal(byFallback.answeredBy, 'the local model');
  assert.match(byFallback.fallbackWhy ?? '', /cannot be reached/);

  assert.equal(summarize(turn(start)).answeredBy, undefined, 'the local model alone is not named on every turn');
});

test('a turn answered by the code model says so (llm.roles); the chat model is not labelled', () => {
  const start: RunEventBody[] = [{ type: 'run-start', trigger: 'text' }, { type: 'llm-start', text: 'write a bash script that lists files' }];
  const byCoder = summarize(turn([...start, { type: 'llm-backend', backend: 'qwen-coder at gpu-box:8080', role: 'code' }]));
  assert.equal(byCoder.answeredAs, 'code');
  assert.equal(byCoder.answeredBy, 'qwen-coder at gpu-box:8080');
  const byChat = summarize(turn([...start, { type: 'llm-backend', backend: 'qwen at gpu-box:8080' }]));
  assert.equal(byChat.answeredAs, undefined);
});
