#!/usr/bin/env node
// Builds llama-server, llama.cpp's OpenAI-compatible server, from the llama.cpp sources that node-llama-cpp's npm
// package ships (llama/gitRelease.bundle), linked against node-llama-cpp's own prebuilt libraries of the same
// commit (native/llama-server/CMakeLists.txt): only the server, its multimodal library and its HTTP library are
// compiled (about two minutes on 2 cores). The tests of the OpenAI-compatible backend run against it; a user can
// run it too (`npm run build:llama-server` prints where it is).
//
// Cached outside the repository, by its inputs (sources, prebuilt libraries, compiler, this script), so a machine
// builds it once: $XDG_CACHE_HOME/jarvis/llama-server/<key>/ (default ~/.cache). Prints the binary's path on the
// last line of stdout; exits 1 with the reason when it cannot be built.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { takeLock, waitForOtherBuild } from './build-lock.js';

const root = path.resolve(import.meta.dirname, '..');
const CMAKE_PROJECT = path.join(root, 'native', 'llama-server');
const cacheRoot = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'jarvis', 'llama-server');
const say = (line) => process.stderr.write(`llama-server: ${line}\n`);

function fail(reason) {
  say(`not built: ${reason}`);
  process.exit(1);
}

function firstLine(command, args) {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0].trim();
  } catch {
    return undefined;
  }
}

/** An installed package's folder (these packages do not export their package.json). */
function packageDir(name) {
  const paths = createRequire(import.meta.url).resolve.paths(name) ?? [];
  const found = paths.map((dir) => path.join(dir, name)).find((dir) => fs.existsSync(path.join(dir, 'package.json')));
  if (!found) fail(`${name} is not installed (run \`npm install\`)`);
  return found;
}

function sources() {
  const platform = `${process.platform}-${process.arch}`;
  const llamaDir = path.join(packageDir('node-llama-cpp'), 'llama');
  const bins = path.join(packageDir(`@node-llama-cpp/${platform}`), 'bins', platform);
  const bundle = path.join(llamaDir, 'gitRelease.bundle');
  if (!fs.existsSync(bundle) || !fs.existsSync(path.join(bins, 'libllama-common.so'))) fail(`${bundle} or the prebuilt libllama-common.so in ${bins} is missing`);
  return { bundle, bins };
}

function hashOf(parts) {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex').slice(0, 16);
}

function main() {
  const { bundle, bins } = sources();
  const cmake = firstLine('cmake', ['--version']);
  const compiler = firstLine(process.env.CXX || 'c++', ['--version']) ?? firstLine('g++', ['--version']);
  const git = firstLine('git', ['--version']);
  const missing = [!cmake && 'cmake', !compiler && 'a C++ compiler (g++)', !git && 'git'].filter(Boolean);
  if (missing.length > 0) fail(`${missing.join(', ')} not found (Debian/Ubuntu: sudo apt install cmake g++ make git)`);

  const libraries = fs.readdirSync(bins).filter((f) => f.endsWith('.so')).sort().map((f) => `${f}:${fs.statSync(path.join(bins, f)).size}`);
  const key = hashOf([
    `${fs.statSync(bundle).size}`,
    ...libraries,
    cmake,
    compiler,
    fs.readFileSync(import.meta.filename, 'utf8'),
    fs.readFileSync(path.join(CMAKE_PROJECT, 'CMakeLists.txt'), 'utf8'),
  ]);
  const dir = path.join(cacheRoot, key);
  const binary = path.join(dir, 'llama-server');
  if (fs.existsSync(binary)) {
    process.stdout.write(`${binary}\n`);
    return;
  }
  fs.mkdirSync(dir, { recursive: true });
  if (!takeLock(dir)) {
    // Another process (CI starts the build beside the tests) is building the same thing: wait for it.
    say('another process is building it; waiting…');
    if (!waitForOtherBuild(dir, binary)) fail(`the other build stopped without a result; see ${path.join(dir, 'build.log')}`);
    process.stdout.write(`${binary}\n`);
    return;
  }
  const log = path.join(dir, 'build.log');
  const run = (command, args) => {
    const out = fs.openSync(log, 'a');
    const result = spawnSync(command, args, { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    if (result.status !== 0) fail(`\`${command} ${args.slice(0, 2).join(' ')} …\` failed; see ${log}`);
  };
  const started = performance.now();
  say(`building from ${path.relative(root, bundle)} (about two minutes on 2 cores the first time; log: ${log})…`);
  const src = path.join(dir, 'src');
  const build = path.join(dir, 'build');
  fs.rmSync(src, { recursive: true, force: true });
  run('git', ['clone', '--quiet', bundle, src]);
  // The server's own code is light (inference runs in the prebuilt libraries): -O1 halves the build time.
  run('cmake', ['-S', CMAKE_PROJECT, '-B', build, `-DLLAMA_SRC=${src}`, `-DLLAMA_BINS=${bins}`, '-DCMAKE_BUILD_TYPE=Release', '-DCMAKE_CXX_FLAGS_RELEASE=-O1 -DNDEBUG']);
  run('cmake', ['--build', build, '--target', 'llama-server', '--parallel', String(os.availableParallelism())]);
  // Where its CPU backends are, written before the binary: a process waiting for the binary reads it next.
  fs.writeFileSync(path.join(dir, 'libraries'), `${bins}\n`);
  // Renamed into place last: a half-made build is never found as done.
  fs.copyFileSync(path.join(build, 'llama-server'), `${binary}.tmp`);
  fs.chmodSync(`${binary}.tmp`, 0o755);
  fs.renameSync(`${binary}.tmp`, binary);
  fs.rmSync(src, { recursive: true, force: true });
  fs.rmSync(build, { recursive: true, force: true });
  // Builds from other inputs are of no more use (an older node-llama-cpp, another compiler).
  for (const other of fs.readdirSync(cacheRoot)) if (other !== key) fs.rmSync(path.join(cacheRoot, other), { recursive: true, force: true });
  say(`built in ${Math.round((performance.now() - started) / 1000)} s: ${binary} (run it with the working directory ${bins}, where its CPU backends are)`);
  process.stdout.write(`${binary}\n`);
}

main();
