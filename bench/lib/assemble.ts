import type { CliResult } from '../phases/cli.ts';
import { HESITATIONS, type HesitationResult } from '../phases/hesitation.ts';
import type { HudResult } from '../phases/hud.ts';
import type { IdleResult } from '../phases/idle.ts';
import type { LlmResult } from '../phases/llm.ts';
import type { LlmServerResult } from '../phases/llm-server.ts';
import type { SttResult } from '../phases/stt.ts';
import type { SwapResult } from '../phases/gpu.ts';
import type { TtsResult } from '../phases/tts.ts';
import type { BargeInKind, TurnRecord, TurnsResult } from '../phases/turns.ts';
import type { WakeResult } from '../phases/wake.ts';
import { GOALS, measured, notMeasured, PhaseSkipped, type Figure } from './figures.ts';
import { sum, summarize } from './stats.ts';

/** Turns each phase's raw samples into table figures. A phase that could not run yields figures that say why. */

const tooFew = (what: string) => `no ${what} completed (see incidents)`;
const failed = (what: string, error: Error) => (error instanceof PhaseSkipped ? error.message : `${what} failed: ${error.message}`);

/**
 * `fixed`: the same turns under the fixed silence rule (vad.turnEnd "silence"), in the same run: the baseline
 * the turn end on meaning is compared with.
 */
export function turnFigures(result: TurnsResult | Error, hangoverMs: number, fixed?: TurnsResult | Error): Figure[] {
  const section = 'voice-to-voice';
  const of = (pick: (t: TurnRecord) => number, which: TurnsResult | Error = result, keep: (t: TurnRecord) => boolean = () => true) =>
    which instanceof Error ? undefined : summarize(which.turns.filter(keep).map(pick));
  const why = result instanceof Error ? failed('the turns', result) : tooFew('turn');
  const engines = of((t) => t.enginesMs);
  const fixedBaseline = (pick: (t: TurnRecord) => number) => {
    const value = fixed === undefined ? undefined : of(pick, fixed);
    return value ? { baseline: { label: `fixed ${hangoverMs} ms silence, same run`, value } } : {};
  };
  const complete = (t: TurnRecord) => t.turnEnd === 'complete' || t.turnEnd === 'intent';
  return [
    measured(
      {
        id: 'voice-to-voice',
        section,
        label: 'voice-to-voice: end of speech → first audio out',
        unit: 'ms',
        goal: GOALS.voiceToVoice,
        ...fixedBaseline((t) => t.voiceToVoiceMs),
        note: 'each turn the first question of a conversation (llm.historyTurns = 0); a real-time virtual speaker (a sound card adds its buffer)',
      },
      of((t) => t.voiceToVoiceMs),
      why,
    ),
    measured(
      { id: 'vad-endpoint', section, label: 'endpoint delay (end of speech → vad-end)', unit: 'ms', sub: true, note: `vad.turnEnd "meaning"; vad.hangoverMs = ${hangoverMs} when unsure`, ...fixedBaseline((t) => t.endpointMs) },
      of((t) => t.endpointMs),
      why,
    ),
    measured(
      { id: 'vad-endpoint-complete', section, label: 'endpoint delay, requests complete by what was said', unit: 'ms', sub: true, goal: GOALS.endpointComplete },
      of((t) => t.endpointMs, result, complete),
      'no request was judged complete',
    ),
    measured({ id: 'vad-endpoint-unsure', section, label: 'endpoint delay, other requests (the hangover)', unit: 'ms', sub: true }, of((t) => t.endpointMs, result, (t) => !complete(t)), 'every request was judged complete'),
    measured(
      { id: 'final-transcript', section, label: 'end of speech → final transcript (stt-end)', unit: 'ms', sub: true, ...fixedBaseline((t) => t.finalTranscriptMs) },
      of((t) => t.finalTranscriptMs),
      why,
    ),
    measured(
      { id: 'final-transcript-after-endpoint', section, label: 'endpoint → final transcript', unit: 'ms', sub: true, goal: GOALS.finalTranscript },
      of((t) => t.finalTranscriptMs - t.endpointMs),
      why,
    ),
    measured({ id: 'early-answer', section, label: 'answer started before the endpoint by', unit: 'ms', sub: true, note: '0 where it was not' }, of((t) => t.earlyMs), why),
    measured({ id: 'stt-in-turn', section, label: 'STT (stt-start → stt-end)', unit: 'ms', sub: true }, of((t) => t.sttMs), why),
    measured({ id: 'llm-first-token-in-turn', section, label: 'LLM time to first token', unit: 'ms', sub: true }, of((t) => t.firstTokenMs), why),
    measured({ id: 'llm-first-sentence', section, label: 'LLM first sentence complete (llm-start → sentence)', unit: 'ms', sub: true }, of((t) => t.firstSentenceMs), why),
    measured({ id: 'tts-first-chunk', section, label: 'TTS first chunk (first sentence synthesized)', unit: 'ms', sub: true }, of((t) => t.ttsFirstMs), why),
    measured({ id: 'sink-start', section, label: 'sink start (tts-end → playback-start)', unit: 'ms', sub: true }, of((t) => t.sinkStartMs), why),
    measured(
      {
        id: 'after-endpoint',
        section,
        label: 'after the endpoint (vad-end → first audio out)',
        unit: 'ms',
        ...(engines ? { baseline: { label: 'engine times alone', value: engines } } : {}),
      },
      of((t) => t.afterEndpointMs),
      why,
    ),
    measured({ id: 'overhead', section, label: "JARVIS's own overhead per turn (the above − engine times)", unit: 'ms', goal: GOALS.overhead }, of((t) => t.overheadMs), why),
    measured(
      { id: 'wake-delay-live', section: 'wake', label: 'wake detection delay, live (end of "hey jarvis" → wake event)', unit: 'ms' },
      result instanceof Error ? undefined : summarize(result.wakeDelaysMs),
      why,
    ),
  ];
}

