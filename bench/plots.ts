import type { IdleResult } from './phases/idle.ts';
import type { LlmResult } from './phases/llm.ts';
import type { SttResult } from './phases/stt.ts';
import type { TtsResult } from './phases/tts.ts';
import type { BargeInKind, BargeInRecord, TurnRecord } from './phases/turns.ts';
import type { WakeResult } from './phases/wake.ts';
import { GOALS } from './lib/figures.ts';
import { summarize } from './lib/stats.ts';
import { axes, legend, linear, niceTicks, PALETTE, Svg, type Frame } from './lib/svg.ts';

/** The benchmark's figures as SVG files, drawn from the same samples as the table. */

const STAGES: { label: string; color: string; ms: (t: TurnRecord) => number }[] = [
  { label: 'VAD endpoint', color: '#bab0ac', ms: (t) => t.endpointMs },
  { label: 'STT', color: PALETTE[0]!, ms: (t) => t.sttMs },
  { label: 'LLM first token', color: PALETTE[1]!, ms: (t) => t.firstTokenMs },
  { label: 'LLM to first sentence', color: PALETTE[5]!, ms: (t) => t.firstSentenceMs - t.firstTokenMs },
  { label: 'TTS first sentence', color: PALETTE[4]!, ms: (t) => t.ttsFirstMs },
  { label: 'JARVIS between stages', color: PALETTE[2]!, ms: (t) => t.vadToSttMs + t.sttToLlmMs + t.sentenceToTtsMs + t.sinkStartMs },
];

export function voiceToVoicePlot(turns: TurnRecord[], goalMs: number, title: string): string {
  const sorted = [...turns].sort((a, b) => a.voiceToVoiceMs - b.voiceToVoiceMs);
  const barHeight = 14;
  const frame: Frame = { left: 70, top: 60, right: 860, bottom: 60 + sorted.length * (barHeight + 4) };
  const svg = new Svg(900, frame.bottom + 90);
  const max = Math.max(goalMs, ...sorted.map((t) => t.voiceToVoiceMs)) * 1.05;
  const ticks = niceTicks(max, 8);
  const x = linear([0, ticks.at(-1)!], [frame.left, frame.right]);
  svg.text(20, 24, title, { size: 15, weight: 'bold' });
  legend(svg, 20, 46, STAGES);
  axes(svg, frame, { scale: x, ticks, title: 'ms from the end of speech' }, { scale: (v) => v, ticks: [], title: 'turns (sorted)' });
  sorted.forEach((turn, i) => {
    const y = frame.top + 2 + i * (barHeight + 4);
    let at = 0;
    for (const stage of STAGES) {
      const ms = Math.max(0, stage.ms(turn));
      svg.rect(x(at), y, x(at + ms) - x(at), barHeight, stage.color, `${stage.label}: ${ms.toFixed(1)} ms (${turn.voice}, "${turn.question}")`);
      at += ms;
    }
    svg.text(x(turn.voiceToVoiceMs) + 4, y + 11, `${Math.round(turn.voiceToVoiceMs)}`, { size: 10, fill: '#555' });
  });
  svg.line(x(goalMs), frame.top - 4, x(goalMs), frame.bottom, '#c00', 1.5, '5 4');
  svg.text(x(goalMs) + 4, frame.bottom + 52, `goal ${GOALS.voiceToVoice}`, { size: 11, fill: '#c00' });
  return svg.toString();
}

interface Comparison {
  title: string;
  unit: string;
  jarvis: number[];
  raw: number[];
  rawLabel: string;
}

