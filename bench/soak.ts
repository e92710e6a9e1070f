import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { silentLogger } from '../base/log.ts';
import { parseConfig } from '../config/load.ts';
import { createDaemon } from '../core/daemon/daemon.ts';
import type { RunEvent } from '../core/protocol/run-events.ts';
import { ensureTinyGguf } from '../test/models/tiny-gguf.ts';
import { ensureTinyPiperVoice } from '../test/models/piper-voice.ts';
import { ensureTinyWhisperModel } from '../test/models/whisper-ggml.ts';
import { connectClient, type TestClient } from '../test/fixtures/hud-server.ts';
import { ManualClock } from '../test/fixtures/manual-clock.ts';
import { Room } from '../test/fixtures/room.ts';
import { silence, speak } from '../test/fixtures/speech.ts';
import { VirtualSink } from '../voice/audio/virtual-sink.ts';
import { axes, legend, linear, niceTicks, PALETTE, Svg, type Frame } from './lib/svg.ts';

/**
 * `npm run soak -- --turns 10000`: the whole daemon (real wake word, VAD, Whisper, LLM worker, Piper, skills, HUD
 * server) driven through many turns faster than real time, on the test-made models: spoken turns played into its
 * microphone on audio time, typed questions for the skills and the LLM, timers that ring, screens connecting and
 * leaving. Every 100 turns it records the process's memory, open file descriptors, event-loop delay and LLM worker
 * restarts; at the end it checks that no timer was lost. Results, with a plot, go to bench/results/.
 */

const { values: args } = parseArgs({
  options: {
    turns: { type: 'string', default: '10000' },
    every: { type: 'string', default: '100' },
    out: { type: 'string', default: path.join(import.meta.dirname, 'results') },
    /** Write the report again from a run's JSON (after a change to the report), without running. */
    from: { type: 'string' },
  },
});
const TURNS = Number(args.turns);
const EVERY = Number(args.every);

interface Sample {
  turn: number;
  seconds: number;
  rssMiB: number;
  heapUsedMiB: number;
  externalMiB: number;
  fds: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  workerRssMiB: number | undefined;
  workerRestarts: number;
}

const GOALS = { rssGrowthPercent: 5, fdGrowth: 0, loopDelayP99Ms: 20, lostTimers: 0 };

