/**
 * The systemd user unit `jarvis service install` writes. Type=notify: systemd counts JARVIS as started once it
 * says READY (engines loaded), and restarts it when the event loop stops pinging for WatchdogSec, or when it
 * fails, at most StartLimitBurst times in StartLimitIntervalSec (then it stays down and `jarvis service status`
 * says so, instead of looping on a broken model or config).
 */

export interface UnitOptions {
  /** The node binary, absolute. */
  readonly node: string;
  /** bin/jarvis.js, absolute. */
  readonly entry: string;
  readonly workingDirectory: string;
  /** A config file to start with (`jarvis -c`), absolute. */
  readonly configFile?: string;
  readonly watchdogSec?: number;
}

export const UNIT_NAME = 'jarvis.service';
export const DEFAULT_WATCHDOG_SEC = 30;

export function serviceUnit(options: UnitOptions): string {
  const args = [options.node, options.entry, ...(options.configFile ? ['--config', options.configFile] : []), 'start'];
  return [
    '[Unit]',
    'Description=JARVIS voice assistant',
    // The user's sound server: the microphone and speaker come from it.
    'Wants=pipewire.service pipewire-pulse.service pulseaudio.service',
    'After=pipewire.service pipewire-pulse.service pulseaudio.service',
    'StartLimitIntervalSec=600',
    'StartLimitBurst=5',
    '',
    '[Service]',
    'Type=notify',
    // The notifications come from systemd-notify, a child of the daemon (core/daemon/service-notify.ts).
    'NotifyAccess=all',
    `WorkingDirectory=${options.workingDirectory.replace(/%/g, '%%')}`,
    `ExecStart=${args.map(quoteUnitArg).join(' ')}`,
    `WatchdogSec=${options.watchdogSec ?? DEFAULT_WATCHDOG_SEC}`,
    'Restart=on-failure',
    'RestartSec=5',
    // Loading models takes a while on a first start; a stop is quick (SIGTERM: 5 s at most).
    'TimeoutStartSec=600',
    'TimeoutStopSec=15',
    'Environment=NODE_ENV=production',
    '',
    '[Install]',
    'WantedBy=default.target',
    '',
  ].join('\n');
}

/** A word of ExecStart: quoted when it has spaces or quotes, with $ and % escaped (systemd expands both). */
function quoteUnitArg(word: string): string {
  const escaped = word.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  return /[\s"'\\]/.test(escaped) ? `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : escaped;
}
