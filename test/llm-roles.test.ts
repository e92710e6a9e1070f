import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { silentLogger } from '../base/log.ts';
import { parseConfig } from '../config/load.ts';
import { createDaemon, type Daemon } from '../core/daemon/daemon.ts';
import { CODE_SYSTEM_PROMPT, pickRole } from '../core/llm/role-router.ts';
import type { PoolEvent } from '../core/live-models/pool.ts';
import type { RunEvent } from '../core/protocol/run-events.ts';
import { summarize } from '../hud/src/lib/turn.ts';
import { jsonLines, runJarvis, testModelsConfig } from './fixtures/cli.ts';
import { freePort, startLlamaServer, type RunningLlamaServer } from './fixtures/llama-server.ts';
import { startRecordingProxy, type RecordingProxy } from './fixtures/recording-proxy.ts';
import { ensureTinyGguf, writeTinyGguf } from './models/tiny-gguf.ts';
import { VirtualSink } from '../voice/audio/virtual-sink.ts';
import { ManualClock } from './fixtures/manual-clock.ts';
import { Room } from './fixtures/room.ts';
import { ScriptTranscriber } from './fixtures/script-transcriber.ts';
import { speak } from './fixtures/speech.ts';
import { loadSpokenTurnEngines } from './fixtures/spoken-engines.ts';
import { answerOf, askForEvents, llmBackendEvents, TypedDaemons } from './fixtures/typed-daemons.ts';

/**
 * Roles (llm.roles, core/llm/role-router.ts): the local rule that picks the model for a request, then whole
 * daemons (createDaemon, as `jarvis start` assembles it) whose chat and code models are two real llama-servers
 * built from the llama.cpp sources node-llama-cpp ships, on loopback, serving the test-made random-weight GGUF
 * under two names. The answers are not words, so a test tells who answered from the turn's run events and from
 * what each server was sent (a recording pass-through in front of the code server). The local code model runs as
 * a second real node-llama-cpp worker in the model pool, on the CPU here.
 */

describe('which role a request goes to (the local rule)', () => {
  const table: [request: string, role: 'chat' | 'code', question?: string][] = [
    ['write a bash script that backs up my photos', 'code'],
    ['Write me a quick Python function to reverse a string', 'code'],
    ['write a function that adds two numbers', 'code'],
    ['write a regex that matches email addresses', 'code'],
    ['write code that prints hello', 'code'],
    ['write a sql query that counts the users', 'code'],
    ['how do I reverse a list in Python', 'code'],
    ['how can I find big files with bash', 'code'],
    ['what is the git command to undo a commit', 'code'],
    ['fix my python script', 'code'],
    ['What does this stack trace mean?', 'code'],
    ['ask the coder what a monad is', 'code', 'what a monad is'],
    ['Jarvis, ask the code model to write a sort function', 'code', 'write a sort function'],
    ['ask the coder, is tail recursion faster', 'code', 'is tail recursion faster'],
    ['ask the chat model how do I reverse a list in python', 'chat', 'how do I reverse a list in python'],
    // Not code: prose, everyday requests, a python that is a snake, a key that is music.
    ['write a shopping list', 'chat'],
    ['write a poem about code', 'chat'],
    ['write me a letter to grandma', 'chat'],
    ['write a script for my play', 'chat'],
    ['make a note that the plumber comes at 3', 'chat'],
    ['set a timer for 5 minutes', 'chat'],
    ['create a class schedule for my kids', 'chat'],
    ['how do I get to the station', 'chat'],
    ['how do I feed my python', 'chat'],
    ['how do I say hello in Spanish', 'chat'],
    ['play a scale in C', 'chat'],
    ['what is the capital of France', 'chat'],
    ['tell me a story', 'chat'],
  ];
  for (const [request, role, question] of table) {
    test(`"${request}" → ${role}${question ? ` ("${question}")` : ''}`, () => {
      const choice = pickRole(request);
      assert.equal(choice.role, role);
      assert.equal(choice.text, question ?? request);
      assert.equal(choice.forced, question !== undefined);
    });
  }

  test("the documents' passages in front of a question are kept, and not mistaken for it", () => {
    const context = '[From the household\'s documents:\n(1) notes: "write a bash script that deletes everything"\nAnswer from these passages only.]\n';
    assert.equal(pickRole(`${context}what is the wifi password`).role, 'chat');
    assert.deepEqual(pickRole(`${context}ask the coder how to loop in rust`), { role: 'code', text: `${context}how to loop in rust`, forced: true });
  });
});

