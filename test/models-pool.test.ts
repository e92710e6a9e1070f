import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseConfig } from '../config/load.ts';
import { LlamaResponder } from '../core/llm/llama-responder.ts';
import { estimateResidentBytes } from '../models/fit.ts';
import { ModelPool, type PoolEvent, type PoolModel } from '../core/live-models/pool.ts';
import { PooledResponder } from '../core/live-models/pooled-responder.ts';
import { writeTinyGguf } from './models/tiny-gguf.ts';

/**
 * The model pool with real node-llama-cpp loads (each model in its own real worker process, CPU here) of
 * test-made random-weight GGUFs: LRU eviction under a memory budget, idle unloading, instant switches back to a
 * resident model, and the responder the assistant uses switching models between two questions.
 */

const CONTEXT = 512;
const llm = parseConfig({ llm: { contextSize: CONTEXT, maxAnswerTokens: 8, restartDelayMs: 0 } }).llm;
let models: PoolModel[];
const pools: ModelPool[] = [];

before(async () => {
  const paths = await Promise.all([1, 2, 3].map((seed) => writeTinyGguf({ seed: 100 + seed, name: `pool test ${seed}` })));
  models = await Promise.all(
    paths.map(async (path, i) => ({ key: `tiny-${i + 1}`, path, costBytes: await estimateResidentBytes(path, false, CONTEXT) })),
  );
});

after(async () => {
  for (const pool of pools) await pool.dispose();
});

function makePool(budgetBytes: number, idleUnloadMs = 0, now?: () => number): { pool: ModelPool; events: PoolEvent[] } {
  const pool = new ModelPool({
    budgetBytes,
    idleUnloadMs,
    ...(now ? { now } : {}),
    createResponder: (model) => new LlamaResponder({ ...llm, model: model.path }, { threads: 1 }),
  });
  const events: PoolEvent[] = [];
  pool.on('event', (event) => events.push(event));
  pools.push(pool);
  return { pool, events };
}

async function answer(responder: { respond: LlamaResponder['respond'] }): Promise<string> {
  let text = '';
  for await (const piece of responder.respond({ text: 'hello', signal: new AbortController().signal })) text += piece;
  return text;
}

describe('model pool (real node-llama-cpp workers, test-made random-weight GGUFs)', () => {
  test('the estimate from the GGUF header is what the pool counts on the CPU', () => {
    for (const model of models) assert.ok(model.costBytes > 1_000_000 && model.costBytes < 100_000_000, `${model.key}: ${model.costBytes} bytes`);
  });

  test('loads within the budget and evicts the least recently used model, not the one just used', async () => {
    const budget = Math.floor(models[0]!.costBytes * 2.5);
    const { pool, events } = makePool(budget);
    const [a, b, c] = models as [PoolModel, PoolModel, PoolModel];
    const first = await pool.activate(a);
    const firstPid = first.workerPid;
    await pool.activate(b);
    assert.deepEqual(pool.residents().map((r) => r.key), ['tiny-2', 'tiny-1']);
    // Back to A: resident, so nothing loads, and A becomes the most recently used.
    const again = await pool.activate(a);
    assert.equal(again.workerPid, firstPid, 'the same worker answers');
    await pool.activate(c);
    assert.deepEqual(pool.residents().map((r) => r.key).sort(), ['tiny-1', 'tiny-3']);
    assert.ok(pool.usedBytes <= budget, `${pool.usedBytes} <= ${budget}`);

    const loadC = events.find((e) => e.type === 'loaded' && e.key === 'tiny-3');
    assert.ok(loadC?.type === 'loaded');
    assert.deepEqual(loadC.evicted, ['tiny-2']);
    assert.equal(loadC.device, 'cpu');
    assert.ok(loadC.ms > 0 && loadC.pool.afterBytes <= loadC.pool.budgetBytes);
    assert.equal(loadC.pool.beforeBytes, models[0]!.costBytes + models[1]!.costBytes);
    assert.deepEqual(loadC.vram, { beforeBytes: 0, afterBytes: 0 }, 'no VRAM on the CPU');
    const unloadB = events.find((e) => e.type === 'unloaded');
    assert.ok(unloadB?.type === 'unloaded' && unloadB.key === 'tiny-2' && unloadB.reason === 'lru');
    const switches = events.filter((e) => e.type === 'activated');
    assert.deepEqual(switches.map((e) => e.type === 'activated' && [e.key, e.wasResident]), [['tiny-1', false], ['tiny-2', false], ['tiny-1', true], ['tiny-3', false]]);
    assert.ok(await answer(pool.activeResponder!), 'the active model answers');
  });

  test('the pooled responder switches models between questions: resident models instantly; idle ones unload and come back; a bad model leaves the others', async () => {
    // The pool's clock is the test's: loads here take seconds, and only the idle check below may see idle time.
    let clock = 0;
    const { pool, events } = makePool(Number.MAX_SAFE_INTEGER, 60_000, () => clock);
    const responder = new PooledResponder(pool, models[0]);
    await responder.load();
    const pidA = pool.activeResponder!.workerPid;
    assert.ok(await answer(responder));

    const coldStarted = performance.now();
    await responder.use(models[1]!);
    const coldMs = performance.now() - coldStarted;
    const pidB = pool.activeResponder!.workerPid;
    assert.notEqual(pidB, pidA);
    assert.ok(await answer(responder));

    const warmStarted = performance.now();
    await responder.use(models[0]!);
    const warmMs = performance.now() - warmStarted;
    assert.equal(pool.activeResponder!.workerPid, pidA, 'switching back reuses the resident worker: nothing reloads');
    console.log(`# model swap on this CPU: cold (new worker + load) ${coldMs.toFixed(0)} ms, to a resident model ${warmMs.toFixed(2)} ms`);

    // A file that is not there fails before any worker starts, as an event; the loaded models stay.
    await assert.rejects(pool.activate({ key: 'missing', path: '/nonexistent/model.gguf', costBytes: 1 }), /does not exist/);
    assert.ok(events.some((e) => e.type === 'load-failed' && e.key === 'missing'));
    assert.deepEqual(pool.residents().map((r) => r.key).sort(), ['tiny-1', 'tiny-2']);

    clock += 60_000;
    assert.deepEqual((await pool.unloadIdle()).sort(), ['tiny-1', 'tiny-2']);
    assert.equal(pool.residents().length, 0);
    assert.ok(events.some((e) => e.type === 'unloaded' && e.reason === 'idle'));
    assert.ok(await answer(responder), 'the next question loads the chosen model again');
    assert.deepEqual(pool.residents().map((r) => r.key), ['tiny-1']);
    assert.equal(events.filter((e) => e.type === 'loaded').length, 3);
  });
});
