import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../../test/fixtures/speech.ts';

/**
 * How long a simple command takes, as a user waits for it: `jarvis timers list` and `jarvis --version`, from the
 * process start to its exit, beside a Node process that does nothing (the floor no command can go under), in the
 * same run and interleaved so both share the machine's load. The CLI's build is made before the first sample.
 */

export interface CliResult {
  readonly timersListMs: number[];
  readonly versionMs: number[];
  readonly bareNodeMs: number[];
}

function timed(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, { cwd: repoRoot, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(performance.now() - started) : reject(new Error(`${args.join(' ')} exited ${code}: ${stderr.slice(-500)}`))));
  });
}

export async function measureCli(runs: number): Promise<CliResult> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-bench-cli-'));
  // A private HOME: no user config, an empty timer database.
  const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'), XDG_DATA_HOME: path.join(home, '.local/share') };
  const jarvis = path.join(repoRoot, 'bin', 'jarvis.js');
  try {
    await timed([jarvis, '--version'], env); // builds the CLI if the sources changed, and warms the file cache
    const result: CliResult = { timersListMs: [], versionMs: [], bareNodeMs: [] };
    for (let i = 0; i < runs; i++) {
      result.bareNodeMs.push(await timed(['-e', '0'], env));
      result.timersListMs.push(await timed([jarvis, 'timers', 'list'], env));
      result.versionMs.push(await timed([jarvis, '--version'], env));
    }
    return result;
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
}
