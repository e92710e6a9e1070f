import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseConfig } from '../config/load.ts';
import { RunEventBus } from '../core/events.ts';
import { type RunEvent } from '../core/protocol/run-events.ts';
import { LlamaResponder } from '../core/llm/llama-responder.ts';
import { silentLogger } from '../base/log.ts';
import type { ToolHost } from '../core/responder.ts';
import { SKILL_TOOLS } from '../core/skills/skill-tools.ts';
import { SkillsRuntime } from '../core/skills/skills-runtime.ts';
import { ManualClock } from './fixtures/manual-clock.ts';
import { ScriptedResponder } from './fixtures/scripted-responder.ts';
import { writeTinyGguf } from './models/tiny-gguf.ts';

/**
 * The LLM calling skills through node-llama-cpp's function calling, in the real worker process.
 *
 * A random-weight model never decides to call a function, so the model here is made to: a test-made bigram GGUF
 * (attention and feed-forward switched off) whose only strong logit after the ChatML assistant header is the
 * piece "||call:", node-llama-cpp's function-call prefix (test/models/tiny-gguf.ts, alwaysCallsFunction). From
 * that prefix on, node-llama-cpp itself generates the function name and the arguments under the grammar of the
 * function's JSON schema; the schema here allows exactly one value per argument, so the arguments are known.
 * What is proven: the call crosses from the worker to the daemon with parsed arguments, runs the real skill,
 * the skill's sentence reaches the answer and its result reaches the model's context. Not proven: that a real
 * model chooses the right function (that needs real weights).
 */

const START = new Date(2025, 10, 25, 15, 0, 0).getTime();
let dir: string;
let skills: SkillsRuntime;
let clock: ManualClock;
let llm: LlamaResponder;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-tools-'));
  clock = new ManualClock(START);
  const config = parseConfig({ dataDir: dir });
  skills = new SkillsRuntime(config, silentLogger, { clock });
  // Room for the documentation of every skill function in the system prompt (this vocabulary is mostly bytes).
  const model = await writeTinyGguf({ alwaysCallsFunction: true, contextLength: 8192 });
  // Each generated call is ~60 tokens here: room for the repeat that the loop guard must stop.
  llm = new LlamaResponder(parseConfig({ llm: { model, gpu: 'cpu', maxAnswerTokens: 400, temperature: 0, contextSize: 8192 } }).llm, { threads: 1 });
  await llm.load();
});

