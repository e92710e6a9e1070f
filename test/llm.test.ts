import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { getLlamaGpuTypes } from 'node-llama-cpp';
import { parseConfig } from '../config/load.ts';
import { JarvisError, LlmWorkerCrashedError, ModelFileError } from '../base/errors.ts';
import { LlamaResponder, type LlamaResponderEvent, type LlamaResponderInfo, type LlmConfig } from '../core/llm/llama-responder.ts';
import { SKILL_TOOLS } from '../core/skills/skill-tools.ts';
import { checkGgufModelFile, DEFAULT_LLM_MODEL_FILE } from '../models/gguf-file.ts';
import { ensureTinyGguf, writeTinyGguf } from './models/tiny-gguf.ts';

/**
 * The LLM stage through the real node-llama-cpp runtime (prebuilt llama.cpp, CPU here) in its real worker process,
 * on a test-made random-weight GGUF: the words are garbage, the loading, streaming, aborting, crashing and
 * restarting are real. One llama.cpp thread: the model is so small that more threads only wait on each other.
 */

function llmConfig(overrides: Partial<LlmConfig>): LlmConfig {
  return parseConfig({ llm: overrides }).llm;
}

function signal(): AbortSignal {
  return new AbortController().signal;
}

async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
  const pieces: string[] = [];
  for await (const piece of iterable) pieces.push(piece);
  return pieces;
}

/** Alive and not a zombie waiting to be reaped (an orphan's reaper may be slow in a container). */
function isAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Live LLM worker processes whose parent is this test process. */
function workerChildren(): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = fs.readFileSync(`/proc/${entry}/status`, 'utf8');
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]);
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (ppid === process.pid && cmdline.includes('core/llm/worker') && isAlive(Number(entry))) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return condition();
}

async function expectedDevice(): Promise<string> {
  const best = (await getLlamaGpuTypes('supported'))[0];
  return best === false || best === undefined ? 'cpu' : best;
}

describe('LLM model file checks, before any worker starts (test-made random-weight GGUF)', () => {
  let dir: string;
  let model: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-llm-'));
    model = await ensureTinyGguf();
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function loadError(modelPath: string): Promise<ModelFileError> {
    const responder = new LlamaResponder(llmConfig({ model: modelPath }));
    try {
      const error = await responder.load().catch((e: unknown) => e);
      assert.ok(error instanceof ModelFileError, String(error));
      assert.equal(responder.workerPid, undefined);
      assert.deepEqual(workerChildren(), [], 'no worker process was started');
      return error;
    } finally {
      await responder.dispose();
    }
  }

  test('a missing default model: the fix is the one command that downloads the LLM that fits this machine', async () => {
    const missing = path.join(dir, 'models', DEFAULT_LLM_MODEL_FILE);
    const error = await loadError(missing);
    assert.equal(error.code, 'model-missing');
    assert.equal(error.path, missing);
    assert.match(error.fix, /^Run `jarvis models pull`: it downloads the LLM that fits this machine/);
  });

  test('a missing catalog model is pulled by its id; a missing file of another name is pulled or imported', async () => {
    const catalog = await loadError(path.join(dir, 'models', 'Llama-3.2-1B-Instruct-Q5_K_M.gguf'));
    assert.equal(catalog.fix, 'Run `jarvis models pull llama-3.2-1b-q5_k_m`.');
    const error = await loadError(path.join(dir, 'my-model.gguf'));
    assert.equal(error.code, 'model-missing');
    assert.match(error.fix, /`jarvis models pull` for the LLM that fits this machine, or `jarvis models import <file\.gguf>`/);
  });

  test('a file that is not GGUF is model-wrong-format, and says what it looks like', async () => {
    const html = path.join(dir, 'page.gguf');
    fs.writeFileSync(html, '<!DOCTYPE html><html><body>Repository not found</body></html>');
    const error = await loadError(html);
    assert.equal(error.code, 'model-wrong-format');
    assert.match(error.message, /HTML page/);
    assert.match(error.fix, /GGUF/);
  });

  test('a download cut short in the tensor data is model-corrupt; the exact size the header asks for passes', async () => {
    const bytes = fs.readFileSync(model);
    const summary = await checkGgufModelFile(model);
    assert.equal(summary.architecture, 'llama');
    assert.ok(summary.requiredBytes <= bytes.length && summary.requiredBytes > bytes.length - 64);

    const exact = path.join(dir, 'exact.gguf');
    fs.writeFileSync(exact, bytes.subarray(0, summary.requiredBytes));
    assert.equal((await checkGgufModelFile(exact)).requiredBytes, summary.requiredBytes);

    const short = path.join(dir, 'short.gguf');
    fs.writeFileSync(short, bytes.subarray(0, summary.requiredBytes - 1));
    const error = await loadError(short);
    assert.equal(error.code, 'model-corrupt');
    assert.match(error.message, /truncated/);
    assert.match(error.fix, /a good copy/);
  });

  test('a download cut short inside the header is model-corrupt', async () => {
    const headOnly = path.join(dir, 'head.gguf');
    fs.writeFileSync(headOnly, fs.readFileSync(model).subarray(0, 3000));
    const error = await loadError(headOnly);
    assert.equal(error.code, 'model-corrupt');
  });
});

