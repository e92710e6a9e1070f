import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GpuGovernor, type GovernorAction } from '../core/live-models/gpu-governor.ts';
import type { Problem } from '../core/protocol/state.ts';
import type { RunEvent } from '../core/protocol/run-events.ts';
import type { GpuSample } from '../core/protocol/wire.ts';
import { startTestHud } from './fixtures/hud-server.ts';
import { gpuCurve } from './fixtures/nvidia-smi.ts';
import { ScriptedResponder } from './fixtures/scripted-responder.ts';

/**
 * The GPU governor: its decisions as a table of sample sequences, then the whole daemon fed by a scripted
 * nvidia-smi that plays temperature and memory curves (no NVIDIA GPU here).
 */

const gpu = (temperatureC: number, usedMiB = 4000, powerDrawW = 150): GpuSample => ({
  index: 0,
  name: 'NVIDIA GeForce GTX 1080 Ti',
  temperatureC,
  memoryUsedMiB: usedMiB,
  memoryTotalMiB: 11264,
  powerDrawW,
  powerLimitW: 250,
});

function play(samples: GpuSample[]): string[] {
  const governor = new GpuGovernor({ maxTemperatureC: 80, powerLimitFraction: 0.97, vramHeadroomMiB: 512 });
  return samples.flatMap((sample, i) => governor.observe(sample).map((a: GovernorAction) => `${i}:${a.type}`));
}

describe('GPU governor decisions', () => {
  const cases: [string, GpuSample[], string[]][] = [
    ['steady and cool: nothing', Array.from({ length: 20 }, () => gpu(65)), []],
    ['one hot sample (a spike): nothing', [gpu(70), gpu(85), gpu(70), gpu(70)], []],
    ['hot twice in a row: cool down; 5 samples 5 °C below: over', [gpu(81), gpu(82), gpu(79), gpu(76), gpu(75), gpu(74), gpu(74), gpu(74), gpu(73)], ['1:cool-down', '8:cooled']],
    ['just under the limit is not cool enough to end it', [gpu(80), gpu(80), ...Array.from({ length: 8 }, () => gpu(77))], ['1:cool-down']],
    ['at the power limit counts as hot', [gpu(70, 4000, 245), gpu(70, 4000, 246), gpu(70)], ['1:cool-down']],
    [
      'memory short twice: free it; still short 5 samples later: suggest a smaller model; room again: over',
      [gpu(60, 10_900), gpu(60, 10_900), gpu(60, 10_900), gpu(60, 10_900), gpu(60, 10_900), gpu(60, 10_900), gpu(60, 10_900), gpu(60, 9000), gpu(60, 9000)],
      ['1:free-memory', '6:suggest-smaller-model', '8:memory-ok'],
    ],
    ['memory freed by unloading: over without a suggestion', [gpu(60, 10_900), gpu(60, 10_900), gpu(60, 6000), gpu(60, 6000)], ['1:free-memory', '3:memory-ok']],
  ];
  for (const [name, samples, expected] of cases) test(name, () => assert.deepEqual(play(samples), expected));
});

test('the daemon under a GPU that heats up and cools down, and loses its memory to another program: short answers and problems on the HUD while it lasts', async () => {
  const hot = { temperatureC: 86, usedMiB: 4000 };
  const cool = { temperatureC: 70, usedMiB: 4000 };
  const curve = [cool, cool, hot, hot, hot, hot, hot, hot, hot, hot, hot, hot, cool, cool, cool, cool, cool, cool, cool, cool, cool, { temperatureC: 70, usedMiB: 11_000 }];
  const longAnswer = Array.from({ length: 8 }, (_, i) => `This is sentence number ${i + 1}.`).join(' ');
  const hud = await startTestHud({ nvidiaSmi: gpuCurve(curve), responder: new ScriptedResponder(() => longAnswer), config: { server: { telemetryIntervalMs: 200 } } });
  try {
    const { assistant } = hud;
    const problem = (id: string) => assistant.state.problems.find((p: Problem) => p.id === id);
    const until = async (what: string, done: () => boolean, ms = 10_000) => {
      for (const started = Date.now(); !done(); await new Promise((r) => setTimeout(r, 50))) if (Date.now() - started > ms) assert.fail(what);
    };
    await until('no gpu-hot problem while the GPU is at 86 °C', () => problem('gpu-hot') !== undefined);
    assert.match(problem('gpu-hot')!.message, /86 °C \(limit 80 °C\): answers are kept to 2 sentences/);
    const events: RunEvent[] = [];
    const off = assistant.bus.subscribe((e) => events.push(e));
    const hotAnswer = await assistant.ask('tell me everything');
    off();
    assert.equal(hotAnswer.outcome, 'answered');
    assert.equal(events.filter((e) => e.type === 'sentence').length, 2, 'two sentences while hot');
    const end = events.find((e) => e.type === 'llm-end');
    assert.ok(end?.type === 'llm-end' && !end.aborted, 'the limit ends the answer, it does not abort the turn');

    await until('the gpu-hot problem stayed after the GPU cooled', () => problem('gpu-hot') === undefined);
    const cooled = await assistant.ask('tell me everything');
    assert.equal(cooled.answer, longAnswer, 'whole answers again once cool');

    await until('no gpu-memory problem when another program took the memory', () => problem('gpu-memory') !== undefined);
    assert.match(problem('gpu-memory')!.message, /Another program is using the GPU's memory \(264 MiB free\)/);
  } finally {
    await hud.close();
  }
});
