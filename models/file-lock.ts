import fs from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { isProcessAlive } from '../base/process.ts';

/**
 * A lock file next to a download, so two `jarvis models pull` processes (or the daemon and the CLI) never write
 * the same file at once: the second waits, then finds the file finished. The lock holds the owner's pid; a lock
 * whose process is gone (killed, crashed) is taken over.
 */

export interface FileLockOptions {
  readonly signal?: AbortSignal;
  /** Called once when another live process holds the lock. */
  readonly onWait?: (ownerPid: number) => void;
  readonly pollMs?: number;
}


async function readOwner(lockPath: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt(await fs.readFile(lockPath, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function acquire(lockPath: string, options: FileLockOptions): Promise<void> {
  let told = false;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const handle = await fs.open(lockPath, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = await readOwner(lockPath);
    // A lock being written has no pid yet: wait a moment rather than steal it.
    if (owner !== undefined && !isProcessAlive(owner)) {
      await fs.rm(lockPath, { force: true });
      continue;
    }
    if (owner !== undefined && !told) {
      told = true;
      options.onWait?.(owner);
    }
    await sleep(options.pollMs ?? 200, undefined, options.signal ? { signal: options.signal } : {});
  }
}

async function release(lockPath: string): Promise<void> {
  if ((await readOwner(lockPath)) === process.pid) await fs.rm(lockPath, { force: true });
}

/** Runs `body` holding the lock file `lockPath`. */
export async function withFileLock<T>(lockPath: string, body: () => Promise<T>, options: FileLockOptions = {}): Promise<T> {
  await acquire(lockPath, options);
  try {
    return await body();
  } finally {
    await release(lockPath);
  }
}
