import fs from 'node:fs';
import path from 'node:path';

/**
 * Where a process's CPU went, from the V8 CPU profile Node writes with --cpu-prof: each sample's time is given to
 * a category by the frame it was taken in (onnxruntime's model runs, the garbage collector, audio input, the
 * screens' feed, telemetry), and to "JARVIS" (its own code) or "other" otherwise. A breakdown to act on, not
 * an exact account: a sample is attributed to its innermost frame only.
 */

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const CATEGORIES: readonly [category: string, test: (fn: string, url: string) => boolean][] = [
  ['models (onnxruntime: wake word, VAD)', (_fn, url) => url.includes('onnxruntime')],
  ['garbage collection', (fn) => fn === '(garbage collector)'],
  ['screens (HUD feed, socket.io)', (fn, url) => /socket\.io|engine\.io|\/ws\//.test(url) || /^#?(microphoneAudio|speakerAudio|onMicrophone|levelDbfs)$/.test(fn)],
  ['telemetry (/proc, nvidia-smi)', (fn) => /^#?(memory|cpuTimes|sample|cpuTemperature|processRss)$|^(rss|openFileHandle|fstat|read|close)$/.test(fn)],
  ['audio input (stdin, parec)', (fn, url) => /readPcmStream|onStreamRead|addChunk/.test(fn) || url.includes('node:internal/streams')],
  ['JARVIS (voice loop, wake word glue)', (_fn, url) => url.includes('/work/') || url.includes('.cache/cli') || /\/(core|voice|base)\//.test(url)],
];

/** Percent of one core per category between `fromMs` and `toMs` after the profile started. */
export function cpuBreakdown(profile: CpuProfile, fromMs: number, toMs: number): Record<string, number> {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const busy = new Map<string, number>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i]!;
    const sinceStartMs = (at - profile.startTime) / 1000;
    if (sinceStartMs < fromMs || sinceStartMs > toMs) return;
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)' || frame.functionName === '(program)') return;
    const category = CATEGORIES.find(([, test]) => test(frame.functionName, frame.url))?.[0] ?? 'other (Node, V8)';
    busy.set(category, (busy.get(category) ?? 0) + profile.timeDeltas[i]! / 1000);
  });
  const spanMs = toMs - fromMs;
  return Object.fromEntries([...busy].sort((a, b) => b[1] - a[1]).map(([category, ms]) => [category, (100 * ms) / spanMs]));
}

/** The profile `pid` wrote into `dir` (Node names it CPU.<date>.<time>.<pid>.<thread>.<n>.cpuprofile). */
export function readProfile(dir: string, pid: number): CpuProfile | undefined {
  const file = fs.readdirSync(dir).find((name) => name.endsWith('.cpuprofile') && name.split('.')[3] === String(pid));
  return file ? (JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as CpuProfile) : undefined;
}
