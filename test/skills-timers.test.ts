import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { parseConfig } from '../config/load.ts';
import type { JarvisConfig } from '../config/schema.ts';
import { JarvisError } from '../base/errors.ts';
import { RunEventBus } from '../core/events.ts';
import { type RunEvent } from '../core/protocol/run-events.ts';
import { silentLogger } from '../base/log.ts';
import { OutputLevel } from '../core/skills/output-level.ts';
import { SkillsRuntime } from '../core/skills/skills-runtime.ts';
import { SCHEMA_VERSION, SkillStore, type StoredTimer } from '../core/skills/store.ts';
import { runJarvis } from './fixtures/cli.ts';
import { ManualClock } from './fixtures/manual-clock.ts';
import { ScriptedResponder } from './fixtures/scripted-responder.ts';

/**
 * Timers, alarms, notes and the speaker level on a real SQLite file, with a clock the test moves by hand: timers
 * ring at their time to the millisecond, survive a restart (a new process opening the same file), and are
 * cancelled by voice (through the skills responder) and from the command line in another process. The LLM is a
 * scripted stand-in that records what reaches it: none of these requests may.
 */

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

function dataDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-skills-'));
  dirs.push(dir);
  return dir;
}

const START = new Date(2025, 10, 25, 15, 0, 0).getTime();

interface Home {
  config: JarvisConfig;
  clock: ManualClock;
  skills: SkillsRuntime;
  llm: ScriptedResponder;
  due: StoredTimer[][];
  ask(text: string): Promise<{ answer: string; events: RunEvent[] }>;
}

function openHome(dir: string, clock = new ManualClock(START), overrides: Record<string, unknown> = {}): Home {
  const config = parseConfig({ dataDir: dir, ...overrides });
  const skills = new SkillsRuntime(config, silentLogger, { clock });
  const llm = new ScriptedResponder(() => 'the LLM answered', 0);
  const responder = skills.responder(llm);
  const due: StoredTimer[][] = [];
  skills.timers.on('due', (timers) => due.push(timers));
  const bus = new RunEventBus();
  return {
    config,
    clock,
    skills,
    llm,
    due,
    async ask(text) {
      const run = bus.startRun('text');
      let answer = '';
      for await (const piece of responder.respond({ text, signal: new AbortController().signal, run })) answer += piece;
      run.end('answered');
      return { answer, events: run.events };
    },
  };
}

