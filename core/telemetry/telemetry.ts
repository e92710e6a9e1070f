import { EventEmitter } from 'node:events';
import fs from 'node:fs/promises';
import type { Logger } from '../../base/log.ts';
import type { GpuStatus, TelemetrySample } from '../protocol/wire.ts';
import { NvidiaSmiMonitor } from './nvidia-smi-monitor.ts';
import { labelGpuMemory } from './nvidia-smi-parser.ts';
import { SystemSampler } from './system-sampler.ts';

/**
 * The machine's vital signs once per interval (1 Hz by default): the GPU from the nvidia-smi loop, CPU, memory
 * and our processes' memory, with the last few minutes kept for the HUD's sparklines.
 */

export interface TelemetryOptions {
  intervalMs: number;
  historyMs?: number;
  log?: Logger;
  /** Our processes on the GPU, by pid ("LLM worker: model.gguf"), to split the VRAM bar by model. */
  processLabels?: () => ReadonlyMap<number, string>;
  /** nvidia-smi's path (tests). */
  nvidiaSmi?: string;
}

export class Telemetry extends EventEmitter<{ sample: [TelemetrySample] }> {
  readonly intervalMs: number;
  readonly #historyLength: number;
  readonly #history: TelemetrySample[] = [];
  readonly #gpu: NvidiaSmiMonitor;
  readonly #system: SystemSampler;
  readonly #labels: () => ReadonlyMap<number, string>;
  #timer: NodeJS.Timeout | undefined;
  #sampling = false;

  constructor(options: TelemetryOptions) {
    super();
    this.intervalMs = options.intervalMs;
    this.#historyLength = Math.ceil((options.historyMs ?? 300_000) / options.intervalMs);
    this.#labels = options.processLabels ?? (() => new Map());
    this.#gpu = new NvidiaSmiMonitor({
      intervalMs: options.intervalMs,
      ...(options.log ? { log: options.log } : {}),
      ...(options.nvidiaSmi ? { command: options.nvidiaSmi } : {}),
    });
    this.#system = new SystemSampler({ childPids: () => [...this.#labels().keys()].filter((pid) => pid !== process.pid) });
  }

  get history(): readonly TelemetrySample[] {
    return this.#history;
  }

  start(): void {
    if (this.#timer) return;
    this.#gpu.start();
    this.#timer = setInterval(() => void this.#sample(), this.intervalMs);
    this.#timer.unref();
    void this.#sample();
  }

  dispose(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#gpu.dispose();
  }

  async #sample(): Promise<void> {
    if (this.#sampling) return; // a slow disk: skip a beat rather than pile up
    this.#sampling = true;
    try {
      const [system, gpu] = await Promise.all([this.#system.sample(), this.#gpuStatus()]);
      const sample: TelemetrySample = { at: Date.now(), gpu, system };
      this.#history.push(sample);
      if (this.#history.length > this.#historyLength) this.#history.splice(0, this.#history.length - this.#historyLength);
      this.emit('sample', sample);
    } finally {
      this.#sampling = false;
    }
  }

  async #gpuStatus(): Promise<GpuStatus> {
    const availability = this.#gpu.availability;
    if (availability.available === true) {
      const labels = new Map(this.#labels());
      // Other processes of ours on the GPU: LLMs the pool keeps loaded for a quick switch back.
      await Promise.all(
        this.#gpu.processes.map(async ({ pid }) => {
          if (!labels.has(pid) && (await parentPid(pid)) === process.pid) labels.set(pid, 'LLM (kept loaded)');
        }),
      );
      return { available: true, gpus: this.#gpu.latest, processes: labelGpuMemory(this.#gpu.processes, labels) };
    }
    if (availability.available === false) {
      return { available: false, reason: availability.reason, ...(availability.fix ? { fix: availability.fix } : {}) };
    }
    return { available: false, reason: 'looking for an NVIDIA GPU…' };
  }
}

async function parentPid(pid: number): Promise<number | undefined> {
  try {
    // /proc/<pid>/stat: "pid (comm) state ppid ...", where comm may hold spaces and parentheses.
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}
