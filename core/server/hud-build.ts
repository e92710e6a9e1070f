import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Logger } from '../../base/log.ts';
import { packageRoot } from '../../base/package-root.ts';

/**
 * The HUD is a Vite app; the server serves its build (hud/dist). A fresh clone has no build, and a checkout
 * whose HUD sources changed has a stale one, so the daemon builds it when needed (a few seconds, in a child
 * process so Vite's memory goes away after) while it already listens. `npm run build:hud` does the same by hand.
 * The build goes to a temporary folder that replaces hud/dist only when complete.
 */

export const hudSourceDir = path.join(packageRoot, 'hud');
export const hudDistDir = path.join(hudSourceDir, 'dist');
/** The only core folder the HUD imports: the wire protocol. */
const PROTOCOL_DIR = path.join(packageRoot, 'core', 'protocol');

export async function hudBuildIsCurrent(): Promise<boolean> {
  const built = await mtime(path.join(hudDistDir, 'index.html'));
  if (built === undefined) return false;
  const sources = [...(await listFiles(hudSourceDir, ['dist', 'node_modules'])), ...(await listFiles(PROTOCOL_DIR, []))];
  const times = await Promise.all(sources.map(mtime));
  return times.every((t) => t === undefined || t <= built);
}

export async function buildHud(log?: Logger): Promise<void> {
  let vite: string;
  try {
    vite = path.join(path.dirname(createRequire(import.meta.url).resolve('vite/package.json')), 'bin', 'vite.js');
  } catch {
    throw new Error('the HUD is not built and Vite is not installed to build it: run `npm install` (with dev dependencies), then `npm run build:hud`');
  }
  const outDir = path.join(hudSourceDir, `.dist-${process.pid}`);
  log?.info('building the HUD (once, after an install or an update)');
  const started = performance.now();
  const output: string[] = [];
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, [vite, 'build', '--config', path.join(hudSourceDir, 'vite.config.ts'), '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'], {
      cwd: packageRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (d: Buffer) => output.push(d.toString()));
    child.stderr.on('data', (d: Buffer) => output.push(d.toString()));
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (code !== 0) {
    await fs.rm(outDir, { recursive: true, force: true });
    throw new Error(`building the HUD failed (vite exit code ${code}):\n${output.join('').trim().slice(-2000)}`);
  }
  const old = path.join(hudSourceDir, `.dist-old-${process.pid}`);
  await fs.rename(hudDistDir, old).catch(() => {});
  await fs.rename(outDir, hudDistDir).catch(() => fs.rm(outDir, { recursive: true, force: true }));
  await fs.rm(old, { recursive: true, force: true });
  log?.info({ ms: Math.round(performance.now() - started) }, 'HUD built');
}

async function mtime(file: string): Promise<number | undefined> {
  try {
    return (await fs.stat(file)).mtimeMs;
  } catch {
    return undefined;
  }
}

async function listFiles(dir: string, skip: string[]): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  const files = await Promise.all(
    entries.map(async (entry) => {
      if (skip.includes(entry.name) || entry.name.startsWith('.')) return [];
      const full = path.join(dir, entry.name);
      return entry.isDirectory() ? listFiles(full, skip) : [full];
    }),
  );
  return files.flat();
}
