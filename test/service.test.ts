import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { serviceUnit, UNIT_NAME } from '../core/daemon/service-unit.ts';
import { runJarvis, testModelsConfig } from './fixtures/cli.ts';
import { repoRoot } from './fixtures/speech.ts';

/**
 * JARVIS as a systemd user service. The unit is checked by systemd's own `systemd-analyze verify`; `jarvis service
 * install` runs against a recording `systemctl` (no user manager runs on these machines); the daemon's READY,
 * watchdog and STOPPING messages go to a real AF_UNIX datagram socket, as systemd's NOTIFY_SOCKET is, read by a
 * small Python listener (Node has no datagram Unix sockets), and are sent by the real `systemd-notify`.
 */

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-service-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const hasCommand = (name: string) => spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;

test('the unit passes systemd-analyze verify, with paths that need quoting', { skip: !hasCommand('systemd-analyze') && 'systemd-analyze is not installed' }, () => {
  const odd = path.join(dir, 'my jarvis 100%');
  fs.mkdirSync(path.join(odd, 'bin'), { recursive: true });
  fs.copyFileSync(path.join(repoRoot, 'bin', 'jarvis.js'), path.join(odd, 'bin', 'jarvis.js'));
  const unit = serviceUnit({ node: process.execPath, entry: path.join(odd, 'bin', 'jarvis.js'), workingDirectory: odd, configFile: path.join(odd, 'config $HOME.json') });
  const file = path.join(dir, UNIT_NAME);
  fs.writeFileSync(file, unit);
  const verify = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
  // Units it merely names (the sound servers) may be missing here; nothing about this unit may be wrong.
  const problems = `${verify.stderr}${verify.stdout}`.split('\n').filter((l) => l.includes(UNIT_NAME));
  assert.deepEqual(problems, [], verify.stderr);
  assert.match(unit, /^Type=notify$/m);
  assert.match(unit, /^WatchdogSec=30$/m);
  assert.match(unit, /^Restart=on-failure$/m);
  assert.match(unit, /ExecStart=\S+ "[^"]*my jarvis 100%%\/bin\/jarvis\.js" --config "[^"]*config \$\$HOME\.json" start$/m);
});

/** A `systemctl` that records its arguments, and answers `show-environment` as `reachable` says. */
function fakeSystemctl(reachable: boolean): { binDir: string; calls: () => string[] } {
  const binDir = fs.mkdtempSync(path.join(dir, 'bin-'));
  const log = path.join(binDir, 'calls');
  fs.writeFileSync(
    path.join(binDir, 'systemctl'),
    `#!/bin/sh\necho "$*" >> '${log}'\n[ "$2" = show-environment ] && exit ${reachable ? 0 : 1}\nexit 0\n`,
    { mode: 0o755 },
  );
  return { binDir, calls: () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : []) };
}

test('`jarvis service install` writes the unit, reloads, enables and starts it; `uninstall` undoes it', async () => {
  const { binDir, calls } = fakeSystemctl(true);
  const configHome = path.join(dir, 'config-home');
  const env = { PATH: `${binDir}:${process.env.PATH}`, XDG_CONFIG_HOME: configHome };
  const install = runJarvis(['service', 'install'], env);
  assert.equal(await install.exit, 0, install.stderr.join('\n'));
  const file = path.join(configHome, 'systemd', 'user', UNIT_NAME);
  const unit = fs.readFileSync(file, 'utf8');
  assert.ok(unit.includes(`ExecStart=${process.execPath} ${path.join(repoRoot, 'bin', 'jarvis.js')} start`), unit);
  assert.deepEqual(calls(), ['--user show-environment', '--user daemon-reload', `--user enable --now ${UNIT_NAME}`]);
  assert.match(install.stdout.join('\n'), /enable-linger/);

  const uninstall = runJarvis(['service', 'uninstall'], env);
  assert.equal(await uninstall.exit, 0, uninstall.stderr.join('\n'));
  assert.ok(!fs.existsSync(file));
  assert.deepEqual(calls().slice(3), ['--user show-environment', `--user disable --now ${UNIT_NAME}`, '--user daemon-reload']);
});

