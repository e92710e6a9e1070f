import type { JarvisConfig } from '../../config/schema.ts';
import { GainSink } from '../../voice/audio/gain-sink.ts';
import type { Assistant, AssistantControls } from '../pipeline/assistant.ts';
import type { SpeechOutputDeps } from '../pipeline/speech-output.ts';
import type { Logger } from '../../base/log.ts';
import type { TimerView } from '../protocol/wire.ts';
import type { LiveFeed } from '../server/live-feed.ts';
import { GpuTelemetryReader } from '../skills/gpu-telemetry.ts';
import type { OutputLevelState } from '../skills/output-level.ts';
import type { SkillsRuntime } from '../skills/skills-runtime.ts';
import { spokenMoment } from '../skills/spoken.ts';
import type { StoredTimer } from '../skills/store.ts';
import { TimerAlert } from '../skills/timer-alert.ts';

/**
 * The skills inside the running daemon: due timers ring through the Assistant (as alerts, so "stop" works
 * without the wake word), the open timers are shown on the HUD and kept up to date, the stored speaker level
 * drives the Assistant's volume (and the phone remote's volume is stored), GPU questions read the HUD server's
 * telemetry when it runs, and writes by other processes are noticed. `start()` once the Assistant listens.
 */

/** Alarms ring even when JARVIS's voice is turned down or muted: at least this gain. */
const ALERT_MIN_GAIN = 0.3;

export interface SkillsLink {
  start(): void;
  dispose(): void;
}

export function connectSkills(
  skills: SkillsRuntime,
  assistant: Assistant,
  voice: SpeechOutputDeps,
  config: JarvisConfig,
  log: Logger,
  feed?: LiveFeed,
): SkillsLink {
  const { timers, output } = skills;
  if (feed) {
    skills.useGpuTelemetry(
      new GpuTelemetryReader({
        intervalMs: config.server.telemetryIntervalMs,
        source: (listener) => {
          feed.on('telemetry', listener);
          return () => feed.off('telemetry', listener);
        },
      }),
    );
  }
  // The HUD's timers panel: the list again on every change the timer service reports (set, cancelled, rang,
  // ended, or written by another process and noticed by watch()).
  const hideTimers = feed?.showTimers({
    view: () => ({ at: skills.clock.now(), timers: timers.list().map(timerView) }),
    subscribe: (listener) => {
      timers.on('changed', listener);
      return () => timers.off('changed', listener);
    },
  });
  const onDue = (due: StoredTimer[]) => {
    log.info({ timers: due.map((t) => ({ id: t.id, kind: t.kind, label: t.label })) }, 'timer ringing');
    const sink = new GainSink(voice.sink);
    sink.gain = Math.max(ALERT_MIN_GAIN, output.state.level / 100);
    assistant.alert(
      new TimerAlert(due, timers, {
        voice: { synthesizer: voice.synthesizer, sink },
        clock: assistant.clock,
        ringTimeoutMs: config.skills.ringTimeoutMs,
        pauseMs: config.skills.ringPauseMs,
        snoozeMs: config.skills.snoozeMs,
      }),
    );
  };
  const onMissed = (missed: StoredTimer[]) => {
    const now = skills.clock.now();
    for (const t of missed) log.warn({ id: t.id, kind: t.kind, label: t.label }, `a ${t.kind} due at ${spokenMoment(t.dueAt, now)} was missed while JARVIS was not running`);
  };
  const applyLevel = (state: OutputLevelState) => assistant.setVolume(state.muted ? 0 : state.level / 100);
  // The phone remote's volume slider is kept too, so it survives a restart.
  const onControls = (controls: AssistantControls) => {
    const level = Math.round(controls.volume * 100);
    if (level !== (output.state.muted ? 0 : output.state.level)) output.setLevel(level);
  };
  timers.on('due', onDue);
  timers.on('missed', onMissed);
  output.on('changed', applyLevel);
  assistant.on('controls', onControls);
  applyLevel(output.state);
  return {
    start() {
      skills.watch();
      timers.start();
    },
    dispose() {
      hideTimers?.();
      timers.off('due', onDue);
      timers.off('missed', onMissed);
      output.off('changed', applyLevel);
      assistant.off('controls', onControls);
    },
  };
}

function timerView(timer: StoredTimer): TimerView {
  return {
    id: timer.id,
    kind: timer.kind,
    ...(timer.label ? { label: timer.label } : {}),
    dueAt: timer.dueAt,
    ...(timer.kind === 'timer' && timer.durationMs !== undefined ? { durationMs: timer.durationMs } : {}),
    ringing: timer.state === 'ringing',
  };
}
