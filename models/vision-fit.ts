import fs from 'node:fs';
import { defaultCpuBytesPerSecond, type MachineResources } from './fit.ts';
import type { ModelStore } from './store.ts';
import type { ModelEntry } from './types.ts';

/**
 * Will a vision model fit this machine, with everything it loads: the language model, its projector (mmproj), the
 * context of the language model, and the working memory of both graphs? JARVIS's own llama-server (llm.roles.vision,
 * backend "local") is built against node-llama-cpp's CPU libraries, so all of it is RAM. Sizes are the files' own
 * once downloaded, the catalog's before.
 */

/** The context a vision server of JARVIS's own gets: llm.contextSize, at most this (a photo and a question fit). */
export const VISION_CONTEXT_CAP = 8192;

/**
 * Working memory of the image encoder's graph and the language model's, beside their weights: an allowance (llama.cpp
 * reports a few hundred MiB for the two together with a ~2B model on the CPU), not a measurement.
 */
const COMPUTE_ALLOWANCE_BYTES = 512 * 1024 * 1024;

export interface VisionFitEstimate {
  /** cpu: it fits in the RAM available (and runs on the CPU); no: it does not. */
  readonly verdict: 'cpu' | 'no';
  readonly modelBytes: number;
  readonly projectorBytes: number;
  /** The language model's context (keys and values in F16) for `contextSize` tokens. */
  readonly contextBytes: number;
  readonly computeBytes: number;
  /** All of the above. */
  readonly ramBytes: number;
  readonly contextSize: number;
  /** Answer speed: each token reads the language model's weights once (the projector runs once per photo). */
  readonly tokensPerSecond: number;
}

export interface VisionFitRow {
  readonly entry: ModelEntry;
  readonly fit: VisionFitEstimate | undefined;
  readonly error?: string;
}

export function estimateVisionFit(
  entry: ModelEntry,
  machine: MachineResources,
  options: { readonly contextSize: number; readonly modelBytes?: number; readonly projectorBytes?: number; readonly cpuBytesPerSecond?: number },
): VisionFitEstimate {
  const details = entry.vision;
  const [model, projector] = entry.files;
  if (!details || !model || !projector) throw new Error(`${entry.id} is not a vision model with a projector`);
  const modelBytes = options.modelBytes ?? model.bytes;
  const projectorBytes = options.projectorBytes ?? projector.bytes;
  const contextSize = Math.min(options.contextSize, VISION_CONTEXT_CAP, details.contextLength);
  const contextBytes = 2 * details.layers * contextSize * details.kvWidth * 2;
  const ramBytes = modelBytes + projectorBytes + contextBytes + COMPUTE_ALLOWANCE_BYTES;
  const verdict = ramBytes <= machine.ramAvailableBytes ? 'cpu' : 'no';
  const rate = options.cpuBytesPerSecond ?? defaultCpuBytesPerSecond(machine.cpuCores);
  return {
    verdict,
    modelBytes,
    projectorBytes,
    contextBytes,
    computeBytes: COMPUTE_ALLOWANCE_BYTES,
    ramBytes,
    contextSize,
    tokensPerSecond: verdict === 'no' ? 0 : Math.round((rate / modelBytes) * 10) / 10,
  };
}

/** Every vision model the store knows, fitted to `machine` (the downloaded files' sizes where they are here). */
export function fitVisionModels(store: ModelStore, machine: MachineResources, options: { readonly contextSize: number }): VisionFitRow[] {
  const size = (file: string) => {
    try {
      return fs.statSync(file).size;
    } catch {
      return undefined;
    }
  };
  return store
    .entries()
    .filter((entry) => entry.kind === 'vision')
    .map((entry) => {
      try {
        const [model, projector] = entry.files;
        const modelBytes = model && size(store.filePath(entry, model));
        const projectorBytes = projector && size(store.filePath(entry, projector));
        return { entry, fit: estimateVisionFit(entry, machine, { ...options, ...(modelBytes ? { modelBytes } : {}), ...(projectorBytes ? { projectorBytes } : {}) }) };
      } catch (error) {
        return { entry, fit: undefined, error: (error as Error).message };
      }
    });
}
