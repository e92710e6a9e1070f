import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { createLogger, type Logger } from '../base/log.ts';
import { parseConfig } from '../config/load.ts';
import type { Daemon } from '../core/daemon/daemon.ts';
import { choiceGrammar, matchChoice } from '../core/llm/classify.ts';
import { LlamaResponder } from '../core/llm/llama-responder.ts';
import { OpenAiResponder } from '../core/llm/openai-responder.ts';
import { ROUTE_CHOICES, RoleRouter, routingPrompt } from '../core/llm/role-router.ts';
import { turnTimings } from '../core/protocol/timings.ts';
import { summarize } from '../hud/src/lib/turn.ts';
import { startLlamaServer, type RunningLlamaServer } from './fixtures/llama-server.ts';
import { startRecordingProxy, streamedCompletion, type ProxiedExchange, type ProxyFault, type RecordingProxy } from './fixtures/recording-proxy.ts';
import { answerOf, askForEvents, llmBackendEvents, TypedDaemons } from './fixtures/typed-daemons.ts';
import { ensureTinyGguf } from './models/tiny-gguf.ts';

/**
 * The chat model's own routing call (llm.roles.route "rule-then-model", core/llm/role-router.ts): where the rule
 * on the words says chat, the chat model is asked "code or chat?" first. Whole daemons whose chat and code models
 * are two real llama-servers (the test-made random-weight GGUF under two names), each behind a recording
 * pass-through. The routing call goes with llama-server's GBNF `grammar`, so even random weights answer exactly
 * "code" or "chat"; to take each branch for certain, the pass-through narrows the grammar the server gets to one
 * word (the server still generates the answer), or stalls or fails the routing request. The local backend's call
 * runs in a real node-llama-cpp worker on the tiny model.
 */

let tiny: string;
let chatServer: RunningLlamaServer;
let codeServer: RunningLlamaServer;
let chatProxy: RecordingProxy;
let codeProxy: RecordingProxy;
/** What the chat pass-through does to routing requests in the test that runs now. */
let narrowTo: 'code' | 'chat' | undefined;
let routingFault: ((sent: Record<string, unknown>) => ProxyFault | undefined) | undefined;

const isRouting = (sent: Record<string, unknown> | undefined) => sent !== undefined && Array.isArray(sent.messages) && sent.stream !== true;
const routingCalls = (proxy: RecordingProxy): ProxiedExchange[] => proxy.exchanges.filter((e) => e.path.endsWith('/chat/completions') && isRouting(e.sent));
const answerRequests = (proxy: RecordingProxy): ProxiedExchange[] => proxy.exchanges.filter((e) => e.path.endsWith('/chat/completions') && e.sent?.stream === true);
const routedAnswer = (exchange: ProxiedExchange) => (JSON.parse(exchange.received) as { choices: { message: { content: string } }[] }).choices[0]!.message.content;

before(async () => {
  tiny = await ensureTinyGguf();
  [chatServer, codeServer] = await Promise.all([startLlamaServer({ model: tiny, alias: 'chat-model' }), startLlamaServer({ model: tiny, alias: 'code-model' })]);
  chatProxy = await startRecordingProxy(
    chatServer.baseUrl,
    (body) => (narrowTo && isRouting(body) ? { ...body, grammar: `root ::= "${narrowTo}"` } : undefined),
    (_path, _before, sent) => (routingFault && isRouting(sent) ? routingFault(sent!) : undefined),
  );
  codeProxy = await startRecordingProxy(codeServer.baseUrl);
});
after(async () => {
  await typed.dispose();
  await Promise.all([chatProxy?.close(), codeProxy?.close()]);
  await Promise.all([chatServer?.kill(), codeServer?.kill()]);
});

/** A logger whose lines the test reads (JSON, from debug up). */
interface LogLine {
  level: number;
  msg: string;
  err?: string;
}
function capturedLog(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  return { log: createLogger('debug', sink), lines };
}
const routeLines = (lines: LogLine[]) => lines.filter((l) => l.msg.includes('routing call'));

