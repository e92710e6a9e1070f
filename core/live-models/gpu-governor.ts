import type { GpuSample } from '../protocol/wire.ts';

/**
 * What JARVIS does about the GPU's heat and memory, decided from the telemetry it already reads (no overclocking,
 * no driver settings: only what JARVIS itself asks of the GPU).
 *   Hot: at or above `maxTemperatureC`, or drawing `powerLimitFraction` of its power limit, for two samples in a
 *   row: answers are kept short (the LLM stops after a few sentences) until it is 5 °C below and off the limit for
 *   five samples.
 *   Short of memory: less than `vramHeadroomMiB` free for two samples (another program took it): the idle models
 *   are unloaded; still short five samples later, a smaller model is suggested; over again once it has room.
 * A pure decision per sample (a table-tested state machine); the daemon carries the actions out.
 */

export interface GovernorLimits {
  readonly maxTemperatureC: number;
  readonly powerLimitFraction: number;
  readonly vramHeadroomMiB: number;
}

export type GovernorAction =
  | { readonly type: 'cool-down'; readonly why: string }
  | { readonly type: 'cooled' }
  | { readonly type: 'free-memory'; readonly freeMiB: number }
  | { readonly type: 'suggest-smaller-model'; readonly freeMiB: number }
  | { readonly type: 'memory-ok' };

/** Samples in a row before acting, and before calling it over. */
const TO_ACT = 2;
const TO_RELAX = 5;
const COOLER_BY_C = 5;
const OFF_POWER_LIMIT = 0.9;
/** Free memory above the headroom by this much before calling a shortage over (no flapping at the edge). */
const MEMORY_MARGIN_MIB = 256;

export class GpuGovernor {
  #hotSamples = 0;
  #coolSamples = 0;
  #cooling = false;
  #shortSamples = 0;
  #roomySamples = 0;
  #short: 'no' | 'freed' | 'suggested' = 'no';
  #sinceFreed = 0;

  constructor(private readonly limits: GovernorLimits) {}

  /** The actions one more sample calls for (none, mostly). */
  observe(gpu: GpuSample): GovernorAction[] {
    return [...this.#heat(gpu), ...this.#memory(gpu)];
  }

  #heat(gpu: GpuSample): GovernorAction[] {
    const { maxTemperatureC, powerLimitFraction } = this.limits;
    const temperature = gpu.temperatureC;
    const power = gpu.powerDrawW !== undefined && gpu.powerLimitW ? gpu.powerDrawW / gpu.powerLimitW : undefined;
    const hot = (temperature !== undefined && temperature >= maxTemperatureC) || (power !== undefined && power >= powerLimitFraction);
    const cool = (temperature === undefined || temperature <= maxTemperatureC - COOLER_BY_C) && (power === undefined || power < OFF_POWER_LIMIT);
    this.#hotSamples = hot ? this.#hotSamples + 1 : 0;
    this.#coolSamples = cool ? this.#coolSamples + 1 : 0;
    if (!this.#cooling && this.#hotSamples >= TO_ACT) {
      this.#cooling = true;
      const why =
        temperature !== undefined && temperature >= maxTemperatureC
          ? `the GPU is at ${temperature} °C (limit ${maxTemperatureC} °C)`
          : `the GPU draws ${Math.round(gpu.powerDrawW!)} W of its ${Math.round(gpu.powerLimitW!)} W limit`;
      return [{ type: 'cool-down', why }];
    }
    if (this.#cooling && this.#coolSamples >= TO_RELAX) {
      this.#cooling = false;
      return [{ type: 'cooled' }];
    }
    return [];
  }

  #memory(gpu: GpuSample): GovernorAction[] {
    if (gpu.memoryTotalMiB === undefined || gpu.memoryUsedMiB === undefined) return [];
    const freeMiB = gpu.memoryTotalMiB - gpu.memoryUsedMiB;
    const { vramHeadroomMiB } = this.limits;
    this.#shortSamples = freeMiB < vramHeadroomMiB ? this.#shortSamples + 1 : 0;
    this.#roomySamples = freeMiB >= vramHeadroomMiB + MEMORY_MARGIN_MIB ? this.#roomySamples + 1 : 0;
    if (this.#short === 'no') {
      if (this.#shortSamples < TO_ACT) return [];
      this.#short = 'freed';
      this.#sinceFreed = 0;
      return [{ type: 'free-memory', freeMiB }];
    }
    if (this.#roomySamples >= TO_ACT) {
      this.#short = 'no';
      return [{ type: 'memory-ok' }];
    }
    if (this.#short === 'freed' && this.#shortSamples > 0 && ++this.#sinceFreed >= TO_RELAX) {
      this.#short = 'suggested';
      return [{ type: 'suggest-smaller-model', freeMiB }];
    }
    return [];
  }
}