describe('timers on a manual clock and a real SQLite file', () => {
  test('a 5 minute timer rings at exactly 5 minutes, not a millisecond before, and is then "ringing"', async () => {
    const home = openHome(dataDir());
    home.skills.timers.start();
    const { answer, events } = await home.ask('set a timer for five minutes');
    assert.equal(answer, 'Timer set for 5 minutes.');
    const start = events.find((e) => e.type === 'intent-start');
    assert.ok(start?.type === 'intent-start');
    assert.equal(start.skill, 'timer.set');
    assert.equal(start.via, 'local');
    assert.deepEqual(start.args, { durationMs: 300_000 });
    assert.ok(events.some((e) => e.type === 'intent-end' && e.ok && e.said === answer));

    home.clock.advance(299_999);
    assert.equal(home.due.length, 0, 'not yet');
    home.clock.advance(1);
    assert.equal(home.due.length, 1);
    assert.equal(home.due[0]![0]!.dueAt, START + 300_000);
    assert.equal(home.skills.timers.list()[0]!.state, 'ringing');
    assert.deepEqual(home.llm.questions, [], 'the LLM was never asked');
    home.skills.dispose();
  });

  test('an alarm at a clock time rings at that time; the wait is re-armed every minute, so a clock jump cannot make it late', async () => {
    const home = openHome(dataDir());
    home.skills.timers.start();
    assert.equal((await home.ask('set an alarm for 7 am')).answer, 'Alarm set for 7 AM tomorrow.');
    assert.ok(home.clock.pending <= 1);
    // The machine sleeps through the night: the wall clock jumps past the alarm without any timeout firing.
    home.clock.jump(new Date(2025, 10, 26, 7, 0, 30).getTime() - START);
    assert.equal(home.due.length, 0);
    home.clock.advance(60_000);
    assert.equal(home.due.length, 1, 'rang within a minute of waking up');
    home.skills.dispose();
  });

  test('the wall clock set back an hour: a 10 minute timer still rings after 10 minutes, an alarm at 7 AM still at 7 AM on the clock', async () => {
    const home = openHome(dataDir());
    home.skills.timers.start();
    assert.equal((await home.ask('set a timer for ten minutes')).answer, 'Timer set for 10 minutes.');
    assert.equal((await home.ask('set an alarm for 7 am')).answer, 'Alarm set for 7 AM tomorrow.');
    home.clock.advance(60_000);
    home.clock.jump(-3_600_000);
    home.clock.advance(539_999);
    assert.equal(home.due.length, 0, 'not before 10 minutes have passed');
    home.clock.advance(1);
    assert.deepEqual(home.due.map((timers) => timers.map((t) => t.kind)), [['timer']], 'the timer rang after 10 minutes, the clock an hour behind');
    const alarm = home.skills.timers.list().find((t) => t.kind === 'alarm')!;
    assert.equal(alarm.dueAt, new Date(2025, 10, 26, 7, 0).getTime(), 'the alarm stays at 7 AM on the clock');
    home.skills.dispose();
  });

  test('a timer survives a restart: a new runtime on the same file rings it when it is due', async () => {
    const dir = dataDir();
    const first = openHome(dir);
    first.skills.timers.start();
    await first.ask('set a pasta timer for 10 minutes');
    first.clock.advance(4 * 60_000);
    first.skills.dispose(); // the daemon stops

    const clock = new ManualClock(first.clock.now() + 60_000); // it starts again a minute later
    const second = openHome(dir, clock);
    second.skills.timers.start();
    assert.match((await second.ask('how long is left on the pasta timer')).answer, /^The pasta timer has 5 minutes left\.$/);
    clock.advance(5 * 60_000 - 1);
    assert.equal(second.due.length, 0);
    clock.advance(1);
    assert.equal(second.due[0]?.[0]?.label, 'pasta');
    second.skills.dispose();
  });

  test('due while JARVIS was off: rings at start within the grace time, is marked missed after it; one left ringing rings again', async () => {
    const dir = dataDir();
    const first = openHome(dir);
    await first.ask('set a timer for 1 minute');
    await first.ask('set an alarm for 4 pm');
    await first.ask('set a timer for 3 minutes');
    first.skills.timers.start();
    first.clock.advance(60_000); // the 1 minute timer rings, and the daemon dies while it rings
    assert.equal(first.due.length, 1);
    first.skills.dispose();

    // Back 2.5 hours later (grace: 1 hour): everything is too late, the one that was ringing too.
    const late = openHome(dir, new ManualClock(START + 2.5 * 3_600_000));
    const missed: StoredTimer[][] = [];
    late.skills.timers.on('missed', (timers) => missed.push(timers));
    late.skills.timers.start();
    assert.equal(late.due.length, 0);
    assert.deepEqual(missed[0]?.map((t) => t.state).sort(), ['pending', 'pending', 'ringing']);
    assert.equal(late.skills.timers.list().length, 0);
    late.skills.dispose();

    const dir2 = dataDir();
    const again = openHome(dir2);
    await again.ask('set a timer for 1 minute');
    await again.ask('set a timer for 2 minutes');
    again.skills.timers.start();
    again.clock.advance(60_000); // the first rings, then the daemon stops before the second is due
    again.skills.dispose();
    // Back 5 minutes later, within the grace time: both ring at once.
    const soon = openHome(dir2, new ManualClock(START + 5 * 60_000));
    soon.skills.timers.start();
    assert.deepEqual(
      soon.due.map((timers) => timers.map((t) => t.durationMs)),
      [[60_000], [120_000]],
      'the timer that was ringing rings again, the one that fell due while off rings now',
    );
    soon.skills.dispose();
  });

  test('cancelled by voice: by name, by length, all; an ambiguous cancel asks which', async () => {
    const home = openHome(dataDir());
    home.skills.timers.start();
    await home.ask('set a pasta timer for 10 minutes');
    await home.ask('set a timer called eggs for 6 minutes');
    await home.ask('set a timer for 3 minutes');
    assert.match((await home.ask('cancel the timer')).answer, /^You have your 3 minute timer, the eggs timer and the pasta timer\. Say which one/);
    assert.equal((await home.ask('cancel the eggs')).answer, 'The eggs timer is cancelled.');
    assert.equal((await home.ask('cancel the 3 minute timer')).answer, 'Your 3 minute timer is cancelled.');
    assert.match((await home.ask('what timers do I have')).answer, /^You have one timer: the pasta timer with 10 minutes left\.$/);
    assert.equal((await home.ask('cancel all timers')).answer, 'The pasta timer is cancelled.');
    home.clock.advance(3_600_000);
    assert.equal(home.due.length, 0, 'nothing rang');
    assert.equal((await home.ask('cancel the timer')).answer, "You don't have any timers.");
    home.skills.dispose();
  });

  test('"set a timer" asks "For how long?" and takes the next request as the answer', async () => {
    const home = openHome(dataDir());
    assert.equal((await home.ask('set a timer')).answer, 'For how long?');
    assert.equal((await home.ask('five minutes')).answer, 'Timer set for 5 minutes.');
    assert.equal((await home.ask('set an alarm')).answer, 'For what time?');
    assert.equal((await home.ask('7 am')).answer, 'Alarm set for 7 AM tomorrow.');
    assert.equal((await home.ask('5 minutes')).answer, 'the LLM answered', 'the question was answered once');
    assert.equal((await home.ask('remind me tomorrow to call mum')).answer, 'At what time should I remind you?');
    assert.equal((await home.ask('at 9')).answer, 'Reminder set for 9 AM tomorrow: call mum.');
    home.skills.dispose();
  });

  test('snooze puts a rung alarm off by skills.snoozeMs', async () => {
    const home = openHome(dataDir());
    home.skills.timers.start();
    await home.ask('wake me up at 3:30 pm');
    home.clock.advance(30 * 60_000);
    assert.equal(home.due.length, 1);
    assert.equal((await home.ask('snooze')).answer, 'Snoozed for 9 minutes.');
    home.clock.advance(9 * 60_000);
    assert.equal(home.due.length, 2);
    home.skills.dispose();
  });

  test('timers that are too long or already passed are refused with what to do', async () => {
    const home = openHome(dataDir());
    assert.equal((await home.ask('set a timer for 2 days')).answer, 'Timers can run for up to 1 day. For later than that, set an alarm.');
    assert.match((await home.ask('remind me at 9 am today to water the plants')).answer, /has already passed\. Say tomorrow/);
    home.skills.dispose();
  });
});

