import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { systemClock } from '../base/clock.ts';
import { silentLogger } from '../base/log.ts';
import { parseConfig } from '../config/load.ts';
import { createDaemon, type Daemon } from '../core/daemon/daemon.ts';
import type { RunEvent } from '../core/protocol/run-events.ts';
import { SKILL_TOOLS, SkillTools } from '../core/skills/skill-tools.ts';
import type { SkillRunner } from '../core/skills/skill-runner.ts';
import { startLlamaServer, type RunningLlamaServer } from './fixtures/llama-server.ts';
import { startRecordingProxy, streamedCompletion, type RecordingProxy } from './fixtures/recording-proxy.ts';
import { ensureTinyGguf, writeTinyGguf } from './models/tiny-gguf.ts';
import { openAiResponder } from '../core/llm/openai-responder.ts';
import { rejectsWith } from './fixtures/rejects-with.ts';

/**
 * Function calling through an OpenAI-compatible server, for real: the whole daemon (createDaemon, local skills
 * on) asks a real llama-server (built from the llama.cpp sources node-llama-cpp ships) with the skills' function
 * definitions as OpenAI `tools`, the server generates a call, JARVIS runs the skill with the arguments the server
 * produced and sends the result back in the next request.
 *
 * A random-weight model never calls a function by itself, so the test forces one the way the server allows:
 * `tool_choice: "required"`, with which llama-server generates the answer under its tool-call grammar. JARVIS
 * sends no tool_choice (the server's default, "auto", as in production); a recording pass-through between JARVIS
 * and the server adds "required" to the first request of the turn, and keeps what both sides sent. To the request
 * with the result it adds "none": under "auto" the server parses the random text for calls as it streams and
 * rejects it halfway ("does not match the expected peg-native format"), a failure of random weights. The model
 * carries Meta's Llama 3.1 chat template, whose calls are bare JSON: llama-server (with its Jinja templates, on by
 * default in this version) then constrains the call from the first token it generates. Sampling is greedy
 * (llm.temperature 0), so the call is the same on every run.
 */

let server: RunningLlamaServer;
let proxy: RecordingProxy;
let daemon: Daemon;
let dataDir: string;

