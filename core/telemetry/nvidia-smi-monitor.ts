import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import type { Logger } from '../../base/log.ts';
import type { GpuSample } from '../protocol/wire.ts';
import {
  classifyNvidiaSmiMessage,
  COMPUTE_APPS_QUERY_FIELDS,
  GPU_QUERY_FIELDS,
  NvidiaSmiFailure,
  parseComputeAppsCsv,
  parseGpuLine,
  type GpuQueryField,
} from './nvidia-smi-parser.ts';

const execFileAsync = promisify(execFile);

/**
 * GPU figures from one long-lived `nvidia-smi ... -lms N` process: it prints every GPU each period on its own,
 * so reading them costs the daemon nothing but a few lines of text, and never blocks its event loop (unlike
 * calling nvidia-smi synchronously per sample). Which process holds how much GPU memory is asked separately,
 * with an asynchronous call every few periods. No nvidia-smi, no driver or no GPU is a state, reported as such.
 */

export type GpuAvailability =
  | { available: true }
  | { available: false; reason: string; fix?: string }
  | { available: 'unknown' };

export interface NvidiaSmiMonitorOptions {
  intervalMs: number;
  /** The executable; tests point it at a script that prints recorded nvidia-smi output. */
  command?: string;
  log?: Logger;
  /** Try again this long after nvidia-smi stopped or could not see a GPU. */
  retryMs?: number;
  /** Ask which processes use GPU memory every this many samples. */
  processesEvery?: number;
}

const FIELDS: readonly GpuQueryField[] = ['index', ...GPU_QUERY_FIELDS];
/** Lines of one sample arrive together; a gap this long ends the sample. */
const SAMPLE_GAP_MS = 60;

export class NvidiaSmiMonitor {
  readonly #options: Required<Omit<NvidiaSmiMonitorOptions, 'log'>> & { log: Logger | undefined };
  #child: ChildProcess | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #watchdog: NodeJS.Timeout | undefined;
  #lastSampleAt = 0;
  #flushTimer: NodeJS.Timeout | undefined;
  #batch: GpuSample[] = [];
  #latest: GpuSample[] = [];
  #processes: { pid: number; usedMiB: number }[] = [];
  #samplesSinceProcesses = 0;
  #availability: GpuAvailability = { available: 'unknown' };
  #disposed = false;
  readonly #listeners = new Set<(gpus: GpuSample[]) => void>();

