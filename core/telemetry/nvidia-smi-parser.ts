import type { GpuMemoryUse, GpuSample } from '../protocol/wire.ts';

/**
 * Parsers for `nvidia-smi --query-*` output in `--format=csv,noheader,nounits`: one line per GPU (or process),
 * fields separated by ", ". A field the GPU or driver does not report is "[N/A]" or "[Not Supported]" (fans on
 * data-centre cards, power on some laptops, utilisation on old GeForce cards); those become undefined, never 0,
 * so the HUD can say "not reported" instead of drawing a false zero.
 */

/** The fields the HUD shows, in the order nvidia-smi prints them. */
export const GPU_QUERY_FIELDS = [
  'name',
  'memory.used',
  'memory.total',
  'temperature.gpu',
  'power.draw',
  'power.limit',
  'utilization.gpu',
  'clocks.sm',
  'clocks.mem',
  'fan.speed',
] as const;

export type GpuQueryField = 'index' | (typeof GPU_QUERY_FIELDS)[number];

export const COMPUTE_APPS_QUERY_FIELDS = ['pid', 'used_memory'] as const;

/** Lines nvidia-smi prints instead of figures when it cannot read a GPU at all. */
export class NvidiaSmiFailure extends Error {
  constructor(readonly kind: 'no-driver' | 'no-devices' | 'gpu-lost' | 'unexpected', readonly line: string) {
    super(line);
    this.name = 'NvidiaSmiFailure';
  }
}

export function classifyNvidiaSmiMessage(line: string): NvidiaSmiFailure | undefined {
  if (/couldn't communicate with the NVIDIA driver|NVIDIA-SMI has failed|Failed to initialize NVML|Driver\/library version mismatch/i.test(line)) {
    return new NvidiaSmiFailure('no-driver', line.trim());
  }
  if (/No devices were found/i.test(line)) return new NvidiaSmiFailure('no-devices', line.trim());
  if (/GPU is lost|Unable to determine the device handle/i.test(line)) return new NvidiaSmiFailure('gpu-lost', line.trim());
  return undefined;
}

/**
 * One GPU per line. `fields` is the query's field list; `index` may be among them (the monitor asks for it to
 * tell the GPUs of one sample apart), otherwise GPUs are numbered by line. Throws NvidiaSmiFailure for a line
 * that is nvidia-smi saying it cannot work.
 */
export function parseGpuCsv(text: string, fields: readonly GpuQueryField[] = GPU_QUERY_FIELDS): GpuSample[] {
  const samples: GpuSample[] = [];
  for (const line of lines(text)) samples.push(parseGpuLine(line, fields, samples.length));
  return samples;
}

export function parseGpuLine(line: string, fields: readonly GpuQueryField[], position = 0): GpuSample {
  const failure = classifyNvidiaSmiMessage(line);
  if (failure) throw failure;
  const values = splitFields(line, fields.length, Math.max(0, fields.indexOf('name')));
  if (!values) throw new NvidiaSmiFailure('unexpected', line.trim());
  const field = (name: GpuQueryField) => values[fields.indexOf(name)];
  const number = (name: GpuQueryField) => (fields.includes(name) ? parseNumber(field(name)) : undefined);
  const sample: GpuSample = { index: number('index') ?? position, name: field('name') ?? `GPU ${position}` };
  const assign = <K extends keyof GpuSample>(key: K, value: GpuSample[K] | undefined) => {
    if (value !== undefined) sample[key] = value;
  };
  assign('memoryUsedMiB', number('memory.used'));
  assign('memoryTotalMiB', number('memory.total'));
  assign('temperatureC', number('temperature.gpu'));
  assign('powerDrawW', number('power.draw'));
  assign('powerLimitW', number('power.limit'));
  assign('utilizationPct', number('utilization.gpu'));
  assign('smClockMHz', number('clocks.sm'));
  assign('memoryClockMHz', number('clocks.mem'));
  assign('fanPct', number('fan.speed'));
  return sample;
}

/** `--query-compute-apps=pid,used_memory`: which process holds how much memory (MiB). */
export function parseComputeAppsCsv(text: string): { pid: number; usedMiB: number }[] {
  const apps: { pid: number; usedMiB: number }[] = [];
  for (const line of lines(text)) {
    const failure = classifyNvidiaSmiMessage(line);
    if (failure) throw failure;
    // "No running processes found" is what some drivers print instead of nothing.
    if (/no running processes/i.test(line)) continue;
    const values = splitFields(line, COMPUTE_APPS_QUERY_FIELDS.length);
    const pid = parseNumber(values?.[0]);
    if (pid === undefined) throw new NvidiaSmiFailure('unexpected', line.trim());
    apps.push({ pid, usedMiB: parseNumber(values?.[1]) ?? 0 });
  }
  return apps;
}

/** Labels our own processes' GPU memory (the LLM worker, the daemon); the rest is "other". */
export function labelGpuMemory(apps: { pid: number; usedMiB: number }[], labels: ReadonlyMap<number, string>): GpuMemoryUse[] {
  return apps.map((app) => ({ ...app, label: labels.get(app.pid) ?? 'other' }));
}

function lines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}

/**
 * Splits on commas. A GPU name has no comma in practice, but numeric fields never do, so should one appear, the
 * free-text field at `textAt` takes whatever is left over.
 */
function splitFields(line: string, count: number, textAt = 0): string[] | undefined {
  const parts = line.split(',').map((p) => p.trim());
  if (parts.length < count) return undefined;
  const extra = parts.length - count;
  return [...parts.slice(0, textAt), parts.slice(textAt, textAt + extra + 1).join(', '), ...parts.slice(textAt + extra + 1)];
}

function parseNumber(value: string | undefined): number | undefined {
  if (value === undefined || value.startsWith('[')) return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}
