import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { JarvisError } from '../../base/errors.ts';
import { packageRoot } from '../../base/package-root.ts';
import { serviceUnit, UNIT_NAME } from '../daemon/service-unit.ts';

/**
 * `jarvis service install|uninstall|status|logs`: JARVIS as a systemd user service, started at login (or at boot
 * with lingering), restarted when it fails or hangs. Where systemd is not there, says what to do instead.
 */
export function registerService(program: Command): void {
  const service = program.command('service').description('run JARVIS at login as a systemd user service: install, uninstall, status, logs');

  service
    .command('install')
    .description('write the user unit, enable it and start it now')
    .option('--no-start', 'write and enable the unit, but do not start it now')
    .action((options: { start: boolean }, command: Command) => {
      const configFile = (command.optsWithGlobals() as { config?: string }).config;
      const file = unitPath();
      const unit = serviceUnit({
        node: process.execPath,
        entry: path.join(packageRoot, 'bin', 'jarvis.js'),
        workingDirectory: packageRoot,
        ...(configFile ? { configFile: path.resolve(configFile) } : {}),
      });
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, unit);
      console.log(`wrote ${file}`);
      if (!systemctlWorks()) {
        console.log(noSystemd(file));
        return;
      }
      systemctl('daemon-reload');
      systemctl('enable', ...(options.start ? ['--now'] : []), UNIT_NAME);
      console.log(`${options.start ? 'started and enabled' : 'enabled'} ${UNIT_NAME}: it starts when you log in.`);
      console.log('To keep it running when nobody is logged in: loginctl enable-linger "$USER"');
      console.log('Its log: jarvis service logs');
    });

  service
    .command('uninstall')
    .description('stop and disable the service and remove its unit')
    .action(() => {
      const file = unitPath();
      if (systemctlWorks()) {
        systemctl('disable', '--now', UNIT_NAME);
        fs.rmSync(file, { force: true });
        systemctl('daemon-reload');
      } else {
        fs.rmSync(file, { force: true });
      }
      console.log(`removed ${file}`);
    });

  service
    .command('status')
    .description("whether the service runs, and systemd's last word on it")
    .action(() => {
      if (!fs.existsSync(unitPath())) {
        console.log('Not installed. `jarvis service install` runs JARVIS at login.');
        return;
      }
      if (!systemctlWorks()) return console.log(noSystemd(unitPath()));
      // systemctl's own summary (state, main PID, memory, the last log lines) is what people know how to read.
      process.exitCode = spawnSync('systemctl', ['--user', 'status', '--no-pager', '--lines=10', UNIT_NAME], { stdio: 'inherit' }).status ?? 1;
    });

  service
    .command('logs')
    .description("the service's log from the journal")
    .option('-f, --follow', 'keep printing new lines')
    .option('-n, --lines <n>', 'how many lines', '100')
    .action((options: { follow?: boolean; lines: string }) => {
      const args = ['--user', '-u', UNIT_NAME, '--no-pager', '-n', options.lines, ...(options.follow ? ['-f'] : [])];
      const result = spawnSync('journalctl', args, { stdio: 'inherit' });
      if (result.error) throw new JarvisError('service-no-journal', 'journalctl is not available here', 'Without systemd, run `jarvis start` in a terminal to see its log.');
      process.exitCode = result.status ?? 1;
    });
}

function unitPath(): string {
  const configHome = process.env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config');
  return path.join(configHome, 'systemd', 'user', UNIT_NAME);
}

/** systemctl exists and reaches this user's service manager. */
function systemctlWorks(): boolean {
  const probe = spawnSync('systemctl', ['--user', 'show-environment'], { stdio: 'ignore', timeout: 10_000 });
  return !probe.error && probe.status === 0;
}

function systemctl(...args: string[]): void {
  const result = spawnSync('systemctl', ['--user', ...args], { encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) {
    throw new JarvisError(
      'service-systemctl',
      `systemctl --user ${args.join(' ')} failed: ${(result.stderr || result.error?.message || '').trim().split('\n')[0]}`,
      'See `jarvis service status` and `jarvis service logs`.',
    );
  }
}

function noSystemd(file: string): string {
  return [
    "systemd's user manager is not reachable here (no systemd, a container, or no login session), so the unit was written but not enabled.",
    `On a systemd machine, log in as this user and run: systemctl --user daemon-reload && systemctl --user enable --now ${UNIT_NAME}`,
    'Without systemd: start `jarvis start` from your desktop\'s autostart, or from a crontab line: @reboot cd ' +
      JSON.stringify(packageRoot) +
      ' && node bin/jarvis.js start',
    `(unit: ${file})`,
  ].join('\n');
}