async function main(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-soak-'));
  const [stt, llm, voice] = await Promise.all([ensureTinyWhisperModel(), ensureTinyGguf(), ensureTinyPiperVoice()]);
  const config = parseConfig({
    dataDir,
    stt: { model: stt, threads: 1 },
    llm: { model: llm, maxAnswerTokens: 16, historyTurns: 2 },
    tts: { voice },
    wake: { verifyTranscript: false },
    conversation: { followUpMs: 0 },
    skills: { ringTimeoutMs: 2000 },
    server: { port: 0 },
  });
  const clock = new ManualClock(Date.now());
  const sink = new VirtualSink({ speed: 1, sampleRate: 22_050, clock, record: false });
  const room = new Room({ clock, waitPace: 40 });
  const spokenClip = await speak('hey jarvis, tell me something nice', { engine: 'espeak', voice: 'en-us' });

  // The spoken turns are the room's script, each released by the driver when its turn comes.
  const spokenTurns = Math.ceil(TURNS / 5);
  let released = 0;
  let finished = false;
  for (let k = 1; k <= spokenTurns; k++) {
    room.until(() => released >= k || finished, Number.MAX_SAFE_INTEGER).say(silence(300)).say(spokenClip);
  }
  room.until(() => finished, Number.MAX_SAFE_INTEGER);

  const daemon = await createDaemon(config, { log: silentLogger, source: room, sink, clock, screens: { buildHud: false } });
  const errors: RunEvent[] = [];
  const wakeRuns = new Set<number>();
  let wakeRunsEnded = 0;
  daemon.assistant.bus.subscribe((event) => {
    if (event.type === 'run-start' && event.trigger === 'wake') wakeRuns.add(event.runId);
    if (event.type === 'run-end' && wakeRuns.delete(event.runId)) wakeRunsEnded++;
    if (event.type === 'error') errors.push(event);
  });
  // Every timer set must ring exactly once.
  const rings = new Map<number, number>();
  daemon.skills!.timers.on('due', (due) => {
    for (const timer of due) rings.set(timer.id, (rings.get(timer.id) ?? 0) + 1);
  });
  let restarts = 0;
  daemon.models.responder.subscribe((event) => {
    if (event.type === 'restarted') restarts++;
  });
  const controller = new AbortController();
  const listening = daemon.run(controller.signal);
  const url = daemon.remote!.server!.urls.at(-1)!;

  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  const samples: Sample[] = [];
  const outcomes = new Map<string, number>();
  const count = (what: string) => outcomes.set(what, (outcomes.get(what) ?? 0) + 1);
  const timersSet: number[] = [];
  const screens: TestClient[] = [];
  const started = performance.now();
  let timerSeconds = 20;

  const waitFor = async (done: () => boolean, wallMs: number) => {
    for (const until = performance.now() + wallMs; !done(); ) {
      if (performance.now() > until) return false;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return true;
  };

  for (let turn = 1; turn <= TURNS; turn++) {
    const kind = turn % 5;
    if (kind === 0) {
      const before = wakeRunsEnded;
      released++;
      const heard = await waitFor(() => wakeRunsEnded > before, 20_000);
      count(heard ? 'spoken: answered' : 'spoken: no wake');
    } else if (kind === 1) {
      const result = await daemon.assistant.ask(`set a timer for ${timerSeconds} seconds`);
      timerSeconds = timerSeconds >= 90 ? 20 : timerSeconds + 1;
      count(`timer: ${result.outcome}`);
      const newest = Math.max(...daemon.skills!.timers.list().map((t) => t.id));
      if (result.outcome === 'answered' && Number.isFinite(newest) && !timersSet.includes(newest)) timersSet.push(newest);
    } else if (kind === 2) {
      count(`typed skill: ${(await daemon.assistant.ask('what time is it')).outcome}`);
    } else {
      count(`typed LLM: ${(await daemon.assistant.ask(`tell me about the number ${turn}`)).outcome}`);
    }
    // Screens come and go: one connects every 25 turns and leaves 50 turns later.
    if (turn % 25 === 0) {
      const screen = connectClient(url, { origin: url });
      screens.push(screen);
      await screen.hello.catch(() => undefined);
    }
    if (screens.length > 2) screens.shift()!.close();

    if (turn % EVERY === 0 || turn === TURNS) {
      const memory = process.memoryUsage();
      samples.push({
        turn,
        seconds: (performance.now() - started) / 1000,
        rssMiB: memory.rss / 2 ** 20,
        heapUsedMiB: memory.heapUsed / 2 ** 20,
        externalMiB: memory.external / 2 ** 20,
        fds: fs.readdirSync('/proc/self/fd').length,
        loopDelayP99Ms: delay.percentile(99) / 1e6,
        loopDelayMaxMs: delay.max / 1e6,
        workerRssMiB: workerRss(daemon.models.responder.workerPid),
        workerRestarts: restarts,
      });
      delay.reset();
      const last = samples.at(-1)!;
      console.log(
        `[soak ${last.seconds.toFixed(0).padStart(5)} s] turn ${turn}: RSS ${last.rssMiB.toFixed(0)} MiB, heap ${last.heapUsedMiB.toFixed(0)} MiB, ${last.fds} fds, ` +
          `loop p99 ${last.loopDelayP99Ms.toFixed(1)} ms, worker ${last.workerRssMiB?.toFixed(0) ?? '-'} MiB, ${restarts} restarts`,
      );
    }
  }

  // Let the last timers ring (audio time runs at the room's waiting pace), then count.
  await waitFor(() => daemon.skills!.timers.list().length === 0, 60_000);
  finished = true;
  for (const screen of screens) screen.close();
  controller.abort();
  await listening.catch(() => undefined);
  await daemon.dispose();
  await sink.close();
  delay.disable();

  const db = new Database(path.join(dataDir, 'jarvis.db'), { readonly: true });
  const stored = db.prepare('SELECT state, COUNT(*) AS n FROM timers GROUP BY state').all() as { state: string; n: number }[];
  const integrity = String(db.pragma('integrity_check', { simple: true }));
  db.close();
  const rang = timersSet.filter((id) => rings.get(id) === 1).length;
  const lostTimers = timersSet.filter((id) => !rings.has(id)).length;
  const rangTwice = timersSet.filter((id) => (rings.get(id) ?? 0) > 1).length;
  fs.rmSync(dataDir, { recursive: true, force: true });
  writeResults(samples, { outcomes: Object.fromEntries(outcomes), timersSet: timersSet.length, timersStored: stored, rang, rangTwice, lostTimers, integrity, errors: errors.length });
}

function workerRss(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return undefined;
  }
}

