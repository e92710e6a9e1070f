import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { JarvisConfig } from '../../config/schema.ts';
import { jsonLines, runJarvis } from '../../test/fixtures/cli.ts';
import { silence } from '../../test/fixtures/speech.ts';
import { CAPTURE_SAMPLE_RATE } from '../../voice/ports.ts';
import { msToSamples } from '../../voice/pcm.ts';
import { cpuBreakdown, readProfile } from '../lib/cpu-profile.ts';
import { clockTicksPerSecond, descendants, processUsage, treeUsage, type ProcessUsage } from '../lib/proc.ts';

/**
 * What the always-on daemon costs while nobody talks to it: the real `jarvis start --input -` process, with
 * every engine loaded, fed 16 kHz PCM on stdin in real time (as `parec | jarvis start --input -` would), first
 * silence, then ordinary talk with no wake word in it. CPU (% of one core) and RSS are read from /proc for the
 * daemon and, separately, for its children (the LLM worker) in short windows.
 */

export interface IdleWindow {
  readonly condition: 'silence' | 'speech';
  readonly daemonCpuPercent: number;
  readonly childrenCpuPercent: number;
  readonly daemonRssMiB: number;
  readonly childrenRssMiB: number;
}

export interface IdleResult {
  readonly windows: IdleWindow[];
  readonly startupMs: number;
  /** Silence fed after "listening" until start-up work (a first HUD build, say) had finished. */
  readonly settleMs: number;
  readonly windowMs: number;
  /** Run events the daemon printed while it was measured: none is expected (there is no wake word). */
  readonly runEvents: string[];
  /** Where the daemon's CPU went in each condition (% of one core), from its V8 CPU profile (a second run). */
  readonly breakdown: Partial<Record<IdleWindow['condition'], Record<string, number>>>;
  readonly command: string;
}

/**
 * The figures come from a daemon run as users run it; the breakdown from a second, shorter run under V8's
 * profiler, whose sampling would otherwise inflate the figures several times over.
 */
export async function measureIdle(config: JarvisConfig, speech: Int16Array, options: { seconds: number; windowMs: number }): Promise<IdleResult> {
  const measured = await runIdle(config, speech, options, false);
  const profiled = await runIdle(config, speech, { ...options, seconds: Math.min(options.seconds, 15) }, true);
  return { ...measured, breakdown: profiled.breakdown };
}

