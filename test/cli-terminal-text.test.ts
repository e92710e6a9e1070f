import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DeviceStore, devicesDbPath } from '../core/server/device-store.ts';
import { skillsDatabasePath, SkillStore } from '../core/skills/store.ts';
import { printable, printableJson } from '../base/terminal-text.ts';
import { runJarvis } from './fixtures/cli.ts';

/**
 * What a paired phone can store (a household note by voice or text, its own device name, a timer's label) is
 * printed by `jarvis memory|devices|timers` on the user's terminal. Escape sequences in it must not reach the
 * terminal as such: they could clear the screen, retitle the window or rewrite the lines above. The stores are
 * filled directly, as the daemon would on a phone's request, and the real command is run against them.
 */

const NOTE = 'wifi: \u001b[2J\u001b]0;pwned\u0007 on the fridge\u009b31m\u007f';
const DEVICE = 'Kitchen\u001b[31m phone\u001b[0m\u009b2J\r';
const TIMER = 'tea\u001b[1A\u001b[2K';
/** C0 controls (tab and newline included: they too can forge lines and columns), DEL, C1 controls. */
const RAW_CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-cli-text-'));
let deviceId: string;

before(() => {
  const skills = SkillStore.open(skillsDatabasePath({ dataDir }));
  skills.addNote(NOTE, Date.now());
  skills.addTimer({ kind: 'timer', label: TIMER, dueAt: Date.now() + 3_600_000, durationMs: 3_600_000, createdAt: Date.now() });
  skills.close();
  const devices = new DeviceStore(devicesDbPath(dataDir));
  deviceId = devices.redeemCode(devices.issueCode('controller').code, DEVICE).device.id;
  devices.close();
});
after(() => fs.rmSync(dataDir, { recursive: true, force: true }));

async function jarvis(args: string[]): Promise<string> {
  const run = runJarvis(args, { JARVIS_DATA_DIR: dataDir });
  assert.equal(await run.exit, 0, run.stderr.join('\n'));
  // Line by line: the newlines between lines are the command's own.
  for (const line of [...run.stdout, ...run.stderr]) {
    const at = RAW_CONTROL.exec(line);
    assert.equal(at, null, `a raw control character (U+${at?.[0].charCodeAt(0).toString(16).padStart(4, '0')}) from jarvis ${args.join(' ')}: ${JSON.stringify(line)}`);
  }
  return [...run.stdout, ...run.stderr].join('\n');
}

describe('stored text from a phone reaches the terminal with its control characters made visible', () => {
  test('jarvis memory list: the note, its escapes shown as \\x1b…', async () => {
    const output = await jarvis(['memory', 'list']);
    assert.ok(output.includes('wifi: \\x1b[2J\\x1b]0;pwned\\x07 on the fridge\\x9b31m\\x7f'), output);
  });

  test('jarvis devices list and revoke: the device name', async () => {
    const listed = await jarvis(['devices', 'list']);
    assert.ok(listed.includes('Kitchen\\x1b[31m phone\\x1b[0m\\x9b2J\\x0d'), listed);
    const revoked = await jarvis(['devices', 'revoke', deviceId]);
    assert.ok(revoked.includes(`revoked ${deviceId} (Kitchen\\x1b[31m phone`), revoked);
  });

  test('jarvis timers list: the timer\'s label', async () => {
    const output = await jarvis(['timers', 'list']);
    assert.ok(output.includes('tea\\x1b[1A\\x1b[2K'), output);
  });

  test('--json output is escaped too, and still gives back the exact text', async () => {
    const notes = JSON.parse(await jarvis(['memory', 'list', '--json'])) as { text: string }[];
    assert.deepEqual(notes.map((n) => n.text), [NOTE]);
    const devices = JSON.parse(await jarvis(['devices', 'list', '--all', '--json'])) as { name: string }[];
    assert.deepEqual(devices.map((d) => d.name), [DEVICE]);
    const timers = JSON.parse(await jarvis(['timers', 'list', '--json'])) as { label: string }[];
    assert.deepEqual(timers.map((t) => t.label), [TIMER]);
  });

  test('the helper: bidi overrides (which make one name read as another) are shown too; ordinary text is untouched', () => {
    assert.equal(printable('Dad\u202e\u2066enohp\tx'), 'Dad\\u202e\\u2066enohp\\x09x');
    assert.equal(printable('Küche – Ärger 🍵 "quoted" \\ back'), 'Küche – Ärger 🍵 "quoted" \\ back');
    const value = { name: 'a\u009b\u007f\u2028\u202eb' };
    assert.doesNotMatch(printableJson(value), /[\u007f-\u009f\u2028\u202e]/);
    assert.deepEqual(JSON.parse(printableJson(value, 2)), value);
  });
});