export function enginesVsRawPlot(llm: LlmResult | Error, stt: SttResult | Error, tts: TtsResult | Error): string {
  const panels: Comparison[] = [];
  if (!(llm instanceof Error)) {
    panels.push({ title: 'LLM time to first token', unit: 'ms', jarvis: llm.jarvis.map((s) => s.firstTokenMs), raw: llm.raw.map((s) => s.firstTokenMs), rawLabel: 'node-llama-cpp' });
    panels.push({ title: 'LLM tokens/s (higher is better)', unit: 'tok/s', jarvis: llm.jarvis.map((s) => s.piecesPerSecond), raw: llm.raw.map((s) => s.piecesPerSecond), rawLabel: 'node-llama-cpp' });
  }
  if (!(stt instanceof Error)) {
    panels.push({ title: 'Whisper per request', unit: 'ms', jarvis: stt.samples.map((s) => s.jarvisMs), raw: stt.samples.map((s) => s.rawMs), rawLabel: 'whisper-cli' });
  }
  if (!(tts instanceof Error)) {
    panels.push({ title: 'TTS per sentence', unit: 'ms', jarvis: tts.samples.map((s) => s.synthesisMs), raw: tts.samples.map((s) => s.rawMs), rawLabel: 'synthesize()' });
  }
  const width = 230;
  const svg = new Svg(Math.max(3, panels.length) * width + 20, 330);
  svg.text(20, 24, 'Through JARVIS vs the raw engine, same run: median bar, p95 whisker, every run a dot', { size: 14, weight: 'bold' });
  panels.forEach((panel, i) => {
    const frame: Frame = { left: 20 + i * width + 60, top: 60, right: 20 + (i + 1) * width - 20, bottom: 270 };
    const js = summarize(panel.jarvis);
    const rs = summarize(panel.raw);
    if (!js || !rs) return;
    const ticks = niceTicks(Math.max(js.max, rs.max) * 1.1, 5);
    const y = linear([0, ticks.at(-1)!], [frame.bottom, frame.top]);
    svg.text((frame.left + frame.right) / 2, 48, panel.title, { anchor: 'middle', size: 12, weight: 'bold' });
    axes(svg, frame, { scale: (v) => v, ticks: [], title: '' }, { scale: y, ticks, title: panel.unit });
    const bars: [string, typeof js, number[], string][] = [
      ['JARVIS', js, panel.jarvis, PALETTE[0]!],
      [panel.rawLabel, rs, panel.raw, PALETTE[1]!],
    ];
    const slot = (frame.right - frame.left) / 2;
    bars.forEach(([label, s, values, color], b) => {
      const cx = frame.left + slot * (b + 0.5);
      svg.rect(cx - slot * 0.3, y(s.median), slot * 0.6, frame.bottom - y(s.median), color, `${label} median ${s.median.toFixed(2)} ${panel.unit}`);
      svg.line(cx, y(s.median), cx, y(s.p95), '#222', 1.5);
      svg.line(cx - 8, y(s.p95), cx + 8, y(s.p95), '#222', 1.5);
      values.forEach((v, k) => svg.circle(cx - slot * 0.2 + ((k * 7) % Math.round(slot * 0.4)), y(v), 2, '#333'));
      svg.text(cx, frame.bottom + 16, label, { anchor: 'middle', size: 11 });
    });
    svg.text((frame.left + frame.right) / 2, frame.bottom + 40, `ratio ${(js.median / rs.median).toFixed(3)}×`, { anchor: 'middle', size: 12 });
  });
  return svg.toString();
}

/** FRR against false accepts per hour over a threshold sweep (x on a log(1 + FA/h) scale). */
export function detPlot(wake: WakeResult): string {
  const frame: Frame = { left: 70, top: 50, right: 660, bottom: 380 };
  const svg = new Svg(700, 440);
  const fa = (v: number) => Math.log10(1 + v);
  const maxFa = Math.max(...wake.sweep.map((p) => p.faPerHour), 1);
  const faTicks = [0, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000].filter((t) => t <= maxFa * 1.2);
  const x = linear([0, fa(Math.max(maxFa * 1.2, 2))], [frame.left, frame.right]);
  const y = linear([0, 100], [frame.bottom, frame.top]);
  svg.text(20, 24, 'Wake word DET: false rejects vs false accepts per hour, by threshold', { size: 14, weight: 'bold' });
  axes(
    svg,
    frame,
    { scale: (v) => x(fa(v)), ticks: faTicks, title: 'false accepts per hour of non-wake audio (log scale)' },
    { scale: y, ticks: [0, 20, 40, 60, 80, 100], title: 'false rejects, % of positives' },
  );
  svg.rect(x(0), y(5), x(fa(0.5)) - x(0), y(0) - y(5), '#59a14f55', 'goal: FRR ≤ 5 % at ≤ 0.5 FA/h');
  svg.text(x(0) + 4, y(5) - 4, 'goal', { size: 11, fill: '#2c6e2a' });
  svg.polyline(wake.sweep.map((p) => [x(fa(p.faPerHour)), y(p.frr)]), PALETTE[0]!);
  for (const p of wake.sweep) svg.circle(x(fa(p.faPerHour)), y(p.frr), 2.5, PALETTE[0]!, `θ ${p.threshold}: FRR ${p.frr.toFixed(1)} %, ${p.faPerHour.toFixed(1)} FA/h`);
  for (const row of wake.rows) {
    svg.circle(x(fa(row.faPerHour)), y(row.frr), 5, PALETTE[2]!);
    svg.text(x(fa(row.faPerHour)) + 8, y(row.frr) - 6, `θ ${row.threshold}`, { size: 11, weight: 'bold' });
  }
  return svg.toString();
}

