import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { SystemSample } from '../protocol/wire.ts';

/**
 * CPU load and temperature, memory, and the resident memory of the daemon and its children, read from the
 * kernel's files asynchronously (no child processes, no blocking calls). CPU load is the busy share of all cores
 * between two samples; the temperature comes from the CPU's hwmon sensor when the kernel exposes one.
 */

const MIB = 1024 * 1024;
/** hwmon drivers that report the CPU package (Intel, AMD, Raspberry Pi). */
const CPU_SENSORS = ['coretemp', 'k10temp', 'zenpower', 'cpu_thermal', 'cpu-thermal'];

export interface SystemSamplerOptions {
  /** Child processes whose memory counts as ours (the LLM worker). */
  childPids?: () => readonly number[];
  /** Roots of /proc and /sys, for tests. */
  procRoot?: string;
  sysRoot?: string;
}

export class SystemSampler {
  readonly #childPids: () => readonly number[];
  readonly #proc: string;
  readonly #sys: string;
  #lastCpu: { busy: number; total: number } | undefined;
  #temperatureFile: Promise<string | undefined> | undefined;

  constructor(options: SystemSamplerOptions = {}) {
    this.#childPids = options.childPids ?? (() => []);
    this.#proc = options.procRoot ?? '/proc';
    this.#sys = options.sysRoot ?? '/sys';
  }

  async sample(): Promise<SystemSample> {
    const [cpu, memory, temperature, childRss] = await Promise.all([this.#cpuTimes(), this.#memory(), this.#cpuTemperature(), this.#childrenRss()]);
    const last = this.#lastCpu ?? { busy: 0, total: 0 };
    this.#lastCpu = cpu;
    const busy = cpu.busy - last.busy;
    const total = cpu.total - last.total;
    const sample: SystemSample = {
      cpuPct: total > 0 ? Math.min(100, Math.max(0, (busy / total) * 100)) : 0,
      cores: os.availableParallelism(),
      memoryUsedMiB: memory.usedMiB,
      memoryTotalMiB: memory.totalMiB,
      processRssMiB: (process.memoryUsage.rss() + childRss) / MIB,
    };
    if (temperature !== undefined) sample.cpuTemperatureC = temperature;
    return sample;
  }

  async #memory(): Promise<{ usedMiB: number; totalMiB: number }> {
    try {
      const info = await fs.readFile(path.join(this.#proc, 'meminfo'), 'utf8');
      const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(info)?.[1]);
      const total = kib('MemTotal');
      const available = kib('MemAvailable');
      if (total > 0 && available >= 0) return { usedMiB: (total - available) / 1024, totalMiB: total / 1024 };
    } catch {
      // not Linux: fall through to what Node knows
    }
    return { usedMiB: (os.totalmem() - os.freemem()) / MIB, totalMiB: os.totalmem() / MIB };
  }

  async #childrenRss(): Promise<number> {
    const sizes = await Promise.all(
      this.#childPids().map(async (pid) => {
        try {
          const status = await fs.readFile(path.join(this.#proc, String(pid), 'status'), 'utf8');
          return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
        } catch {
          return 0; // the child has just exited
        }
      }),
    );
    return sizes.reduce((a, b) => a + b, 0);
  }

  async #cpuTemperature(): Promise<number | undefined> {
    this.#temperatureFile ??= this.#findTemperatureFile();
    const file = await this.#temperatureFile;
    if (!file) return undefined;
    try {
      const milli = Number((await fs.readFile(file, 'utf8')).trim());
      return Number.isFinite(milli) ? milli / 1000 : undefined;
    } catch {
      return undefined;
    }
  }

  async #findTemperatureFile(): Promise<string | undefined> {
    const hwmon = path.join(this.#sys, 'class', 'hwmon');
    for (const entry of await fs.readdir(hwmon).catch(() => [] as string[])) {
      const name = await fs.readFile(path.join(hwmon, entry, 'name'), 'utf8').catch(() => '');
      if (CPU_SENSORS.includes(name.trim())) return path.join(hwmon, entry, 'temp1_input');
    }
    const thermal = path.join(this.#sys, 'class', 'thermal');
    for (const entry of await fs.readdir(thermal).catch(() => [] as string[])) {
      const type = await fs.readFile(path.join(thermal, entry, 'type'), 'utf8').catch(() => '');
      if (type.trim() === 'x86_pkg_temp') return path.join(thermal, entry, 'temp');
    }
    return undefined;
  }

  /** Jiffies since boot, all cores: the first line of /proc/stat (user nice system idle iowait irq softirq steal). */
  async #cpuTimes(): Promise<{ busy: number; total: number }> {
    try {
      const stat = await fs.readFile(path.join(this.#proc, 'stat'), 'utf8');
      const fields = (/^cpu\s+(.*)$/m.exec(stat)?.[1] ?? '').trim().split(/\s+/).slice(0, 8).map(Number);
      if (fields.length >= 5 && fields.every(Number.isFinite)) {
        const total = fields.reduce((a, b) => a + b, 0);
        const idle = fields[3]! + fields[4]!;
        return { busy: total - idle, total };
      }
    } catch {
      // not Linux
    }
    let busy = 0;
    let total = 0;
    for (const { times } of os.cpus()) {
      busy += times.user + times.nice + times.sys + times.irq;
      total += times.user + times.nice + times.sys + times.idle + times.irq;
    }
    return { busy, total };
  }
}
