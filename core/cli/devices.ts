import { Option, type Command } from 'commander';
import QRCode from 'qrcode';
import { JarvisError } from '../../base/errors.ts';
import { printable, printableJson } from '../../base/terminal-text.ts';
import { serverUrls } from '../server/addresses.ts';
import { DeviceStore, devicesDbPath, type Device } from '../server/device-store.ts';
import { commandConfig } from './common.ts';

/**
 * `jarvis devices list|revoke|pair`: the phones and screens paired with the HUD. Works whether or not the
 * daemon runs (they share the device store); a device revoked while connected is disconnected at once.
 */
export function registerDevices(program: Command): void {
  const devices = program.command('devices').description('phones and screens paired with the HUD: list, revoke, pair');

  devices
    .command('list')
    .description('list paired devices')
    .option('--all', 'include revoked devices')
    .option('--json', 'machine-readable list')
    .action((options: { all?: boolean; json?: boolean }, command: Command) => {
      withStore(command, (store) => {
        const list = store.list({ includeRevoked: options.all === true });
        if (options.json) return console.log(printableJson(list, 2));
        if (list.length === 0) return console.log('No paired devices. Pair a phone from the HUD ("Pair a phone") or with `jarvis devices pair`.');
        console.log(formatTable(list));
      });
    });

  devices
    .command('revoke')
    .description('revoke a device (by id, id prefix or name): its token stops working and it is disconnected')
    .argument('<device>', 'id (or its first characters) or name, as `jarvis devices list` shows')
    .action((which: string, _options: unknown, command: Command) => {
      withStore(command, (store) => {
        const revoked = store.revoke(which);
        if (revoked.length === 0) {
          throw new JarvisError('device-unknown', `no paired device matches "${which}"`, 'See `jarvis devices list` for ids and names.');
        }
        for (const device of revoked) console.log(`revoked ${device.id} (${printable(device.name)}, ${device.role})`);
      });
    });

  devices
    .command('pair')
    .description('print a single-use pairing code (and its QR code) for a phone or a screen')
    .addOption(new Option('--role <role>', 'controller: a phone that may command; viewer: a screen that only watches').choices(['controller', 'viewer']).default('controller'))
    .option('--json', 'print the code as JSON')
    .action(async (options: { role: 'controller' | 'viewer'; json?: boolean }, command: Command) => {
      const config = commandConfig(command);
      const store = new DeviceStore(devicesDbPath(config.dataDir), { codeTtlMs: config.server.pairingCodeTtlMs });
      try {
        const issued = store.issueCode(options.role);
        const url = `${serverUrls(config.server, config.server.port)[0]}/#pair=${issued.code}`;
        if (options.json) return console.log(JSON.stringify({ ...issued, url }));
        if (process.stdout.isTTY) console.log(await QRCode.toString(url, { type: 'terminal', small: true }));
        console.log(`pairing code ${issued.code.slice(0, 3)} ${issued.code.slice(3)} for a ${options.role}: scan the QR code, or open ${url.split('/#')[0]} and enter it`);
        console.log(`single use, valid until ${new Date(issued.expiresAt).toLocaleTimeString()}`);
        if (!config.server.lan) console.log('note: LAN access is off (server.lan), so only this computer can open the HUD.');
      } finally {
        store.close();
      }
    });
}

function withStore(command: Command, use: (store: DeviceStore) => void): void {
  const config = commandConfig(command);
  const store = new DeviceStore(devicesDbPath(config.dataDir));
  try {
    use(store);
  } finally {
    store.close();
  }
}

function formatTable(devices: Device[]): string {
  const when = (ms: number | null) => (ms === null ? '—' : new Date(ms).toLocaleString());
  const rows = [
    ['ID', 'NAME', 'ROLE', 'PAIRED', 'LAST SEEN', 'STATUS'],
    // A device names itself when it pairs: its name is printed, never obeyed.
    ...devices.map((d) => [d.id, printable(d.name), d.role, when(d.createdAt), when(d.lastSeenAt), d.revokedAt === null ? 'active' : `revoked ${when(d.revokedAt)}`]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
