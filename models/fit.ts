import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { GgufFileInfo } from 'node-llama-cpp';
import { readGgufHeader } from './gguf-file.ts';
import { buildShapeHeader } from './gguf-shape.ts';
import type { LlmShape, Quantization } from './types.ts';

/**
 * Will this LLM fit this machine, and how fast will it answer? The memory figures come from node-llama-cpp's
 * GgufInsights, read from the model's GGUF header (the real file once downloaded, a header written from the
 * catalog's shape before that), resolved for the configured context size with the VRAM headroom held back.
 * The speed is a bandwidth estimate: generating one token reads every weight once, from VRAM for the layers on
 * the GPU and from RAM for the rest.
 */

export interface GpuInfo {
  readonly type: 'cuda' | 'vulkan' | 'metal';
  readonly names: readonly string[];
  readonly totalBytes: number;
  readonly freeBytes: number;
}

export interface MachineResources {
  /** null: no GPU llama.cpp can use. */
  readonly gpu: GpuInfo | null;
  readonly ramTotalBytes: number;
  readonly ramAvailableBytes: number;
  /** Cores llama.cpp computes on (physical cores). */
  readonly cpuCores: number;
}

export interface FitOptions {
  readonly contextSize: number;
  /** VRAM left free for everything else. */
  readonly headroomBytes: number;
  readonly cpuBytesPerSecond?: number;
  readonly gpuBytesPerSecond?: number;
}

/** fits: all layers on the GPU; partial: some; cpu: no GPU here; no: not enough memory at all. */
export type FitVerdict = 'fits' | 'partial' | 'cpu' | 'no';

export interface FitEstimate {
  readonly verdict: FitVerdict;
  readonly gpuLayers: number;
  readonly totalLayers: number;
  /** Model and context, on the GPU. */
  readonly vramBytes: number;
  /** Model and context, in RAM. */
  readonly ramBytes: number;
  /** VRAM with every layer on the GPU: what it would take to fit entirely. */
  readonly fullVramBytes: number;
  readonly modelBytes: number;
  readonly contextSize: number;
  readonly tokensPerSecond: number;
  readonly conversational: boolean;
}

/** Tokens per second from which a spoken answer keeps ahead of the voice reading it (about 3 words a second). */
export const CONVERSATIONAL_TOKENS_PER_SECOND = 8;

/** Effective memory bandwidth llama.cpp reaches: about 5 GB/s per core up to a dual-channel DDR4/5 ceiling. */
export function defaultCpuBytesPerSecond(cores: number): number {
  return Math.min(25e9, 5e9 * Math.max(1, cores));
}

/** A mid-range discrete GPU (a GTX 1080 Ti has 484 GB/s; llama.cpp reaches about two thirds of it). */
export const DEFAULT_GPU_BYTES_PER_SECOND = 300e9;

/**
 * The header as GgufInsights needs it, without the file path: that path would make node-llama-cpp load the
 * model natively to simulate it, which a header-only file cannot survive and a daemon should not risk.
 */
function headerOnly(info: GgufFileInfo): GgufFileInfo {
  const { source: _source, ...rest } = info;
  return { ...rest, sourceData: [] };
}

export async function readGgufForFit(file: string): Promise<GgufFileInfo> {
  return headerOnly(await readGgufHeader(file));
}

const shapeHeaders = new Map<string, Promise<GgufFileInfo>>();

/** The header a model of this shape has, read back through readGgufFileInfo like any GGUF file. */
export function readShapeForFit(shape: LlmShape, quantization: Quantization): Promise<GgufFileInfo> {
  const key = JSON.stringify([shape, quantization]);
  let info = shapeHeaders.get(key);
  if (!info) {
    info = (async () => {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'jarvis-shape-'));
      try {
        const file = path.join(dir, 'header.gguf');
        await fs.writeFile(file, buildShapeHeader(shape, quantization));
        return await readGgufForFit(file);
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    })();
    shapeHeaders.set(key, info);
  }
  return info;
}

/** "Q4_K_M" from general.file_type. */
export async function quantizationOf(info: GgufFileInfo): Promise<string | undefined> {
  const fileType = (info.metadata.general as { file_type?: number } | undefined)?.file_type;
  if (fileType === undefined) return undefined;
  const { GgufFileType } = await import('node-llama-cpp');
  const name = GgufFileType[fileType];
  return name ? name.replace(/^(MOSTLY|ALL)_/, '') : `file type ${fileType}`;
}

/** Parameters in billions, from the tensor table. */
export function parametersOf(info: GgufFileInfo): number {
  let elements = 0;
  for (const tensor of info.fullTensorInfo ?? info.tensorInfo ?? []) elements += tensor.dimensions.reduce<number>((n, d) => n * Number(d), 1);
  return Math.round(elements / 1e7) / 100;
}