  constructor(options: NvidiaSmiMonitorOptions) {
    this.#options = {
      intervalMs: options.intervalMs,
      command: options.command ?? 'nvidia-smi',
      log: options.log,
      retryMs: options.retryMs ?? 60_000,
      processesEvery: options.processesEvery ?? 5,
    };
  }

  get availability(): GpuAvailability {
    return this.#availability;
  }

  /** The last complete sample (one entry per GPU). */
  get latest(): GpuSample[] {
    return this.#latest;
  }

  get processes(): { pid: number; usedMiB: number }[] {
    return this.#processes;
  }

  onSample(listener: (gpus: GpuSample[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  start(): void {
    if (this.#child || this.#disposed) return;
    const args = [`--query-gpu=${FIELDS.join(',')}`, '--format=csv,noheader,nounits', `--loop-ms=${this.#options.intervalMs}`];
    const child = spawn(this.#options.command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    let failure: NvidiaSmiFailure | undefined;
    let stderr = '';
    const onLine = (line: string) => {
      if (!line.trim()) return;
      try {
        this.#addLine(line);
      } catch (error) {
        failure = error instanceof NvidiaSmiFailure ? error : new NvidiaSmiFailure('unexpected', line);
        if (failure.kind !== 'unexpected') child.kill();
      }
    };
    lineReader(child.stdout!, onLine);
    // A driver hang can leave nvidia-smi alive but silent: restart it after ten missed periods.
    this.#lastSampleAt = performance.now();
    if (this.#watchdog) clearInterval(this.#watchdog);
    this.#watchdog = setInterval(() => {
      if (this.#child === child && performance.now() - this.#lastSampleAt > this.#options.intervalMs * 10 + 2000) {
        failure = new NvidiaSmiFailure('unexpected', 'nvidia-smi stopped printing figures');
        child.kill();
      }
    }, this.#options.intervalMs * 5);
    this.#watchdog.unref();
    lineReader(child.stderr!, (line) => {
      stderr += `${line}\n`;
      failure ??= classifyNvidiaSmiMessage(line);
    });
    child.once('error', (error: NodeJS.ErrnoException) => {
      this.#child = undefined;
      if (error.code === 'ENOENT') {
        this.#setUnavailable('no NVIDIA GPU: nvidia-smi is not installed', 'With an NVIDIA card, install its driver (it brings nvidia-smi); without one there is nothing to fix.', false);
      } else {
        this.#setUnavailable(`nvidia-smi could not be started: ${error.message}`, 'Check that nvidia-smi runs in a terminal.', true);
      }
    });
    child.once('exit', (code, signal) => {
      if (this.#child !== child) return;
      this.#child = undefined;
      if (this.#disposed) return;
      const why = failure ?? classifyNvidiaSmiMessage(stderr);
      if (why?.kind === 'no-driver') this.#setUnavailable(`no NVIDIA GPU in use: ${why.line}`, 'Install or reload the NVIDIA driver (a reboot after a driver update often does it).', true);
      else if (why?.kind === 'no-devices') this.#setUnavailable('no NVIDIA GPU: nvidia-smi found no devices', 'Without an NVIDIA card there is nothing to fix.', true);
      else if (why?.kind === 'gpu-lost') this.#setUnavailable(`the GPU stopped answering: ${why.line}`, 'Reboot the computer; if it repeats, check the card\'s power and temperature.', true);
      else {
        const detail = why?.line ?? stderr.trim().split('\n')[0];
        this.#setUnavailable(`nvidia-smi stopped (${signal ?? `exit code ${code}`})${detail ? `: ${detail}` : ''}`, 'It is restarted by itself; check that nvidia-smi runs in a terminal.', true);
      }
    });
  }

  dispose(): void {
    this.#disposed = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    if (this.#watchdog) clearInterval(this.#watchdog);
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    this.#child?.kill();
    this.#child = undefined;
  }

  #addLine(line: string): void {
    const gpu = parseGpuLine(line, FIELDS, this.#batch.length);
    // A GPU seen again starts the next sample.
    if (this.#batch.some((g) => g.index === gpu.index)) this.#flush();
    this.#batch.push(gpu);
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    this.#flushTimer = setTimeout(() => this.#flush(), SAMPLE_GAP_MS);
    this.#flushTimer.unref();
  }

  #flush(): void {
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    if (this.#batch.length === 0) return;
    this.#latest = this.#batch.sort((a, b) => a.index - b.index);
    this.#batch = [];
    this.#lastSampleAt = performance.now();
    if (this.#availability.available !== true) {
      this.#availability = { available: true };
      this.#options.log?.info({ gpus: this.#latest.map((g) => g.name) }, 'GPU telemetry from nvidia-smi');
    }
    for (const listener of this.#listeners) listener(this.#latest);
    if (this.#samplesSinceProcesses++ % this.#options.processesEvery === 0) void this.#readProcesses();
  }

  async #readProcesses(): Promise<void> {
    try {
      const { stdout } = await execFileAsync(
        this.#options.command,
        [`--query-compute-apps=${COMPUTE_APPS_QUERY_FIELDS.join(',')}`, '--format=csv,noheader,nounits'],
        { timeout: 5000 },
      );
      this.#processes = parseComputeAppsCsv(stdout);
    } catch (error) {
      this.#options.log?.debug({ err: (error as Error).message }, 'could not list GPU processes');
    }
  }

  #setUnavailable(reason: string, fix: string, retry: boolean): void {
    const changed = this.#availability.available !== false || this.#availability.reason !== reason;
    this.#availability = { available: false, reason, fix };
    this.#latest = [];
    this.#processes = [];
    if (changed) this.#options.log?.info({ fix }, reason);
    if (retry && !this.#disposed) {
      this.#retryTimer = setTimeout(() => this.start(), this.#options.retryMs);
      this.#retryTimer.unref();
    }
  }
}

function lineReader(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop()!;
    for (const part of parts) onLine(part.replace(/\r$/, ''));
  });
  stream.on('end', () => {
    if (rest) onLine(rest);
  });
}
