import type { Command } from 'commander';
import { JarvisError } from '../../base/errors.ts';
import { systemClock } from '../../base/clock.ts';
import { printable, printableJson } from '../../base/terminal-text.ts';
import { spokenRemaining } from '../skills/durations.ts';
import { skillsDatabasePath, SkillStore } from '../skills/store.ts';
import { TimerService } from '../skills/timer-service.ts';
import { commandConfig } from './common.ts';

/**
 * `jarvis timers list|cancel`: the timers, alarms and reminders set by voice, from the command line. A running
 * daemon notices a cancellation within a second (it watches the database).
 */
export function registerTimers(program: Command): void {
  const timers = program.command('timers').description('timers, alarms and reminders: list or cancel them');

  timers
    .command('list')
    .description('list what is set, soonest first')
    .option('--json', 'print them as JSON')
    .action((options: { json?: boolean }, command: Command) => {
      withTimers(command, (service) => {
        const open = service.list();
        if (options.json) {
          console.log(printableJson(open.map((t) => ({ ...t, dueAt: new Date(t.dueAt).toISOString(), createdAt: new Date(t.createdAt).toISOString() })), 2));
          return;
        }
        if (open.length === 0) {
          console.log('Nothing is set.');
          return;
        }
        const now = systemClock.now();
        for (const t of open) {
          const when = t.state === 'ringing' ? 'ringing now' : `${new Date(t.dueAt).toLocaleString()} (in ${spokenRemaining(t.dueAt - now)})`;
          // A label may have come from a paired phone: printed, never obeyed.
          console.log(`#${String(t.id).padEnd(4)} ${t.kind.padEnd(8)} ${printable(t.label ?? '').padEnd(20)} ${when}`);
        }
      });
    });

  timers
    .command('cancel')
    .description('cancel by number (see `jarvis timers list`) or all')
    .argument('[ids...]', 'timer numbers')
    .option('--all', 'cancel everything that is set')
    .action((ids: string[], options: { all?: boolean }, command: Command) => {
      withTimers(command, (service) => {
        const open = service.list();
        if ((ids.length > 0) === (options.all === true)) {
          throw new JarvisError('usage', 'say which to cancel: numbers or --all', 'Run `jarvis timers list` to see the numbers.');
        }
        const wanted = options.all ? open.map((t) => t.id) : ids.map((id) => Number(id.replace(/^#/, '')));
        const openIds = new Set(open.map((t) => t.id));
        const missing = wanted.filter((id) => !openIds.has(id));
        const cancelled = service.cancel(wanted.filter((id) => openIds.has(id)));
        console.log(`Cancelled ${cancelled} ${cancelled === 1 ? 'timer' : 'timers'}.`);
        if (missing.length > 0) throw new JarvisError('no-such-timer', `nothing set with number ${missing.join(', ')}`, 'Run `jarvis timers list` to see the numbers.');
      });
    });
}

function withTimers(command: Command, body: (timers: TimerService) => void): void {
  const config = commandConfig(command);
  const store = SkillStore.open(skillsDatabasePath(config));
  const service = new TimerService(store, systemClock, { missedGraceMs: config.skills.missedGraceMs });
  try {
    body(service);
  } finally {
    service.dispose();
    store.close();
  }
}
