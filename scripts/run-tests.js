#!/usr/bin/env node
// `npm test`: the type check and every test file, the longest files first. The type check (tsc, ~10 s of one core)
// runs beside the tests instead of before them: its errors are printed as soon as it ends, and they fail the run.
// Node's runner starts files in the order it is given them, a few at a time; in alphabetical order the longest
// files (a minute of Chromium, the real LLM runtime) started half-way through the run and were still going at its
// end, with the other slots idle on this 2-core box.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The longest files in a full run (seconds of their own time, December 2026), longest first. */
const LONGEST_FIRST = [
  'hud.test.ts', // 66 s
  'cli.test.ts', // 51 s
  'llm.test.ts', // 46 s
  'pipeline.test.ts', // 39 s
  'daemon.test.ts', // 31 s
  'models-live.test.ts', // 30 s
  'knowledge.test.ts', // 26 s
  'llm-roles.test.ts', // 26 s
  'faults.test.ts', // 24 s
  'skills-daemon.test.ts', // 21 s
  'audio.test.ts', // 21 s
  'stt-whisper-local.test.ts', // 20 s
];

/** Runs a command; resolves with its exit code and, when `quiet`, its output. */
function run(command, args, { quiet = false } = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, stdio: quiet ? ['ignore', 'pipe', 'pipe'] : 'inherit' });
    let output = '';
    if (quiet) for (const stream of [child.stdout, child.stderr]) stream.on('data', (chunk) => (output += chunk));
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), output }));
  });
}

const all = fs.readdirSync(path.join(root, 'test')).filter((name) => name.endsWith('.test.ts')).sort();
const ordered = [...LONGEST_FIRST.filter((name) => all.includes(name)), ...all.filter((name) => !LONGEST_FIRST.includes(name))];

const typecheck = run(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '-p', '.'], { quiet: true }).then((result) => {
  if (result.code !== 0) process.stderr.write(`\ntype check failed (tsc --noEmit -p .):\n${result.output}\n`);
  return result;
});
const tests = await run(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=3', ...process.argv.slice(2), ...ordered.map((name) => path.join('test', name))]);
const types = await typecheck;
if (types.code !== 0) process.stderr.write('npm test: the type check failed (above), whatever the tests said.\n');
process.exit(tests.code !== 0 ? tests.code : types.code);