const BARGE_IN_LABELS: Record<BargeInKind, string> = {
  wake: 'barge-in by "hey jarvis": end of the keyword → sink silent',
  command: 'barge-in by the stop command: stop() → sink silent',
  'stop-phrase': 'barge-in by "stop": end of the word → sink silent',
};

export function bargeInFigures(result: TurnsResult | Error, realSpeechToText: boolean): Figure[] {
  const section = 'barge-in';
  return (['wake', 'command', 'stop-phrase'] as const).flatMap((kind): Figure[] => {
    const base = { id: `barge-in-${kind}`, section, label: BARGE_IN_LABELS[kind], unit: 'ms' as const, goal: GOALS.bargeIn };
    if (result instanceof Error) return [notMeasured(base, failed('the turns', result))];
    if (kind === 'stop-phrase' && !realSpeechToText) {
      return [notMeasured(base, 'the test-made Whisper model hears no words, so "stop" cannot be recognised (run with --models)')];
    }
    const samples = result.bargeIns.filter((b) => b.kind === kind);
    const figures = [measured(base, summarize(samples.map((b) => b.toSilentMs)), tooFew(`${kind} barge-in`))];
    if (kind !== 'command' && samples.length > 0) {
      figures.push(measured({ id: `barge-in-${kind}-event`, section, label: 'of which: → barge-in event', unit: 'ms', sub: true }, summarize(samples.map((b) => b.toEventMs)), ''));
    }
    return figures;
  });
}

export function llmFigures(result: LlmResult | Error, testMade: boolean): Figure[] {
  const section = 'llm';
  if (result instanceof Error) {
    return [
      notMeasured({ id: 'llm-first-token', section, label: 'LLM time to first token', unit: 'ms' }, failed('the LLM phase', result)),
      notMeasured({ id: 'llm-rate', section, label: 'LLM tokens/s', unit: 'tok/s', goal: GOALS.llmRate }, failed('the LLM phase', result)),
    ];
  }
  const raw = (pick: (s: LlmResult['raw'][number]) => number) => summarize(result.raw.map(pick));
  const jarvis = (pick: (s: LlmResult['jarvis'][number]) => number) => summarize(result.jarvis.map(pick));
  const rawFirst = raw((s) => s.firstTokenMs);
  const rawRate = raw((s) => s.piecesPerSecond);
  const tokens = sum(result.raw.map((s) => s.tokens ?? 0));
  const pieces = sum(result.raw.map((s) => s.pieces));
  return [
    measured(
      { id: 'llm-first-token', section, label: 'LLM time to first token, through JARVIS', unit: 'ms', ...(rawFirst ? { baseline: { label: 'raw node-llama-cpp', value: rawFirst } } : {}) },
      jarvis((s) => s.firstTokenMs),
      tooFew('answer'),
    ),
    measured(
      {
        id: 'llm-rate',
        section,
        label: 'LLM tokens/s, through JARVIS',
        unit: 'tok/s',
        goal: GOALS.llmRate,
        note:
          `${result.maxTokens}-token answers, ${result.order}; rates count streamed pieces (raw side: ${pieces} pieces for ${tokens} tokens)` +
          (testMade ? "; a test-made token costs next to no compute, so these rates are llama.cpp's thread wake-ups" : ''),
        ...(rawRate ? { baseline: { label: 'raw node-llama-cpp', value: rawRate } } : {}),
      },
      jarvis((s) => s.piecesPerSecond),
      tooFew('answer'),
    ),
  ];
}

