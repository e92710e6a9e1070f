import fs from 'node:fs';
import { describeError } from '../../base/errors.ts';
import type { Logger } from '../../base/log.ts';
import { loadConfig } from '../../config/load.ts';
import type { Problem } from '../protocol/state.ts';

/**
 * The config file edited while JARVIS runs. Settings apply at start only (engines, ports and models are opened
 * from them), so a change is not applied: the HUD says that a restart applies it, or, when the file no longer
 * passes validation, what is wrong with it — before the next restart would fail on it — while JARVIS keeps running
 * on the settings it started with. Its stat is polled (every 2 s) rather than watched: editors replace a file by
 * renaming another over it, which an inotify watch on the old file does not follow.
 */

export const CONFIG_PROBLEM = { invalid: 'config-invalid', changed: 'config-changed' } as const;

export interface ConfigWatchTarget {
  reportProblem(problem: Problem): void;
  clearProblem(id: string): void;
}

export function watchConfigFile(file: string, target: ConfigWatchTarget, log: Logger, intervalMs = 2000): () => void {
  const read = () => JSON.stringify(loadConfig({ file, env: process.env }));
  let started: string;
  try {
    started = read();
  } catch {
    // It was valid a moment ago when the daemon loaded it; if it is not now, the first change reports it.
    started = '';
  }
  const look = () => {
    let now: string;
    try {
      now = read();
    } catch (error) {
      const { message, fix } = describeError(error);
      log.error({ fix }, `config file changed and is invalid: ${message}`);
      target.clearProblem(CONFIG_PROBLEM.changed);
      target.reportProblem({
        id: CONFIG_PROBLEM.invalid,
        message: `${file} is no longer valid (${message.split('\n').slice(1).join('; ').trim() || message}); JARVIS keeps running with the settings it started with, but would not start again with this file`,
        fix: fix ?? 'Correct the file; `jarvis doctor` checks it.',
        blocking: false,
      });
      return;
    }
    target.clearProblem(CONFIG_PROBLEM.invalid);
    if (now === started) target.clearProblem(CONFIG_PROBLEM.changed);
    else {
      log.info(`config file changed: the new settings apply at the next start`);
      target.reportProblem({ id: CONFIG_PROBLEM.changed, message: `${file} changed: the new settings apply when JARVIS restarts`, fix: 'Restart JARVIS (`systemctl --user restart jarvis` for the service, or stop and start `jarvis start`).', blocking: false });
    }
  };
  const stamp = () => {
    try {
      const stat = fs.statSync(file);
      return `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
    } catch {
      return 'absent';
    }
  };
  let seen = stamp();
  const timer = setInterval(() => {
    const now = stamp();
    if (now === seen) return;
    seen = now;
    look();
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
