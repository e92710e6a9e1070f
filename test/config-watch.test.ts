import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { silentLogger } from '../base/log.ts';
import { CONFIG_PROBLEM, watchConfigFile } from '../core/daemon/config-watch.ts';
import type { Problem } from '../core/protocol/state.ts';

/** The config file edited under a running JARVIS (real files, polled as the daemon polls them, faster). */

test('a config file that becomes invalid while JARVIS runs is shown with the key and the fix; a valid change asks for a restart; undoing it clears both', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-config-watch-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'config.json');
  const original = JSON.stringify({ dataDir: dir, wake: { threshold: 0.5 } });
  fs.writeFileSync(file, original);
  const problems = new Map<string, Problem>();
  const stop = watchConfigFile(file, { reportProblem: (p) => problems.set(p.id, p), clearProblem: (id) => problems.delete(id) }, silentLogger, 20);
  t.after(stop);
  const until = async (what: string, done: () => boolean) => {
    for (const started = Date.now(); !done(); await new Promise((r) => setTimeout(r, 10))) if (Date.now() - started > 5000) assert.fail(what);
  };

  fs.writeFileSync(file, JSON.stringify({ dataDir: dir, wake: { threshold: 7 } }));
  await until('no config-invalid problem', () => problems.has(CONFIG_PROBLEM.invalid));
  assert.match(problems.get(CONFIG_PROBLEM.invalid)!.message, /wake\.threshold = 7[\s\S]*keeps running with the settings it started with/);
  assert.match(problems.get(CONFIG_PROBLEM.invalid)!.fix, /Correct the value/);

  fs.writeFileSync(file, JSON.stringify({ dataDir: dir, wake: { threshold: 0.6 } }));
  await until('the invalid problem stayed', () => !problems.has(CONFIG_PROBLEM.invalid));
  assert.match(problems.get(CONFIG_PROBLEM.changed)?.message ?? '', /apply when JARVIS restarts/);

  // An editor's save: a new file renamed over the old one.
  fs.writeFileSync(`${file}.swp`, original);
  fs.renameSync(`${file}.swp`, file);
  await until('the changed problem stayed after the file was put back', () => !problems.has(CONFIG_PROBLEM.changed));
  assert.equal(problems.size, 0);
});
