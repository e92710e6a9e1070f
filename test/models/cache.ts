import fs from 'node:fs';
import path from 'node:path';

/** Where the test-made models live between test runs. */
export const TEST_MODELS_DIR = path.resolve(import.meta.dirname, '..', '..', '.cache', 'test-models');

let temporaries = 0;

/**
 * Writes `bytes` to `file` through a temporary name and a rename, so that a concurrent or interrupted test run
 * never sees half a file.
 */
export async function writeAtomic(file: string, bytes: Uint8Array | string): Promise<void> {
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.${++temporaries}.tmp`;
  await fs.promises.writeFile(temporary, bytes);
  await fs.promises.rename(temporary, file);
}

/** `file` (a path under TEST_MODELS_DIR), written from `build()` the first time it is asked for. */
export async function cachedModel(file: string, build: () => Uint8Array | string): Promise<string> {
  if (!fs.existsSync(file)) await writeAtomic(file, build());
  return file;
}
