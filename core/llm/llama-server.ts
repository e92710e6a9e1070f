import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { abortError, JarvisError, ModelFileError } from '../../base/errors.ts';
import { freePort } from '../../base/free-port.ts';
import { packageRoot } from '../../base/package-root.ts';

/**
 * A llama-server (llama.cpp's OpenAI-compatible server) that JARVIS runs itself, on loopback, for a model
 * node-llama-cpp cannot run in-process: a vision model with its multimodal projector (`--mmproj`). The binary is
 * built from the llama.cpp sources node-llama-cpp ships (scripts/build-llama-server.js, cached per machine; the
 * first use builds it, about two minutes on 2 cores). It listens on a free loopback port with a random API key, so
 * other programs on the machine cannot use it, and it goes when JARVIS goes. A server that died (killed, out of
 * memory) is started again by the next request.
 */

export interface LlamaServerOptions {
  readonly model: string;
  /** The multimodal projector (mmproj) GGUF. */
  readonly projector?: string;
  readonly contextSize: number;
  readonly threads?: number;
  /** How long loading the model may take. */
  readonly startTimeoutMs?: number;
  /** The settings the user changes to fix a missing file, for the fix sentences ("llm.roles.vision"). */
  readonly settings: string;
}

export interface RunningServer {
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly pid: number | undefined;
}

/** The name it serves the model under (`--alias`). */
export const LOCAL_MODEL_ALIAS = 'local';

let located: Promise<{ binary: string; libraries: string }> | undefined;

/** The llama-server binary and the folder of node-llama-cpp's libraries it runs in (built on first use). */
export function locateLlamaServer(): Promise<{ binary: string; libraries: string }> {
  located ??= promisify(execFile)(process.execPath, [path.join(packageRoot, 'scripts', 'build-llama-server.js')], { maxBuffer: 1 << 20 })
    .then(({ stdout }) => {
      const binary = stdout.trim().split('\n').at(-1)!;
      return { binary, libraries: fs.readFileSync(path.join(path.dirname(binary), 'libraries'), 'utf8').trim() };
    })
    .catch((error: unknown) => {
      located = undefined;
      const said = String((error as { stderr?: string }).stderr ?? error).trim().split('\n').at(-1) ?? '';
      throw new JarvisError(
        'llama-server-missing',
        `llama-server could not be built from node-llama-cpp's llama.cpp sources (${said.replace(/^llama-server: /, '')})`,
        'Install cmake, g++ and git (Debian: sudo apt install cmake g++ make git), then run `npm run build:llama-server`; or run a vision server yourself and use backend "openai".',
        { cause: error },
      );
    });
  return located;
}

const running = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

export class LlamaServerProcess {
  readonly #options: LlamaServerOptions;
  #child: ChildProcess | undefined;
  #starting: Promise<RunningServer> | undefined;
  #disposed = false;

  constructor(options: LlamaServerOptions) {
    this.#options = options;
  }

  /** The running server, started (and waited for) when it is not running. */
  ensure(signal?: AbortSignal): Promise<RunningServer> {
    if (this.#disposed) return Promise.reject(new Error('the llama-server was shut down'));
    // Started, or starting (no process yet, or one loading): the same server for every request.
    if (!this.#starting || (this.#child && !running(this.#child))) {
      this.#starting = this.#start().catch((error: unknown) => {
        this.#starting = undefined;
        throw error;
      });
    }
    if (!signal) return this.#starting;
    if (signal.aborted) return Promise.reject(abortError(signal));
    return Promise.race([this.#starting, new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(abortError(signal)), { once: true }))]);
  }

  /** Whether the server's process has gone (or goes within `withinMs`): a request it failed may be tried again. */
  async hasExited(withinMs: number): Promise<boolean> {
    const child = this.#child;
    if (!child || !running(child)) return true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        child.off('exit', onExit);
        resolve(false);
      }, withinMs);
      const onExit = () => {
        clearTimeout(timer);
        resolve(true);
      };
      child.once('exit', onExit);
    });
  }

  get pid(): number | undefined {
    return this.#child && running(this.#child) ? this.#child.pid : undefined;
  }

  async dispose(): Promise<void> {
    this.#disposed = true;
    const child = this.#child;
    this.#child = undefined;
    if (!child || !running(child)) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(killer);
  }

  async #start(): Promise<RunningServer> {
    // A process that died is forgotten at once, so that requests meanwhile wait for this start.
    this.#child = undefined;
    const { model, projector, settings } = this.#options;
    for (const [file, key] of [[model, 'model'], [projector, 'projector']] as const) {
      if (file !== undefined && !fs.existsSync(file)) {
        throw new ModelFileError('model-missing', file, `the ${key === 'model' ? 'vision model' : 'vision projector (mmproj)'} file ${file} is not there`, `Download it (jarvis models pull), or set ${settings}.${key} to where it is.`);
      }
    }
    const { binary, libraries } = await locateLlamaServer();
    const port = await freePort();
    const apiKey = randomBytes(18).toString('base64url');
    const args = ['-m', model, '--host', '127.0.0.1', '--port', String(port), '-c', String(this.#options.contextSize), '-np', '1', '--alias', LOCAL_MODEL_ALIAS, '--api-key', apiKey, '--no-webui'];
    if (projector) args.push('--mmproj', projector);
    if (this.#options.threads) args.push('-t', String(this.#options.threads));
    // Its CPU backends are loaded from the working directory (node-llama-cpp's prebuilt ones).
    const child = spawn(binary, args, { cwd: libraries, stdio: ['ignore', 'ignore', 'pipe'] });
    this.#child = child;
    let log = '';
    child.stderr!.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4000)));
    child.once('error', (error) => (log += `\n${error.message}`));
    const lastLines = () => log.trim().split('\n').slice(-3).join(' / ');
    const deadline = performance.now() + (this.#options.startTimeoutMs ?? 180_000);
    for (;;) {
      if (this.#disposed) throw new Error('the llama-server was shut down while it started');
      if (!running(child)) {
        throw new JarvisError('llama-server-failed', `llama-server stopped while loading ${path.basename(model)}: ${lastLines()}`, `Check that ${settings}.model and ${settings}.projector are a vision model and its projector (mmproj) that belong together.`);
      }
      const ok = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false);
      if (ok) break;
      if (performance.now() > deadline) {
        child.kill('SIGKILL');
        throw new JarvisError('llama-server-failed', `llama-server did not finish loading ${path.basename(model)} in time: ${lastLines()}`, 'A model this large may not fit this machine; try a smaller vision model.');
      }
      await sleep(100);
    }
    return { baseUrl: `http://127.0.0.1:${port}/v1`, apiKey, pid: child.pid };
  }
}