after(async () => {
  await llm?.dispose();
  skills?.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The real skill tools, with setTimer's schema narrowed to one value per argument so the call is known. */
function pastaTimerTools(): ToolHost {
  const setTimer = SKILL_TOOLS.find((t) => t.name === 'setTimer')!;
  return {
    definitions: [
      { ...setTimer, params: { type: 'object', properties: { hours: { enum: [0] }, minutes: { enum: [5] }, seconds: { enum: [0] }, name: { enum: ['pasta'] } } } },
    ],
    maxCallsPerTurn: 4,
    call: (name, params, context) => skills.tools.call(name, params, context),
  };
}

async function ask(text: string, tools: ToolHost): Promise<{ answer: string; events: RunEvent[] }> {
  const run = new RunEventBus().startRun('text');
  let answer = '';
  for await (const piece of llm.respond({ text, signal: new AbortController().signal, run, tools })) answer += piece;
  run.end('answered');
  return { answer, events: run.events };
}

describe('tool calling through node-llama-cpp (real worker; test-made bigram GGUF that always opens with "||call:", grammar-constrained arguments)', () => {
  test('the function runs in the daemon with the parsed arguments; its sentence starts the answer and its result is in the model context', async () => {
    const { answer, events } = await ask('could you put something on for the pasta', pastaTimerTools());

    const start = events.find((e) => e.type === 'intent-start');
    assert.ok(start?.type === 'intent-start', JSON.stringify(events.map((e) => e.type)));
    assert.equal(start.via, 'llm');
    assert.equal(start.skill, 'timer.set');
    assert.deepEqual(start.args, { durationMs: 300_000, label: 'pasta' });
    const end = events.find((e) => e.type === 'intent-end');
    assert.ok(end?.type === 'intent-end' && end.ok);
    assert.equal(end.said, 'Pasta timer set for 5 minutes.');

    assert.ok(answer.startsWith('Pasta timer set for 5 minutes.'), `answer: ${JSON.stringify(answer)}`);
    const timers = skills.timers.list();
    assert.equal(timers.length, 1);
    assert.equal(timers[0]!.label, 'pasta');
    assert.equal(timers[0]!.dueAt, START + 300_000);

    const state = await llm.inspect();
    assert.equal(state.lastFunctionCalls[0]?.name, 'setTimer');
    assert.deepEqual(state.lastFunctionCalls[0]?.params, { hours: 0, minutes: 5, seconds: 0, name: 'pasta' });
    const result = state.lastFunctionCalls[0]?.result as Record<string, unknown>;
    assert.equal(result.ok, true);
    assert.equal(result.alreadyToldUser, 'Pasta timer set for 5 minutes.');
    assert.equal(result.name, 'pasta');
  });

  test('a model that repeats the same call is stopped: the call runs once and the answer ends ("toolLoop")', async () => {
    skills.timers.cancel(skills.timers.list().map((t) => t.id));
    await ask('another pasta timer please', pastaTimerTools());
    const stats = llm.lastTurn!;
    assert.equal(stats.stopReason, 'toolLoop');
    assert.equal(stats.toolCalls, 1);
    assert.equal(skills.timers.list().length, 1, 'one timer, not one per repeat');
  });

  test('without tools the same model answers as plain chat: no function runs', async () => {
    const before = skills.timers.list().length;
    const run = new RunEventBus().startRun('text');
    for await (const _ of llm.respond({ text: 'hello', signal: new AbortController().signal, run })) {
      // drain
    }
    assert.equal(skills.timers.list().length, before);
    assert.ok(!run.events.some((e) => e.type === 'intent-start'));
  });

  test('every skill tool schema compiles to a node-llama-cpp grammar: with all of them offered, a call is generated and validated', async () => {
    const offered: ToolHost = { definitions: SKILL_TOOLS, maxCallsPerTurn: 2, call: (name, params, context) => skills.tools.call(name, params, context) };
    const { events } = await ask('do something', offered);
    const start = events.find((e) => e.type === 'intent-start');
    const calls = (await llm.inspect()).lastFunctionCalls;
    assert.ok(calls.length >= 1, 'a function was called');
    assert.ok(SKILL_TOOLS.some((t) => t.name === calls[0]!.name));
    // Arguments from a random model may be nonsense; they are either run or refused with a reason, never thrown.
    const result = calls[0]!.result as Record<string, unknown>;
    assert.ok(start?.type === 'intent-start' || typeof result.error === 'string', JSON.stringify(result));
  });
});

describe('skill tools, checked in the daemon', () => {
  test('arguments a model can get wrong are refused with a reason, and nothing runs', async () => {
    const context = { signal: new AbortController().signal };
    const bad = await skills.tools.call('setAlarm', { time: '25:99', day: 'today', remindAbout: null }, context);
    assert.match(String((bad.result as Record<string, unknown>).error), /not a time of day/);
    const unknown = await skills.tools.call('launchRocket', {}, context);
    assert.match(String((unknown.result as Record<string, unknown>).error), /no function called launchRocket/);
    const wrongType = await skills.tools.call('setVolume', { percent: 'loud' }, context);
    assert.match(String((wrongType.result as Record<string, unknown>).error), /bad arguments for setVolume/);
    assert.equal(skills.output.state.level, 100, 'the volume did not change');
  });

  test('an alarm from the LLM: 24-hour time and a day become the next such moment', () => {
    const call = skills.tools.toSkillCall('setAlarm', { time: '07:30', day: 'tomorrow', remindAbout: null });
    assert.deepEqual(call, { skill: 'alarm.set', kind: 'alarm', dueAt: new Date(2025, 10, 26, 7, 30).getTime() });
    const reminder = skills.tools.toSkillCall('setAlarm', { time: '17:00', day: 'friday', remindAbout: 'call mum' });
    assert.deepEqual(reminder, { skill: 'alarm.set', kind: 'reminder', dueAt: new Date(2025, 10, 28, 17, 0).getTime(), label: 'call mum' });
  });

  test('a question for the LLM gets the date, the time and the household notes that match it in front; tools come with it', async () => {
    skills.memory.remember('The wifi password is on the fridge');
    skills.memory.remember('The bins go out on Tuesday');
    const scripted = new ScriptedResponder(() => 'It is on the fridge.', 0);
    const seen: { text: string; tools: boolean }[] = [];
    const respond = scripted.respond.bind(scripted);
    scripted.respond = (request) => {
      seen.push({ text: request.text, tools: request.tools !== undefined });
      return respond(request);
    };
    const responder = skills.responder(scripted);
    for await (const _ of responder.respond({ text: 'where did I put the wifi password', signal: new AbortController().signal })) {
      // drain
    }
    assert.deepEqual(seen, [
      { text: '[Tuesday the 25th of November, 2025, 3 PM. Household notes: The wifi password is on the fridge.] where did I put the wifi password', tools: true },
    ]);
  });
});