/** JARVIS's OpenAI-compatible backend against the same llama-server called directly (phases/llm-server.ts). */
export function llmServerFigures(result: LlmServerResult | Error): Figure[] {
  const section = 'llm-server';
  if (result instanceof Error) {
    const why = failed('the llama-server phase', result);
    return [
      notMeasured({ id: 'llm-server-first-token', section, label: 'llama-server time to first token, through JARVIS', unit: 'ms' }, why),
      notMeasured({ id: 'llm-server-overhead', section, label: 'first-token overhead (JARVIS − direct, same question)', unit: 'ms', goal: GOALS.llmServerOverhead, sub: true }, why),
      notMeasured({ id: 'llm-server-rate', section, label: 'llama-server tokens/s, through JARVIS', unit: 'tok/s', goal: GOALS.llmServerRate }, why),
    ];
  }
  const direct = (pick: (s: LlmServerResult['direct'][number]) => number) => summarize(result.direct.map(pick));
  const jarvis = (pick: (s: LlmServerResult['jarvis'][number]) => number) => summarize(result.jarvis.map(pick));
  const directFirst = direct((s) => s.firstTokenMs);
  const directRate = direct((s) => s.piecesPerSecond);
  const serverRate = summarize(result.serverRates);
  const about = `${result.model}, ${result.maxTokens}-token answers, one llama-server (${result.threads ?? 'default'} threads), the two sides taking turns question by question`;
  return [
    measured(
      { id: 'llm-server-first-token', section, label: 'llama-server time to first token, through JARVIS', unit: 'ms', note: about, ...(directFirst ? { baseline: { label: 'the same server called directly', value: directFirst } } : {}) },
      jarvis((s) => s.firstTokenMs),
      tooFew('answer'),
    ),
    measured(
      { id: 'llm-server-overhead', section, label: 'first-token overhead (JARVIS − direct, same question)', unit: 'ms', goal: GOALS.llmServerOverhead, sub: true },
      summarize(result.jarvis.map((s, i) => s.firstTokenMs - result.direct[i]!.firstTokenMs)),
      tooFew('answer'),
    ),
    measured(
      {
        id: 'llm-server-rate',
        section,
        label: 'llama-server tokens/s, through JARVIS',
        unit: 'tok/s',
        goal: GOALS.llmServerRate,
        note: `rates count streamed pieces after the first${serverRate ? `; llama-server's own timing of the direct answers: median ${serverRate.median.toFixed(1)} tok/s` : ''}`,
        ...(directRate ? { baseline: { label: 'the same server called directly', value: directRate } } : {}),
      },
      jarvis((s) => s.piecesPerSecond),
      tooFew('answer'),
    ),
  ];
}

export function sttFigures(result: SttResult | Error): Figure[] {
  const section = 'stt';
  if (result instanceof Error) {
    return [notMeasured({ id: 'stt', section, label: 'Whisper, through JARVIS', unit: 'ms' }, failed('the STT phase', result))];
  }
  // whisper-cli from the same build, same settings; not measured where it could not be built (rawMs NaN).
  const baseline = (samples: SttResult['samples'], label: string, of = (s: SttResult['samples'][number]) => s.rawMs) => {
    const value = summarize(samples.map(of));
    return value ? { baseline: { label, value } } : {};
  };
  const jarvis = (samples: SttResult['samples']) => summarize(samples.map((s) => s.jarvisMs));
  const why = tooFew('transcription') + (result.rawMissing ? `; ${result.rawMissing}` : '');
  return [
    measured(
      { id: 'stt', section, label: 'Whisper per request, through JARVIS', unit: 'ms', note: result.description, ...baseline(result.samples, result.rawLabel) },
      jarvis(result.samples),
      why,
    ),
    measured(
      { id: 'stt-rtf', section, label: 'Whisper real-time factor (time / audio length)', unit: 'x', sub: true, ...baseline(result.samples, 'raw', (s) => s.rawMs / s.audioMs) },
      summarize(result.samples.map((s) => s.jarvisMs / s.audioMs)),
      why,
    ),
    ...result.threeSecond.flatMap((shape) => [
      measured(
        { id: `stt-3s-${shape.id}`, section, label: `3 s request, 2 threads, ${shape.model}: through JARVIS (audio_ctx ${shape.audioContext})`, unit: 'ms', goal: GOALS.sttShort, ...baseline(shape.samples, `whisper-cli -ac ${shape.audioContext}`) },
        jarvis(shape.samples),
        why,
      ),
      ...(shape.fullWindow
        ? [measured({ id: `stt-3s-${shape.id}-full`, section, label: '… with the full 30 s window (audio_ctx 1500)', unit: 'ms' as const, sub: true, ...baseline(shape.fullWindow, 'whisper-cli -ac 1500') }, jarvis(shape.fullWindow), why)]
        : []),
      ...(shape.prebuiltMs
        ? [measured({ id: `stt-3s-${shape.id}-prebuilt`, section, label: '… through the prebuilt @fugood/whisper.node (the fallback; full window)', unit: 'ms' as const, sub: true }, summarize(shape.prebuiltMs), why)]
        : []),
    ]),
  ];
}

