import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { GpuInfo, MachineResources } from './fit.ts';

/** This machine's GPU, RAM and cores, for fitting models. */

/** The argument machine-probe-child.ts is forked with. */
export const PROBE_FLAG = '--jarvis-machine-probe';

/** What the probe (in a child process, so no GPU backend is loaded here) answers. */
export interface ProbeReply {
  readonly gpu: GpuInfo | null;
  readonly cpuMathCores: number;
}

export interface MachineProbe {
  readonly machine: MachineResources;
  /** Set when the GPU could not be asked (the machine is then treated as CPU-only). */
  readonly note?: string;
}

/** RAM the kernel says can be given to a new program without swapping (MemAvailable), or free memory. */
export function availableRamBytes(): number {
  try {
    const match = /^MemAvailable:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/meminfo', 'utf8'));
    if (match) return Number(match[1]) * 1024;
  } catch {
    // not Linux
  }
  return os.freemem();
}

export async function probeMachine(timeoutMs = 60_000): Promise<MachineProbe> {
  const ram = { ramTotalBytes: os.totalmem(), ramAvailableBytes: availableRamBytes() };
  const fallbackCores = Math.max(1, Math.ceil(os.availableParallelism() / 2));
  try {
    const reply = await runProbe(timeoutMs);
    return { machine: { gpu: reply.gpu, cpuCores: reply.cpuMathCores, ...ram } };
  } catch (error) {
    return { machine: { gpu: null, cpuCores: fallbackCores, ...ram }, note: `could not ask llama.cpp about the GPU (${(error as Error).message}); assuming none` };
  }
}

function runProbe(timeoutMs: number): Promise<ProbeReply> {
  // From the sources (through tsx), or from the compiled build, where the probe is an entry point beside this chunk.
  const fromSources = import.meta.url.endsWith('.ts');
  const url = new URL(fromSources ? './machine-probe-child.ts' : './machine-probe-child.js', import.meta.url);
  const child = fork(fileURLToPath(url), [PROBE_FLAG], {
    execArgv: fromSources ? ['--import', import.meta.resolve('tsx')] : [],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    serialization: 'json',
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  return new Promise<ProbeReply>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no answer within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    child.once('message', (message: { ok: boolean; reply?: ProbeReply; message?: string }) => {
      clearTimeout(timer);
      if (message.ok && message.reply) resolve(message.reply);
      else reject(new Error(message.message ?? 'probe failed'));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the probe exited (${signal ?? `code ${code}`}) ${stderr.trim().split('\n').pop() ?? ''}`.trim()));
    });
  });
}
