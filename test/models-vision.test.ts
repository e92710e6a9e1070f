import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { CATALOG, huggingFaceUrl } from '../models/catalog.ts';
import type { MachineResources } from '../models/fit.ts';
import { ModelStore } from '../models/store.ts';
import { estimateVisionFit, fitVisionModels } from '../models/vision-fit.ts';
import { checkGgufModelFile } from '../models/gguf-file.ts';
import { verifyFormat } from '../models/verify-format.ts';
import { ensureTinyMmproj } from './models/tiny-mmproj.ts';

/**
 * The model manager's vision model (llm.roles.vision, backend "local"): its catalog entry (the language model and
 * its projector, pinned, with the sizes and SHA-256s Hugging Face lists) and its fit, which counts both files.
 */

const GiB = 1024 ** 3;
const machine = (ramGiB: number): MachineResources => ({ gpu: null, ramTotalBytes: 64 * GiB, ramAvailableBytes: ramGiB * GiB, cpuCores: 8 });
const moondream = CATALOG.find((e) => e.id === 'moondream2-f16')!;

test('the catalog has a vision model with its projector, pinned to a revision with sizes and SHA-256s', () => {
  assert.equal(moondream.kind, 'vision');
  assert.ok(moondream.capabilities.includes('vision'));
  assert.deepEqual(moondream.files.map((f) => f.name), ['moondream2-text-model-f16.gguf', 'moondream2-mmproj-f16.gguf']);
  for (const file of moondream.files) {
    assert.equal(file.format, 'gguf');
    assert.equal(file.exactBytes, true);
    assert.match(file.sha256 ?? '', /^[0-9a-f]{64}$/);
  }
  assert.equal(
    huggingFaceUrl('https://huggingface.co', moondream.files[1]!.source as { repo: string; path: string; revision?: string }),
    'https://huggingface.co/moondream/moondream2-gguf/resolve/ca466a3fa65e7f365e7b8c9a0e6e4de3f3297a09/moondream2-mmproj-f16.gguf',
  );
});

test('its fit counts the model, the projector, the context and working memory, all in RAM', () => {
  const fit = estimateVisionFit(moondream, machine(16), { contextSize: 4096 });
  const [model, projector] = moondream.files;
  assert.equal(fit.modelBytes, model!.bytes);
  assert.equal(fit.projectorBytes, projector!.bytes);
  // Its context is the model's own 2048 tokens: 24 layers × 2048 wide, keys and values in F16.
  assert.equal(fit.contextSize, 2048);
  assert.equal(fit.contextBytes, 2 * 24 * 2048 * 2048 * 2);
  assert.equal(fit.ramBytes, fit.modelBytes + fit.projectorBytes + fit.contextBytes + fit.computeBytes);
  assert.equal(fit.verdict, 'cpu');
  assert.ok(fit.tokensPerSecond > 0);

  // Room for the language model alone is not room for the vision model: the projector is counted.
  const roomForModelOnly = machine((model!.bytes + fit.contextBytes + fit.computeBytes + projector!.bytes / 2) / GiB);
  assert.equal(estimateVisionFit(moondream, roomForModelOnly, { contextSize: 4096 }).verdict, 'no');
});

test('once downloaded, the files\' own sizes are used; the projector passes the GGUF checks a download gets', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-vision-models-'));
  try {
    const store = new ModelStore({ dir, baseUrl: 'https://huggingface.co' });
    // A test-made projector in the projector's place (the real one cannot be downloaded here).
    fs.copyFileSync(await ensureTinyMmproj(), path.join(dir, 'moondream2-mmproj-f16.gguf'));
    const row = fitVisionModels(store, machine(16), { contextSize: 4096 }).find((r) => r.entry.id === 'moondream2-f16')!;
    assert.equal(row.fit?.projectorBytes, fs.statSync(path.join(dir, 'moondream2-mmproj-f16.gguf')).size);
    assert.equal(row.fit?.modelBytes, moondream.files[0]!.bytes, 'the model is not here: the catalog size');
    const format = await verifyFormat(path.join(dir, 'moondream2-mmproj-f16.gguf'), 'gguf');
    assert.match(format.description, /^GGUF v3, 23 tensors, clip$/);
    assert.equal((await checkGgufModelFile(path.join(dir, 'moondream2-mmproj-f16.gguf'))).architecture, 'clip');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