describe('LlamaResponder on a test-made random-weight GGUF (real node-llama-cpp runtime in a worker process)', () => {
  let short: LlamaResponder;
  let long: LlamaResponder;
  let shortInfo: LlamaResponderInfo;
  const longEvents: LlamaResponderEvent[] = [];
  const pidsSeen = new Set<number>();

  before(async () => {
    const model = await ensureTinyGguf();
    short = new LlamaResponder(llmConfig({ model, gpu: 'auto', contextSize: 2048, maxAnswerTokens: 12, historyTurns: 2 }), { threads: 1 });
    // Long answers, so an abort or a kill surely lands mid-answer.
    long = new LlamaResponder(
      llmConfig({ model, gpu: 'auto', contextSize: 4096, maxAnswerTokens: 3000, historyTurns: 1, restartDelayMs: 100 }),
      { threads: 1, abortGraceMs: 400 },
    );
    long.subscribe((event) => {
      if (event.type !== 'log') longEvents.push(event);
    });
    [shortInfo] = await Promise.all([short.load(), long.load()]);
    pidsSeen.add(short.workerPid!).add(long.workerPid!);
  });
  after(async () => {
    await short?.dispose();
    await long?.dispose();
  });

  test('load reports the device, layers on GPU, VRAM, chat wrapper and a one-line summary', async (t) => {
    const { info, summary, startMs } = shortInfo;
    assert.equal(info.device, await expectedDevice());
    assert.equal(info.totalLayers, 2, 'one block plus the output layer');
    assert.equal(info.chatWrapper, 'ChatML', 'picked from the tokenizer.chat_template');
    assert.equal(info.contextSize, 2048);
    if (info.device === 'cpu') {
      assert.equal(info.layersOnGpu, 0);
      assert.equal(info.vramUsedBytes, 0);
      assert.match(summary, /^CPU, 0\/2 layers on GPU, 0 MB VRAM, model tiny-llama-chatml-\w+\.gguf loaded in \d+ ms$/);
    }
    assert.ok(info.loadMs > 0 && startMs >= info.loadMs);
    t.diagnostic(`${summary}; worker start to loaded ${startMs} ms`);
  });

  test('respond streams pieces as they are generated and ends', async (t) => {
    const pieces = await collect(short.respond({ text: 'Hello Jarvis, what time is it?', signal: signal() }));
    const stats = short.lastTurn!;
    assert.ok(pieces.length >= 1);
    assert.equal(pieces.join(''), stats.answer);
    assert.equal(stats.stopReason, 'maxTokens');
    assert.equal(stats.outputTokens, 12);
    assert.ok(stats.firstPieceMs !== null && stats.firstPieceMs < stats.ms);
    assert.ok(stats.inputTokensEvaluated < shortInfo.info.systemPromptTokens, 'the system prompt was evaluated at load');
    const tokensPerSecond = (stats.outputTokens - 1) / ((stats.ms - stats.firstPieceMs) / 1000);
    t.diagnostic(`first piece ${stats.firstPieceMs} ms, ${pieces.length} pieces, ${Math.round(tokensPerSecond)} tokens/s after the first`);
  });

  test('turns follow on, history is cut to the last historyTurns pairs, and the system prompt stays in the KV cache', async () => {
    await short.resetConversation();
    const questions = ['first question', 'second question', 'third question', 'fourth question'];
    const kept: number[] = [];
    for (const text of questions) {
      const pieces = await collect(short.respond({ text, signal: signal() }));
      assert.ok(pieces.length >= 1);
      kept.push(short.lastTurn!.previousTurnsInContext);
    }
    assert.deepEqual(kept, [0, 1, 2, 2], 'previous pairs in context when each question was evaluated');
    const state = await short.inspect();
    assert.deepEqual(state.questions, questions.slice(1), 'the worker holds the last two pairs plus the newest');

    const systemTokens = shortInfo.info.systemPromptTokens;
    // The fourth turn dropped the oldest pair, yet what llama.cpp evaluated is less than the context minus the
    // system prompt: the system prompt's KV was reused, not recomputed.
    const last = short.lastTurn!;
    assert.ok(last.inputTokensEvaluated + systemTokens <= last.contextTokens, `${last.inputTokensEvaluated} + ${systemTokens} > ${last.contextTokens}`);
  });

  // The skills' function definitions are a long prompt prefix (thousands of tokens with the test model's
  // byte-level vocabulary); long answers on top of them outgrow the context in a few turns, where
  // node-llama-cpp's own context shift gives up ("did not return a history that fits").
  const skillTools = { definitions: SKILL_TOOLS, maxCallsPerTurn: 2, call: async () => ({ result: 'done' }) };

  test('a conversation that outgrows the context is cut to fit instead of failing every later turn', async () => {
    const cramped = new LlamaResponder(llmConfig({ model: await ensureTinyGguf(), contextSize: 4096, maxAnswerTokens: 300, historyTurns: 8 }), { threads: 1 });
    const warnings: string[] = [];
    cramped.subscribe((event) => {
      if (event.type === 'log' && event.level === 'warn') warnings.push(event.message);
    });
    try {
      await cramped.load();
      const kept: number[] = [];
      for (const text of ['first question', 'second question', 'third question', 'fourth question', 'fifth question']) {
        const pieces = await collect(cramped.respond({ text, signal: signal(), tools: skillTools }));
        assert.ok(pieces.length >= 1, `an answer to "${text}"`);
        kept.push(cramped.lastTurn!.previousTurnsInContext);
      }
      const state = await cramped.inspect();
      assert.ok(state.turns < 5, `history was cut (${state.turns} exchanges kept; kept before each: ${kept.join(',')})`);
      assert.ok(warnings.some((w) => /no longer fits the context; keeping the last \d+ of \d+ exchanges/.test(w)), warnings.join('\n'));
    } finally {
      await cramped.dispose();
    }
  });

  test('function definitions preloaded with the system prompt: the first question with tools evaluates only itself', async () => {
    const model = await ensureTinyGguf();
    const plain = new LlamaResponder(llmConfig({ model, maxAnswerTokens: 8 }), { threads: 1 });
    const preloaded = new LlamaResponder(llmConfig({ model, maxAnswerTokens: 8 }), { threads: 1, preloadTools: SKILL_TOOLS });
    try {
      await Promise.all([plain.load(), preloaded.load()]);
      await collect(plain.respond({ text: 'set a timer', signal: signal(), tools: skillTools }));
      await collect(preloaded.respond({ text: 'set a timer', signal: signal(), tools: skillTools }));
      const paid = plain.lastTurn!.inputTokensEvaluated;
      const saved = preloaded.lastTurn!.inputTokensEvaluated;
      assert.ok(paid > 500, `without preloading the definitions are evaluated with the first question (${paid} tokens)`);
      assert.ok(saved < 100, `with preloading only the question is (${saved} tokens, against ${paid})`);
    } finally {
      await Promise.all([plain.dispose(), preloaded.dispose()]);
    }
  });

  test('function definitions that change later (an MCP server\'s tool list): preloadTools() evaluates them between questions, so the next question with them evaluates only itself', async () => {
    const model = await ensureTinyGguf();
    const homeTools = [
      { name: 'home__HassTurnOn', description: 'Turns on/opens a device or entity', params: { type: 'object', properties: { name: { type: ['string', 'null'] }, area: { type: ['string', 'null'] } } } },
      { name: 'home__HassTurnOff', description: 'Turns off/closes a device or entity', params: { type: 'object', properties: { name: { type: ['string', 'null'] }, area: { type: ['string', 'null'] } } } },
    ];
    const offered = [...SKILL_TOOLS, ...homeTools];
    const withHome = { ...skillTools, definitions: offered };
    const stale = new LlamaResponder(llmConfig({ model, maxAnswerTokens: 8 }), { threads: 1, preloadTools: SKILL_TOOLS });
    const refreshed = new LlamaResponder(llmConfig({ model, maxAnswerTokens: 8 }), { threads: 1, preloadTools: SKILL_TOOLS });
    try {
      await Promise.all([stale.load(), refreshed.load()]);
      await refreshed.preloadTools(offered);
      await collect(stale.respond({ text: 'turn on the fan', signal: signal(), tools: withHome }));
      await collect(refreshed.respond({ text: 'turn on the fan', signal: signal(), tools: withHome }));
      const paid = stale.lastTurn!.inputTokensEvaluated;
      const saved = refreshed.lastTurn!.inputTokensEvaluated;
      assert.ok(paid > 100, `with the old definitions preloaded the new ones are evaluated with the question (${paid} tokens)`);
      assert.ok(saved < 60, `preloaded again, only the question is (${saved} tokens, against ${paid})`);
    } finally {
      await Promise.all([stale.dispose(), refreshed.dispose()]);
    }
  });

  test('function definitions too long for the context: the LLM answers without them, and load and log say so', async () => {
    const model = await ensureTinyGguf();
    const tiny = new LlamaResponder(llmConfig({ model, contextSize: 1024, maxAnswerTokens: 8 }), { threads: 1, preloadTools: SKILL_TOOLS });
    const warnings: string[] = [];
    tiny.subscribe((event) => {
      if (event.type === 'log' && event.level === 'warn') warnings.push(event.message);
    });
    // Offered only with the question (not preloaded): found out when the question is asked.
    const late = new LlamaResponder(llmConfig({ model, contextSize: 1024, maxAnswerTokens: 8 }), { threads: 1 });
    try {
      const loaded = await tiny.load();
      assert.equal(loaded.info.functionsFit, false);
      assert.match(loaded.warning!.message, /function definitions do not fit the language model's 1024-token context/);
      assert.match(loaded.warning!.fix, /Raise llm\.contextSize/);
      assert.ok(warnings.some((w) => /do not fit the 1024-token context: the LLM answers without calling skills/.test(w)), warnings.join('\n'));
      assert.ok((await collect(tiny.respond({ text: 'hello', signal: signal(), tools: skillTools }))).length >= 1);
      await late.load();
      assert.ok((await collect(late.respond({ text: 'hello', signal: signal(), tools: skillTools }))).length >= 1);
      assert.equal(late.lastTurn!.toolCalls ?? 0, 0);
    } finally {
      await Promise.all([tiny.dispose(), late.dispose()]);
    }
  });

  test('a system prompt too long for the context alone fails the load with llm-context-too-small and the fix', async () => {
    const systemPrompt = 'You are Jarvis, a helpful assistant who answers in a spoken style. '.repeat(30);
    const cramped = new LlamaResponder(llmConfig({ model: await ensureTinyGguf(), contextSize: 512, maxAnswerTokens: 8, systemPrompt }), { threads: 1 });
    try {
      const error = await cramped.load().catch((e: unknown) => e);
      assert.ok(error instanceof JarvisError, String(error));
      assert.equal(error.code, 'llm-context-too-small');
      assert.match(error.message, /the system prompt does not fit a 512-token context/);
      assert.match(error.fix, /Raise llm\.contextSize \(now 512\), or shorten llm\.systemPrompt/);
    } finally {
      await cramped.dispose();
    }
  });

  test('resetConversation forgets the turns but keeps the evaluated system prompt', async () => {
    await short.resetConversation();
    assert.equal((await short.inspect()).turns, 0);
    await collect(short.respond({ text: 'new topic', signal: signal() }));
    const stats = short.lastTurn!;
    assert.equal(stats.previousTurnsInContext, 0);
    assert.ok(stats.inputTokensEvaluated < shortInfo.info.systemPromptTokens, `evaluated ${stats.inputTokensEvaluated} tokens again`);
  });

  test('an already aborted request yields nothing and starts no generation', async () => {
    const controller = new AbortController();
    controller.abort();
    const before = short.lastTurn;
    assert.deepEqual(await collect(short.respond({ text: 'never asked', signal: controller.signal })), []);
    assert.equal(short.lastTurn, before);
  });

  test('abort stops a long generation within a second and keeps the partial answer', async (t) => {
    const controller = new AbortController();
    let pieces = 0;
    let abortedAt = 0;
    for await (const _ of long.respond({ text: 'Tell me a very long story.', signal: controller.signal })) {
      pieces++;
      if (pieces === 3) {
        abortedAt = performance.now();
        controller.abort();
      }
    }
    const latencyMs = performance.now() - abortedAt;
    const stats = long.lastTurn!;
    assert.equal(stats.stopReason, 'abort');
    assert.ok(stats.outputTokens < 3000);
    assert.ok(latencyMs < 1000, `abort took ${latencyMs} ms`);
    assert.ok((await long.inspect()).questions.includes('Tell me a very long story.'), 'the partial answer stays in the history');
    t.diagnostic(`abort to end of stream ${latencyMs.toFixed(1)} ms after ${pieces} pieces (${stats.outputTokens} tokens)`);
  });

  test('SIGKILL of the worker mid-answer throws LlmWorkerCrashedError; the worker restarts and the next turn works', async (t) => {
    const crashedPid = long.workerPid!;
    let pieces = 0;
    await assert.rejects(
      (async () => {
        for await (const _ of long.respond({ text: 'Another long story, please.', signal: signal() })) {
          if (++pieces === 2) process.kill(crashedPid, 'SIGKILL');
        }
      })(),
      (error: unknown) => {
        assert.ok(error instanceof LlmWorkerCrashedError);
        assert.equal(error.code, 'llm-crashed');
        assert.match(error.message, /SIGKILL/);
        return true;
      },
    );
    // The next question waits for the restart, then answers.
    const next: string[] = [];
    for await (const piece of long.respond({ text: 'Are you back?', signal: signal() })) {
      next.push(piece);
      if (next.length === 5) break;
    }
    assert.equal(next.length, 5);
    assert.notEqual(long.workerPid, crashedPid);
    assert.equal(isAlive(crashedPid), false);
    pidsSeen.add(long.workerPid!);

    const exit = longEvents.find((e) => e.type === 'worker-exit');
    assert.ok(exit && exit.type === 'worker-exit' && exit.pid === crashedPid && exit.during === 'answering');
    const restarted = longEvents.find((e) => e.type === 'restarted');
    assert.ok(restarted && restarted.type === 'restarted');
    assert.match(restarted.summary, /layers on GPU/);
    // The conversation before the crash came back with the new worker.
    assert.ok((await long.inspect()).questions.includes('Tell me a very long story.'));
    t.diagnostic(`restart (delay excluded): ${restarted.ms} ms`);
  });

  test('an answer cut off by the user: the history keeps only what was heard, marked as interrupted, also across a restart', async () => {
    const controller = new AbortController();
    let written = '';
    for await (const piece of long.respond({ text: 'Tell me about the weather.', signal: controller.signal })) {
      written += piece;
      if (written.length > 20) controller.abort();
    }
    // Told at once, before the worker has confirmed the end of the aborted generation.
    const heard = written.slice(0, 5);
    await long.answerCutOff(heard);
    const state = await long.inspect();
    assert.equal(state.questions.at(-1), 'Tell me about the weather.');
    assert.equal(state.lastAnswer, `${heard.trim()} [interrupted by the user]`);
    assert.ok(!state.lastAnswer.includes(written.slice(6)), 'what was written but not heard is gone');
    // A worker that restarts gets the conversation from the daemon's copy: the cut answer, not the generated one.
    const restarts = longEvents.filter((e) => e.type === 'restarted').length;
    process.kill(long.workerPid!, 'SIGKILL');
    await waitUntil(() => longEvents.filter((e) => e.type === 'restarted').length > restarts, 30_000, 'the worker restarted');
    pidsSeen.add(long.workerPid!);
    const restored = await long.inspect();
    assert.equal(restored.questions.at(-1), 'Tell me about the weather.');
    assert.equal(restored.lastAnswer, `${heard.trim()} [interrupted by the user]`);
  });

  test('a question withdrawn before it was confirmed (the speaker went on) leaves the conversation, even mid-answer', async () => {
    await short.resetConversation();
    await collect(short.respond({ text: 'kept question', signal: signal() }));
    await collect(short.respond({ text: 'withdrawn when done', signal: signal() }));
    await short.retract();
    assert.deepEqual((await short.inspect()).questions, ['kept question']);
    // Withdrawn while its answer is still being written: the abort and the retraction race the worker's end.
    const controller = new AbortController();
    let pieces = 0;
    let retracted: Promise<void> | undefined;
    for await (const _ of long.respond({ text: 'withdrawn mid-answer', signal: controller.signal })) {
      if (++pieces !== 2) continue;
      controller.abort();
      retracted = long.retract();
    }
    await retracted;
    const state = await long.inspect();
    assert.ok(!state.questions.includes('withdrawn mid-answer'), JSON.stringify(state.questions));
  });

  test('a worker that does not confirm an abort (stopped with SIGSTOP) is killed after the grace time and replaced', async () => {
    const stuckPid = long.workerPid!;
    const controller = new AbortController();
    let abortedAt = 0;
    let pieces = 0;
    for await (const _ of long.respond({ text: 'One more long story.', signal: controller.signal })) {
      if (++pieces === 2) {
        process.kill(stuckPid, 'SIGSTOP');
        abortedAt = performance.now();
        controller.abort();
      }
    }
    const endedAfterMs = performance.now() - abortedAt;
    assert.ok(endedAfterMs >= 350 && endedAfterMs < 1500, `ended ${endedAfterMs} ms after the abort`);
    assert.ok(await waitFor(() => !isAlive(stuckPid), 2000), 'the stuck worker was killed');
    const next = [];
    for await (const piece of long.respond({ text: 'Still there?', signal: signal() })) {
      next.push(piece);
      if (next.length === 3) break;
    }
    assert.equal(next.length, 3);
    pidsSeen.add(long.workerPid!);
  });

  test('dispose ends every worker and leaves no child process behind', async () => {
    await short.dispose();
    await long.dispose();
    assert.equal(short.workerPid, undefined);
    for (const pid of pidsSeen) assert.equal(isAlive(pid), false, `worker ${pid} still runs`);
    assert.deepEqual(workerChildren(), []);
    await assert.rejects(collect(short.respond({ text: 'hello?', signal: signal() })), (e: unknown) => e instanceof JarvisError && e.code === 'llm-disposed');
  });
});

describe('LLM worker lifetime and configuration (real node-llama-cpp runtime, test-made random-weight GGUF)', () => {
  test('the worker exits by itself when the daemon process is killed', async () => {
    const model = await ensureTinyGguf();
    const responderUrl = new URL('../core/llm/llama-responder.ts', import.meta.url).href;
    const script =
      `const { LlamaResponder } = await import(${JSON.stringify(responderUrl)});` +
      `const r = new LlamaResponder(${JSON.stringify(llmConfig({ model, gpu: 'cpu' }))}, { threads: 1 });` +
      `await r.load(); console.log(r.workerPid); setInterval(() => {}, 1000);`;
    const daemon = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const workerPid = await new Promise<number>((resolve, reject) => {
        let out = '';
        daemon.stdout!.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const match = /^(\d+)$/m.exec(out);
          if (match) resolve(Number(match[1]));
        });
        daemon.on('exit', (code) => reject(new Error(`daemon exited early with ${code}`)));
      });
      assert.ok(isAlive(workerPid));
      daemon.kill('SIGKILL');
      assert.ok(await waitFor(() => !isAlive(workerPid), 5000), 'the orphaned worker exits');
    } finally {
      daemon.kill('SIGKILL');
    }
  });

  test('a restart whose model file went away reports why; the next question retries and works once it is back', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-llm-'));
    const model = path.join(dir, 'copy.gguf');
    fs.copyFileSync(await ensureTinyGguf(), model);
    const responder = new LlamaResponder(llmConfig({ model, gpu: 'cpu', maxAnswerTokens: 8, restartDelayMs: 0 }), { threads: 1 });
    const events: LlamaResponderEvent[] = [];
    responder.subscribe((event) => {
      if (event.type !== 'log') events.push(event);
    });
    try {
      await responder.load();
      fs.renameSync(model, `${model}.away`);
      process.kill(responder.workerPid!, 'SIGKILL');
      assert.ok(await waitFor(() => events.some((e) => e.type === 'restart-failed'), 5000));
      const exit = events.find((e) => e.type === 'worker-exit');
      assert.ok(exit?.type === 'worker-exit' && exit.during === 'idle');
      const failed = events.find((e) => e.type === 'restart-failed');
      assert.ok(failed?.type === 'restart-failed' && failed.error instanceof ModelFileError && failed.error.code === 'model-missing');
      await assert.rejects(collect(responder.respond({ text: 'hello?', signal: signal() })), (e: unknown) => e instanceof ModelFileError);
      fs.renameSync(`${model}.away`, model);
      assert.ok((await collect(responder.respond({ text: 'hello?', signal: signal() }))).length >= 1);
    } finally {
      await responder.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an explicit llm.gpu that this machine cannot use fails with a clear error, and no worker is left', async (t) => {
    const supported = await getLlamaGpuTypes('supported');
    if (supported.includes('cuda')) return t.skip('CUDA is usable here');
    const responder = new LlamaResponder(llmConfig({ model: await ensureTinyGguf(), gpu: 'cuda' }), { threads: 1 });
    try {
      const error = await responder.load().catch((e: unknown) => e);
      assert.ok(error instanceof JarvisError, String(error));
      assert.equal(error.code, 'llm-gpu-unavailable');
      assert.match(error.message, /llm\.gpu is "cuda"/);
      assert.match(error.fix, /llm\.gpu to "auto" or "cpu"/);
      assert.equal(responder.workerPid, undefined);
      assert.deepEqual(workerChildren(), []);
    } finally {
      await responder.dispose();
    }
  });

  const gpuCrashWorker = path.resolve(import.meta.dirname, 'fixtures', 'gpu-crash-worker.ts');

  test('llm.gpu "auto": a GPU backend that aborts the worker while loading is given up for the CPU, said in the log, summary and warning', async () => {
    const responder = new LlamaResponder(llmConfig({ model: await ensureTinyGguf(), gpu: 'auto', maxAnswerTokens: 8 }), { threads: 1, workerModule: gpuCrashWorker });
    const logs: string[] = [];
    responder.subscribe((event) => {
      if (event.type === 'log') logs.push(event.message);
    });
    try {
      const loaded = await responder.load();
      assert.equal(loaded.info.device, 'cpu');
      assert.equal(loaded.info.gpuFallback?.from, 'cuda');
      // The reason is llama.cpp's error line, not the last line of its backtrace.
      assert.match(loaded.info.gpuFallback!.detail, /^killed by SIGABRT; CUDA error: the provided PTX was compiled with an unsupported toolchain/);
      assert.match(loaded.summary, /^CPU \(CUDA crashed while loading, so the CPU answers\)/);
      assert.match(loaded.warning!.message, /runs on the CPU because llama\.cpp's CUDA backend crashed/);
      assert.match(loaded.warning!.fix, /update the NVIDIA driver.*set llm\.gpu to "cpu"/s);
      assert.ok(logs.some((line) => /CUDA backend crashed while loading the model .*answering on the CPU instead/.test(line)), logs.join('\n'));
      assert.ok((await collect(responder.respond({ text: 'hello?', signal: signal() }))).length >= 1);
      // A later restart stays on the CPU instead of crashing again.
      const before = responder.workerPid!;
      process.kill(before, 'SIGKILL');
      assert.ok(await waitFor(() => responder.workerPid !== undefined && responder.workerPid !== before, 20_000), 'restarted');
      assert.equal((await responder.load()).info.device, 'cpu');
    } finally {
      await responder.dispose();
    }
  });

  test('an explicit llm.gpu "cuda" whose backend aborts while loading fails with the driver fix, without falling back', async () => {
    const responder = new LlamaResponder(llmConfig({ model: await ensureTinyGguf(), gpu: 'cuda' }), { threads: 1, workerModule: gpuCrashWorker });
    try {
      const error = await responder.load().catch((e: unknown) => e);
      assert.ok(error instanceof LlmWorkerCrashedError, String(error));
      assert.match(error.message, /SIGABRT; CUDA error: the provided PTX/);
      assert.match(error.fix, /NVIDIA driver is older than the CUDA toolkit/);
      assert.equal(responder.workerPid, undefined);
    } finally {
      await responder.dispose();
    }
  });

  test('a Llama 3 chat template gets node-llama-cpp\'s Llama 3 chat wrapper, and chat works through it', async () => {
    const model = await writeTinyGguf({ template: 'llama3' });
    const responder = new LlamaResponder(llmConfig({ model, gpu: 'cpu', maxAnswerTokens: 8 }), { threads: 1 });
    try {
      const { info } = await responder.load();
      assert.equal(info.chatWrapper, 'Llama 3');
      const pieces = await collect(responder.respond({ text: 'Hi', signal: signal() }));
      assert.ok(pieces.length >= 1);
      assert.equal(responder.lastTurn!.stopReason, 'maxTokens');
    } finally {
      await responder.dispose();
    }
  });
});

async function waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
