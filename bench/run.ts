import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { describeError } from '../base/errors.ts';
import { createLogger } from '../base/log.ts';
import { repoRoot } from '../test/fixtures/speech.ts';
import { createTranscriber } from '../voice/stt/select.ts';
import { bargeInFigures, cliFigures, hesitationFigures, gpuFigures, hudFigures, idleFigures, llmFigures, llmServerFigures, sttFigures, ttsFigures, turnFigures, wakeFigures } from './lib/assemble.ts';
import { GOAL_VALUES, GOALS, PhaseSkipped } from './lib/figures.ts';
import { describeMachine, hasNvidiaGpu, machineFacts } from './lib/machine.ts';
import { detCaption, detTable, markdownTable, notes, textTable } from './lib/report.ts';
import { benchSetup } from './lib/setup.ts';
import { negativeStream, ordinaryTalk, positiveSet, requestAudio, turnClips } from './lib/speech-sets.ts';
import { measureCli } from './phases/cli.ts';
import { measureHesitation } from './phases/hesitation.ts';
import { measureModelSwap } from './phases/gpu.ts';
import { hudAbsence, measureHud } from './phases/hud.ts';
import { measureIdle } from './phases/idle.ts';
import { measureLlm } from './phases/llm.ts';
import { measureLlmServer } from './phases/llm-server.ts';
import { measureStt } from './phases/stt.ts';
import { measureTts } from './phases/tts.ts';
import { measureTurns, type BargeInKind } from './phases/turns.ts';
import { measureWake } from './phases/wake.ts';
import { bargeInPlot, detPlot, enginesVsRawPlot, idlePlot, ttsPlot, voiceToVoicePlot } from './plots.ts';

/**
 * `npm run bench`: measures JARVIS end to end on this machine and writes bench/results/<date>-<host>.json, a
 * Markdown table beside it and SVG plots in bench/results/<date>-<host>/. Not part of `npm test`.
 */

const HELP = `usage: npm run bench -- [options]

  --models <dir|config.json>  real model files (a folder, or a JARVIS config naming them);
                              default: the test-made models of test/models
  --runs <n>                  runs per engine figure (default 20)
  --turns <n>                 spoken turns per barge-in kind (default 20)
  --idle-seconds <n>          seconds of silence and of talk for the idle figures (default 60)
  --negative-minutes <n>      minutes of non-wake speech for false accepts (default 30)
  --only <phases>             comma-separated subset of: wake,turns,hesitation,stt,llm,llm-server,tts,idle,hud,gpu,cli
  --quick                     a fast smoke run (5 runs, 15 s idle, 3 min negatives)
  --out <dir>                 where results go (default bench/results; a temp folder with --quick or --only)
  --docs                      also put the table into docs/BENCHMARKS.md (full runs only)
`;

const PHASES = ['wake', 'turns', 'hesitation', 'stt', 'llm', 'llm-server', 'tts', 'idle', 'hud', 'gpu', 'cli'] as const;
type Phase = (typeof PHASES)[number];

