import { spawn } from 'node:child_process';
import type { Logger } from '../../base/log.ts';

/**
 * Tells systemd how the service is doing (sd_notify): READY once the engines are up, a watchdog ping from the
 * event loop every half WatchdogSec (a loop that hangs stops pinging, and systemd restarts the service), STOPPING
 * on the way out. Only when systemd asked for it: NOTIFY_SOCKET is set.
 *
 * Sent through Debian's `systemd-notify --pid=<ours>` rather than a native module: Node has no AF_UNIX datagram
 * sockets, the npm sd_notify bindings need a compiler at install and are unmaintained, and systemd-notify waits for
 * systemd to take each message (BARRIER) — one short process every 15 s. The unit says NotifyAccess=all because
 * the sender is that child process (`jarvis service install` writes it so).
 */

export interface ServiceNotifier {
  ready(status: string): void;
  status(text: string): void;
  stopping(): void;
  /** Stops the watchdog pings. */
  close(): void;
}

export function serviceNotifier(env: NodeJS.ProcessEnv, log: Logger, command = 'systemd-notify'): ServiceNotifier | undefined {
  if (!env.NOTIFY_SOCKET) return undefined;
  const send = (...assignments: string[]) => {
    const child = spawn(command, [`--pid=${process.pid}`, ...assignments], { env, stdio: 'ignore', timeout: 10_000 });
    const failed = (why: string) => log.warn({ err: why }, `could not notify systemd (${assignments.join(' ')})`);
    child.once('error', (error) => failed(error.message));
    child.once('exit', (code, signal) => {
      if (code !== 0) failed(signal ? `${command} ended by ${signal}` : `${command} exited with ${code}`);
    });
    // A notification that hangs must not keep a stopping daemon alive.
    child.unref();
  };
  // WATCHDOG_USEC is for this process only (WATCHDOG_PID, when set, must be ours).
  const watchdogUsec = Number(env.WATCHDOG_USEC);
  const forUs = !env.WATCHDOG_PID || Number(env.WATCHDOG_PID) === process.pid;
  let watchdog: NodeJS.Timeout | undefined;
  return {
    ready(status) {
      send('READY=1', `STATUS=${status}`);
      if (forUs && watchdogUsec > 0 && !watchdog) {
        watchdog = setInterval(() => send('WATCHDOG=1'), Math.max(500, watchdogUsec / 2000));
        watchdog.unref();
      }
    },
    status(text) {
      send(`STATUS=${text}`);
    },
    stopping() {
      this.close();
      send('STOPPING=1');
    },
    close() {
      if (watchdog) clearInterval(watchdog);
      watchdog = undefined;
    },
  };
}
