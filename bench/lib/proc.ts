import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';

/** CPU time and resident memory of a process and its descendants, read from Linux's /proc. */

export interface ProcessUsage {
  /** utime + stime, in clock ticks. */
  readonly cpuTicks: number;
  readonly rssKiB: number;
}

export function processUsage(pid: number): ProcessUsage | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuTicks = Number(fields[11]) + Number(fields[12]);
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKiB = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    return { cpuTicks, rssKiB };
  } catch {
    return undefined; // the process is gone
  }
}

/** Every process below `pid` (the LLM worker and anything it starts). */
export function descendants(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited while we looked
    }
  }
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const [child, ppid] of parents) {
      if (ppid === parent) {
        found.push(child);
        walk(child);
      }
    }
  };
  walk(pid);
  return found;
}

export function treeUsage(pids: number[]): ProcessUsage {
  let cpuTicks = 0;
  let rssKiB = 0;
  for (const pid of pids) {
    const usage = processUsage(pid);
    cpuTicks += usage?.cpuTicks ?? 0;
    rssKiB += usage?.rssKiB ?? 0;
  }
  return { cpuTicks, rssKiB };
}

export async function clockTicksPerSecond(): Promise<number> {
  const { stdout } = await promisify(execFile)('getconf', ['CLK_TCK']).catch(() => ({ stdout: '100' }));
  return Number(stdout.trim()) || 100;
}