const { values: args } = parseArgs({
  options: {
    models: { type: 'string' },
    runs: { type: 'string' },
    turns: { type: 'string' },
    'idle-seconds': { type: 'string' },
    'negative-minutes': { type: 'string' },
    only: { type: 'string' },
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
    docs: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

function count(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!(n > 0)) throw new Error(`--${name} must be a positive number, got "${value}"`);
  return n;
}

async function main(): Promise<void> {
  if (args.help) {
    process.stdout.write(HELP);
    return;
  }
  const quick = args.quick === true;
  const runs = count(args.runs, quick ? 5 : 20, 'runs');
  const turnsPerKind = count(args.turns, quick ? 3 : 20, 'turns');
  const idleSeconds = count(args['idle-seconds'], quick ? 15 : 60, 'idle-seconds');
  const negativeMinutes = count(args['negative-minutes'], quick ? 3 : 30, 'negative-minutes');
  const only = new Set<Phase>(args.only ? (args.only.split(',') as Phase[]) : PHASES);
  for (const phase of only) if (!PHASES.includes(phase)) throw new Error(`--only: unknown phase "${phase}"; phases are ${PHASES.join(', ')}`);

  const started = performance.now();
  const progress = (message: string) => process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${message}\n`);
  const log = createLogger('warn');
  const [setup, machine] = await Promise.all([benchSetup(args.models), machineFacts()]);
  const { config } = setup;
  progress(`${describeMachine(machine)}\n${setup.description}`);

  // Other programs on the machine slow every figure down: the load is recorded with each phase.
  const load: Record<string, { before: number; after: number; seconds: number }> = {};
  async function phase<T>(name: Phase, run: () => Promise<T>): Promise<T | Error> {
    if (!only.has(name)) return new PhaseSkipped(`not run (--only ${args.only})`);
    progress(`${name}… (load average ${os.loadavg()[0]!.toFixed(2)} on ${machine.cores} cores)`);
    const before = os.loadavg()[0]!;
    const phaseStarted = performance.now();
    try {
      const result = await run();
      progress(`${name} done`);
      return result;
    } catch (error) {
      const { message, fix } = describeError(error);
      progress(`${name} failed: ${message}${fix ? ` (fix: ${fix})` : ''}`);
      return error instanceof Error ? error : new Error(message);
    } finally {
      load[name] = { before, after: os.loadavg()[0]!, seconds: Math.round((performance.now() - phaseStarted) / 1000) };
    }
  }

  progress('generating speech (cached in .cache/test-audio after the first run)…');
  const clips = await turnClips(20);
  const kinds: BargeInKind[] = setup.realSpeechToText ? ['command', 'wake', 'stop-phrase'] : ['command', 'wake'];

  const wake = await phase('wake', async () => {
    const [positives, negatives] = [await positiveSet(), await negativeStream(negativeMinutes * 60_000)];
    const transcriber = setup.realSpeechToText
      ? createTranscriber(config.stt)
      : undefined;
    try {
      return await measureWake({
        positives,
        negatives,
        thresholds: [...new Set([0.3, config.wake.threshold, 0.7])].sort((a, b) => a - b),
        configuredThreshold: config.wake.threshold,
        refractoryMs: config.wake.refractoryMs,
        ...(transcriber ? { transcriber } : {}),
        transcriptCheckNote: 'the test-made Whisper model hears no words (run with --models)',
      });
    } finally {
      await transcriber?.dispose();
    }
  });
  const turns = await phase('turns', () => measureTurns(setup, clips, { turns: turnsPerKind * kinds.length, kinds, log }));
  // The same turns under the fixed silence rule, for the side-by-side figures (the stop command ends each answer).
  const fixedTurns = await phase('turns', () => measureTurns(setup, clips, { turns: turnsPerKind, kinds: ['command'], log, turnEnd: 'silence' }));
  const hesitation = await phase('hesitation', () => measureHesitation(setup, { log }));
  const stt = await phase('stt', () => measureStt(config, clips.map((c) => requestAudio(c, config.vad.hangoverMs)), runs));
  const llm = await phase('llm', () => measureLlm(config, { runs, maxTokens: Math.min(64, config.llm.maxAnswerTokens) }));
  // The OpenAI-compatible backend (llm.backend "openai") against the same llama-server called directly.
  const llmServer = await phase('llm-server', () => measureLlmServer(config, { runs, maxTokens: Math.min(64, config.llm.maxAnswerTokens) }));
  const tts = await phase('tts', () => measureTts(config, runs));
  const idle = await phase('idle', async () => measureIdle(config, await ordinaryTalk(idleSeconds * 1000), { seconds: idleSeconds, windowMs: 3000 }));
  const hudMissing = hudAbsence();
  const hud = hudMissing ?? (await phase('hud', () => measureHud(runs)));
  const cli = await phase('cli', () => measureCli(runs));
  const gpu = (await hasNvidiaGpu()) ? await phase('gpu', () => measureModelSwap(config, runs)) : `no NVIDIA GPU (${machine.gpuNote ?? 'nvidia-smi found none'})`;

  const figures = [
    ...turnFigures(turns, config.vad.hangoverMs, fixedTurns),
    ...hesitationFigures(hesitation),
    ...wakeFigures(wake, config.wake.threshold),
    ...llmFigures(llm, setup.origin === 'test-made'),
    ...llmServerFigures(llmServer),
    ...sttFigures(stt),
    ...ttsFigures(tts),
    ...bargeInFigures(turns, setup.realSpeechToText),
    ...idleFigures(idle, wake instanceof Error ? undefined : wake.cpuPercentOfCore, idleSeconds),
    ...hudFigures(hud),
    ...gpuFigures(gpu),
    ...cliFigures(cli),
  ];
  const durationS = (performance.now() - started) / 1000;

  const date = new Date().toISOString().slice(0, 10);
  const name = `${date}-${machine.host}`;
  // A partial run (--quick, --only) must not replace the full results of this machine.
  const partial = quick || args.only !== undefined;
  const outDir = args.out ?? (partial ? path.join(os.tmpdir(), 'jarvis-bench-partial') : path.join(repoRoot, 'bench', 'results'));
  const plotDir = path.join(outDir, name);
  fs.mkdirSync(plotDir, { recursive: true });
  const plots: Record<string, string> = {};
  const plot = (file: string, svg: () => string) => {
    try {
      fs.writeFileSync(path.join(plotDir, file), svg());
      plots[file] = path.relative(repoRoot, path.join(plotDir, file));
    } catch (error) {
      progress(`plot ${file} failed: ${describeError(error).message}`);
    }
  };
  if (!(turns instanceof Error) && turns.turns.length > 0) {
    plot('voice-to-voice.svg', () => voiceToVoicePlot(turns.turns, GOAL_VALUES.voiceToVoiceMs, `Voice-to-voice per turn, by stage (${setup.origin} models, ${machine.host})`));
  }
  if (!(turns instanceof Error) && turns.bargeIns.length > 0) plot('barge-in.svg', () => bargeInPlot(turns.bargeIns, GOAL_VALUES.bargeInMs));
  plot('engines-vs-raw.svg', () => enginesVsRawPlot(llm, stt, tts));
  if (!(wake instanceof Error)) plot('wake-det.svg', () => detPlot(wake));
  if (!(idle instanceof Error)) plot('idle.svg', () => idlePlot(idle, GOAL_VALUES.idleCpuPercent));
  if (!(tts instanceof Error)) plot('tts.svg', () => ttsPlot(tts));

  const busiest = Math.max(0, ...Object.values(load).flatMap((l) => [l.before, l.after]));
  const busy = busiest > machine.cores * 0.75 ? `; the machine was busy (1-min load average up to ${busiest.toFixed(1)} on ${machine.cores} cores), so figures include other programs' contention` : '';
  const run = `${setup.description}; ${durationS.toFixed(0)} s${quick ? ' (--quick: fewer runs than the figures need)' : ''}${busy}`;
  const header = `JARVIS benchmark ${date} on ${machine.host}: ${describeMachine(machine)}\n${run}`;
  const incidents = turns instanceof Error ? [] : turns.incidents;
  const text = [
    header,
    '',
    textTable(figures),
    ...notes(figures).map((n) => `  · ${n}`),
    '',
    wake instanceof Error ? `wake DET not measured: ${wake.message}` : `${detCaption(wake)}\n${detTable(wake, false)}`,
    ...(incidents.length ? ['', `incidents (${incidents.length}):`, ...incidents.map((i) => `  ${i}`)] : []),
  ].join('\n');
  process.stdout.write(`\n${text}\n`);

  const jsonFile = path.join(outDir, `${name}.json`);
  const results = {
    schema: 1,
    date,
    host: machine.host,
    durationS,
    quick,
    command: `npm run bench --${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`,
    goals: GOALS,
    machine,
    load,
    setup: { origin: setup.origin, description: setup.description, models: setup.models, config: relevantConfig(config) },
    figures,
    wake: wake instanceof Error ? { error: wake.message } : wake,
    turns: turns instanceof Error ? { error: turns.message } : turns,
    llm: llm instanceof Error ? { error: llm.message } : llm,
    llmServer: llmServer instanceof Error ? { error: llmServer.message } : llmServer,
    stt: stt instanceof Error ? { error: stt.message } : stt,
    tts: tts instanceof Error ? { error: tts.message } : tts,
    idle: idle instanceof Error ? { error: idle.message } : idle,
    hud: typeof hud === 'string' ? { notMeasured: hud } : hud instanceof Error ? { error: hud.message } : hud,
    gpu: typeof gpu === 'string' ? { notMeasured: gpu } : gpu instanceof Error ? { error: gpu.message } : gpu,
    cli: cli instanceof Error ? { error: cli.message } : cli,
    fixedTurns: fixedTurns instanceof Error ? { error: fixedTurns.message } : fixedTurns,
    hesitation: hesitation instanceof Error ? { error: hesitation.message } : hesitation,
    plots,
  };
  fs.writeFileSync(jsonFile, `${JSON.stringify(results, null, 1)}\n`);
  const markdown = docsSection(`${name}.json`, `${date} on ${machine.host} (${describeMachine(machine)})`, run, figures, wake, plots, incidents.length);
  fs.writeFileSync(path.join(outDir, `${name}.md`), `${markdown}\n`);
  progress(`wrote ${path.relative(process.cwd(), jsonFile)}, ${name}.md and ${Object.keys(plots).length} plots in ${path.relative(process.cwd(), plotDir)}/`);
  if (args.docs && partial) progress('--docs ignored: docs/BENCHMARKS.md shows full runs only (no --quick, no --only)');
  else if (args.docs) updateDocs(markdown);
}

function relevantConfig(config: Awaited<ReturnType<typeof benchSetup>>['config']) {
  const { wake, vad, stt, llm, tts, conversation } = config;
  return {
    wake: { engine: wake.engine, threshold: wake.threshold, refractoryMs: wake.refractoryMs, verifyTranscript: wake.verifyTranscript },
    vad,
    stt,
    llm: { ...llm, systemPrompt: `${llm.systemPrompt.slice(0, 60)}…` },
    tts,
    conversation: { followUpMs: conversation.followUpMs },
  };
}

/** The table and notes for docs/BENCHMARKS.md; links are relative to docs/. */
function docsSection(
  file: string,
  where: string,
  run: string,
  figures: Parameters<typeof markdownTable>[0],
  wake: Awaited<ReturnType<typeof measureWake>> | Error,
  plots: Record<string, string>,
  incidents: number,
): string {
  return [
    `Latest run: [\`bench/results/${file}\`](../bench/results/${file}), ${where}.`,
    `Run: ${run}.`,
    '',
    markdownTable(figures),
    '',
    ...notes(figures).map((n) => `- ${n}`),
    '',
    wake instanceof Error ? `Wake word DET not measured: ${wake.message}` : `${detCaption(wake)}\n\n${detTable(wake, true)}`,
    '',
    `Plots: ${Object.entries(plots).map(([file, rel]) => `[${file.replace('.svg', '')}](../${rel})`).join(' · ')}${incidents ? ` · ${incidents} incidents listed in the JSON` : ''}`,
  ].join('\n');
}

const BEGIN = '<!-- bench:begin (written by npm run bench -- --docs) -->';
const END = '<!-- bench:end -->';

function updateDocs(markdown: string): void {
  const file = path.join(repoRoot, 'docs', 'BENCHMARKS.md');
  const text = fs.readFileSync(file, 'utf8');
  const begin = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (begin < 0 || end < begin) {
    process.stderr.write(`docs/BENCHMARKS.md has no ${BEGIN} … ${END} block; the table is in the .md file beside the results.\n`);
    return;
  }
  fs.writeFileSync(file, `${text.slice(0, begin + BEGIN.length)}\n${markdown}\n${text.slice(end)}`);
}

main().catch((error: unknown) => {
  const { message, fix } = describeError(error);
  process.stderr.write(`bench: ${message}${fix ? `\n  fix: ${fix}` : ''}\n`);
  process.exitCode = 1;
});
