import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { readGgufFileInfo } from 'node-llama-cpp';
import { CATALOG } from '../models/catalog.ts';
import { chooseBest, estimateFit, parametersOf, quantizationOf, quantizationRetention, readGgufForFit, type FitEstimate, type MachineResources } from '../models/fit.ts';
import { buildShapeHeader, estimateGgufBytes } from '../models/gguf-shape.ts';
import { fitLlms, isGeneralChatModel } from '../models/recommend.ts';
import { ModelStore } from '../models/store.ts';
import type { ModelEntry } from '../models/types.ts';
import { TEST_MODELS_DIR } from './models/cache.ts';
import { writeTinyGguf } from './models/tiny-gguf.ts';

/**
 * Fitting LLMs to GPUs of 0 / 4 / 8 / 11 / 24 GB, from real GGUF headers: header-only GGUF files of the catalog
 * models' shapes (written here, read back with node-llama-cpp's readGgufFileInfo, estimated with its GgufInsights)
 * and a complete test-made GGUF. The machines are described, not probed, so the table holds on any test box.
 */

const GB = 2 ** 30;
const HEADROOM = 0.5 * GB;
const CONTEXT = 4096;
const llms = CATALOG.filter((e) => e.kind === 'llm');
const headers = new Map<string, string>();

function machine(vramGb: number, cpuCores = 8): MachineResources {
  return {
    gpu: vramGb > 0 ? { type: 'cuda', names: [`test GPU ${vramGb} GB`], totalBytes: vramGb * GB, freeBytes: vramGb * GB } : null,
    ramTotalBytes: 32 * GB,
    ramAvailableBytes: 24 * GB,
    cpuCores,
  };
}

before(() => {
  const dir = path.join(TEST_MODELS_DIR, 'shape-headers');
  fs.mkdirSync(dir, { recursive: true });
  for (const entry of llms) {
    const file = path.join(dir, `${entry.id}.gguf`);
    fs.writeFileSync(file, buildShapeHeader(entry.llm!.shape!, entry.llm!.quantization, entry.title));
    headers.set(entry.id, file);
  }
});

async function fitsFor(vramGb: number, options: { headroom?: number; cpuCores?: number } = {}): Promise<Map<string, FitEstimate>> {
  const fits = new Map<string, FitEstimate>();
  for (const entry of llms) {
    const info = await readGgufForFit(headers.get(entry.id)!);
    fits.set(entry.id, await estimateFit(info, machine(vramGb, options.cpuCores), { contextSize: CONTEXT, headroomBytes: options.headroom ?? HEADROOM }));
  }
  return fits;
}

function best(fits: Map<string, FitEstimate>, vramGb: number, cpuCores = 8) {
  const candidates = llms.filter(isGeneralChatModel).map((entry) => ({
    item: entry,
    fit: fits.get(entry.id)!,
    quality: entry.llm!.parametersB * quantizationRetention(entry.llm!.quantization),
  }));
  return chooseBest(candidates, machine(vramGb, cpuCores));
}

describe('GGUF headers of known shapes (header-only files read by node-llama-cpp)', () => {
  test('node-llama-cpp reads a header-only GGUF like the real file: architecture, layers, tensor table, size', async () => {
    const info = await readGgufFileInfo(headers.get('llama-3.1-8b-q4_k_m')!, { logWarnings: false });
    assert.equal(info.metadata.general.architecture, 'llama');
    assert.equal(Number(info.tensorCount), 2 + 1 + 32 * 9);
    assert.equal(info.architectureMetadata.block_count, 32);
    assert.equal(await quantizationOf(info), 'Q4_K_M');
    assert.equal(parametersOf(info), 8.03);
    // The size the tensor table implies is the catalog's estimate, and within 1 % of the published 4.92 GB file.
    const entry = llms.find((e) => e.id === 'llama-3.1-8b-q4_k_m')!;
    assert.equal(entry.files[0]!.bytes, estimateGgufBytes(entry.llm!.shape!, 'Q4_K_M'));
    assert.ok(Math.abs(entry.files[0]!.bytes - 4.92e9) / 4.92e9 < 0.01, `${entry.files[0]!.bytes}`);
  });

  test('a complete test-made GGUF is estimated from its own header (F32, 1 layer)', async () => {
    const file = await writeTinyGguf();
    const info = await readGgufForFit(file);
    assert.equal(await quantizationOf(info), 'F32');
    const fit = await estimateFit(info, machine(8), { contextSize: 512, headroomBytes: HEADROOM });
    assert.equal(fit.verdict, 'fits');
    assert.equal(fit.gpuLayers, fit.totalLayers);
    assert.ok(fit.modelBytes > 100_000 && fit.modelBytes < fs.statSync(file).size, `${fit.modelBytes} bytes of weights`);
  });
});

