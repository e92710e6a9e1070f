import fs from 'node:fs';
import path from 'node:path';
import type { JarvisConfig } from '../../config/schema.ts';

/**
 * `jarvis start --lan` (or `--no-lan`), remembered in the data folder so that the next plain `jarvis start`, and
 * `jarvis devices pair`, keep it: letting phones in is one step, not an edit of the config file. The choice
 * overrides `server.lan` from the config, as a model chosen with `jarvis models use` overrides its path.
 */

const FILE = 'lan.json';

export function rememberedLan(dataDir: string): boolean | undefined {
  try {
    const { lan } = JSON.parse(fs.readFileSync(path.join(dataDir, FILE), 'utf8')) as { lan?: unknown };
    return typeof lan === 'boolean' ? lan : undefined;
  } catch {
    return undefined;
  }
}

export function rememberLan(dataDir: string, lan: boolean): void {
  fs.mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, FILE);
  fs.writeFileSync(`${file}.tmp`, `${JSON.stringify({ lan })}\n`);
  fs.renameSync(`${file}.tmp`, file);
}

/** The config with the remembered choice in server.lan. */
export function withRememberedLan(config: JarvisConfig): JarvisConfig {
  const lan = rememberedLan(config.dataDir);
  return lan === undefined || lan === config.server.lan ? config : { ...config, server: { ...config.server, lan } };
}
