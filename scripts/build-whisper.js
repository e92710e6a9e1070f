#!/usr/bin/env node
// Builds JARVIS's whisper.cpp binding (native/whisper) for the CPU of this machine: run by `npm install` (the root
// package's install script) and by `npm run build:whisper`. The whisper.cpp sources are the tree that the npm package
// nodejs-whisper ships (cpp/whisper.cpp, ggml included); nothing else of that package is used.
//
// Cached: a build is made again only when its inputs change (these sources, the whisper.cpp version, the compiler,
// the CPU). It never fails the install: without cmake, a C++ compiler or make it prints one warning, records why in
// .cache/whisper-cpp/build.json, and JARVIS uses the prebuilt @fugood/whisper.node instead (voice/stt/select.ts).
//
//   node scripts/build-whisper.js           the Node addon
//   node scripts/build-whisper.js --cli     also whisper.cpp's own whisper-cli from the same build (the benchmark's
//                                           baseline); exits 1 when it cannot be built
//   node scripts/build-whisper.js --server  also whisper.cpp's whisper-server (OpenAI-compatible /v1/audio/transcriptions
//                                           with --inference-path), which the tests of stt.engine "openai" run
//                                           against: only its own sources are compiled (about a minute of CPU), the
//                                           libraries are the addon's. Cached per machine by the build's key in
//                                           $XDG_CACHE_HOME/jarvis/whisper-server/<key>/ (default ~/.cache); prints
//                                           the binary's path on the last line of stdout; exits 1 when it cannot be built
//   JARVIS_WHISPER_BUILD=skip               build nothing (the prebuilt binding is used)
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { takeLock, waitForOtherBuild } from './build-lock.js';

const root = path.resolve(import.meta.dirname, '..');
const OUT = path.join(root, '.cache', 'whisper-cpp');
const BUILD = path.join(OUT, 'build');
const MANIFEST = path.join(OUT, 'build.json');
const LOG = path.join(OUT, 'build.log');
const ADDON_SOURCES = path.join(root, 'native', 'whisper');
const FIX = 'Install the build tools (Debian/Ubuntu: `sudo apt install cmake g++ make`), then run `npm run build:whisper`.';

/** The instruction sets a -march=native build may use: a build is only run on a CPU that has all it was built with. */
const INSTRUCTION_SETS = [
  'sse3', 'ssse3', 'sse4_1', 'sse4_2', 'popcnt', 'aes', 'pclmulqdq', 'avx', 'avx2', 'fma', 'f16c', 'bmi1', 'bmi2',
  'abm', 'movbe', 'sha_ni', 'gfni', 'vaes', 'vpclmulqdq', 'avx_vnni', 'avx512f', 'avx512bw', 'avx512cd', 'avx512dq',
  'avx512vl', 'avx512ifma', 'avx512vbmi', 'avx512_vbmi2', 'avx512_vnni', 'avx512_bitalg', 'avx512_vpopcntdq',
  'avx512_bf16', 'avx512_fp16', 'amx_tile', 'amx_int8', 'amx_bf16',
];

const cli = process.argv.includes('--cli');
const server = process.argv.includes('--server');
const SERVER_CACHE = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'jarvis', 'whisper-server');
const say = (line) => process.stdout.write(`whisper.cpp: ${line}\n`);
const rel = (file) => path.relative(process.cwd(), file) || '.';

function readManifest() {
  try {
    return JSON.parse(fs.readFileSync(MANIFEST, 'utf8'));
  } catch {
    return undefined;
  }
}

function writeManifest(manifest) {
  fs.mkdirSync(OUT, { recursive: true });
  fs.writeFileSync(`${MANIFEST}.tmp`, `${JSON.stringify(manifest, null, 1)}\n`);
  fs.renameSync(`${MANIFEST}.tmp`, MANIFEST);
}

/** Records why there is no build (and what the build folder was made with, to reuse it), says so in one line, ends. */
function giveUp(reason, fix = FIX, toolchain = undefined) {
  writeManifest({ ok: false, reason, fix, ...(toolchain ? { toolchain } : {}), at: new Date().toISOString() });
  say(`WARNING: ${reason}. Speech to text falls back to the prebuilt @fugood/whisper.node (no AVX: 25 to 100 times slower). ${fix}`);
  process.exit(cli || server ? 1 : 0);
}

function firstLine(command, args) {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0].trim();
  } catch {
    return undefined;
  }
}

