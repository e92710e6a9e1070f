import { parseConfig } from '../config/load.ts';
import { LlamaResponder } from '../core/llm/llama-responder.ts';
import { estimateResidentBytes } from '../models/fit.ts';
import { ModelPool, type PoolModel } from '../core/live-models/pool.ts';
import { writeTinyGguf } from '../test/models/tiny-gguf.ts';

/**
 * LLM swap time through the model pool (models/pool.ts), on this machine's llama.cpp device:
 * - cold: the pool holds one model, so every switch unloads the last (its worker exits) and loads the next in a
 *   new worker process (fork, tsx, getLlama, model, context, system prompt);
 * - resident: the budget holds all of them, so a switch back is a pointer change.
 * With the test-made models the load itself is tiny: the cold figure is the worker's fixed cost, which a real
 * model adds its load time to. Run: node --import tsx bench/model-swap.ts [rounds]
 */

const rounds = Number(process.argv[2] ?? 5);
const llm = parseConfig({ llm: { contextSize: 512, maxAnswerTokens: 8 } }).llm;
const paths = await Promise.all([1, 2, 3].map((seed) => writeTinyGguf({ seed: 900 + seed, name: `swap bench ${seed}` })));
const models: PoolModel[] = await Promise.all(paths.map(async (path, i) => ({ key: `m${i}`, path, costBytes: await estimateResidentBytes(path, false, 512) })));

async function measure(budgetBytes: number): Promise<number[]> {
  const pool = new ModelPool({ budgetBytes, createResponder: (m) => new LlamaResponder({ ...llm, model: m.path }, { threads: 1 }) });
  const times: number[] = [];
  try {
    for (const model of models) await pool.activate(model);
    for (let i = 0; i < rounds * models.length; i++) {
      const started = performance.now();
      await pool.activate(models[i % models.length]!);
      times.push(performance.now() - started);
    }
  } finally {
    await pool.dispose();
  }
  return times;
}

function summary(times: number[]): string {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return `median ${at(0.5).toFixed(1)} ms, p95 ${at(0.95).toFixed(1)} ms, n=${sorted.length}`;
}

const cold = await measure(models[0]!.costBytes + 1);
const resident = await measure(Number.MAX_SAFE_INTEGER);
console.log(`LLM swap, cold (unload + new worker + load): ${summary(cold)}`);
console.log(`LLM swap, to a resident model:               ${summary(resident)}`);