async function runIdle(config: JarvisConfig, speech: Int16Array, options: { seconds: number; windowMs: number }, profile: boolean): Promise<IdleResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-bench-'));
  const configFile = path.join(dir, 'config.json');
  // A private data folder, and a free port for the HUD server so a daemon already running elsewhere is no obstacle.
  const daemonConfig = { ...config, dataDir: dir, log: { level: 'info' }, server: { ...config.server, port: 0 } };
  fs.writeFileSync(configFile, JSON.stringify(daemonConfig, null, 2));
  const args = ['--config', configFile, 'start', '--input', '-', '--output', 'none', '--json'];
  const started = performance.now();
  // The daemon writes a V8 CPU profile when it exits: where its time went, for the breakdown.
  const profiles = path.join(dir, 'profiles');
  const daemon = runJarvis(args, {}, profile ? ['--cpu-prof', `--cpu-prof-dir=${profiles}`] : []);
  try {
    await daemon.waitFor((line) => line.includes('listening to'), 300_000, 'the daemon to start listening');
    const startupMs = performance.now() - started;
    const pid = daemon.child.pid!;
    const stdin = daemon.child.stdin!;
    const ticks = await clockTicksPerSecond();
    const settleMs = await settle(stdin, pid, ticks);
    const windows: IdleWindow[] = [];
    const spans: Partial<Record<IdleWindow['condition'], { from: number; to: number }>> = {};
    for (const condition of ['silence', 'speech'] as const) {
      const from = performance.now() - started;
      const audio = condition === 'silence' ? silence(options.seconds * 1000) : speech.subarray(0, msToSamples(options.seconds * 1000, CAPTURE_SAMPLE_RATE));
      const count = Math.floor((options.seconds * 1000) / options.windowMs);
      const [, measured] = await Promise.all([feed(stdin, audio), sampleWindows(pid, count, options.windowMs, ticks, condition)]);
      windows.push(...measured);
      spans[condition] = { from, to: performance.now() - started };
    }
    stdin.end();
    const exited = await Promise.race([daemon.exit, sleep(60_000, undefined, { ref: false }).then(() => 'timeout' as const)]);
    if (exited === 'timeout') daemon.child.kill('SIGTERM');
    const runEvents = jsonLines(daemon.stdout).map((e) => String(e.type));
    // The profile's clock starts with the process, a little after the spawn this phase timed from.
    const profile = fs.existsSync(profiles) ? readProfile(profiles, pid) : undefined;
    const breakdown = Object.fromEntries(
      Object.entries(spans).flatMap(([condition, span]) => (profile ? [[condition, cpuBreakdown(profile, span.from, span.to)]] : [])),
    );
    return { windows, startupMs, settleMs, windowMs: options.windowMs, runEvents, command: `jarvis ${args.join(' ')}`, breakdown };
  } finally {
    if (daemon.child.exitCode === null && daemon.child.signalCode === null) {
      daemon.child.kill('SIGTERM');
      await Promise.race([daemon.exit, sleep(10_000, undefined, { ref: false })]);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Feeds silence until the daemon and its children have been quiet (under 20 % of a core together) for a 2 s
 * window, at least 4 s and at most 2 min: start-up work, such as the first build of the HUD, is not idling.
 */
async function settle(stdin: Writable, pid: number, ticksPerSecond: number): Promise<number> {
  const started = performance.now();
  const tree = () => ({ at: performance.now(), usage: treeUsage([pid, ...descendants(pid)]) });
  let before = tree();
  for (;;) {
    await feed(stdin, silence(2000));
    const after = tree();
    const percent = ((after.usage.cpuTicks - before.usage.cpuTicks) / ticksPerSecond / ((after.at - before.at) / 1000)) * 100;
    before = after;
    const elapsed = performance.now() - started;
    if ((percent < 20 && elapsed >= 4000) || elapsed >= 120_000) return elapsed;
  }
}

/** Writes PCM in 80 ms chunks, each when its last sample is due, as a live recorder delivers it. */
async function feed(stdin: Writable, pcm: Int16Array): Promise<void> {
  const chunk = msToSamples(80, CAPTURE_SAMPLE_RATE);
  const start = performance.now();
  for (let offset = 0; offset < pcm.length; offset += chunk) {
    const part = pcm.subarray(offset, offset + chunk);
    const wait = start + ((offset + part.length) / CAPTURE_SAMPLE_RATE) * 1000 - performance.now();
    if (wait > 0) await sleep(wait);
    if (!stdin.write(Buffer.from(part.buffer, part.byteOffset, part.byteLength))) await once(stdin, 'drain');
  }
}

async function sampleWindows(pid: number, count: number, windowMs: number, ticksPerSecond: number, condition: IdleWindow['condition']): Promise<IdleWindow[]> {
  const read = () => {
    const children = descendants(pid);
    return { at: performance.now(), daemon: processUsage(pid), children: treeUsage(children) };
  };
  const percent = (after: ProcessUsage | undefined, before: ProcessUsage | undefined, ms: number) =>
    Math.max(0, ((after?.cpuTicks ?? 0) - (before?.cpuTicks ?? 0)) / ticksPerSecond / (ms / 1000)) * 100;
  const windows: IdleWindow[] = [];
  const start = performance.now();
  let before = read();
  for (let i = 1; i <= count; i++) {
    const wait = start + i * windowMs - performance.now();
    if (wait > 0) await sleep(wait);
    const after = read();
    if (!after.daemon) throw new Error('the daemon exited while it was being measured');
    const ms = after.at - before.at;
    windows.push({
      condition,
      daemonCpuPercent: percent(after.daemon, before.daemon, ms),
      childrenCpuPercent: percent(after.children, before.children, ms),
      daemonRssMiB: after.daemon.rssKiB / 1024,
      childrenRssMiB: after.children.rssKiB / 1024,
    });
    before = after;
  }
  return windows;
}
