import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { repoRoot } from './fixtures/speech.ts';

/**
 * Imports point down only. Each folder is a layer; a file may import its own layer and the ones below it, never one
 * above. The HUD is not in the stack: it may import the wire protocol (core/protocol/) and nothing else of the core.
 *
 *   base/ (errors, log, clock) ← config/ ← voice/ ← models/ (the model library) ← core/protocol/ (the wire) ←
 *   core/*.ts (run events, state, the responder port) ← core/llm/, core/telemetry/, core/wyoming/ ← core/pipeline/ ←
 *   core/skills/, core/mcp/, core/home/, core/knowledge/ ← core/live-models/ (the daemon's model handling) ← core/server/, core/mqtt/ ← core/daemon/ (assembly) ←
 *   core/cli/ ← bin/, bench/
 */

const LAYERS: readonly (readonly string[])[] = [
  ['base/'],
  ['config/'],
  ['voice/'],
  ['models/'],
  ['core/protocol/'],
  ['core/'],
  ['core/llm/', 'core/telemetry/', 'core/wyoming/'],
  ['core/pipeline/'],
  ['core/skills/', 'core/mcp/', 'core/home/', 'core/satellite/', 'core/knowledge/'],
  ['core/live-models/'],
  ['core/server/', 'core/mqtt/'],
  ['core/daemon/'],
  ['core/cli/'],
  ['bin/', 'bench/'],
];

const HUD = 'hud/';
const HUD_MAY_IMPORT = 'core/protocol/';

/** The layer of a repository path: the longest folder prefix that names one. */
export function layerOf(file: string): number | undefined {
  let best: { layer: number; length: number } | undefined;
  LAYERS.forEach((prefixes, layer) => {
    for (const prefix of prefixes) {
      // core/ names the root files only; a subfolder of core/ that no layer names is an error (see below).
      const matches = prefix === 'core/' ? path.dirname(file) === 'core' : file.startsWith(prefix);
      if (matches && (!best || prefix.length > best.length)) best = { layer, length: prefix.length };
    }
  });
  return best?.layer;
}

export interface UpwardImport {
  readonly from: string;
  readonly to: string;
}

const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"]+)\1/g;

/** Every relative import in `source` (a file at repository path `file`), as repository paths. */
export function importsOf(file: string, source: string): string[] {
  return [...source.matchAll(IMPORT)].map((m) => path.posix.normalize(path.posix.join(path.posix.dirname(file), m[2]!)));
}

/** The imports that break the layering, for files given as repository path → source text. */
export function upwardImports(files: ReadonlyMap<string, string>): UpwardImport[] {
  const found: UpwardImport[] = [];
  for (const [from, source] of files) {
    for (const to of importsOf(from, source)) {
      if (from.startsWith(HUD)) {
        if (!to.startsWith(HUD) && !to.startsWith(HUD_MAY_IMPORT)) found.push({ from, to });
        continue;
      }
      const mine = layerOf(from);
      const theirs = layerOf(to);
      if (mine === undefined || theirs === undefined) continue;
      if (theirs > mine || to.startsWith(HUD)) found.push({ from, to });
    }
  }
  return found;
}

function sourceFiles(dir: string): string[] {
  const absolute = path.join(repoRoot, dir);
  if (!fs.existsSync(absolute)) return [];
  return fs
    .readdirSync(absolute, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && /\.(ts|js|svelte)$/.test(entry.name) && !entry.parentPath.includes('node_modules') && !entry.parentPath.includes(`${path.sep}dist`))
    .map((entry) => path.relative(repoRoot, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'));
}

const STACKED = ['base', 'config', 'voice', 'models', 'core', 'bin', 'bench'];

describe('layering: imports point down only', () => {
  const files = new Map([...STACKED, 'hud/src'].flatMap(sourceFiles).map((file) => [file, fs.readFileSync(path.join(repoRoot, file), 'utf8')] as const));

  test('every source folder is a layer (a new folder must be placed in the stack)', () => {
    const unplaced = [...files.keys()].filter((file) => !file.startsWith(HUD) && layerOf(file) === undefined);
    const unnamedCoreFolders = [...files.keys()].filter((file) => {
      const parts = file.split('/');
      return parts[0] === 'core' && parts.length > 2 && !LAYERS.flat().includes(`core/${parts[1]}/`);
    });
    assert.deepEqual([...unplaced, ...unnamedCoreFolders], []);
    assert.ok(files.size > 150, `read ${files.size} files`);
  });

  test('no file imports a layer above its own; the HUD imports only the wire protocol', () => {
    const upward = upwardImports(files).map((u) => `${u.from} → ${u.to}`);
    assert.deepEqual(upward, []);
  });

  test('the check itself catches an upward import, a HUD import of the core, and a dynamic import', () => {
    const synthetic = new Map([
      ['voice/stt/x.ts', "import { JarvisError } from '../../base/errors.ts';\nimport { Assistant } from '../../core/pipeline/assistant.ts';"],
      ['models/y.ts', "const { LiveModels } = await import('../core/live-models/live-models.ts');"],
      ['hud/src/lib/z.ts', "import type { RunEvent } from '../../../core/protocol/run-events.ts';\nimport { transition } from '../../../core/state.ts';"],
      ['core/skills/w.ts', "import type { LiveFeed } from '../server/live-feed.ts';\nimport { RunEventBus } from '../events.ts';"],
    ]);
    assert.deepEqual(
      upwardImports(synthetic).map((u) => `${u.from} → ${u.to}`),
      ['voice/stt/x.ts → core/pipeline/assistant.ts', 'models/y.ts → core/live-models/live-models.ts', 'hud/src/lib/z.ts → core/state.ts', 'core/skills/w.ts → core/server/live-feed.ts'],
    );
  });
});
