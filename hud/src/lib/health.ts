import type { Problem } from '../../../core/protocol/state.ts';
import { GPU_HOT_PROBLEM, MODEL_PROBLEM, type ModelKind, type ModelsView, type TelemetrySample } from '../../../core/protocol/wire.ts';

/** Warnings the screens raise from telemetry and model state, beside the assistant's own problems. */

/** A GeForce card slows itself down from about 90 °C (a GTX 1080 Ti at 91 °C): warn before that. */
export const GPU_HOT_C = 85;

/** What a button on a problem line asks the core to do (a command of the wire protocol). */
export type BannerAction = 'retry-downloads';

export interface Banner extends Problem {
  severity: 'error' | 'warning' | 'info';
  /** A few words for the screen ("No microphone"); the message and the fix are behind a tap. */
  headline: string;
  /** What a button on the line does, where the screen may ask for it. */
  action?: BannerAction;
}

/** Short names for the problems the core reports, by id; others are cut from their message. */
const HEADLINES: Record<string, string> = {
  microphone: 'No microphone',
  [MODEL_PROBLEM.stt]: 'Speech to text cannot start',
  [MODEL_PROBLEM.llm]: 'The language model cannot start',
  [MODEL_PROBLEM.tts]: 'Speaking with the fallback voice',
  'tts-espeak': 'No fallback voice',
  'downloads-failed': 'Models could not be downloaded; JARVIS tries again by itself',
  'llm-gpu-fallback': 'Answering on the CPU',
  'hud-server': 'The HUD server did not start',
  'skills-store': 'Timers and notes are not being saved',
};

const SEVERITY_ORDER = { error: 0, warning: 1, info: 2 } as const;

/** What each stage's model is for, in the screens' words. */
export const STAGE_NAMES: Readonly<Record<ModelKind, string>> = { stt: 'Hearing', llm: 'Thinking', tts: 'Voice' };

/** The models on their way, as one figure: how many, how far by bytes over the whole set, how long to go. */
export interface DownloadsSoFar {
  count: number;
  /** 0..1 by bytes; undefined while no size is known. */
  fraction: number | undefined;
  /** "about 2 min left"; empty while the speed is unknown. */
  left: string;
  /** "Downloading 3 models: 45 %, about 2 min left" */
  summary: string;
}

export function downloadsSoFar(models: ModelsView | undefined): DownloadsSoFar | undefined {
  const downloading = (models?.active ?? []).filter((m) => m.state === 'downloading');
  if (downloading.length === 0) return undefined;
  // By bytes, over the whole set: the models come one after another, the smallest first.
  const total = downloading.reduce((sum, m) => sum + (m.totalBytes ?? 0), 0);
  const received = downloading.reduce((sum, m) => sum + (m.receivedBytes ?? 0), 0);
  const speed = Math.max(0, ...downloading.map((m) => m.bytesPerSecond ?? 0));
  const fraction = total > 0 ? received / total : undefined;
  const left = total > 0 && speed > 0 ? timeLeft((total - received) / speed) : '';
  const what = downloading.length === 1 ? downloading[0]!.name : `${downloading.length} models`;
  return {
    count: downloading.length,
    fraction,
    left,
    summary: `Downloading ${what}${fraction !== undefined ? `: ${Math.floor(fraction * 100)} %` : ''}${left ? `, ${left}` : ''}`,
  };
}

/** "about 3 min left", "under a minute left": the downloads' time to go, as a person says it. */
export function timeLeft(seconds: number): string {
  if (seconds < 60) return 'under a minute left';
  const minutes = Math.round(seconds / 60);
  return minutes < 90 ? `about ${minutes} min left` : `about ${Math.round(minutes / 60)} h left`;
}


/** The words before the first colon of a message ("no microphone: parec could not…"), at most about 60 characters. */
export function headlineOf(problem: Pick<Problem, 'id' | 'message'>): string {
  const known = HEADLINES[problem.id];
  if (known) return known;
  const head = problem.message.split(/:\s/)[0]!.trim();
  const short = head.length > 60 ? `${head.slice(0, 57).replace(/\s+\S*$/, '')}…` : head;
  return short.charAt(0).toUpperCase() + short.slice(1);
}

/** What needs attention, most severe first: the core's problems, a hot GPU, and one line for the downloads. */
export function banners(problems: readonly Problem[], telemetry: TelemetrySample | undefined, models: ModelsView | undefined): Banner[] {
  const downloading = (models?.active ?? []).filter((m) => m.state === 'downloading');
  // Downloads that failed wait to be tried again: one line for them all, with the button.
  const failed = problems.filter((p) => p.id.startsWith('download-'));
  const failedKinds = failed.map((p) => p.id.slice('download-'.length));
  // The downloads' lines say it: a stage whose model is on its way, or waiting to be tried again, has nothing to fix.
  const covered = new Set([
    ...(downloading.length > 0 ? ['models-downloading', ...downloading.map((m) => MODEL_PROBLEM[m.kind])] : []),
    ...failed.map((p) => p.id),
    ...failedKinds.map((kind) => MODEL_PROBLEM[kind as ModelKind]),
  ]);
  const out: Omit<Banner, 'headline'>[] = problems
    .filter((p) => !covered.has(p.id))
    .map((p) => ({ ...p, severity: p.blocking ? 'error' : p.id === 'muted' || p.id === 'models-downloading' ? 'info' : 'warning' }));
  if (failed.length > 0) {
    out.push({
      id: 'downloads-failed',
      severity: 'warning',
      blocking: false,
      message: failed.map((p) => p.message).join('; '),
      // The fixes differ only by the URL to fetch by hand: those are for the log and `jarvis doctor`, not the wall.
      fix: 'Check the internet connection. To fetch the files by hand instead, the log lists each URL and where it goes.',
    });
  }
  // The core's governor acting on the heat says more than "hot" (what it does about it): only one of the two.
  if (telemetry?.gpu.available && !problems.some((p) => p.id === GPU_HOT_PROBLEM)) {
    for (const gpu of telemetry.gpu.gpus) {
      if (gpu.temperatureC !== undefined && gpu.temperatureC >= GPU_HOT_C) {
        out.push({
          id: `gpu-hot-${gpu.index}`,
          severity: 'warning',
          blocking: false,
          message: `${gpu.name} is hot: ${gpu.temperatureC} °C`,
          fix: 'Check that its fans turn and the case has airflow; it slows down by itself above about 90 °C.',
        });
      }
    }
  }
  const sofar = downloadsSoFar(models);
  if (sofar) {
    out.push({
      id: 'downloading',
      severity: 'info',
      blocking: false,
      message: sofar.summary,
      fix: `${downloading.map((m) => `${m.name}${m.progress !== undefined ? ` ${Math.floor(m.progress * 100)} %` : ''}`).join(' · ')}. Each is used as soon as it has arrived and been checked.`,
    });
  }
  return out
    .map((b): Banner => ({
      ...b,
      headline: b.id === 'downloading' || b.id === 'muted' || b.id.startsWith('gpu-hot') ? b.message : headlineOf(b),
      // Failed downloads wait for their back-off; the screen can have them tried again at once.
      ...(b.id === 'downloads-failed' ? { action: 'retry-downloads' as const } : {}),
    }))
    .sort((a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity]);
}
