import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { JarvisConfig } from '../../config/schema.ts';
import { RunEventBus } from '../../core/events.ts';
import { LlamaServerProcess, LOCAL_MODEL_ALIAS } from '../../core/llm/llama-server.ts';
import { OpenAiResponder } from '../../core/llm/openai-responder.ts';
import { runTurn } from '../../core/pipeline/turn.ts';
import type { RunEvent } from '../../core/protocol/run-events.ts';
import { QUESTIONS } from '../lib/corpus.ts';
import { alternately } from '../lib/stats.ts';
import type { LlmSample } from './llm.ts';

/**
 * The LLM through JARVIS's OpenAI-compatible backend (llm.backend "openai": OpenAiResponder and the `openai`
 * client, read from the run events of a typed turn, as the daemon runs it) against the same llama-server called
 * directly (one streamed HTTP request, its server-sent events read as they arrive, nothing else), in the same
 * run. The server is llama-server built from the llama.cpp sources node-llama-cpp ships (the one JARVIS runs for
 * its vision role), started once with the configured model, one slot, on loopback; both sides ask it the same
 * questions with the same system prompt, answer length and temperature, taking turns question by question (each
 * side first in every other pair), so both meet the same machine load. Before each measured question the server's
 * prompt cache is put in the same state (a one-token answer to another question), so both reuse the system
 * prompt's cached prefix and evaluate exactly the question. Rates count streamed pieces after the first (one per
 * token), the same way on both sides.
 */

export interface LlmServerResult {
  readonly jarvis: LlmSample[];
  readonly direct: LlmSample[];
  /** Tokens per second as llama-server itself timed them (its `timings` on the direct side's last chunk). */
  readonly serverRates: number[];
  readonly model: string;
  readonly maxTokens: number;
  readonly threads: number | undefined;
}

const WARMUP = 1;
/** Asked (one token, not measured) before every measured question; in no question of the corpus. */
const RESET_QUESTION = 'ok';

const rate = (pieces: number, firstMs: number, totalMs: number) => (pieces > 1 && totalMs > firstMs ? ((pieces - 1) * 1000) / (totalMs - firstMs) : Number.NaN);

export async function measureLlmServer(config: JarvisConfig, options: { runs: number; maxTokens: number }): Promise<LlmServerResult> {
  const llm = { ...config.llm, historyTurns: 0, maxAnswerTokens: options.maxTokens };
  const server = new LlamaServerProcess({ model: llm.model, contextSize: llm.contextSize, ...(llm.threads ? { threads: llm.threads } : {}), settings: 'llm', startTimeoutMs: 600_000 });
  try {
    const { baseUrl, apiKey } = await server.ensure();
    const jarvis = new OpenAiResponder(llm, { baseUrl, model: LOCAL_MODEL_ALIAS, apiKey, timeoutMs: 300_000, maxRetries: 0 });
    await jarvis.load();
    const bus = new RunEventBus();
    const prompts = Array.from({ length: options.runs + WARMUP }, (_, i) => QUESTIONS[i % QUESTIONS.length]!);
    const through: LlmSample[] = [];
    const direct: LlmSample[] = [];
    const serverRates: number[] = [];
    for (const [i, text] of prompts.entries()) {
      // Before each side's question the server's cache is set to the same state (the system prompt and another
      // question), so both evaluate exactly the question: otherwise the second to ask finds it cached.
      const reset = () => askDirectly(baseUrl, apiKey, { ...llm, maxAnswerTokens: 1 }, RESET_QUESTION, false);
      const [j, d] = await alternately(
        i,
        async () => (await reset(), askJarvis(jarvis, bus, text)),
        async () => (await reset(), askDirectly(baseUrl, apiKey, llm, text)),
      );
      through.push(j);
      direct.push(d.sample);
      if (i >= WARMUP && d.serverRate !== undefined) serverRates.push(d.serverRate);
    }
    return { jarvis: through.slice(WARMUP), direct: direct.slice(WARMUP), serverRates, model: path.basename(llm.model), maxTokens: options.maxTokens, threads: llm.threads };
  } finally {
    await server.dispose();
  }
}

async function askJarvis(responder: OpenAiResponder, bus: RunEventBus, text: string): Promise<LlmSample> {
  const run = bus.startRun('text');
  await runTurn({ responder, verifyWakeWord: false }, run, { text }, new AbortController().signal);
  const first = run.first('first-token');
  const end = run.events.find((e): e is Extract<RunEvent, { type: 'llm-end' }> => e.type === 'llm-end');
  const error = run.first('error');
  if (!first || !end || error) throw new Error(`no answer through JARVIS to "${text}": ${error?.message ?? run.events.map((e) => e.type).join(', ')}`);
  return { firstTokenMs: first.ms, totalMs: end.ms, pieces: end.pieces, piecesPerSecond: rate(end.pieces, first.ms, end.ms) };
}

/** One streamed chat completion with fetch, as a client with nothing around it would make it. */
async function askDirectly(baseUrl: string, apiKey: string, llm: JarvisConfig['llm'], text: string, stream = true): Promise<{ sample: LlmSample; serverRate?: number }> {
  const started = performance.now();
  const response = await fetch(`${baseUrl}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({
      model: LOCAL_MODEL_ALIAS,
      messages: [
        { role: 'system', content: llm.systemPrompt },
        { role: 'user', content: text },
      ],
      stream,
      max_tokens: llm.maxAnswerTokens,
      temperature: llm.temperature,
    }),
  });
  if (!response.ok || !response.body) throw new Error(`llama-server answered HTTP ${response.status}: ${await response.text()}`);
  if (!stream) {
    await response.arrayBuffer();
    return { sample: { firstTokenMs: Number.NaN, totalMs: performance.now() - started, pieces: 0, piecesPerSecond: Number.NaN } };
  }
  const decoder = new TextDecoder();
  let buffered = '';
  let pieces = 0;
  let firstTokenMs = Number.NaN;
  let serverRate: number | undefined;
  for await (const chunk of response.body) {
    buffered += decoder.decode(chunk as Uint8Array, { stream: true });
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
      const event = JSON.parse(line.slice(6)) as { choices?: { delta?: { content?: string | null } }[]; timings?: { predicted_per_second?: number } };
      if (event.choices?.[0]?.delta?.content) {
        if (pieces++ === 0) firstTokenMs = performance.now() - started;
      }
      if (event.timings?.predicted_per_second !== undefined) serverRate = event.timings.predicted_per_second;
    }
  }
  const totalMs = performance.now() - started;
  return { sample: { firstTokenMs, totalMs, pieces, piecesPerSecond: rate(pieces, firstTokenMs, totalMs) }, ...(serverRate !== undefined ? { serverRate } : {}) };
}