describe('another process: the jarvis command line and a running daemon share the database', () => {
  test('`jarvis ask` sets a timer that a running service rings; `jarvis timers cancel` cancels one before it rings', async () => {
    const dir = dataDir();
    const clock = new ManualClock(Date.now());
    const home = openHome(dir, clock);
    home.skills.timers.start();
    home.skills.watch(50);
    const env = { JARVIS_DATA_DIR: dir };

    const set = runJarvis(['ask', 'set a timer for 90 seconds'], env);
    assert.equal(await set.exit, 0, set.stderr.join('\n'));
    assert.equal(set.stdout.join('\n').trim(), 'Timer set for 1 minute and 30 seconds.');
    assert.ok(!set.stderr.some((line) => line.includes('Nothing is running')), 'a service rings it: no warning');
    await waitFor(() => home.skills.timers.list().length === 1);

    await home.ask('set a pasta timer for 2 minutes');
    const id = home.skills.timers.list().find((t) => t.label === 'pasta')!.id;
    const cancel = runJarvis(['timers', 'cancel', String(id)], env);
    assert.equal(await cancel.exit, 0, cancel.stderr.join('\n'));
    await waitFor(() => home.skills.timers.list().length === 1);

    clock.jump(Date.now() + 150_000 - clock.now());
    clock.advance(60_000);
    assert.equal(home.due.length, 1, 'the 90 second timer rang; the cancelled one did not');
    assert.equal(home.due[0]![0]!.durationMs, 90_000);
    home.skills.dispose();
  });

  test('`jarvis memory list|forget` show and delete what was remembered by voice; nothing but the words is stored', async () => {
    const dir = dataDir();
    const home = openHome(dir);
    assert.equal((await home.ask('remember that the wifi password is on the fridge')).answer, "Okay, I'll remember that the wifi password is on the fridge.");
    await home.ask("don't forget that the bins go out on Tuesday");
    assert.equal((await home.ask('remember that the wifi password is on the fridge')).answer, 'I already knew that.');
    assert.equal((await home.ask('what do you remember about the wifi')).answer, 'You told me that the wifi password is on the fridge.');
    assert.equal((await home.ask('what did I tell you about the bins')).answer, 'You told me that the bins go out on Tuesday.');
    assert.equal((await home.ask('what do you remember about the car')).answer, "I don't have anything about the car.");
    const env = { JARVIS_DATA_DIR: dir };

    const list = runJarvis(['memory', 'list', '--json'], env);
    assert.equal(await list.exit, 0, list.stderr.join('\n'));
    const notes = JSON.parse(list.stdout.join('\n')) as { id: number; text: string }[];
    assert.deepEqual(notes.map((n) => n.text), ['The wifi password is on the fridge', 'The bins go out on Tuesday']);

    const forget = runJarvis(['memory', 'forget', String(notes[0]!.id), '999'], env);
    assert.equal(await forget.exit, 2);
    assert.match(forget.stdout.join('\n'), /Forgot 1 note\./);
    assert.match(forget.stderr.join('\n'), /no note #999[\s\S]*fix: Run `jarvis memory list`/);
    assert.equal((await home.ask('what do you remember about the wifi')).answer, "I don't have anything about the wifi.");
    assert.equal((await home.ask('forget about the bins')).answer, 'Okay, I forgot that the bins go out on Tuesday.');
    assert.equal((await home.ask('what do you remember')).answer, "You haven't asked me to remember anything yet.");

    // Only text columns: no audio is ever stored.
    const db = new Database(path.join(dir, 'jarvis.db'), { readonly: true });
    const columns = db.prepare("SELECT m.name AS tbl, p.type FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table'").all() as { type: string }[];
    db.close();
    assert.ok(columns.every((c) => c.type !== 'BLOB'), JSON.stringify(columns));
    home.skills.dispose();
  });
});

describe('the store', () => {
  test('a new file is created and migrated to the current schema; reopening keeps the data', () => {
    const file = path.join(dataDir(), 'sub', 'jarvis.db');
    const store = SkillStore.open(file);
    store.addNote('The cat is called Tom', 1);
    store.close();
    const db = new Database(file);
    assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    db.close();
    const again = SkillStore.open(file);
    assert.deepEqual(again.notes().map((n) => n.text), ['The cat is called Tom']);
    again.close();
  });

  test('the data folder is 0700 and the database with its -wal and -shm files 0600, also where an older JARVIS left them readable', () => {
    const mode = (p: string) => `${path.basename(p)} ${(fs.statSync(p).mode & 0o777).toString(8)}`;
    // The usual umask, under which a plain mkdir and SQLite make 0755 and 0644.
    const umask = process.umask(0o022);
    try {
      const dir = path.join(dataDir(), 'data');
      const file = path.join(dir, 'jarvis.db');
      const store = SkillStore.open(file);
      store.addNote('The spare key is under the blue pot', 1);
      // While a connection is open, the WAL and its index are on disk beside the database.
      assert.deepEqual([dir, file, `${file}-wal`, `${file}-shm`].map(mode), ['data 700', 'jarvis.db 600', 'jarvis.db-wal 600', 'jarvis.db-shm 600']);
      store.close();

      // An older JARVIS's files, with a daemon of it still running (so its -wal and -shm are there too).
      const oldDir = dataDir();
      const oldFile = path.join(oldDir, 'jarvis.db');
      const running = new Database(oldFile);
      running.pragma('journal_mode = WAL');
      running.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
      for (const p of [oldFile, `${oldFile}-wal`, `${oldFile}-shm`]) fs.chmodSync(p, 0o644);
      fs.chmodSync(oldDir, 0o755);
      const reopened = SkillStore.open(oldFile);
      assert.deepEqual([oldDir, oldFile, `${oldFile}-wal`, `${oldFile}-shm`].map(mode).map((m) => m.split(' ')[1]), ['700', '600', '600', '600']);
      reopened.close();
      running.close();
    } finally {
      process.umask(umask);
    }
  });

  test('a file from a newer JARVIS is refused with the fix; a damaged file says how to move it aside', () => {
    const newer = path.join(dataDir(), 'jarvis.db');
    const db = new Database(newer);
    db.pragma(`user_version = ${SCHEMA_VERSION + 5}`);
    db.close();
    assert.throws(() => SkillStore.open(newer), (error: unknown) => error instanceof JarvisError && error.code === 'store-too-new' && /Update JARVIS/.test(error.fix));

    const damaged = path.join(dataDir(), 'jarvis.db');
    fs.writeFileSync(damaged, Buffer.alloc(8192, 0x41));
    assert.throws(() => SkillStore.open(damaged), (error: unknown) => error instanceof JarvisError && error.code === 'store-unavailable' && /mv /.test(error.fix));
  });

  test('a database that cannot be opened does not stop the skills: they run in memory and a problem says why', async () => {
    const dir = dataDir();
    fs.writeFileSync(path.join(dir, 'jarvis.db'), Buffer.alloc(8192, 0x41));
    const home = openHome(dir);
    assert.equal(home.skills.problems[0]?.id, 'skills-store');
    assert.match(home.skills.problems[0]!.message, /will not survive a restart/);
    assert.equal((await home.ask('set a timer for 5 minutes')).answer, 'Timer set for 5 minutes.');
    home.skills.dispose();
  });
});

describe('speaker level', () => {
  test('volume by voice is stored and read by another process; louder stops at full; mute and unmute', async () => {
    const dir = dataDir();
    const home = openHome(dir);
    assert.equal((await home.ask('set the volume to 5')).answer, 'Volume 50 percent.');
    assert.equal((await home.ask('louder')).answer, 'Volume 70 percent.');
    assert.equal(home.skills.output.gain, 0.7);
    assert.equal((await home.ask('mute')).answer, 'Muted.');
    assert.equal(home.skills.output.gain, 0);
    const other = SkillStore.open(path.join(dir, 'jarvis.db'));
    assert.deepEqual(new OutputLevel(other).state, { level: 70, muted: true });
    other.close();
    assert.equal((await home.ask('unmute')).answer, 'Sound is back on, at 70 percent.');
    assert.equal((await home.ask('max volume')).answer, 'Volume 100 percent.');
    assert.equal((await home.ask('turn it up')).answer, "I'm already at full volume.");
    assert.match((await home.ask('stop listening')).answer, /phone remote/);
    home.skills.dispose();
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
