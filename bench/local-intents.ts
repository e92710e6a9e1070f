import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs, promisify } from 'node:util';
import { parseConfig } from '../config/load.ts';
import { RunEventBus } from '../core/events.ts';
import { type RunEvent } from '../core/protocol/run-events.ts';
import { silentLogger } from '../base/log.ts';
import { runTurn } from '../core/pipeline/turn.ts';
import type { Responder } from '../core/responder.ts';
import { matchIntent } from '../core/skills/intents.ts';
import { SkillsRuntime } from '../core/skills/skills-runtime.ts';
import { turnTimings } from '../core/protocol/timings.ts';
import { repoRoot } from '../test/fixtures/speech.ts';
import { summarize, type Summary } from './lib/stats.ts';

/**
 * Local skills: how soon after the transcript the answer exists, with no LLM. Three figures, each from the run
 * events (turnTimings().localAnswer: stt-end, or run-start for a typed question, → the answer's sentence event):
 *   - `jarvis ask "what time is it" --json` as a user runs it (a fresh process each time);
 *   - the same turn in a warm process, for a spread of skills (time, date, a timer, volume, a note);
 *   - the intent matcher alone, per call, on requests that match and requests that go to the LLM.
 * The goal beside them: under 50 ms after the transcript. `node --import tsx bench/local-intents.ts [--runs n]`
 */

const run = promisify(execFile);
const GOAL_MS = 50;

const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '10' }, 'cli-runs': { type: 'string', default: '5' }, json: { type: 'string' } } });
const runs = Number(args.runs);
const cliRuns = Number(args['cli-runs']);

const SKILL_REQUESTS = [
  'what time is it',
  "what's the date",
  'set a pasta timer for 10 minutes',
  'how long is left on the pasta timer',
  'cancel the pasta timer',
  'volume 5',
  'remember that the wifi password is on the fridge',
  'what do you remember about the wifi',
];
const LLM_REQUESTS = ['what is the capital of france', 'tell me a joke about timers', 'how long should I boil an egg', 'what time is it in tokyo'];

/** The LLM must never be reached here: a request that would reach it fails the bench. */
const noLlm: Responder = {
  engine: 'none',
  load: async () => ({ summary: 'none' }),
  respond: () => {
    throw new Error('a local request reached the LLM');
  },
  resetConversation: async () => {},
  answerCutOff: async () => {},
  retract: async () => {},
  dispose: async () => {},
};

async function inProcess(): Promise<Record<string, Summary>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-bench-skills-'));
  const skills = new SkillsRuntime(parseConfig({ dataDir: dir }), silentLogger);
  const responder = skills.responder(noLlm);
  const bus = new RunEventBus();
  const figures: Record<string, Summary> = {};
  try {
    for (const text of SKILL_REQUESTS) {
      const samples: number[] = [];
      for (let i = 0; i < runs + 2; i++) {
        const recorder = bus.startRun('text');
        await runTurn({ responder, verifyWakeWord: false }, recorder, { text }, new AbortController().signal);
        const ms = turnTimings(recorder.events).localAnswer;
        if (ms === undefined) throw new Error(`"${text}" was not answered locally`);
        if (i >= 2) samples.push(ms); // the first two warm the code paths up
      }
      figures[text] = summarize(samples)!;
    }
  } finally {
    skills.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return figures;
}

function matcherCost(): { match: Summary; noMatch: Summary } {
  const now = Date.now();
  const time = (requests: string[]) => {
    const samples: number[] = [];
    for (let i = 0; i < 200; i++) {
      for (const text of requests) {
        const started = performance.now();
        matchIntent(text, { now, timerLabels: ['pasta'] });
        samples.push((performance.now() - started) * 1000);
      }
    }
    return summarize(samples.slice(requests.length * 20))!;
  };
  return { match: time(SKILL_REQUESTS), noMatch: time(LLM_REQUESTS) };
}

async function cli(): Promise<{ localAnswer: Summary; process: Summary }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-bench-cli-'));
  const local: number[] = [];
  const wall: number[] = [];
  try {
    for (let i = 0; i < cliRuns; i++) {
      const started = performance.now();
      const { stdout } = await run(process.execPath, [path.join(repoRoot, 'bin', 'jarvis.js'), 'ask', 'what time is it', '--json'], {
        env: { ...process.env, JARVIS_DATA_DIR: dataDir, JARVIS_LOG__LEVEL: 'silent' },
      });
      wall.push(performance.now() - started);
      const events = stdout
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as RunEvent);
      const ms = turnTimings(events).localAnswer;
      if (ms === undefined) throw new Error(`jarvis ask did not answer locally:\n${stdout}`);
      local.push(ms);
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return { localAnswer: summarize(local)!, process: summarize(wall)! };
}

const row = (name: string, s: Summary, unit = 'ms', goal = '') =>
  `| ${name.padEnd(62)} | ${s.median.toFixed(2).padStart(8)} | ${s.p95.toFixed(2).padStart(8)} | ${String(s.n).padStart(4)} | ${unit.padEnd(4)} | ${goal.padEnd(10)} |`;

async function main(): Promise<void> {
  const machine = `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, Node ${process.version}`;
  const cliFigures = await cli();
  const warm = await inProcess();
  const matcher = matcherCost();
  const lines = [
    `Local skills on ${machine}`,
    '',
    `| figure${' '.repeat(56)} |   median |      p95 |    n | unit | goal       |`,
    `|${'-'.repeat(64)}|----------|----------|------|------|------------|`,
    row('jarvis ask "what time is it": transcript → answer', cliFigures.localAnswer, 'ms', `< ${GOAL_MS} ms`),
    row('jarvis ask "what time is it": whole process', cliFigures.process, 'ms'),
    ...Object.entries(warm).map(([text, s]) => row(`warm: "${text}"`, s, 'ms', `< ${GOAL_MS} ms`)),
    row('intent matcher, request that is a skill', matcher.match, 'µs'),
    row('intent matcher, request for the LLM', matcher.noMatch, 'µs'),
  ];
  console.log(lines.join('\n'));
  const worst = Math.max(cliFigures.localAnswer.p95, ...Object.values(warm).map((s) => s.p95));
  console.log(`\nworst p95 transcript → local answer: ${worst.toFixed(1)} ms (goal < ${GOAL_MS} ms: ${worst < GOAL_MS ? 'met' : 'NOT met'})`);
  if (args.json) fs.writeFileSync(args.json, JSON.stringify({ machine, cli: cliFigures, warm, matcher }, null, 2));
}

await main();