interface Totals {
  outcomes: Record<string, number>;
  timersSet: number;
  timersStored: { state: string; n: number }[];
  rang: number;
  rangTwice: number;
  lostTimers: number;
  integrity: string;
  errors: number;
}

function writeResults(samples: Sample[], totals: Totals): void {
  // Warm-up: the first tenth of the run (models paged in, caches filled, the HUD's first snapshots).
  const warm = samples.find((s) => s.turn >= TURNS / 10) ?? samples[0]!;
  const last = samples.at(-1)!;
  const after = samples.filter((s) => s.turn >= warm.turn);
  const windowsP99 = after.map((s) => s.loopDelayP99Ms).sort((a, b) => a - b);
  const verdict = {
    rssGrowthPercent: ((last.rssMiB - warm.rssMiB) / warm.rssMiB) * 100,
    fdGrowth: last.fds - warm.fds,
    loopDelayP99Ms: windowsP99.at(-1)!,
    loopDelayP99MedianMs: windowsP99[Math.floor(windowsP99.length / 2)]!,
    windowsOverGoal: windowsP99.filter((ms) => ms >= GOALS.loopDelayP99Ms).length,
    lostTimers: totals.lostTimers,
    workerRestarts: last.workerRestarts,
  };
  const stamp = `${new Date().toISOString().slice(0, 10)}-${os.hostname().split('.')[0]}`;
  fs.mkdirSync(args.out!, { recursive: true });
  const base = path.join(args.out!, `${stamp}-soak`);
  fs.writeFileSync(`${base}.json`, JSON.stringify({ turns: TURNS, goals: GOALS, verdict, totals, samples }, null, 2));
  const ok = (pass: boolean) => (pass ? '✓' : '✗');
  const md = [
    `# Soak: ${TURNS} turns through the whole daemon (test-made models), ${last.seconds.toFixed(0)} s`,
    '',
    `Turns: ${Object.entries(totals.outcomes).map(([k, v]) => `${k} ${v}`).join(', ')}. Errors reported in turns: ${totals.errors}.`,
    '',
    '| figure | after warm-up (turn ' + warm.turn + ') → end | goal | |',
    '|---|---|---|---|',
    `| RSS | ${warm.rssMiB.toFixed(0)} → ${last.rssMiB.toFixed(0)} MiB (${verdict.rssGrowthPercent >= 0 ? '+' : ''}${verdict.rssGrowthPercent.toFixed(1)} %) | < ${GOALS.rssGrowthPercent} % growth | ${ok(verdict.rssGrowthPercent < GOALS.rssGrowthPercent)} |`,
    `| JS heap used | ${warm.heapUsedMiB.toFixed(0)} → ${last.heapUsedMiB.toFixed(0)} MiB | | |`,
    `| open file descriptors | ${warm.fds} → ${last.fds} | no growth | ${ok(verdict.fdGrowth <= GOALS.fdGrowth)} |`,
    `| event-loop delay p99, median window | ${verdict.loopDelayP99MedianMs.toFixed(1)} ms | < ${GOALS.loopDelayP99Ms} ms | ${ok(verdict.loopDelayP99MedianMs < GOALS.loopDelayP99Ms)} |`,
    `| event-loop delay p99, worst window (windows at or over the goal) | ${verdict.loopDelayP99Ms.toFixed(1)} ms (${verdict.windowsOverGoal} of ${windowsP99.length}) | | |`,
    `| timers set / rang once / never rang / rang twice | ${totals.timersSet} / ${totals.rang} / ${totals.lostTimers} / ${totals.rangTwice} (in the database at the end: ${totals.timersStored.map((s) => `${s.state} ${s.n}`).join(', ')}) | 0 lost | ${ok(totals.lostTimers === 0 && totals.rangTwice === 0)} |`,
    `| LLM worker restarts | ${verdict.workerRestarts} | | |`,
    `| jarvis.db integrity_check | ${totals.integrity} | ok | ${ok(totals.integrity === 'ok')} |`,
    '',
    `Plot: [${path.basename(base)}.svg](${path.basename(base)}.svg)`,
    '',
  ].join('\n');
  fs.writeFileSync(`${base}.md`, md);
  fs.writeFileSync(`${base}.svg`, soakPlot(samples, warm.turn));
  console.log(`\n${md}\nwrote ${base}.json, .md and .svg`);
}