export function ttsFigures(result: TtsResult | Error): Figure[] {
  const section = 'tts';
  if (result instanceof Error) {
    return [notMeasured({ id: 'tts-rtf', section, label: 'TTS real-time factor', unit: 'x' }, failed('the TTS phase', result))];
  }
  const raw = summarize(result.samples.map((s) => s.rawMs));
  return [
    measured(
      { id: 'tts-first-audio', section, label: 'TTS time to first audio per sentence (sentence → playback-start)', unit: 'ms', note: result.reason, ...(raw ? { baseline: { label: 'synthesize() alone', value: raw } } : {}) },
      summarize(result.samples.map((s) => s.firstAudioMs)),
      tooFew('sentence'),
    ),
    measured(
      { id: 'tts-rtf', section, label: 'TTS real-time factor (synthesis / audio length)', unit: 'x', sub: true },
      summarize(result.samples.map((s) => s.synthesisMs / s.audioMs)),
      tooFew('sentence'),
    ),
  ];
}

export function wakeFigures(result: WakeResult | Error, goalThreshold: number): Figure[] {
  const section = 'wake';
  if (result instanceof Error) {
    return [notMeasured({ id: 'wake-frr', section, label: 'wake word DET', unit: '%', goal: GOALS.wake }, failed('the wake phase', result))];
  }
  const row = result.rows.find((r) => r.threshold === goalThreshold) ?? result.rows[0]!;
  const { embeddingCpu } = result;
  return [
    measured(
      {
        id: 'wake-chain-cpu',
        section,
        label: `openWakeWord CPU (% of one core), ${Math.round(embeddingCpu.seconds / 60)} min of talk, embedding streamed`,
        unit: '%',
        baseline: { label: 'whole embedding model each step', value: summarize([embeddingCpu.whole])! },
      },
      summarize([embeddingCpu.streamed]),
      '',
    ),
    measured(
      { id: 'wake-delay-audio', section, label: `wake detection delay, audio time (end of keyword → frame), θ = ${row.threshold}`, unit: 'ms', sub: true },
      row.delay,
      'no detection',
    ),
  ];
}

export function idleFigures(result: IdleResult | Error, wakeChainCpu: number | undefined, seconds: number): Figure[] {
  const section = 'idle';
  const conditions = ['silence', 'speech'] as const;
  if (result instanceof Error) {
    return conditions.map((condition) =>
      notMeasured({ id: `idle-cpu-${condition}`, section, label: `daemon CPU, ${condition}`, unit: '%', goal: GOALS.idleCpu }, failed('the idle phase', result)),
    );
  }
  const baseline = wakeChainCpu === undefined ? undefined : summarize([wakeChainCpu]);
  return conditions.flatMap((condition) => {
    const windows = result.windows.filter((w) => w.condition === condition);
    const of = (pick: (w: IdleResult['windows'][number]) => number) => summarize(windows.map(pick));
    const listening = condition === 'silence' ? `${seconds} s of silence` : `${seconds} s of talk without the wake word`;
    return [
      measured(
        {
          id: `idle-cpu-${condition}`,
          section,
          label: `daemon CPU (% of one core), ${listening}`,
          unit: '%',
          goal: condition === 'silence' ? GOALS.idleCpu : GOALS.talkCpu,
          ...(baseline ? { baseline: { label: 'openWakeWord alone, every step run', value: baseline } } : {}),
        },
        of((w) => w.daemonCpuPercent),
        'no window measured',
      ),
      // Where it went, from the daemon's CPU profile (bench/lib/cpu-profile.ts).
      ...Object.entries(result.breakdown[condition] ?? {}).map(([category, percent]) =>
        measured({ id: `idle-cpu-${condition}-${category.split(' ')[0]}`, section, label: `of which ${category}`, unit: '%', sub: true }, summarize([percent]), ''),
      ),
      measured({ id: `idle-worker-cpu-${condition}`, section, label: 'its child processes (the LLM worker)', unit: '%', sub: true }, of((w) => w.childrenCpuPercent), 'no window measured'),
      measured({ id: `idle-rss-${condition}`, section, label: `daemon RSS, ${listening}`, unit: 'MB' }, of((w) => w.daemonRssMiB), 'no window measured'),
      measured({ id: `idle-worker-rss-${condition}`, section, label: 'its child processes (the LLM worker)', unit: 'MB', sub: true }, of((w) => w.childrenRssMiB), 'no window measured'),
    ];
  });
}

