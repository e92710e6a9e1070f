import type { Problem } from '../../../core/protocol/state.ts';
import type { ModelKind, ModelsView } from '../../../core/protocol/wire.ts';
import { downloadsSoFar, STAGE_NAMES, type Banner } from './health.ts';

/**
 * The first run, as the screens show it: while the models JARVIS needs are still on their way (or wait to be
 * fetched again), a setup view takes the place of the problem lines and the empty conversation. It says what
 * JARVIS is doing (one line, with the whole set's progress), where each stage stands, and at most one thing the
 * user must do; every other note is behind a tap. Once the last model has arrived, the screens go back to normal.
 */

export interface SetupStep {
  kind: ModelKind;
  /** "Hearing", "Thinking", "Voice". */
  stage: string;
  name: string;
  status: 'ready' | 'downloading' | 'waiting' | 'checking' | 'retrying' | 'missing' | 'broken';
  /** A few words: "Ready", "45 %", "Waiting", "Tries again soon". */
  text: string;
}

export interface SetupView {
  /** What JARVIS is doing now, in one line. */
  doing: string;
  /** 0..1 over the models still on their way, by bytes. */
  progress: number | undefined;
  steps: SetupStep[];
  /** The one thing asked of the user, if any. */
  todo: Banner | undefined;
  /** The other notes, for a tap. */
  others: Banner[];
}

/**
 * The setup view, or undefined when JARVIS is set up. `alerts` are the screen's problem lines (health.ts
 * banners()), from which the downloads' and the user's lines are taken.
 */
export function setupView(alerts: readonly Banner[], problems: readonly Problem[], models: ModelsView | undefined): SetupView | undefined {
  const downloading = alerts.some((a) => a.id === 'downloading');
  const failed = alerts.find((a) => a.id === 'downloads-failed');
  if (!downloading && !failed) return undefined;
  const sofar = downloadsSoFar(models);
  const retrying = new Set(problems.filter((p) => p.id.startsWith('download-')).map((p) => p.id.slice('download-'.length)));
  const steps = (models?.active ?? []).map((m): SetupStep => {
    const step = (status: SetupStep['status'], text: string): SetupStep => ({ kind: m.kind, stage: STAGE_NAMES[m.kind], name: m.name, status, text });
    if (retrying.has(m.kind)) return step('retrying', 'Tries again soon');
    switch (m.state) {
      case 'ready':
        return step('ready', 'Ready');
      case 'downloading': {
        const progress = m.progress ?? 0;
        if (progress >= 1) return step('checking', 'Checking');
        return progress > 0 ? step('downloading', `${Math.floor(progress * 100)} %`) : step('waiting', 'Waiting');
      }
      case 'missing':
        return step('missing', 'Not here yet');
      case 'error':
        return step('broken', 'Cannot be used');
    }
  });
  // The one thing to do: the most severe line that is not the downloads' progress (failed downloads ask for a
  // working connection, with a button to try at once).
  const [todo, ...others] = alerts.filter((a) => a.id !== 'downloading');
  const asked = todo && todo.severity !== 'info' ? todo : undefined;
  return {
    doing: sofar ? sofar.summary : 'Waiting to download the models again',
    progress: sofar?.fraction,
    steps,
    todo: asked,
    others: asked ? others : alerts.filter((a) => a.id !== 'downloading'),
  };
}
