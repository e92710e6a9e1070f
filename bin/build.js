// Compiles the TypeScript sources for the `jarvis` command, once per change of them. The build is the same code,
// bundled by esbuild with node_modules left as they are: a command then starts from plain JS (a few hundred ms)
// instead of compiling every module it loads on the fly (seconds). Commands load what they need lazily (dynamic
// imports become chunks), so `jarvis timers list` never loads llama.cpp or onnxruntime.
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
/** The sources a command can load; a change to any of them (or to this file) makes a new build. */
const SOURCE_DIRS = ['base', 'config', 'voice', 'models', 'core'];
/** Besides the command: what is started in a process or thread of its own, found beside the chunk that starts it. */
const ENTRY_POINTS = {
  main: 'core/cli/main.ts',
  worker: 'core/llm/worker.ts',
  'embedding-worker': 'core/knowledge/embedding-worker.ts',
  'machine-probe-child': 'models/machine-probe-child.ts',
  'onnx-thread-worker': 'voice/onnx-thread-worker.js',
};
const BUILDS = path.join(root, '.cache', 'cli');

/** A name for the sources as they are now: their paths, sizes and modification times, hashed. */
function sourceStamp() {
  let hash = 2166136261;
  const mix = (text) => {
    for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 16777619) >>> 0;
  };
  const files = [path.join(root, 'bin', 'build.js'), path.join(root, 'package.json')];
  for (const dir of SOURCE_DIRS) {
    for (const entry of fs.readdirSync(path.join(root, dir), { recursive: true, withFileTypes: true })) {
      if (entry.isFile() && /\.[tj]s$/.test(entry.name)) files.push(path.join(entry.parentPath, entry.name));
    }
  }
  for (const file of files.sort()) {
    const stat = fs.statSync(file);
    mix(`${file}\0${stat.size}\0${stat.mtimeMs}\n`);
  }
  return hash.toString(36);
}

/** The compiled entry point for this checkout, building it first when the sources changed; undefined without esbuild. */
export async function compiledMain() {
  const dir = path.join(BUILDS, sourceStamp());
  const main = path.join(dir, 'main.js');
  if (fs.existsSync(main)) return main;
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    return undefined;
  }
  // Built aside and renamed into place, so a command started meanwhile never sees half a build.
  const tmp = `${dir}.tmp-${process.pid}`;
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: ENTRY_POINTS,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    outdir: tmp,
    sourcemap: 'linked',
    logLevel: 'error',
  });
  try {
    fs.renameSync(tmp, dir);
  } catch {
    // Another command built the same sources first: use that one.
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  for (const old of fs.readdirSync(BUILDS)) {
    if (old !== path.basename(dir) && !old.includes('.tmp-')) fs.rmSync(path.join(BUILDS, old), { recursive: true, force: true });
  }
  return main;
}