before(async () => {
  // The prompt holds the skills' 15 definitions, about 6000 of the tiny model's mostly one-character tokens.
  // Four heads of 8 (the tests' models had them before version 3 of the writer): greedy on these weights the call is
  // listTimers({}), short and complete; the default two heads take greedy decoding elsewhere (no complete call).
  const model = await writeTinyGguf({ template: 'llama3.1', contextLength: 16_384, shape: { heads: 4, kvHeads: 2 } });
  server = await startLlamaServer({ model, contextSize: 16_384 });
  proxy = await startRecordingProxy(server.baseUrl, (body) => {
    if (!Array.isArray(body.tools)) return undefined;
    const withResults = (body.messages as { role: string }[]).some((m) => m.role === 'tool');
    return { ...body, tool_choice: withResults ? 'none' : 'required' };
  });
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-tools-'));
  const config = parseConfig({
    dataDir,
    llm: { backend: 'openai', temperature: 0, maxAnswerTokens: 160, openai: { baseUrl: proxy.baseUrl, model: 'tiny', maxRetries: 0, timeoutMs: 120_000 } },
  });
  daemon = await createDaemon(config, { log: silentLogger, loadLlm: 'when-asked' });
  daemon.assistant.dispatch({ type: 'ready' });
});
after(async () => {
  await daemon?.dispose();
  await proxy?.close();
  await server?.kill();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('tool calls against a real llama-server', () => {
  test('the server calls a skill; JARVIS runs it with the parsed arguments and sends the result back', async (t) => {
    const events: RunEvent[] = [];
    const unsubscribe = daemon.assistant.bus.subscribe((event) => events.push(event));
    // Nothing the local skills recognise: the question goes to the model, with the skills as its functions.
    const result = await daemon.assistant.ask('could you help me with the eggs').finally(unsubscribe);
    assert.equal(result.outcome, 'answered', JSON.stringify(events.filter((e) => e.type === 'error')));

    const completions = proxy.exchanges.filter((e) => e.path.endsWith('/chat/completions'));
    assert.equal(completions.length, 2, 'one request for the call, one with its result');
    const [first, second] = completions as [(typeof completions)[number], (typeof completions)[number]];

    // What JARVIS sent: every skill as an OpenAI function, and no tool_choice (the server's "auto").
    const offered = first.sent!.tools as { type: string; function: { name: string; parameters: unknown } }[];
    assert.deepEqual(offered.map((t) => t.function.name), SKILL_TOOLS.map((t) => t.name));
    assert.ok(offered.every((t) => t.type === 'function'));
    assert.equal(first.sent!.tool_choice, undefined, 'JARVIS leaves tool_choice to the server (auto)');
    assert.equal(first.forwarded!.tool_choice, 'required');

    // What the server generated: a call of one of the offered functions.
    const made = streamedCompletion(first.received);
    assert.equal(made.toolCalls.length, 1, first.received.slice(-2000));
    const call = made.toolCalls[0]!;
    assert.ok(SKILL_TOOLS.some((t) => t.name === call.name), call.name);
    const args = JSON.parse(call.arguments || '{}') as unknown;

    // JARVIS ran that skill with those arguments (the same SkillCall the arguments make), reported as the LLM's.
    const expected = new SkillTools(undefined as unknown as SkillRunner, systemClock, 3).toSkillCall(call.name, args);
    const started = events.find((e): e is Extract<RunEvent, { type: 'intent-start' }> => e.type === 'intent-start');
    const ended = events.find((e): e is Extract<RunEvent, { type: 'intent-end' }> => e.type === 'intent-end');
    assert.equal(started?.via, 'llm');
    assert.equal(started?.skill, expected.skill);
    assert.ok(ended?.ok, JSON.stringify(ended));

    // And sent back: the call as the assistant's turn, then the skill's result under the call's id.
    const messages = second.sent!.messages as { role: string; content: string | null; tool_call_id?: string; tool_calls?: { id: string; function: { name: string; arguments: string } }[] }[];
    const asked = messages.find((m) => m.role === 'assistant' && m.tool_calls);
    assert.deepEqual(asked?.tool_calls?.map((c) => [c.id, c.function.name, JSON.parse(c.function.arguments)]), [[call.id, call.name, args]]);
    const answer = messages.find((m) => m.role === 'tool');
    assert.equal(answer?.tool_call_id, call.id);
    const sentBack = JSON.parse(answer!.content!) as { ok: boolean; alreadyToldUser?: string };
    assert.equal(sentBack.ok, true);
    assert.equal(sentBack.alreadyToldUser, ended!.said);
    assert.equal(second.sent!.tool_choice, undefined);
    assert.equal(second.forwarded!.tool_choice, 'none');

    // The user heard what the skill said, then the model's words.
    const end = events.find((e): e is Extract<RunEvent, { type: 'llm-end' }> => e.type === 'llm-end');
    assert.ok(end?.text.includes(ended!.said), `${end?.text} / ${ended!.said}`);
    t.diagnostic(`the server called ${call.name}(${call.arguments})`);
  });

  test('a llama-server started without its Jinja templates (--no-jinja, as older builds ran) refuses functions: the fix says --jinja', async () => {
    const plain = await startLlamaServer({ model: await ensureTinyGguf(), args: ['--no-jinja'] });
    try {
      const responder = openAiResponder(parseConfig({ llm: { backend: 'openai', maxAnswerTokens: 8, openai: { baseUrl: plain.baseUrl, model: 'tiny', maxRetries: 0 } } }).llm, {});
      const tools = { definitions: SKILL_TOOLS, maxCallsPerTurn: 3, call: async () => ({ result: null }) };
      const error = await rejectsWith(
        (async () => {
          for await (const _ of responder.respond({ text: 'hello', signal: new AbortController().signal, tools })) void _;
        })(),
        'llm-remote-failed',
        /tools param requires --jinja flag/,
      );
      assert.match(error.fix ?? '', /Start llama-server with --jinja/);
    } finally {
      await plain.kill();
    }
  });
});