export function hudFigures(result: HudResult | Error | string): Figure[] {
  const base = { id: 'hud-paint', section: 'hud', label: 'HUD: run event in core → painted in Chromium', unit: 'ms' as const };
  if (typeof result === 'string') return [notMeasured(base, result)];
  if (result instanceof Error) return [notMeasured(base, failed('the HUD phase', result))];
  return [measured({ ...base, goal: GOALS.hudPaint, note: `llm-start → the question painted; clock mapping ±${result.clockErrorMs.toFixed(2)} ms` }, summarize(result.eventToPaintMs), 'no probe painted')];
}

export function gpuFigures(result: SwapResult | Error | string): Figure[] {
  const section = 'gpu';
  const swap = { id: 'model-swap', section, label: 'LLM model swap (dispose → next model loaded)', unit: 'ms' as const };
  const vram = { id: 'vram-loaded', section, label: 'VRAM used with the model loaded', unit: 'MB' as const, sub: true };
  if (typeof result === 'string') return [notMeasured(swap, result), notMeasured(vram, result)];
  if (result instanceof Error) return [notMeasured(swap, failed('the swap', result)), notMeasured(vram, failed('the swap', result))];
  const note = `${result.models.join(' ⇄ ')}; VRAM before ${result.vramBeforeMiB} MiB, after ${result.vramAfterMiB} MiB`;
  return [
    measured({ ...swap, note }, summarize(result.swapMs), 'no swap completed'),
    measured({ ...vram, baseline: { label: 'before any model', value: summarize([result.vramBeforeMiB])! } }, summarize(result.vramLoadedMiB), 'no reading'),
  ];
}

export function cliFigures(result: CliResult | Error): Figure[] {
  const section = 'cli';
  const timers = { id: 'cli-timers-list', section, label: '`jarvis timers list`: start → exit', unit: 'ms' as const, goal: GOALS.cliStart };
  const version = { id: 'cli-version', section, label: '`jarvis --version`: start → exit', unit: 'ms' as const, sub: true };
  if (result instanceof Error) return [notMeasured(timers, failed('the CLI phase', result)), notMeasured(version, failed('the CLI phase', result))];
  const baseline = summarize(result.bareNodeMs);
  const withBaseline = baseline ? { baseline: { label: 'node -e 0 (Node alone)', value: baseline } } : {};
  return [
    measured({ ...timers, ...withBaseline, note: 'the compiled CLI (bin/build.js), a private empty timer database' }, summarize(result.timersListMs), 'no run'),
    measured({ ...version, ...withBaseline }, summarize(result.versionMs), 'no run'),
  ];
}

export function hesitationFigures(result: HesitationResult | Error): Figure[] {
  const section = 'turn end';
  const cut = { id: 'hesitation-cut', section, label: 'requests cut in a 550–700 ms hesitation', unit: '%' as const, goal: GOALS.hesitationCut };
  const dropped = { id: 'speculation-dropped', section, label: 'answers started in a pause and dropped, per request', unit: 'x' as const, sub: true };
  if (result instanceof Error) return [notMeasured(cut, failed('the hesitation phase', result)), notMeasured(dropped, failed('the hesitation phase', result))];
  const rate = (design: string) => {
    const samples = result.samples.filter((s) => s.design === design);
    return samples.length === 0 ? undefined : summarize([(100 * samples.filter((s) => s.cut).length) / samples.length]);
  };
  const fixed = rate('silence');
  const meaning = result.samples.filter((s) => s.design === 'meaning');
  return [
    measured(
      { ...cut, note: `${meaning.length} requests (${HESITATIONS.length} phrasings × voices) per rule`, ...(fixed ? { baseline: { label: 'fixed silence rule, same run', value: fixed } } : {}) },
      rate('meaning'),
      tooFew('request'),
    ),
    measured(dropped, summarize(meaning.map((s) => s.speculationsDropped)), tooFew('request')),
  ];
}
