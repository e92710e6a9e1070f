import type { Logger } from '../../base/log.ts';
import type { TelemetrySample } from '../protocol/wire.ts';
import { Telemetry } from '../telemetry/telemetry.ts';
import type { GpuTelemetryProvider, GpuTelemetryState } from './providers.ts';

/**
 * GPU figures for the skills from the telemetry module (core/telemetry): the HUD server's samples when it runs,
 * else a Telemetry of our own, started on the first question about the graphics card (nvidia-smi is not run for
 * a daemon nobody asks).
 */

/** How long a question waits for the first sample of a telemetry that has just started. */
const FIRST_SAMPLE_WAIT_MS = 2500;

export type SampleSource = (listener: (sample: TelemetrySample) => void) => () => void;

export class GpuTelemetryReader implements GpuTelemetryProvider {
  #latest: TelemetrySample | undefined;
  #unsubscribe: (() => void) | undefined;
  #own: Telemetry | undefined;

  /** `source`: samples that already flow (the HUD server's feed); without it, a Telemetry is started when asked. */
  constructor(
    private readonly options: { source?: SampleSource; intervalMs: number; log?: Logger },
  ) {
    if (options.source) this.#unsubscribe = options.source((sample) => (this.#latest = sample));
  }

  async gpuState(): Promise<GpuTelemetryState> {
    if (!this.#latest) await this.#firstSample();
    const gpu = this.#latest?.gpu;
    if (!gpu) return { available: false, reason: 'no telemetry has arrived yet' };
    if (!gpu.available) return { available: false, reason: gpu.reason };
    return {
      available: true,
      gpus: gpu.gpus.map((g) => ({
        name: g.name,
        ...(g.temperatureC !== undefined ? { temperatureC: g.temperatureC } : {}),
        ...(g.memoryUsedMiB !== undefined ? { memoryUsedBytes: g.memoryUsedMiB * 1024 * 1024 } : {}),
        ...(g.memoryTotalMiB !== undefined ? { memoryTotalBytes: g.memoryTotalMiB * 1024 * 1024 } : {}),
        ...(g.utilizationPct !== undefined ? { utilizationPercent: g.utilizationPct } : {}),
      })),
    };
  }

  dispose(): void {
    this.#unsubscribe?.();
    this.#own?.dispose();
  }

  #firstSample(): Promise<void> {
    if (!this.options.source && !this.#own) {
      const own = new Telemetry({ intervalMs: this.options.intervalMs, ...(this.options.log ? { log: this.options.log } : {}) });
      this.#own = own;
      const onSample = (sample: TelemetrySample) => (this.#latest = sample);
      own.on('sample', onSample);
      this.#unsubscribe = () => own.off('sample', onSample);
      own.start();
    }
    return new Promise((resolve) => {
      const started = Date.now();
      const poll = setInterval(() => {
        // "Looking for a GPU" is nvidia-smi still starting: wait for its answer.
        const gpu = this.#latest?.gpu;
        const settled = gpu && (gpu.available || !/looking for/i.test(gpu.reason));
        if (settled || Date.now() - started > FIRST_SAMPLE_WAIT_MS) {
          clearInterval(poll);
          resolve();
        }
      }, 50);
    });
  }
}