const typed = new TypedDaemons('jarvis-route-');
const daemonWith = (llm: Record<string, unknown>, log: Logger = capturedLog().log): Promise<Daemon> => typed.start(llm, { log });
const ask = askForEvents;
const backends = llmBackendEvents;
const host = (baseUrl: string) => new URL(baseUrl).host;
const chatName = () => `chat-model at ${host(chatProxy.baseUrl)}`;
const codeName = () => `code-model at ${host(codeProxy.baseUrl)}`;

const codeRole = () => ({ backend: 'openai', openai: { baseUrl: codeProxy.baseUrl, model: 'code-model', maxRetries: 0, timeoutMs: 5000 } });
const routed = (roles: Record<string, unknown> = {}) => ({
  backend: 'openai',
  openai: { baseUrl: chatProxy.baseUrl, model: 'chat-model', maxRetries: 0, timeoutMs: 5000 },
  // Generous on a loaded test machine; the tests of a slow call set their own.
  roles: { code: codeRole(), route: 'rule-then-model', routeTimeoutMs: 10_000, ...roles },
});

describe('the chat model routes what the rule gives to chat (two real llama-servers)', () => {
  const reset = () => {
    narrowTo = undefined;
    routingFault = undefined;
  };

  test('it says code: the code server answers, and the turn and the HUD say the chat model chose it', async () => {
    reset();
    narrowTo = 'code';
    const daemon = await daemonWith(routed());
    const [calledBefore, codeBefore, chatBefore] = [routingCalls(chatProxy).length, answerRequests(codeProxy).length, answerRequests(chatProxy).length];
    const events = await ask(daemon, 'what is a monad');
    // The routing request: the question alone (no system prompt, no history), a few tokens, under the two words' grammar.
    const calls = routingCalls(chatProxy).slice(calledBefore);
    assert.equal(calls.length, 1);
    const sent = calls[0]!.sent!;
    assert.equal(sent.grammar, 'root ::= "code" | "chat"');
    assert.ok(typeof sent.max_tokens === 'number' && sent.max_tokens <= 4, String(sent.max_tokens));
    assert.equal(sent.stream, false);
    assert.deepEqual(sent.messages, [{ role: 'user', content: routingPrompt('what is a monad') }]);
    assert.equal(routedAnswer(calls[0]!), 'code', 'the server generated the word under the narrowed grammar');
    // The code server answered the question as it was asked.
    assert.equal(answerRequests(codeProxy).length, codeBefore + 1);
    assert.equal((answerRequests(codeProxy).at(-1)!.sent!.messages as { content: string }[]).at(-1)!.content, 'what is a monad');
    assert.equal(answerRequests(chatProxy).length, chatBefore, 'the chat model did not answer');
    const said = backends(events);
    assert.deepEqual(said.map((e) => [e.backend, e.role, e.chosenBy]), [[codeName(), 'code', 'model']]);
    assert.ok(typeof said[0]!.routeMs === 'number' && said[0]!.routeMs >= 0);
    assert.ok(answerOf(events).length > 0);
    const shown = summarize({ runId: events[0]!.runId, events, answer: answerOf(events) });
    assert.equal(shown.answeredAs, 'code');
    assert.equal(shown.chosenBy, 'model');
    assert.equal(turnTimings(events).route, said[0]!.routeMs);
  });

  test('it says chat: the chat server answers (and the code server is not asked)', async () => {
    reset();
    narrowTo = 'chat';
    const daemon = await daemonWith(routed());
    const [calledBefore, codeBefore, chatBefore] = [routingCalls(chatProxy).length, codeProxy.exchanges.length, answerRequests(chatProxy).length];
    const events = await ask(daemon, 'what is a monad');
    assert.equal(routingCalls(chatProxy).length, calledBefore + 1);
    assert.equal(routedAnswer(routingCalls(chatProxy).at(-1)!), 'chat');
    assert.equal(codeProxy.exchanges.length, codeBefore, 'the code server was not asked');
    assert.equal(answerRequests(chatProxy).length, chatBefore + 1);
    assert.deepEqual(backends(events).map((e) => [e.backend, e.role, e.chosenBy]), [[chatName(), undefined, 'model']]);
    assert.ok(answerOf(events).length > 0);
  });

  test('left to the random weights, the grammar makes the answer exactly one of the two words, and that role answers', async () => {
    reset();
    const daemon = await daemonWith(routed());
    const calledBefore = routingCalls(chatProxy).length;
    const events = await ask(daemon, 'tell me about the weather on the moon');
    const call = routingCalls(chatProxy)[calledBefore]!;
    const word = routedAnswer(call);
    assert.ok(word === 'code' || word === 'chat', JSON.stringify(word));
    assert.deepEqual(backends(events).map((e) => [e.backend, e.role, e.chosenBy]), [word === 'code' ? [codeName(), 'code', 'model'] : [chatName(), undefined, 'model']]);
  });

  test('a routing call slower than routeTimeoutMs: the chat model answers after the timeout, no error, one warning', async () => {
    reset();
    routingFault = () => 'hang';
    const { log, lines } = capturedLog();
    const daemon = await daemonWith(routed({ routeTimeoutMs: 400 }), log);
    const chatBefore = answerRequests(chatProxy).length;
    const started = performance.now();
    const events = await ask(daemon, 'what is a monad');
    assert.ok(!events.some((e) => e.type === 'error'), JSON.stringify(events.filter((e) => e.type === 'error')));
    assert.ok(answerOf(events).length > 0, 'the chat model answered');
    assert.equal(answerRequests(chatProxy).length, chatBefore + 1);
    const said = backends(events);
    assert.deepEqual(said.map((e) => [e.backend, e.role, e.chosenBy]), [[chatName(), undefined, 'rule']]);
    assert.ok(said[0]!.routeMs! >= 390 && said[0]!.routeMs! < 3000, String(said[0]!.routeMs));
    assert.ok(performance.now() - started < 8000);
    // A second one is logged at debug only.
    await ask(daemon, 'what is a functor');
    const logged = routeLines(lines);
    assert.deepEqual(logged.map((l) => l.level), [40, 20], JSON.stringify(logged));
    assert.match(logged[0]!.err ?? '', /longer than 400 ms/);
  });

  test('a routing call the server fails (HTTP 500): the chat model answers, no error', async () => {
    reset();
    routingFault = () => ({ status: 500, body: '{"error":{"message":"boom","type":"server_error"}}' });
    const { log, lines } = capturedLog();
    const daemon = await daemonWith(routed(), log);
    const events = await ask(daemon, 'what is a monad');
    assert.ok(!events.some((e) => e.type === 'error'));
    assert.ok(answerOf(events).length > 0);
    assert.deepEqual(backends(events).map((e) => [e.backend, e.role, e.chosenBy]), [[chatName(), undefined, 'rule']]);
    assert.match(routeLines(lines)[0]?.err ?? '', /HTTP 500: boom/);
  });

  test("a server that refuses the grammar field (HTTP 400) is asked again without it, and from then on without it", async () => {
    reset();
    routingFault = (sent) => (sent.grammar !== undefined ? { status: 400, body: '{"error":{"message":"Unrecognized request argument supplied: grammar","type":"invalid_request_error"}}' } : undefined);
    const daemon = await daemonWith(routed());
    const calledBefore = routingCalls(chatProxy).length;
    const first = await ask(daemon, 'what is a monad');
    await ask(daemon, 'what is a functor');
    const calls = routingCalls(chatProxy).slice(calledBefore);
    assert.deepEqual(calls.map((c) => [c.status, c.sent!.grammar !== undefined]), [[400, true], [200, false], [200, false]]);
    // Unconstrained, the random model's four tokens name a role or not: either way the turn is answered.
    assert.ok(answerOf(first).length > 0);
    assert.ok(!first.some((e) => e.type === 'error'));
  });

  test('route "rule" (the default) makes no routing call', async () => {
    reset();
    const daemon = await daemonWith({ ...routed(), roles: { code: codeRole() } });
    const calledBefore = routingCalls(chatProxy).length;
    const events = await ask(daemon, 'what is a monad');
    assert.equal(routingCalls(chatProxy).length, calledBefore, 'no routing call');
    assert.deepEqual(backends(events).map((e) => [e.backend, e.role, e.chosenBy, e.routeMs]), [[chatName(), undefined, 'rule', undefined]]);
    assert.equal(parseConfig({}).llm.roles.route, 'rule');
  });

  test('"ask the coder …" and a request the rule gives to code make no routing call', async () => {
    reset();
    narrowTo = 'chat';
    const daemon = await daemonWith(routed());
    const calledBefore = routingCalls(chatProxy).length;
    const forced = await ask(daemon, 'ask the coder what a monad is');
    const ruled = await ask(daemon, 'write a bash script that lists the files in a folder');
    // "Ask the chat model" is the user's choice too.
    const chat = await ask(daemon, 'ask the chat model how do I reverse a list in python');
    assert.equal(routingCalls(chatProxy).length, calledBefore, 'no routing call');
    assert.deepEqual(backends(forced).map((e) => [e.role, e.chosenBy, e.routeMs]), [['code', 'user', undefined]]);
    assert.deepEqual(backends(ruled).map((e) => [e.role, e.chosenBy, e.routeMs]), [['code', 'rule', undefined]]);
    assert.deepEqual(backends(chat).map((e) => [e.role, e.chosenBy]), [[undefined, 'user']]);
  });

  test("the routing question never enters the chat model's conversation", async () => {
    reset();
    narrowTo = 'chat';
    const daemon = await daemonWith(routed());
    const [calledBefore, chatBefore] = [routingCalls(chatProxy).length, answerRequests(chatProxy).length];
    const first = await ask(daemon, 'what is the capital of France');
    await ask(daemon, 'and what is the capital of Spain');
    assert.equal(routingCalls(chatProxy).length, calledBefore + 2);
    const second = routingCalls(chatProxy).at(-1)!.sent!;
    assert.deepEqual(second.messages, [{ role: 'user', content: routingPrompt('and what is the capital of Spain') }], 'the routing call carries no history');
    const answers = answerRequests(chatProxy).slice(chatBefore);
    assert.equal(answers.length, 2);
    const messages = answers[1]!.sent!.messages as { role: string; content: string }[];
    assert.deepEqual(
      messages.map((m) => [m.role, m.role === 'assistant' ? '…' : m.content]),
      [
        ['system', messages[0]!.content],
        ['user', 'what is the capital of France'],
        ['assistant', '…'],
        ['user', 'and what is the capital of Spain'],
      ],
    );
    assert.equal(messages[2]!.content.trim(), answerOf(first).trim());
    assert.ok(!JSON.stringify(messages).includes('Decide which assistant'));
    assert.equal(streamedCompletion(answers[1]!.received).content.length > 0, true);
  });

  test('a turn stopped during the routing call ends at once: no model answers it', async () => {
    reset();
    routingFault = () => 'hang';
    const chat = new OpenAiResponder(parseConfig({ llm: { maxAnswerTokens: 8 } }).llm, { baseUrl: chatProxy.baseUrl, model: 'chat-model', timeoutMs: 5000, maxRetries: 0 });
    const code = new OpenAiResponder(parseConfig({ llm: { maxAnswerTokens: 8 } }).llm, { baseUrl: codeProxy.baseUrl, model: 'code-model', timeoutMs: 5000, maxRetries: 0 });
    const router = new RoleRouter({ chat, code }, { route: 'rule-then-model', routeTimeoutMs: 20_000 });
    const [calledBefore, chatBefore, codeBefore] = [routingCalls(chatProxy).length, answerRequests(chatProxy).length, codeProxy.exchanges.length];
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 300);
    const started = performance.now();
    const pieces: string[] = [];
    for await (const piece of router.respond({ text: 'what is a monad', signal: stop.signal })) pieces.push(piece);
    assert.deepEqual(pieces, []);
    assert.ok(performance.now() - started < 3000, 'it did not wait for the routing timeout');
    assert.equal(routingCalls(chatProxy).length, calledBefore, 'the stalled routing request never completed');
    assert.equal(answerRequests(chatProxy).length, chatBefore);
    assert.equal(codeProxy.exchanges.length, codeBefore);
    await router.dispose();
  });
});

