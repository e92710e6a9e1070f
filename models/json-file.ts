import fs from 'node:fs';
import path from 'node:path';

/** Small JSON state files that a crash must never leave half-written: written to a temporary name, then renamed. */

let counter = 0;

export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.${++counter}.tmp`;
  await fs.promises.writeFile(temporary, `${JSON.stringify(value, null, 2)}\n`);
  await fs.promises.rename(temporary, file);
}

/** The parsed file, or `fallback` when it does not exist or is not valid JSON. */
export function readJson<T>(file: string, fallback: T): T {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return fallback;
  }
}
