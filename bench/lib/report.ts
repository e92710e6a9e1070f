import type { WakeResult } from '../phases/wake.ts';
import { GOALS, type Figure, type Unit } from './figures.ts';
import type { Summary } from './stats.ts';

/** The table, as aligned text for the terminal and as Markdown for the README. */

export function formatValue(value: number, unit: Unit): string {
  if (!Number.isFinite(value)) return '—';
  switch (unit) {
    case 'ms':
      return Math.abs(value) < 10 ? value.toFixed(1) : Math.round(value).toString();
    case '%':
      return value.toFixed(1);
    case 'x':
      return value < 0.1 ? value.toFixed(4) : value.toFixed(3);
    case 'tok/s':
      return value < 100 ? value.toFixed(1) : Math.round(value).toString();
    case 'MB':
      return Math.round(value).toString();
    case 'per hour':
      return value.toFixed(1);
  }
}

const UNIT_SUFFIX: Record<Unit, string> = { ms: ' ms', '%': ' %', x: '×', 'tok/s': ' tok/s', MB: ' MiB', 'per hour': ' /h' };

function pair(summary: Summary, unit: Unit): string {
  return `${formatValue(summary.median, unit)} / ${formatValue(summary.p95, unit)}${UNIT_SUFFIX[unit]}`;
}

interface Row {
  figure: string;
  n: string;
  value: string;
  baseline: string;
  ratio: string;
  goal: string;
}

function rows(figures: Figure[]): Row[] {
  return figures.map((f) => ({
    figure: `${f.sub ? '  ' : ''}${f.label}`,
    n: f.value ? String(f.value.n) : '',
    value: f.value ? pair(f.value, f.unit) : `not measured: ${f.notMeasured ?? 'unknown'}`,
    baseline: f.baseline ? `${pair(f.baseline.value, f.unit)} (${f.baseline.label}${f.baseline.value.n === 1 ? ', one pass' : ''})` : '',
    ratio: f.ratio === undefined ? '' : `${f.ratio.toFixed(3)}×`,
    goal: f.goal ?? '',
  }));
}

const HEADERS: Row = { figure: 'figure', n: 'n', value: 'median / p95', baseline: 'baseline, same run (median / p95)', ratio: 'ratio', goal: 'goal' };

export function textTable(figures: Figure[]): string {
  const all = [HEADERS, ...rows(figures)];
  const keys = Object.keys(HEADERS) as (keyof Row)[];
  const widths = keys.map((k) => Math.max(...all.map((r) => (k === 'value' && r.value.startsWith('not measured') ? 0 : r[k].length))));
  return all
    .map((r) =>
      keys
        .map((k, i) => (k === 'value' && r.value.startsWith('not measured') ? r.value : r[k].padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function markdownTable(figures: Figure[]): string {
  const escape = (s: string) => s.replace(/\|/g, '\\|');
  const lines = ['| figure | n | median / p95 | baseline, same run | ratio | goal |', '|---|---:|---|---|---:|---|'];
  for (const r of rows(figures)) {
    const figure = r.figure.startsWith('  ') ? `&nbsp;&nbsp;↳ ${r.figure.trim()}` : r.figure;
    lines.push(`| ${[figure, r.n, r.value, r.baseline, r.ratio, r.goal].map(escape).join(' | ')} |`);
  }
  return lines.join('\n');
}

export function detTable(wake: WakeResult, markdown: boolean): string {
  const header = ['θ', 'FRR', 'FA/h', 'FA/h ordinary talk', 'near misses that woke it', 'delay after keyword (median / p95)', 'with transcript check: FRR, FA/h'];
  const body = wake.rows.map((r) => [
    `${r.threshold}${r.configured ? ' (configured)' : ''}`,
    `${r.frr.toFixed(1)} % (${r.misses}/${r.positives})`,
    `${r.faPerHour.toFixed(1)} (${r.falseAccepts})`,
    r.ordinaryFaPerHour.toFixed(1),
    `${r.nearMissRate.toFixed(0)} %`,
    r.delay ? `${Math.round(r.delay.median)} / ${Math.round(r.delay.p95)} ms` : '—',
    r.withTranscriptCheck ? `${r.withTranscriptCheck.frr.toFixed(1)} %, ${r.withTranscriptCheck.faPerHour.toFixed(1)}` : r.configured ? `not measured: ${wake.transcriptCheckNote}` : '',
  ]);
  if (markdown) {
    return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...body.map((b) => `| ${b.join(' | ')} |`)].join('\n');
  }
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  return [header, ...body].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

export function detCaption(wake: WakeResult): string {
  return (
    `Wake word "hey jarvis" (openWakeWord): ${wake.positives} positive clips (10 voices × 2 speeds × clean/noisy × alone/with a request); ` +
    `${wake.negativeMinutes.toFixed(1)} min of non-wake audio (${wake.negativeSpeechMinutes.toFixed(1)} min of speech, ${wake.nearMisses} near misses such as "hey travis"), ` +
    `refractory ${wake.refractoryMs} ms. The detector alone costs ${wake.cpuPercentOfCore.toFixed(1)} % of one core. Goal: ${GOALS.wake}.`
  );
}

/** The notes of the figures that have one, as footnotes under the table. */
export function notes(figures: Figure[]): string[] {
  return figures.filter((f) => f.note && !f.notMeasured).map((f) => `${f.label.trim()}: ${f.note}`);
}
