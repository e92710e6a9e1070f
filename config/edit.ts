import fs from 'node:fs';
import path from 'node:path';
import { parseConfig, readConfigFile } from './load.ts';

type Tree = Record<string, unknown>;

/**
 * Changes a JSON config file the way a person would (commands such as `jarvis home connect` write their settings
 * here): the rest of the file is kept as it was, the result must pass validation before anything is written, and
 * the file is replaced in one rename, owner-only, since it may now hold an access token.
 */
export function updateConfigFile(file: string, change: (tree: Tree) => void): void {
  const tree: Tree = fs.existsSync(file) ? readConfigFile(file) : {};
  change(tree);
  parseConfig(tree, file);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, `${JSON.stringify(tree, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(temporary, file);
}
