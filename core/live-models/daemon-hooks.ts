import { backoffMs } from '../../base/backoff.ts';
import type { Logger } from '../../base/log.ts';
import type { Problem } from '../protocol/state.ts';
import type { FirstRunPlan } from '../../models/first-run.ts';
import { formatBytes, formatDuration } from '../../base/format.ts';
import type { LiveModelEvent, LiveModels } from './live-models.ts';

/**
 * Connects the model manager to the running daemon: its problems become the assistant's (the HUD shows them),
 * and downloads are reported in the log, a line per file every few seconds, since the daemon's stderr is a log,
 * not a terminal to draw progress bars on.
 */

export interface ProblemSink {
  reportProblem(problem: Problem): void;
  clearProblem(id: string): void;
}

const PROGRESS_LOG_MS = 5000;

export function connectModelManager(models: LiveModels, assistant: ProblemSink, log: Logger): () => void {
  const lastLogged = new Map<string, number>();
  const listener = (event: LiveModelEvent) => {
    switch (event.type) {
      case 'problem':
        assistant.reportProblem(event.problem);
        return;
      case 'problem-cleared':
        assistant.clearProblem(event.id);
        return;
      case 'download-progress': {
        const p = event.progress;
        const now = Date.now();
        if (p.phase === 'downloading' && now - (lastLogged.get(p.file) ?? 0) < PROGRESS_LOG_MS) return;
        lastLogged.set(p.file, now);
        const percent = p.totalBytes ? ` ${Math.floor((p.receivedBytes / p.totalBytes) * 100)} % of ${formatBytes(p.totalBytes)},` : '';
        log.info(
          { model: p.id, file: p.file, phase: p.phase, receivedBytes: p.receivedBytes, totalBytes: p.totalBytes },
          `${p.phase} ${p.file}:${percent} ${formatBytes(p.bytesPerSecond)}/s${p.etaSeconds !== undefined ? `, ${formatDuration(p.etaSeconds)} left` : ''}`,
        );
        return;
      }
      case 'download-done':
        log.info({ model: event.id, ms: Math.round(event.ms) }, `downloaded and verified ${event.id}`);
        return;
      case 'download-failed':
        log.error({ model: event.id, err: { message: event.error.message } }, `download of ${event.id} failed`);
        return;
      default:
        return;
    }
  };
  models.on('event', listener);
  return () => models.off('event', listener);
}

/** The sentence a first run logs before it downloads: what, why, and how big. */
export function describePlan(plan: FirstRunPlan): string {
  const items = plan.downloads.map((d) => `${d.entry.id} (${formatBytes(d.bytes)}, ${d.kind === 'llm' ? d.why : d.kind === 'stt' ? 'speech to text' : 'voice'})`);
  return `models missing: downloading ${items.join(', ')}: ${formatBytes(plan.totalBytes)} in all`;
}

/**
 * The first-run step of `jarvis start`: finds what is missing and downloads it in the background (the daemon
 * listens meanwhile and says it is still downloading), or, with `download` false, explains what to run instead.
 */
export async function firstRunDownloads(
  models: LiveModels,
  log: Logger,
  options: { download: boolean; why: string; retryMs: number },
  planned?: FirstRunPlan,
): Promise<void> {
  const plan = planned ?? (await models.planDownloads());
  for (const skipped of plan.skipped) log.warn({ kind: skipped.kind, path: skipped.path }, `not downloading the ${skipped.kind} model: ${skipped.why}`);
  if (plan.downloads.length === 0) return;
  if (!options.download) {
    const ids = plan.downloads.map((d) => d.entry.id).join(' ');
    const byHand = plan.downloads.flatMap((d) => d.entry.files.map((f) => `${models.store.url(f)} → ${models.store.filePath(d.entry, f)}`));
    log.warn(
      { models: plan.downloads.map((d) => d.entry.id), bytes: plan.totalBytes, byHand },
      `models missing (${formatBytes(plan.totalBytes)}), not downloading them because ${options.why}: run \`jarvis models pull ${ids}\`, ` +
        'or fetch the files by hand (byHand: URL → where to save it); until then the stages that need them apologise',
    );
    return;
  }
  log.info({ models: plan.downloads.map((d) => d.entry.id), bytes: plan.totalBytes }, `${describePlan(plan)}. JARVIS listens meanwhile and says it is still downloading if asked.`);
  let next = plan;
  for (let attempt = 0; ; attempt++) {
    const failed = await models.download(next);
    if (failed.length === 0) return;
    // Offline on a first run, or the server is down: try again later, backing off, until it works.
    const waitMs = backoffMs(options.retryMs, attempt, MAX_DOWNLOAD_RETRY_MS);
    log.warn({ models: failed.map((d) => d.entry.id), waitMs }, `download failed; trying again in ${formatDuration(waitMs / 1000)}`);
    if (!(await models.waitToRetryDownloads(waitMs))) return;
    next = await models.planDownloads();
    if (next.downloads.length === 0) return;
  }
}

const MAX_DOWNLOAD_RETRY_MS = 30 * 60_000;