export async function estimateFit(info: GgufFileInfo, machine: MachineResources, options: FitOptions): Promise<FitEstimate> {
  const { GgufInsights } = await import('node-llama-cpp');
  const insights = await GgufInsights.from(info);
  const contextSize = Math.min(options.contextSize, insights.trainContextSize ?? options.contextSize);
  const gpu = machine.gpu;
  const ramState = async () => ({ total: machine.ramTotalBytes, free: machine.ramAvailableBytes });
  const swapState = async () => ({ total: 0, free: 0 });
  const resolved = await insights.configurationResolver.resolveAndScoreConfig(
    { targetContextSize: contextSize },
    {
      getVramState: async () => ({
        total: gpu?.totalBytes ?? 0,
        free: Math.max(0, (gpu?.freeBytes ?? 0) - options.headroomBytes),
        unifiedSize: 0,
      }),
      getRamState: ramState,
      getSwapState: swapState,
      llamaGpu: gpu ? gpu.type : false,
      llamaSupportsGpuOffloading: gpu !== null,
      // The headroom is already held back above.
      llamaVramPaddingSize: 0,
    },
  );
  const values = resolved.resolvedValues;
  const totalLayers = insights.totalLayers;
  const full = await insights.configurationResolver.resolveAndScoreConfig(
    { targetContextSize: contextSize, targetGpuLayers: 'max' },
    { getVramState: async () => ({ total: Number.MAX_SAFE_INTEGER, free: Number.MAX_SAFE_INTEGER, unifiedSize: 0 }), getRamState: ramState, getSwapState: swapState, llamaGpu: 'cuda', llamaSupportsGpuOffloading: true, llamaVramPaddingSize: 0 },
  );
  const gpuLayers = gpu ? values.gpuLayers : 0;
  const ramBytes = values.totalRamUsage;
  const fitsInRam = ramBytes <= machine.ramAvailableBytes;
  const verdict: FitVerdict =
    resolved.compatibilityScore === 0 || !fitsInRam ? 'no' : !gpu || gpuLayers === 0 ? 'cpu' : gpuLayers >= totalLayers ? 'fits' : 'partial';
  const modelBytes = insights.modelSize;
  const cpuRate = options.cpuBytesPerSecond ?? defaultCpuBytesPerSecond(machine.cpuCores);
  const gpuRate = options.gpuBytesPerSecond ?? DEFAULT_GPU_BYTES_PER_SECOND;
  const onGpu = gpuLayers / totalLayers;
  const secondsPerToken = (modelBytes * onGpu) / gpuRate + (modelBytes * (1 - onGpu)) / cpuRate;
  const tokensPerSecond = verdict === 'no' ? 0 : Math.round((1 / secondsPerToken) * 10) / 10;
  return {
    verdict,
    gpuLayers,
    totalLayers,
    vramBytes: gpu ? values.totalVramUsage : 0,
    ramBytes,
    fullVramBytes: full.resolvedValues.totalVramUsage,
    modelBytes,
    contextSize,
    tokensPerSecond,
    conversational: tokensPerSecond >= CONVERSATIONAL_TOKENS_PER_SECOND,
  };
}

export interface FitCandidate<T> {
  readonly item: T;
  readonly fit: FitEstimate;
  /** Larger is better: parameters, discounted for coarser quantisation. */
  readonly quality: number;
}

/** How much of the full-precision model's quality a quantisation keeps, roughly (llama.cpp perplexity tables). */
export function quantizationRetention(quantization: string | undefined): number {
  switch (quantization) {
    case 'Q8_0':
    case 'F16':
    case 'BF16':
      return 1;
    case 'Q6_K':
      return 0.99;
    case 'Q5_K_M':
    case 'Q5_K_S':
      return 0.97;
    case 'Q4_K_M':
      return 0.94;
    default:
      return 0.9;
  }
}

export interface BestChoice<T> {
  readonly choice: FitCandidate<T> | undefined;
  /** Why this one, in a sentence for `jarvis models list --fits`. */
  readonly reason: string;
}

/**
 * The best model for this machine: with a GPU, the best one that fits entirely in VRAM; failing that (or without
 * a GPU), the best one that still answers at conversational speed; failing that, the fastest that fits at all.
 */
export function chooseBest<T>(candidates: readonly FitCandidate<T>[], machine: MachineResources): BestChoice<T> {
  const usable = candidates.filter((c) => c.fit.verdict !== 'no');
  const best = (list: readonly FitCandidate<T>[]) =>
    [...list].sort((a, b) => b.quality - a.quality || b.fit.tokensPerSecond - a.fit.tokensPerSecond)[0];
  const full = machine.gpu ? best(usable.filter((c) => c.fit.verdict === 'fits' && c.fit.conversational)) : undefined;
  if (full) return { choice: full, reason: 'the best model that fits entirely in VRAM with the headroom kept free' };
  const quick = best(usable.filter((c) => c.fit.conversational));
  if (quick) {
    return {
      choice: quick,
      reason: machine.gpu
        ? 'nothing better fits entirely in VRAM; the best that still answers at conversational speed with some layers on the CPU'
        : `no GPU: the best model that answers at conversational speed (≥ ${CONVERSATIONAL_TOKENS_PER_SECOND} tokens/s) on the CPU`,
    };
  }
  const fastest = [...usable].sort((a, b) => b.fit.tokensPerSecond - a.fit.tokensPerSecond)[0];
  if (fastest) return { choice: fastest, reason: `nothing reaches conversational speed here; the fastest model that fits` };
  return { choice: undefined, reason: 'no model fits in this machine\'s memory' };
}

const UNLIMITED = Number.MAX_SAFE_INTEGER;

/**
 * What a loaded model will hold on the device it runs on (the model pool's accounting): its VRAM with every layer
 * on the GPU, or its RAM on the CPU. 0 when the file cannot be read (its load will fail with the reason).
 */
export async function estimateResidentBytes(file: string, onGpu: boolean, contextSize: number): Promise<number> {
  let info: GgufFileInfo;
  try {
    info = await readGgufForFit(file);
  } catch {
    return 0;
  }
  const machine: MachineResources = {
    gpu: onGpu ? { type: 'cuda', names: [], totalBytes: UNLIMITED, freeBytes: UNLIMITED } : null,
    ramTotalBytes: UNLIMITED,
    ramAvailableBytes: UNLIMITED,
    cpuCores: 1,
  };
  const fit = await estimateFit(info, machine, { contextSize, headroomBytes: 0 });
  return onGpu ? fit.fullVramBytes : fit.ramBytes;
}