function whisperSources() {
  try {
    const manifest = createRequire(import.meta.url).resolve('nodejs-whisper/package.json');
    const { version } = JSON.parse(fs.readFileSync(manifest, 'utf8'));
    const dir = path.join(path.dirname(manifest), 'cpp', 'whisper.cpp');
    const cmake = fs.readFileSync(path.join(dir, 'CMakeLists.txt'), 'utf8');
    return { dir, package: `nodejs-whisper@${version}`, whisperCpp: /project\("whisper\.cpp" VERSION ([\d.]+)\)/.exec(cmake)?.[1] ?? 'unknown' };
  } catch {
    return undefined;
  }
}

function nodeHeaders() {
  const candidates = [
    process.env.npm_config_nodedir && path.join(process.env.npm_config_nodedir, 'include', 'node'),
    path.resolve(path.dirname(process.execPath), '..', 'include', 'node'),
    path.join(os.homedir(), '.cache', 'node-gyp', process.versions.node, 'include', 'node'),
    path.join(os.homedir(), '.node-gyp', process.versions.node, 'include', 'node'),
  ];
  return candidates.find((dir) => dir && fs.existsSync(path.join(dir, 'node_api.h')));
}

function cpu() {
  let text = '';
  try {
    text = fs.readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    // not Linux: no check of the instruction sets at run time
  }
  const flags = new Set((/^flags\s*:(.*)$/m.exec(text)?.[1] ?? '').trim().split(/\s+/));
  return {
    model: /^model name\s*:(.*)$/m.exec(text)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown',
    flags: INSTRUCTION_SETS.filter((flag) => flags.has(flag)),
  };
}

function hashOf(parts) {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(`${part}\0`);
  return hash.digest('hex').slice(0, 16);
}

function main() {
  if (process.env.JARVIS_WHISPER_BUILD === 'skip') giveUp('not built (JARVIS_WHISPER_BUILD=skip)', 'Run `npm run build:whisper` to build it.');
  const sources = whisperSources();
  if (!sources) giveUp('the whisper.cpp sources are missing (the npm package nodejs-whisper is not installed)', 'Run `npm install`.');
  const headers = nodeHeaders();
  if (!headers) {
    giveUp(`Node's C headers (node_api.h) were not found next to ${process.execPath} nor in node-gyp's cache`,
      'Install Node.js with its headers (the nodejs.org tarball or Debian/NodeSource packages have them), then run `npm run build:whisper`.');
  }
  const cmake = firstLine('cmake', ['--version']);
  const compiler = firstLine(process.env.CXX || 'c++', ['--version']) ?? firstLine('g++', ['--version']);
  const make = firstLine('make', ['--version']) ?? firstLine('ninja', ['--version']);
  const missing = [!cmake && 'cmake', !compiler && 'a C++ compiler (g++)', !make && 'make'].filter(Boolean);
  if (missing.length > 0) giveUp(`not built: ${missing.join(', ')} not found`);

  const machine = cpu();
  const toolchain = hashOf([sources.package, sources.whisperCpp, cmake, compiler, machine.model, machine.flags.join(' '), process.platform, process.arch]);
  const inputs = fs.readdirSync(ADDON_SOURCES).sort().map((name) => fs.readFileSync(path.join(ADDON_SOURCES, name), 'utf8'));
  const key = hashOf([toolchain, headers, fs.readFileSync(import.meta.filename, 'utf8'), ...inputs]);
  const addonFile = `jarvis-whisper-${key}.node`;
  const cliFile = path.join(BUILD, 'bin', 'whisper-cli');
  const previous = readManifest();
  const upToDate = previous?.ok && previous.key === key && fs.existsSync(path.join(OUT, addonFile));
  if (upToDate) say(`the build for this CPU is up to date (${previous.whisperCpp}, ${previous.features.join(' ')}): ${rel(path.join(OUT, addonFile))}`);

  const configure = () => cmakeRun(['-S', ADDON_SOURCES, '-B', BUILD, `-DWHISPER_SOURCE_DIR=${sources.dir}`, `-DNODE_INCLUDE_DIR=${headers}`, '-DCMAKE_BUILD_TYPE=Release', '-DGGML_CCACHE=OFF']);
  const started = performance.now();
  if (!upToDate) {
    // Objects compiled for another CPU or compiler would otherwise be reused: -march=native does not change the flags.
    if (previous?.toolchain !== toolchain) fs.rmSync(BUILD, { recursive: true, force: true });
    fs.mkdirSync(OUT, { recursive: true });
    say(`building ${sources.whisperCpp} for this CPU (${machine.model}; a minute or two the first time on 2 cores, log: ${rel(LOG)})…`);
    fs.writeFileSync(LOG, '');
    const failed = (what) => giveUp(`the build failed (${what}; see ${rel(LOG)})`, FIX, toolchain);
    if (!configure()) failed('cmake configure');
    if (!cmakeRun(['--build', BUILD, '--target', 'jarvis-whisper', '--parallel', String(os.availableParallelism())])) failed('cmake --build');

    // A copy under a name of its own: a running JARVIS keeps the file it loaded, and a half-written build is never loaded.
    for (const old of fs.readdirSync(OUT).filter((name) => /^jarvis-whisper-.*\.node$/.test(name))) fs.rmSync(path.join(OUT, old), { force: true });
    fs.copyFileSync(path.join(BUILD, 'jarvis-whisper.node'), path.join(OUT, addonFile));
    let features;
    try {
      const addon = createRequire(import.meta.url)(path.join(OUT, addonFile));
      // "CPU : SSE3 = 1 | AVX = 1 | … | OPENMP = 1 |": what the build uses.
      features = [...addon.systemInfo().matchAll(/(\w+) = 1/g)].map((m) => m[1]);
    } catch (error) {
      giveUp(`the build does not load: ${String(error.message).split('\n')[0]}`, FIX, toolchain);
    }
    const seconds = Math.round((performance.now() - started) / 1000);
    writeManifest({
      ok: true,
      key,
      toolchain,
      addon: addonFile,
      whisperCpp: sources.whisperCpp,
      source: sources.package,
      cpu: machine.model,
      cpuFlags: machine.flags,
      features,
      compiler,
      cmake,
      seconds,
      at: new Date().toISOString(),
    });
    say(`built ${sources.whisperCpp} for this CPU (${features.join(' ')}) in ${seconds} s: ${rel(path.join(OUT, addonFile))}`);
  }
  if (cli) {
    // Same libraries, same flags: the benchmark's raw whisper.cpp. Not needed by JARVIS, so its failure is only said.
    if (!(fs.existsSync(path.join(BUILD, 'CMakeCache.txt')) || configure()) || !cmakeRun(['--build', BUILD, '--target', 'whisper-cli', '--parallel', String(os.availableParallelism())])) {
      say(`whisper-cli did not build (see ${rel(LOG)})`);
      process.exit(1);
    }
    say(`whisper-cli: ${rel(cliFile)}`);
  }
  if (server) buildServer(key, configure);
}