describe('the routing call on the local backend (a real node-llama-cpp worker, CPU)', () => {
  test("the worker picks one of the words under their grammar, and its chat history is as it was", async () => {
    const llm = parseConfig({ llm: { model: tiny, maxAnswerTokens: 8 } }).llm;
    const local = new LlamaResponder(llm, { threads: 1 });
    try {
      const signal = new AbortController().signal;
      for await (const _ of local.respond({ text: 'hello there', signal }));
      const before = await local.inspect();
      assert.deepEqual(before.questions, ['hello there']);
      const choice = await local.classify(routingPrompt('what is a monad'), ROUTE_CHOICES, signal);
      assert.ok((ROUTE_CHOICES as readonly string[]).includes(choice), choice);
      assert.equal(await local.classify('Say code.', ['code'], signal), 'code', 'one word allowed: that word');
      const afterwards = await local.inspect();
      assert.deepEqual(afterwards.questions, before.questions);
      assert.equal(afterwards.lastAnswer, before.lastAnswer);
      await assert.rejects(local.classify('anything', ROUTE_CHOICES, AbortSignal.abort()), { name: 'AbortError' });
      // The conversation goes on where it was.
      for await (const _ of local.respond({ text: 'and then', signal }));
      assert.deepEqual((await local.inspect()).questions, ['hello there', 'and then']);
    } finally {
      await local.dispose();
    }
  });

  test('a daemon with a local chat model routes through the model pool: the worker answers the routing call', async () => {
    const { log, lines } = capturedLog();
    const daemon = await daemonWith({ model: tiny, contextSize: 2048, roles: { code: codeRole(), route: 'rule-then-model', routeTimeoutMs: 20_000 } }, log);
    const codeBefore = answerRequests(codeProxy).length;
    const events = await ask(daemon, 'what is a monad');
    assert.deepEqual(routeLines(lines), [], 'the routing call did not fail');
    assert.ok(answerOf(events).length > 0);
    const said = backends(events);
    // The random model's greedy pick is one of the two; the turn follows it.
    if (said.length > 0) {
      assert.deepEqual(said.map((e) => [e.backend, e.role, e.chosenBy]), [[codeName(), 'code', 'model']]);
      assert.equal(answerRequests(codeProxy).length, codeBefore + 1);
    } else {
      assert.equal(answerRequests(codeProxy).length, codeBefore, 'the local chat model answered');
    }
  });
});

describe('choices', () => {
  test('the grammar of the words, and the word an answer names', () => {
    assert.equal(choiceGrammar(['code', 'chat']), 'root ::= "code" | "chat"');
    assert.equal(matchChoice('code', ['code', 'chat']), 'code');
    assert.equal(matchChoice(' Chat.', ['code', 'chat']), 'chat');
    assert.equal(matchChoice('co', ['code', 'chat']), 'code', 'cut off after two characters');
    assert.equal(matchChoice('c', ['code', 'chat']), undefined, 'names both');
    assert.equal(matchChoice('xyz', ['code', 'chat']), undefined);
    assert.equal(matchChoice('', ['code', 'chat']), undefined);
  });
});
