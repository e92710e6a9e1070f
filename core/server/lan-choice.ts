import path from 'node:path';
import type { JarvisConfig } from '../../config/schema.ts';
import { readJson, writeJsonAtomic } from '../../models/json-file.ts';

/**
 * `jarvis start --lan` (or `--no-lan`), remembered in the data folder so that the next plain `jarvis start`, and
 * `jarvis devices pair`, keep it: letting phones in is one step, not an edit of the config file. The choice
 * overrides `server.lan` from the config, as a model chosen with `jarvis models use` overrides its path.
 */

const lanFile = (dataDir: string) => path.join(dataDir, 'lan.json');

export function rememberedLan(dataDir: string): boolean | undefined {
  const { lan } = readJson<{ lan?: unknown }>(lanFile(dataDir), {});
  return typeof lan === 'boolean' ? lan : undefined;
}

export function rememberLan(dataDir: string, lan: boolean): Promise<void> {
  return writeJsonAtomic(lanFile(dataDir), { lan });
}

/** The config with the remembered choice in server.lan. */
export function withRememberedLan(config: JarvisConfig): JarvisConfig {
  const lan = rememberedLan(config.dataDir);
  return lan === undefined || lan === config.server.lan ? config : { ...config, server: { ...config.server, lan } };
}