function soakPlot(samples: Sample[], warmTurn: number): string {
  const svg = new Svg(820, 640);
  svg.text(20, 24, `Soak: ${TURNS} turns through the whole daemon, sampled every ${EVERY} turns`, { size: 14, weight: 'bold' });
  const x = linear([0, TURNS], [70, 780]);
  const xTicks = niceTicks(TURNS, 8);
  const panel = (top: number, title: string, unit: string, series: { label: string; color: string; values: number[] }[]) => {
    const frame: Frame = { left: 70, top, right: 780, bottom: top + 140 };
    const max = Math.max(...series.flatMap((s) => s.values)) * 1.15 || 1;
    const ticks = niceTicks(max, 4);
    const y = linear([0, ticks.at(-1)!], [frame.bottom, frame.top]);
    axes(svg, frame, { scale: x, ticks: xTicks, title: 'turns' }, { scale: y, ticks, title: unit });
    svg.text(frame.left, top - 8, title, { size: 12, weight: 'bold' });
    svg.line(x(warmTurn), frame.top, x(warmTurn), frame.bottom, '#999', 1, '3 3');
    for (const s of series) svg.polyline(s.values.map((v, i) => [x(samples[i]!.turn), y(v)]), s.color);
    legend(svg, frame.left + 220, top - 8, series);
  };
  panel(60, 'Memory', 'MiB', [
    { label: 'daemon RSS', color: PALETTE[0]!, values: samples.map((s) => s.rssMiB) },
    { label: 'JS heap used', color: PALETTE[1]!, values: samples.map((s) => s.heapUsedMiB) },
    { label: 'LLM worker RSS', color: PALETTE[2]!, values: samples.map((s) => s.workerRssMiB ?? 0) },
  ]);
  panel(260, 'Open file descriptors', 'fds', [{ label: 'daemon', color: PALETTE[3]!, values: samples.map((s) => s.fds) }]);
  panel(460, 'Event-loop delay per window', 'ms', [
    { label: 'p99', color: PALETTE[4]!, values: samples.map((s) => s.loopDelayP99Ms) },
    { label: 'max', color: PALETTE[5]!, values: samples.map((s) => s.loopDelayMaxMs) },
  ]);
  return svg.toString();
}

if (args.from) {
  const run = JSON.parse(fs.readFileSync(args.from, 'utf8')) as { samples: Sample[]; totals: Totals };
  writeResults(run.samples, run.totals);
} else {
  await main();
}
