import fs from 'node:fs';

/**
 * Owner-only folders and files, for what JARVIS keeps about a household (notes, timers, paired devices): on a
 * shared machine the default umask (0022) would let every other account read them.
 */

/** Creates `dir` (and its parents) if missing, and makes it 0700, also when it was already there with looser rights. */
export function makePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode is only for a folder it creates (and goes through the umask); an older install's folder is 0755.
  fs.chmodSync(dir, 0o700);
}

/** Makes `file` 0600, creating it empty first when missing, so it is never readable by others, not even for a moment. */
export function makePrivateFile(file: string): void {
  fs.closeSync(fs.openSync(file, 'a', 0o600));
  fs.chmodSync(file, 0o600);
}

/**
 * A SQLite database and the files SQLite keeps beside it. SQLite gives a new -wal, -shm or -journal file the mode
 * of the database file, so once that is private the new ones are too; the ones an older version left are fixed
 * here. Call it before opening the database (for the database file) and again after (for what opening made).
 */
export function makePrivateSqliteFiles(file: string): void {
  makePrivateFile(file);
  for (const suffix of ['-wal', '-shm', '-journal']) {
    try {
      fs.chmodSync(file + suffix, 0o600);
    } catch (error) {
      // Absent, or removed meanwhile by the last connection closing: nothing to protect.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}
