import fs from 'node:fs';
import path from 'node:path';

/**
 * The checkout's root folder and its package.json, found by walking up from this file: the code runs from its
 * sources (through tsx) and from the compiled build under .cache/ (bin/build.js), at different depths.
 */
export const packageRoot: string = findRoot(import.meta.dirname);

export function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
}

function findRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest) && (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { name?: string }).name === 'jarvis') return dir;
    if (path.dirname(dir) === dir) throw new Error(`no jarvis package.json above ${from}`);
  }
}