export function idlePlot(idle: IdleResult, goalPercent: number): string {
  const svg = new Svg(820, 560);
  svg.text(20, 24, `Daemon idle cost (jarvis start --input -): ${idle.windowMs / 1000} s windows, silence then talk without the wake word`, { size: 14, weight: 'bold' });
  const times = idle.windows.map((_, i) => ((i + 1) * idle.windowMs) / 1000);
  const x = linear([0, times.at(-1) ?? 1], [70, 780]);
  const xTicks = niceTicks(times.at(-1) ?? 1, 8);
  const panel = (top: number, title: string, unit: string, series: { label: string; color: string; values: number[] }[], goal?: number) => {
    const frame: Frame = { left: 70, top, right: 780, bottom: top + 170 };
    const max = Math.max(goal ?? 0, ...series.flatMap((s) => s.values)) * 1.15 || 1;
    const ticks = niceTicks(max, 5);
    const y = linear([0, ticks.at(-1)!], [frame.bottom, frame.top]);
    axes(svg, frame, { scale: x, ticks: xTicks, title: 'seconds' }, { scale: y, ticks, title: unit });
    svg.text(frame.left, top - 8, title, { size: 12, weight: 'bold' });
    const silenceEnd = idle.windows.filter((w) => w.condition === 'silence').length;
    if (silenceEnd > 0 && silenceEnd < times.length) svg.line(x(times[silenceEnd - 1]!), frame.top, x(times[silenceEnd - 1]!), frame.bottom, '#999', 1, '3 3');
    for (const s of series) svg.polyline(s.values.map((v, i) => [x(times[i]!), y(v)]), s.color);
    if (goal !== undefined) {
      svg.line(frame.left, y(goal), frame.right, y(goal), '#c00', 1.5, '5 4');
      svg.text(frame.right - 4, y(goal) - 4, `goal ≤ ${goal} %`, { anchor: 'end', size: 11, fill: '#c00' });
    }
    legend(svg, frame.left + 200, top - 8, series);
  };
  panel(70, 'CPU, % of one core', '%', [
    { label: 'daemon', color: PALETTE[0]!, values: idle.windows.map((w) => w.daemonCpuPercent) },
    { label: 'LLM worker', color: PALETTE[1]!, values: idle.windows.map((w) => w.childrenCpuPercent) },
  ], goalPercent);
  panel(330, 'Resident memory', 'MiB', [
    { label: 'daemon', color: PALETTE[0]!, values: idle.windows.map((w) => w.daemonRssMiB) },
    { label: 'LLM worker', color: PALETTE[1]!, values: idle.windows.map((w) => w.childrenRssMiB) },
  ]);
  return svg.toString();
}

export function bargeInPlot(records: BargeInRecord[], goalMs: number): string {
  const kinds = (['wake', 'command', 'stop-phrase'] as BargeInKind[]).filter((k) => records.some((r) => r.kind === k));
  const frame: Frame = { left: 150, top: 50, right: 760, bottom: 50 + Math.max(1, kinds.length) * 60 };
  const svg = new Svg(800, frame.bottom + 60);
  const max = Math.max(goalMs, ...records.map((r) => r.toSilentMs)) * 1.1;
  const ticks = niceTicks(max, 8);
  const x = linear([0, ticks.at(-1)!], [frame.left, frame.right]);
  svg.text(20, 24, 'Barge-in: trigger → speaker silent (every run a dot, bar = median)', { size: 14, weight: 'bold' });
  axes(svg, frame, { scale: x, ticks, title: 'ms' }, { scale: (v) => v, ticks: [], title: '' });
  const names: Record<BargeInKind, string> = { wake: '"hey jarvis"', command: 'stop command', 'stop-phrase': '"stop"' };
  kinds.forEach((kind, i) => {
    const cy = frame.top + 30 + i * 60;
    const values = records.filter((r) => r.kind === kind).map((r) => r.toSilentMs);
    svg.text(frame.left - 10, cy + 4, names[kind], { anchor: 'end', size: 12 });
    values.forEach((v, k) => svg.circle(x(v), cy - 10 + ((k * 5) % 20), 3, PALETTE[i]!, `${v.toFixed(1)} ms`));
    const median = summarize(values)?.median;
    if (median !== undefined) svg.line(x(median), cy - 16, x(median), cy + 16, '#222', 2);
  });
  svg.line(x(goalMs), frame.top, x(goalMs), frame.bottom, '#c00', 1.5, '5 4');
  svg.text(x(goalMs) + 4, frame.top + 12, `goal ≤ ${goalMs} ms`, { size: 11, fill: '#c00' });
  return svg.toString();
}

export function ttsPlot(tts: TtsResult): string {
  const frame: Frame = { left: 70, top: 50, right: 660, bottom: 360 };
  const svg = new Svg(700, 420);
  const audioS = tts.samples.map((s) => s.audioMs / 1000);
  const xTicks = niceTicks(Math.max(...audioS) * 1.1, 6);
  const yTicks = niceTicks(Math.max(...tts.samples.map((s) => s.synthesisMs)) * 1.15, 6);
  const x = linear([0, xTicks.at(-1)!], [frame.left, frame.right]);
  const y = linear([0, yTicks.at(-1)!], [frame.bottom, frame.top]);
  svg.text(20, 24, `TTS per sentence (${tts.engine}): synthesis time against the audio it made`, { size: 14, weight: 'bold' });
  axes(svg, frame, { scale: x, ticks: xTicks, title: 'audio length, s' }, { scale: y, ticks: yTicks, title: 'synthesis, ms' });
  for (const s of tts.samples) svg.circle(x(s.audioMs / 1000), y(s.synthesisMs), 4, PALETTE[0]!, `"${s.text}": ${s.synthesisMs.toFixed(1)} ms for ${(s.audioMs / 1000).toFixed(2)} s`);
  return svg.toString();
}
