import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { writeWavFile } from '../voice/wav.ts';
import { jsonLines, runJarvis, testModelsConfig } from './fixtures/cli.ts';
import { repoRoot, silence } from './fixtures/speech.ts';

/**
 * The skills across real `jarvis` processes sharing one data directory: a timer set with `jarvis ask` rings in
 * a daemon (`jarvis start`) started afterwards, as it would after a restart; `jarvis ask "what time is it"` is
 * answered by the local path without starting the LLM. Engines run on the test-made models (test/models).
 */

let dir: string;
let config: string;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-skills-daemon-'));
  config = await testModelsConfig({ dataDir: dir, skills: { ringTimeoutMs: 2500, ringPauseMs: 200 }, conversation: { followUpMs: 0 } });
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('`jarvis ask "what time is it"` is answered by the local intent path: no LLM loaded, the timing is in the run events', async () => {
  const jarvis = runJarvis(['-c', config, 'ask', 'what time is it', '--json']);
  assert.equal(await jarvis.exit, 0, jarvis.stderr.join('\n'));
  const events = jsonLines(jarvis.stdout);
  const start = events.find((e) => e.type === 'intent-start');
  assert.equal(start?.skill, 'time');
  assert.equal(start?.via, 'local');
  const sentence = events.find((e) => e.type === 'sentence');
  assert.match(String(sentence?.text), /^It's /);
  assert.ok(!jarvis.stderr.some((line) => line.includes('LLM:')), 'the LLM was not loaded');
  assert.equal(typeof (sentence as { sinceStart?: unknown }).sinceStart, 'number');
});

test('`jarvis ask -` holds a conversation from stdin: "set a timer" asks "For how long?" and the next line answers it', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-ask-stdin-'));
  const jarvis = runJarvis(['-c', config, 'ask', '-'], { JARVIS_DATA_DIR: dataDir });
  jarvis.child.stdin!.end('set a pasta timer\n\nfive minutes\n');
  assert.equal(await jarvis.exit, 0, jarvis.stderr.join('\n'));
  assert.deepEqual(jarvis.stdout.filter(Boolean), ['For how long?', 'Pasta timer set for 5 minutes.']);
  const db = new Database(path.join(dataDir, 'jarvis.db'), { readonly: true });
  const timers = db.prepare('SELECT label, duration_ms AS durationMs FROM timers').all();
  db.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
  assert.deepEqual(timers, [{ label: 'pasta', durationMs: 300_000 }]);
});

test('`jarvis ask` on a terminal: "set a timer" asks "For how long?" and reads the reply typed at its prompt', async () => {
  // A real pseudo-terminal (util-linux `script`), so the command sees a TTY as it does for a person.
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-ask-tty-'));
  const command = [process.execPath, path.join(repoRoot, 'bin', 'jarvis.js'), '-c', config, 'ask', 'set', 'a', 'pasta', 'timer'].map((a) => `'${a}'`).join(' ');
  const child = spawn('script', ['-qec', command, '/dev/null'], { env: { ...process.env, JARVIS_DATA_DIR: dataDir }, stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  const asked = new Promise<void>((resolve) => child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
    if (output.includes('For how long?')) resolve();
  }));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  await asked;
  child.stdin.write('five minutes\n');
  assert.equal(await exited, 0, output);
  assert.match(output, /For how long\?[\s\S]*> [\s\S]*Pasta timer set for 5 minutes\./);
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('a timer set with `jarvis ask` rings in a daemon started afterwards (same SQLite file): announced until it rings out, then marked missed', async () => {
  const set = runJarvis(['-c', config, 'ask', 'set a timer for 2 seconds']);
  assert.equal(await set.exit, 0, set.stderr.join('\n'));
  assert.equal(set.stdout.join('\n').trim(), 'Timer set for 2 seconds.');
  assert.ok(set.stderr.some((line) => line.startsWith('Nothing is running that will ring it: start JARVIS')), `warned that no daemon runs: ${set.stderr.join('\n')}`);

  const recording = path.join(dir, 'quiet-room.wav');
  await writeWavFile(recording, { samples: silence(6000), sampleRate: 16_000 });
  const daemon = runJarvis(['-c', config, 'start', '--input', recording, '--json']);
  assert.equal(await daemon.exit, 0, daemon.stderr.slice(-20).join('\n'));
  const events = jsonLines(daemon.stdout).filter((e) => typeof e.runId === 'number');
  const alert = events.find((e) => e.type === 'run-start' && e.trigger === 'alert');
  assert.ok(alert, events.map((e) => e.type).join(','));
  const ring = events.filter((e) => e.runId === alert.runId);
  assert.equal(ring.find((e) => e.type === 'intent-start')?.skill, 'timer.ring');
  assert.equal(ring.find((e) => e.type === 'sentence')?.text, 'Your timer is done.');
  assert.ok(ring.filter((e) => e.type === 'tts-end').length >= 1, 'the announcement was synthesized');
  assert.equal(ring.find((e) => e.type === 'intent-end')?.code, 'unanswered');

  const db = new Database(path.join(dir, 'jarvis.db'), { readonly: true });
  const states = db.prepare('SELECT state FROM timers').all() as { state: string }[];
  db.close();
  assert.deepEqual(states, [{ state: 'missed' }]);
});
