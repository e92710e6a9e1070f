import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseConfig } from '../config/load.ts';
import { openAiResponder, type OpenAiResponder } from '../core/llm/openai-responder.ts';
import { startLlamaServer, type RunningLlamaServer } from './fixtures/llama-server.ts';
import { startRecordingProxy, type ProxyFault, type RecordingProxy } from './fixtures/recording-proxy.ts';
import { rejectsWith } from './fixtures/rejects-with.ts';
import { ensureTinyGguf } from './models/tiny-gguf.ts';

/**
 * The model server failures the OpenAI-compatible backend must survive that a healthy llama-server never makes by
 * itself: busy (429), broken (5xx), stalled, and an answer with nothing in it. A pass-through in front of the real
 * llama-server answers those requests itself; every other request (and every retry it lets through) is the real
 * server's.
 */

const CHAT = '/v1/chat/completions';
let server: RunningLlamaServer;
const proxies: RecordingProxy[] = [];

before(async () => {
  server = await startLlamaServer({ model: await ensureTinyGguf() });
});
after(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  await server?.kill();
});

async function behind(fault: (before: number) => ProxyFault | undefined, openai: Record<string, unknown>): Promise<{ responder: OpenAiResponder; proxy: RecordingProxy }> {
  const proxy = await startRecordingProxy(server.baseUrl, undefined, (path, before) => (path === CHAT ? fault(before) : undefined));
  proxies.push(proxy);
  const llm = parseConfig({ llm: { backend: 'openai', maxAnswerTokens: 24, openai: { baseUrl: proxy.baseUrl, model: 'tiny', timeoutMs: 5000, ...openai } } }).llm;
  return { responder: openAiResponder(llm, {}), proxy };
}

async function answer(responder: OpenAiResponder, text: string): Promise<string> {
  let said = '';
  for await (const piece of responder.respond({ text, signal: new AbortController().signal })) said += piece;
  return said;
}

const chatRequests = (proxy: RecordingProxy) => proxy.exchanges.filter((e) => e.path === CHAT).map((e) => e.status);
// The client waits what the server asks before a retry: a few ms keeps the test short.
const busy: ProxyFault = { status: 429, headers: { 'retry-after-ms': '20' }, body: '{"error":{"message":"too many requests","type":"rate_limit"}}' };
const broken: ProxyFault = { status: 503, headers: { 'retry-after-ms': '20' }, body: '{"error":{"message":"Loading model","type":"unavailable_error"}}' };

describe('model server failures, in front of a real llama-server', () => {
  test('busy (429) twice, then free: JARVIS retries with back-off and the answer comes', async () => {
    const { responder, proxy } = await behind((before) => (before < 2 ? busy : undefined), { maxRetries: 2 });
    assert.ok((await answer(responder, 'what is the capital of france')).length > 0);
    assert.deepEqual(chatRequests(proxy), [429, 429, 200]);
  });

  test('busy beyond the retries: a short error saying so, after exactly the configured retries', async () => {
    const { responder, proxy } = await behind(() => busy, { maxRetries: 1 });
    await rejectsWith(answer(responder, 'hello'), 'llm-remote-busy', /is busy \(HTTP 429, too many requests\)/);
    assert.deepEqual(chatRequests(proxy), [429, 429]);
  });

  test("a server error (503) is retried, then said with the server's own words; the next question, once it is well, is answered", async () => {
    let failing = true;
    const { responder, proxy } = await behind(() => (failing ? broken : undefined), { maxRetries: 1 });
    const error = await rejectsWith(answer(responder, 'hello'), 'llm-remote-failed', /failed \(HTTP 503: Loading model\)/);
    assert.match(error.fix, /server's log/);
    assert.deepEqual(chatRequests(proxy), [503, 503]);
    failing = false;
    assert.ok((await answer(responder, 'and now?')).length > 0);
  });

  test('a server that never answers: "did not answer within" the configured time, not a hang', async () => {
    const { responder } = await behind(() => 'hang', { maxRetries: 0, timeoutMs: 1000 });
    const started = performance.now();
    await rejectsWith(answer(responder, 'hello'), 'llm-remote-timeout', /did not answer within 1000 ms/);
    assert.ok(performance.now() - started < 5000, `gave up after ${Math.round(performance.now() - started)} ms`);
  });

  test('an answer with nothing in it is an error the turn can say, not a silent turn', async () => {
    const chunk = (delta: Record<string, unknown>, finish: string | null) =>
      `data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 0, model: 'tiny', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    const empty: ProxyFault = { status: 200, headers: { 'content-type': 'text/event-stream' }, body: `${chunk({ role: 'assistant', content: '' }, null)}${chunk({}, 'stop')}data: [DONE]\n\n` };
    const { responder } = await behind(() => empty, { maxRetries: 0 });
    await rejectsWith(answer(responder, 'hello'), 'llm-remote-empty', /gave an empty answer/);
  });
});