test('without a reachable systemd user manager, install writes the unit and says what to do instead', async () => {
  const { binDir, calls } = fakeSystemctl(false);
  const configHome = path.join(dir, 'config-home-2');
  const install = runJarvis(['service', 'install'], { PATH: `${binDir}:${process.env.PATH}`, XDG_CONFIG_HOME: configHome });
  assert.equal(await install.exit, 0, install.stderr.join('\n'));
  const out = install.stdout.join('\n');
  assert.match(out, /not reachable here/);
  assert.match(out, /systemctl --user daemon-reload && systemctl --user enable --now jarvis\.service/);
  assert.match(out, /autostart|@reboot/);
  assert.deepEqual(calls(), ['--user show-environment']);
  assert.ok(fs.existsSync(path.join(configHome, 'systemd', 'user', UNIT_NAME)));
});

/** Binds an AF_UNIX datagram socket like systemd's NOTIFY_SOCKET and collects each message's lines. */
async function notifySocket(): Promise<{ path: string; messages: string[][]; close(): void }> {
  const socketPath = path.join(dir, `notify-${process.pid}.sock`);
  const listener = spawn('python3', [
    '-c',
    `import socket,sys
s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM); s.bind(sys.argv[1]); print('bound',flush=True)
while True:
  data,anc,flags,addr=s.recvmsg(4096,1024)
  print(repr(data.decode()),flush=True)
  # systemd-notify waits (BARRIER=1) until the fd it passed is closed, as systemd closes it once it has the message.
  for level,kind,fds in anc:
    if kind==socket.SCM_RIGHTS:
      import array,os
      for fd in array.array('i',fds[:len(fds)-len(fds)%4]): os.close(fd)`,
    socketPath,
  ]);
  const messages: string[][] = [];
  let rest = '';
  const bound = new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.stdout.on('data', (chunk: Buffer) => {
      const lines = (rest + chunk.toString()).split('\n');
      rest = lines.pop()!;
      for (const line of lines) {
        if (line === 'bound') resolve();
        // Python's repr of the message: newlines escaped, quoted.
        else messages.push(line.slice(1, -1).split('\\n').filter((l) => l.length > 0));
      }
    });
  });
  await bound;
  return { path: socketPath, messages, close: () => listener.kill() };
}

test(
  'under systemd the daemon says READY once listening, pings the watchdog from its event loop, and on SIGTERM says STOPPING and exits 0 within 5 s',
  { skip: (!hasCommand('systemd-notify') && 'systemd-notify is not installed') || (!hasCommand('python3') && 'python3 is not installed') },
  async () => {
    const socket = await notifySocket();
    try {
      const config = await testModelsConfig();
      const daemon = runJarvis(['-c', config, 'start', '--input', '-', '--output', 'none'], {
        NOTIFY_SOCKET: socket.path,
        WATCHDOG_USEC: '1000000',
        JARVIS_DATA_DIR: path.join(dir, 'data'),
      });
      await daemon.waitFor((l) => l.includes('listening to raw s16le'), 120_000, 'listening');
      const until = async (what: string, match: () => boolean, ms = 10_000) => {
        for (const started = Date.now(); !match(); await sleep(50)) {
          if (Date.now() - started > ms) assert.fail(`${what}; got ${JSON.stringify(socket.messages)}`);
        }
      };
      const pid = String(daemon.child.pid);
      await until('no READY=1', () => socket.messages.some((m) => m.includes('READY=1') && m.includes(`MAINPID=${pid}`)));
      const pings = () => socket.messages.filter((m) => m.includes('WATCHDOG=1')).length;
      const before = pings();
      await until('fewer than 3 watchdog pings in 2.5 s at WATCHDOG_USEC=1 s', () => pings() >= before + 3, 2500);

      const stopAt = Date.now();
      daemon.child.kill('SIGTERM');
      const code = await daemon.exit;
      const stopMs = Date.now() - stopAt;
      assert.equal(code, 0, daemon.stderr.slice(-5).join('\n'));
      assert.ok(stopMs < 5000, `stopped in ${stopMs} ms`);
      await until('no STOPPING=1', () => socket.messages.some((m) => m.includes('STOPPING=1')), 3000);
      assert.deepEqual(daemon.stderr.filter((l) => l.includes('could not notify systemd')), [], 'every notification was taken');
    } finally {
      socket.close();
    }
  },
);