let tiny: string;
let chatServer: RunningLlamaServer;
let codeServer: RunningLlamaServer;
let codeProxy: RecordingProxy;
const daemons: Daemon[] = [];
const dirs: string[] = [];

before(async () => {
  tiny = await ensureTinyGguf();
  [chatServer, codeServer] = await Promise.all([startLlamaServer({ model: tiny, alias: 'chat-model' }), startLlamaServer({ model: tiny, alias: 'code-model' })]);
  codeProxy = await startRecordingProxy(codeServer.baseUrl);
});
after(async () => {
  await typed.dispose();
  for (const daemon of daemons) await daemon.dispose();
  await codeProxy?.close();
  await Promise.all([chatServer?.kill(), codeServer?.kill()]);
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

const host = (baseUrl: string) => new URL(baseUrl).host;

const typed = new TypedDaemons('jarvis-roles-');
const daemonWith = (llm: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<Daemon> => typed.start(llm, { extra });
const ask = askForEvents;
const backends = llmBackendEvents;
const lastUserMessage = (proxy: RecordingProxy) => {
  const messages = proxy.exchanges.filter((e) => e.path.endsWith('/chat/completions')).at(-1)?.sent?.messages as { role: string; content: string }[] | undefined;
  return { system: messages?.[0]?.content, user: messages?.at(-1)?.content };
};
const turn = (events: RunEvent[]) => ({ runId: events[0]!.runId, events, answer: answerOf(events) });

const serverRoles = () => ({
  backend: 'openai',
  openai: { baseUrl: chatServer.baseUrl, model: 'chat-model', maxRetries: 0, timeoutMs: 5000 },
  roles: { code: { backend: 'openai', openai: { baseUrl: codeProxy.baseUrl, model: 'code-model', maxRetries: 0, timeoutMs: 5000 } } },
});

describe('roles through real llama-servers (chat and code on two ports)', () => {
  test('"write a bash script that…" is answered by the code model, with its instructions; the HUD says so', async () => {
    const daemon = await daemonWith(serverRoles());
    const events = await ask(daemon, 'write a bash script that lists the files in a folder');
    assert.deepEqual(backends(events).map((e) => [e.backend, e.role]), [[`code-model at ${host(codeProxy.baseUrl)}`, 'code']]);
    assert.ok(answerOf(events).length > 0, 'the code server answered');
    assert.deepEqual(lastUserMessage(codeProxy), { system: CODE_SYSTEM_PROMPT, user: 'write a bash script that lists the files in a folder' });
    const shown = summarize(turn(events));
    assert.equal(shown.answeredAs, 'code');
    assert.equal(shown.answeredBy, `code-model at ${host(codeProxy.baseUrl)}`);
  });

  test('everything else goes to the chat model, which the HUD does not label with a role', async () => {
    const daemon = await daemonWith(serverRoles());
    const sentToCoder = codeProxy.exchanges.length;
    const events = await ask(daemon, 'what is the capital of France');
    assert.deepEqual(backends(events).map((e) => [e.backend, e.role]), [[`chat-model at ${host(chatServer.baseUrl)}`, undefined]]);
    assert.ok(answerOf(events).length > 0);
    assert.equal(codeProxy.exchanges.length, sentToCoder, 'the code server was not asked');
    assert.equal(summarize(turn(events)).answeredAs, undefined);
  });

  test('"ask the coder …" forces the code model, which gets the question without the prefix', async () => {
    const daemon = await daemonWith(serverRoles());
    const events = await ask(daemon, 'ask the coder what a monad is');
    assert.equal(backends(events).at(-1)?.role, 'code');
    assert.equal(events.find((e) => e.type === 'llm-start')?.text, 'ask the coder what a monad is', 'the turn shows what was asked');
    assert.equal(lastUserMessage(codeProxy).user, 'what a monad is');
    // And each model keeps its own conversation: the chat model never saw it.
    const chat = await ask(daemon, 'and what is a functor');
    assert.equal(backends(chat).at(-1)?.backend, `chat-model at ${host(chatServer.baseUrl)}`);
  });

  test('spoken (words from the script): "hey jarvis, ask the coder …" through the real wake word and VAD is answered by the code server, and spoken', async () => {
    const engines = await loadSpokenTurnEngines();
    try {
      const { wake, vad, whisper, piper } = engines;
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-roles-'));
      dirs.push(dataDir);
      const config = parseConfig({ dataDir, skills: { enabled: false }, vad: { turnEnd: 'silence', hangoverMs: 500 }, conversation: { followUpMs: 0 }, llm: { maxAnswerTokens: 8, ...serverRoles() } });
      const clock = new ManualClock(Date.now());
      const sink = new VirtualSink({ speed: 1, sampleRate: 22_050, clock });
      const room = new Room({ clock });
      wake.reset();
      // The test-made Whisper hears no words: the script says what it heard (the audio still goes through it).
      const transcriber = new ScriptTranscriber(whisper, room, [{ label: 'request', text: 'Hey Jarvis, ask the coder how to reverse a list.' }]);
      const daemon = await createDaemon(config, { log: silentLogger, clock, source: room, sink, loadLlm: 'when-asked', engines: { wake, vad, transcriber, synthesizer: piper } });
      daemons.push(daemon);
      const events: RunEvent[] = [];
      daemon.assistant.bus.subscribe((event) => events.push(event));
      const ended = () => events.some((e) => e.type === 'run-end');
      room.pause(300).say(await speak('hey jarvis, ask the coder how to reverse a list', { engine: 'espeak', voice: 'en-us', wordsPerMinute: 170 }), 'request').until(ended, 1_500_000).pause(100);
      await daemon.run(new AbortController().signal);
      assert.equal(events.find((e) => e.type === 'run-start' && e.trigger === 'wake')?.type, 'run-start', 'woken by the wake word');
      assert.equal(backends(events).at(-1)?.role, 'code');
      assert.equal(lastUserMessage(codeProxy).user, 'how to reverse a list.');
      assert.ok(events.some((e) => e.type === 'tts-end' && e.audioMs > 0), 'the answer was spoken');
    } finally {
      await engines.dispose();
    }
  });

  test('`jarvis ask "write a bash script…"` (the CLI, its own process) is answered by the code server', async () => {
    const config = await testModelsConfig({ llm: { maxAnswerTokens: 8, ...serverRoles() }, skills: { enabled: false } });
    const jarvis = runJarvis(['-c', config, 'ask', '--json', 'write a bash script that counts the lines of a file']);
    assert.equal(await jarvis.exit, 0, jarvis.stderr.join('\n'));
    const events = jsonLines(jarvis.stdout);
    const backend = events.find((e) => e.type === 'llm-backend');
    assert.equal(backend?.backend, `code-model at ${host(codeProxy.baseUrl)}`);
    assert.equal(backend?.role, 'code');
    assert.ok(String(events.find((e) => e.type === 'llm-end')?.text).length > 0);
  });

  test('`jarvis doctor` checks the code server (its model, how soon it answers); one that is down is not a failure', async () => {
    const nowhere = `http://127.0.0.1:${await freePort()}/v1`;
    const doctor = async (codeUrl: string) => {
      const config = await testModelsConfig({ llm: { ...serverRoles(), roles: { code: { backend: 'openai', openai: { baseUrl: codeUrl, model: 'code-model', maxRetries: 0 } } } } });
      const jarvis = runJarvis(['-c', config, 'doctor', '--json'], { PULSE_SERVER: 'unix:/nonexistent/socket' });
      await jarvis.exit;
      return (JSON.parse(jarvis.stdout.join('\n')) as { checks: { name: string; ok: boolean; optional?: boolean; detail: string; fix?: string }[] }).checks.find((c) => c.name === 'code model');
    };
    const [up, down] = await Promise.all([doctor(codeProxy.baseUrl), doctor(nowhere)]);
    assert.ok(up?.ok, up?.detail);
    assert.match(up!.detail, /^OpenAI-compatible server at .*, model code-model; first token in \d+ ms$/);
    assert.equal(down?.ok, false);
    assert.equal(down?.optional, true, 'the chat model answers meanwhile');
    assert.match(down!.detail, /the code model server at .* cannot be reached/);
    assert.match(down!.fix ?? '', /llm\.roles\.code\.openai\.baseUrl/);
  });

  test('no code role configured: the chat model answers code requests too', async () => {
    const daemon = await daemonWith({ backend: 'openai', openai: { baseUrl: chatServer.baseUrl, model: 'chat-model', maxRetries: 0 } });
    const events = await ask(daemon, 'write a bash script that lists the files in a folder');
    assert.deepEqual(backends(events).map((e) => [e.backend, e.role]), [[`chat-model at ${host(chatServer.baseUrl)}`, undefined]]);
    assert.ok(answerOf(events).length > 0);
  });

  test('the code server down: the chat model answers, and the turn (and the HUD) says why', async () => {
    const nowhere = `http://127.0.0.1:${await freePort()}/v1`;
    const roles = serverRoles();
    const daemon = await daemonWith({ ...roles, roles: { code: { backend: 'openai', openai: { baseUrl: nowhere, model: 'code-model', maxRetries: 0, timeoutMs: 3000 } } } });
    const events = await ask(daemon, 'write a bash script that lists the files in a folder');
    const said = backends(events);
    assert.equal(said[0]?.backend, `chat-model at ${host(chatServer.baseUrl)}`);
    assert.equal(said[0]?.fallbackFrom, `code-model at ${host(nowhere)}`);
    assert.match(said[0]?.why ?? '', /the code model server at .* cannot be reached/);
    assert.ok(said.every((e) => e.role === undefined && e.fallbackFrom !== undefined), JSON.stringify(said));
    assert.ok(answerOf(events).length > 0, 'the chat model answered');
    assert.ok(!events.some((e) => e.type === 'error'));
    const shown = summarize(turn(events));
    assert.equal(shown.answeredBy, `chat-model at ${host(chatServer.baseUrl)}`);
    assert.match(shown.fallbackWhy ?? '', /cannot be reached/);
    // Chat questions never wait on the code server.
    assert.equal(backends(await ask(daemon, 'tell me a story'))[0]?.fallbackFrom, undefined);
  });

  test('both down: the turn ends with the chat server\'s short error, spoken and shown', async () => {
    const nowhere = `http://127.0.0.1:${await freePort()}/v1`;
    const daemon = await daemonWith({
      backend: 'openai',
      openai: { baseUrl: nowhere, model: 'chat-model', maxRetries: 0 },
      roles: { code: { backend: 'openai', openai: { baseUrl: nowhere, model: 'code-model', maxRetries: 0 } } },
    });
    const events = await ask(daemon, 'write a bash script that lists the files in a folder');
    const error = events.find((e): e is Extract<RunEvent, { type: 'error' }> => e.type === 'error');
    assert.match(error?.message ?? '', /the model server at .* cannot be reached/);
    assert.deepEqual(backends(events), [], 'nobody answered');
  });
});

describe('a local code model in the model pool (real node-llama-cpp workers, CPU)', () => {
  // An 8192-token context, so that the pool's estimate of each (~42 MB) lets 128 MB hold both and 64 MB (the least
  // models.poolBudgetMb takes) only one.
  let chatModel: string;
  let coder: string;
  before(async () => {
    [chatModel, coder] = await Promise.all([writeTinyGguf({ contextLength: 8192 }), writeTinyGguf({ seed: 4242, name: 'tiny coder', contextLength: 8192 })]);
  });

  const localRoles = (budgetMb: number) =>
    [
      { model: chatModel, contextSize: 8192, roles: { code: { backend: 'local', model: coder } } },
      { models: { poolBudgetMb: budgetMb } },
    ] as const;

  const poolEvents = (daemon: Daemon) => {
    const events: PoolEvent[] = [];
    daemon.models.on('event', (event) => event.type === 'pool' && events.push(event.event));
    return events;
  };

  test('loaded on its first request, beside the chat model; unloaded first when memory runs short; back on the next', async () => {
    const daemon = await daemonWith(...localRoles(128));
    const pool = poolEvents(daemon);
    const chat = await ask(daemon, 'what is the capital of France');
    assert.ok(answerOf(chat).length > 0);
    assert.deepEqual(backends(chat), [], 'the local chat model is not named');
    const codeKey = `code:${path.basename(coder, '.gguf')}`;
    assert.ok(!pool.some((e) => e.type === 'loading' && e.key === codeKey), 'the code model is not loaded before it is asked');

    const code = await ask(daemon, 'write a python function that adds two numbers');
    assert.ok(answerOf(code).length > 0, 'the code model answered');
    assert.deepEqual(backends(code).map((e) => [e.backend, e.role]), [[`${path.basename(coder, '.gguf')} (this machine)`, 'code']]);
    const loaded = pool.find((e): e is Extract<PoolEvent, { type: 'loaded' }> => e.type === 'loaded' && e.key === codeKey);
    assert.ok(loaded, JSON.stringify(pool.map((e) => e.type)));
    assert.deepEqual(loaded.evicted, [], 'both fit the budget');
    assert.deepEqual(daemon.models.pool.residents().map((r) => [r.key, r.active]).sort(), [[codeKey, false], [chatModel, true]].sort());

    // The GPU governor's answer to memory running short: every model but the one the chat questions go to.
    assert.deepEqual(await daemon.models.pool.unloadInactive(), [codeKey]);
    assert.deepEqual(daemon.models.pool.residents().map((r) => r.key), [chatModel]);
    const again = await ask(daemon, 'ask the coder to write a loop');
    assert.ok(answerOf(again).length > 0);
    assert.equal(pool.filter((e) => e.type === 'loaded' && e.key === codeKey).length, 2, 'loaded again when next asked');
  });

  test('a budget that holds one model: the code model and the chat model take turns in it', async () => {
    const daemon = await daemonWith(...localRoles(64));
    const pool = poolEvents(daemon);
    const codeKey = `code:${path.basename(coder, '.gguf')}`;
    await ask(daemon, 'what is the capital of France');
    await ask(daemon, 'write a bash script that lists files');
    await ask(daemon, 'tell me a story');
    const loads = pool.filter((e): e is Extract<PoolEvent, { type: 'loaded' }> => e.type === 'loaded').map((e) => [e.key, e.evicted]);
    assert.deepEqual(loads, [
      [chatModel, []],
      [codeKey, [chatModel]],
      [chatModel, [codeKey]],
    ]);
    assert.ok(daemon.models.pool.usedBytes <= daemon.models.pool.budgetBytes);
  });

  test('its file missing: the chat model answers, and the turn says which file', async () => {
    const daemon = await daemonWith({ model: tiny, roles: { code: { backend: 'local', model: '/nowhere/coder.gguf' } } });
    const events = await ask(daemon, 'write a bash script that lists files');
    assert.ok(answerOf(events).length > 0, 'the chat model answered');
    assert.equal(backends(events)[0]?.fallbackFrom, 'coder (this machine)');
    assert.match(backends(events)[0]?.why ?? '', /the code model file \/nowhere\/coder\.gguf is not there/);
  });
});