/** whisper-server from the same build folder, copied into the machine's cache under the build's key. */
function buildServer(key, configure) {
  const dir = path.join(SERVER_CACHE, key);
  const binary = path.join(dir, 'whisper-server');
  const done = () => process.stdout.write(`${binary}\n`);
  if (fs.existsSync(binary)) return done();
  fs.mkdirSync(dir, { recursive: true });
  if (!takeLock(dir)) {
    say('another process is building whisper-server; waiting…');
    if (!waitForOtherBuild(dir, binary)) {
      say(`the other build of whisper-server stopped without a result (see ${rel(LOG)})`);
      process.exit(1);
    }
    return done();
  }
  const started = performance.now();
  say(`building whisper-server (about a minute of CPU the first time; log: ${rel(LOG)})…`);
  if (!(fs.existsSync(path.join(BUILD, 'CMakeCache.txt')) || configure()) || !cmakeRun(['--build', BUILD, '--target', 'whisper-server', '--parallel', String(os.availableParallelism())])) {
    say(`whisper-server did not build (see ${rel(LOG)})`);
    process.exit(1);
  }
  // Renamed into place last: a half-copied binary is never found as done.
  fs.copyFileSync(path.join(BUILD, 'bin', 'whisper-server'), `${binary}.tmp`);
  fs.chmodSync(`${binary}.tmp`, 0o755);
  fs.renameSync(`${binary}.tmp`, binary);
  // Builds of other keys are of no more use (other sources, compiler or CPU).
  for (const other of fs.readdirSync(SERVER_CACHE)) if (other !== key) fs.rmSync(path.join(SERVER_CACHE, other), { recursive: true, force: true });
  say(`built whisper-server in ${Math.round((performance.now() - started) / 1000)} s: ${binary}`);
  done();
}

/** Runs cmake with its output appended to the build log; true when it succeeded. */
function cmakeRun(args) {
  const log = fs.openSync(LOG, 'a');
  const result = spawnSync('cmake', args, { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  return result.status === 0;
}

main();
