import { spawn, type ChildProcess } from 'node:child_process';

/**
 * A recorder or player child process (parec, arecord, pacat, aplay) with its stderr kept for error messages
 * and its end reported once, whichever way it went (spawn failure, exit, signal).
 */

export interface ProcessEnd {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Set when the program could not be started at all (ENOENT: not installed). */
  readonly spawnError?: NodeJS.ErrnoException;
  /** True when we killed it, so its end is not a device failure. */
  readonly killed: boolean;
}

const STDERR_KEEP_BYTES = 4096;

export class AudioProcess {
  readonly child: ChildProcess;
  /** Resolves (never rejects) once the process is gone. */
  readonly exited: Promise<ProcessEnd>;
  #stderr = '';
  #killed = false;
  #running = true;

  constructor(
    readonly command: string,
    readonly args: readonly string[],
    options: { env?: NodeJS.ProcessEnv; stdin: 'pipe' | 'ignore'; stdout: 'pipe' | 'ignore' },
  ) {
    this.child = spawn(command, args, { env: options.env ?? process.env, stdio: [options.stdin, options.stdout, 'pipe'] });
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (text: string) => {
      // Only the tail matters: the error is printed last, and a chatty tool must not grow memory.
      this.#stderr = (this.#stderr + text).slice(-STDERR_KEEP_BYTES);
    });
    // A player killed mid-write gets EPIPE; its exit is what we report, not the write.
    this.child.stdin?.on('error', () => {});
    this.exited = new Promise((resolve) => {
      let spawnError: NodeJS.ErrnoException | undefined;
      this.child.once('error', (error: NodeJS.ErrnoException) => {
        spawnError = error;
        // 'close' does not always follow a failed spawn.
        if (this.child.pid === undefined) finish(null, null);
      });
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        if (!this.#running) return;
        this.#running = false;
        resolve({ code, signal, killed: this.#killed, ...(spawnError ? { spawnError } : {}) });
      };
      this.child.once('close', finish);
    });
  }

  get running(): boolean {
    return this.#running;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** SIGKILL: a player must go silent now, and a recorder has nothing worth flushing. */
  kill(): void {
    if (!this.#running) return;
    this.#killed = true;
    this.child.kill('SIGKILL');
  }

  /** The last few meaningful lines the tool printed, for error messages. */
  stderrSummary(maxLines = 3): string {
    const lines = this.#stderr
      // Progress output uses carriage returns and terminal escapes.
      .replace(/\x1b\[[0-9;]*[A-Za-z]/g, '')
      .split(/[\r\n]+/)
      .map((line) => line.trim())
      .filter((line) => line.length > 0);
    return lines.slice(-maxLines).join('; ').slice(0, 400);
  }
}

/** Waits for `promise` at most `ms`; undefined when time ran out. */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
