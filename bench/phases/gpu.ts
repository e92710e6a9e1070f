import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { JarvisConfig } from '../../config/schema.ts';
import { LlamaResponder } from '../../core/llm/llama-responder.ts';
import { vramUsedMiB } from '../lib/machine.ts';

/**
 * Swapping the LLM on an NVIDIA GPU: the daemon's LlamaResponder is disposed (its worker exits and frees the
 * VRAM) and a new one loads the next model, timed from the dispose to "loaded", with the GPU's used memory (from
 * nvidia-smi) before any model, with one loaded, and after the last is gone. It swaps between the configured
 * model and another GGUF in the same folder when there is one, else reloads the same file.
 */

export interface SwapResult {
  readonly swapMs: number[];
  readonly vramBeforeMiB: number;
  readonly vramLoadedMiB: number[];
  readonly vramAfterMiB: number;
  readonly models: string[];
  readonly device: string;
}

export async function measureModelSwap(config: JarvisConfig, runs: number): Promise<SwapResult> {
  const models = swapModels(config.llm.model);
  const responderFor = (model: string) => new LlamaResponder({ ...config.llm, model }, config.llm.threads ? { threads: config.llm.threads } : {});
  const vram = async () => {
    const used = await vramUsedMiB();
    if (used === undefined) throw new Error('nvidia-smi stopped answering');
    return used;
  };
  const vramBeforeMiB = await vram();
  let current = responderFor(models[0]!);
  const loaded = await current.load();
  const vramLoadedMiB = [await vram()];
  const swapMs: number[] = [];
  try {
    for (let i = 1; i <= runs; i++) {
      const started = performance.now();
      await current.dispose();
      current = responderFor(models[i % models.length]!);
      await current.load();
      swapMs.push(performance.now() - started);
      vramLoadedMiB.push(await vram());
    }
  } finally {
    await current.dispose();
  }
  await sleep(1000); // the driver frees a dead process's memory shortly after it exits
  return { swapMs, vramBeforeMiB, vramLoadedMiB, vramAfterMiB: await vram(), models: models.map((m) => path.basename(m)), device: loaded.info.device };
}

function swapModels(model: string): string[] {
  const folder = path.dirname(model);
  const other = fs
    .readdirSync(folder)
    .filter((f) => f.endsWith('.gguf') && path.join(folder, f) !== model)
    .sort()[0];
  return other ? [model, path.join(folder, other)] : [model];
}