describe('fit decisions by GPU size (4096-token context, 0.5 GB headroom)', () => {
  // [VRAM GB, best general model, [model, verdict, GPU layers] checks]
  const table: [number, string, [string, FitEstimate['verdict'], string][]][] = [
    [0, 'llama-3.2-1b-q5_k_m', [['llama-3.2-1b-q4_k_m', 'cpu', '0/17'], ['llama-3.1-8b-q4_k_m', 'cpu', '0/33']]],
    [4, 'llama-3.2-3b-q5_k_m', [['llama-3.2-3b-q5_k_m', 'fits', '29/29'], ['llama-3.2-3b-q8_0', 'partial', '27/29'], ['llama-3.1-8b-q4_k_m', 'partial', '20/33']]],
    [8, 'llama-3.1-8b-q5_k_m', [['llama-3.1-8b-q5_k_m', 'fits', '33/33'], ['llama-3.1-8b-q8_0', 'partial', '29/33'], ['qwen2.5-14b-q4_k_m', 'partial', '38/49']]],
    [11, 'qwen2.5-14b-q4_k_m', [['qwen2.5-14b-q4_k_m', 'fits', '49/49'], ['qwen2.5-14b-q5_k_m', 'partial', '48/49'], ['llama-3.1-8b-q8_0', 'fits', '33/33']]],
    [24, 'qwen2.5-14b-q8_0', [['qwen2.5-14b-q8_0', 'fits', '49/49']]],
  ];
  for (const [vramGb, expected, checks] of table) {
    test(`${vramGb} GB: ${expected}`, async () => {
      // 0 GB is a 2-core box like this one; the GPU machines have 8 cores for their CPU layers.
      const cores = vramGb === 0 ? 2 : 8;
      const fits = await fitsFor(vramGb, { cpuCores: cores });
      for (const [id, verdict, layers] of checks) {
        const fit = fits.get(id)!;
        assert.equal(`${fit.verdict} ${fit.gpuLayers}/${fit.totalLayers}`, `${verdict} ${layers}`, id);
        if (vramGb > 0) assert.ok(fit.vramBytes <= vramGb * GB - HEADROOM, `${id} keeps the headroom free: ${fit.vramBytes}`);
      }
      const choice = best(fits, vramGb, cores);
      assert.equal(choice.choice?.item.id, expected, choice.reason);
      assert.ok(choice.choice!.fit.conversational, `${choice.choice!.fit.tokensPerSecond} tokens/s`);
      if (vramGb > 0) assert.match(choice.reason, /fits entirely in VRAM/);
      else assert.match(choice.reason, /no GPU: the best model that answers at conversational speed/);
    });
  }

  test('a larger headroom changes the choice on an 11 GB card (the 14B model no longer fits)', async () => {
    const fits = await fitsFor(11, { headroom: 2 * GB });
    assert.equal(fits.get('qwen2.5-14b-q4_k_m')!.verdict, 'partial');
    assert.equal(best(fits, 11).choice?.item.id, 'llama-3.1-8b-q8_0');
  });

  test('code specialists are estimated but never the default choice', async () => {
    const coder = llms.find((e) => e.id === 'qwen2.5-coder-1.5b-q4_k_m')!;
    assert.equal(isGeneralChatModel(coder), false);
    assert.equal(isGeneralChatModel(llms.find((e) => e.id === 'qwen2.5-7b-q4_k_m')!), true);
  });

  test('nothing conversational on a tiny CPU box: the fastest model that fits, said so', () => {
    const slow = (id: string, tokensPerSecond: number): { item: ModelEntry; fit: FitEstimate; quality: number } => ({
      item: llms.find((e) => e.id === id)!,
      fit: { verdict: 'cpu', gpuLayers: 0, totalLayers: 17, vramBytes: 0, ramBytes: GB, fullVramBytes: GB, modelBytes: GB, contextSize: CONTEXT, tokensPerSecond, conversational: false },
      quality: 1,
    });
    const choice = chooseBest([slow('llama-3.2-1b-q8_0', 3), slow('llama-3.2-1b-q4_k_m', 5)], machine(0, 1));
    assert.equal(choice.choice?.item.id, 'llama-3.2-1b-q4_k_m');
    assert.match(choice.reason, /nothing reaches conversational speed/);
  });
});

describe('fitting what is installed', () => {
  test('a downloaded model is fitted from its own file, the others from their shapes', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-fit-'));
    const store = new ModelStore({ dir, baseUrl: 'http://127.0.0.1:9' });
    // Pretend the 1B Q4 is downloaded: its file is the tiny test model (1 layer), so its fit must say 2 layers.
    fs.copyFileSync(await writeTinyGguf(), path.join(dir, 'Llama-3.2-1B-Instruct-Q4_K_M.gguf'));
    const { rows } = await fitLlms(store, machine(8), { contextSize: 512, headroomBytes: HEADROOM });
    assert.equal(rows.find((r) => r.entry.id === 'llama-3.2-1b-q4_k_m')!.fit!.totalLayers, 2);
    assert.equal(rows.find((r) => r.entry.id === 'llama-3.2-1b-q5_k_m')!.fit!.totalLayers, 17);
  });
});
