import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { z } from 'zod';
import { ConfigError } from '../base/errors.ts';
import { configSchema, type JarvisConfig } from './schema.ts';

/**
 * Settings come from, lowest first: the schema's defaults, a JSON config file, JARVIS_* environment variables,
 * then overrides from the command line. Environment names map to keys by "__" between levels and "_" inside a
 * name: JARVIS_LLM__CONTEXT_SIZE=2048 sets llm.contextSize. Values are read as JSON when they parse, else as
 * strings. The merged result is validated once; every wrong value is reported with its key and what is allowed.
 */

export const defaultConfigPath = path.join(
  process.env.XDG_CONFIG_HOME ?? path.join(os.homedir(), '.config'),
  'jarvis',
  'config.json',
);

type Tree = Record<string, unknown>;

export interface LoadConfigOptions {
  /** Explicit file; an explicit file that does not exist is an error, the default one may be absent. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  overrides?: Tree;
}

export function loadConfig(options: LoadConfigOptions = {}): JarvisConfig {
  const env = options.env ?? process.env;
  const explicitFile = options.file ?? env.JARVIS_CONFIG;
  const file = explicitFile ?? defaultConfigPath;
  const sources: string[] = ['defaults'];
  let merged: Tree = {};

  if (fs.existsSync(file)) {
    merged = deepMerge(merged, readConfigFile(file));
    sources.push(file);
  } else if (explicitFile) {
    throw new ConfigError([{ key: '(file)', value: file, allowed: 'an existing JSON config file' }], file);
  }
  const fromEnv = configFromEnv(env);
  if (Object.keys(fromEnv).length > 0) sources.push('environment');
  merged = deepMerge(merged, fromEnv);
  if (options.overrides) merged = deepMerge(merged, options.overrides);

  return expandPaths(parseConfig(merged, sources.join(' + ')));
}

export function parseConfig(input: unknown, source = 'config'): JarvisConfig {
  const result = configSchema.safeParse(input);
  if (!result.success) throw new ConfigError(result.error.issues.map((i) => describeIssue(i, input)), source);
  return result.data;
}

function describeIssue(issue: z.core.$ZodIssue, input: unknown) {
  const keyPath = issue.path.map(String);
  let allowed = issue.message;
  if (issue.code === 'unrecognized_keys') {
    const parent = keyPath.join('.');
    return {
      key: issue.keys.map((k) => (parent ? `${parent}.${k}` : k)).join(', '),
      value: undefined,
      allowed: `unknown setting; the settings here are: ${knownKeys(keyPath).join(', ')}`,
    };
  }
  if (issue.code === 'invalid_value') allowed = `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  return { key: keyPath.join('.') || '(root)', value: valueAt(input, keyPath), allowed };
}

function knownKeys(keyPath: string[]): string[] {
  let schema: z.ZodType = configSchema;
  for (const key of keyPath) {
    const shape = objectShape(schema);
    const next = shape?.[key];
    if (!next) return [];
    schema = next;
  }
  return Object.keys(objectShape(schema) ?? {});
}

function objectShape(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  // Unwrap defaults/prefaults/optionals down to the object that holds the keys.
  let current: z.ZodType = schema;
  for (let i = 0; i < 5; i++) {
    const def = current.def as { shape?: Record<string, z.ZodType>; innerType?: z.ZodType };
    if (def.shape) return def.shape;
    if (!def.innerType) return undefined;
    current = def.innerType;
  }
  return undefined;
}

function valueAt(input: unknown, keyPath: string[]): unknown {
  let value: unknown = input;
  for (const key of keyPath) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Tree)[key];
  }
  return value;
}

export function readConfigFile(file: string): Tree {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError([{ key: '(file)', value: file, allowed: `a readable file (${(error as Error).message})` }], file);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
  } catch (error) {
    throw new ConfigError([{ key: '(file)', value: file, allowed: `a JSON object (${(error as Error).message})` }], file);
  }
  const reserved = reservedKeyIn(parsed);
  if (reserved) throw new ConfigError([{ key: reserved.join('.'), value: undefined, allowed: reservedMessage(reserved.at(-1)!) }], file);
  return parsed as Tree;
}

/**
 * The names of Object.prototype's own machinery. As a setting name they can only be an attempt to reach it through
 * the merge (JARVIS_CONSTRUCTOR__PROTOTYPE__X=1 would give every object in the process an X), so they are refused.
 */
const RESERVED_KEYS = new Set(['__proto__', 'prototype', 'constructor']);

const reservedMessage = (key: string) => `"${key}" is not a setting name, and is refused so as not to reach Object.prototype`;

/** The path to the first reserved key in a JSON value (JSON.parse keeps "__proto__" as an own key), if any. */
function reservedKeyIn(value: unknown, keyPath: string[] = []): string[] | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  for (const [key, child] of Object.entries(value)) {
    if (RESERVED_KEYS.has(key)) return [...keyPath, key];
    const found = reservedKeyIn(child, [...keyPath, key]);
    if (found) return found;
  }
  return undefined;
}

export function configFromEnv(env: NodeJS.ProcessEnv): Tree {
  const tree: Tree = {};
  const problems: { key: string; value: unknown; allowed: string }[] = [];
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('JARVIS_') || name === 'JARVIS_CONFIG' || raw === undefined) continue;
    const keys = name
      .slice('JARVIS_'.length)
      .split('__')
      .map((part) => part.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()));
    const value = parseEnvValue(raw);
    const reserved = keys.find((key) => RESERVED_KEYS.has(key)) ?? reservedKeyIn(value)?.at(-1);
    if (reserved !== undefined) {
      problems.push({ key: name, value: raw, allowed: reservedMessage(reserved) });
      continue;
    }
    let node = tree;
    for (const key of keys.slice(0, -1)) {
      // Own keys only: a name such as TO_STRING then makes a plain (unknown) setting instead of walking into the
      // function every object inherits. The reserved names never get here, so no assignment reaches a prototype.
      if (!Object.hasOwn(node, key)) node[key] = {};
      node = node[key] as Tree;
    }
    node[keys[keys.length - 1]!] = value;
  }
  if (problems.length > 0) throw new ConfigError(problems, 'environment');
  return tree;
}

function parseEnvValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

function deepMerge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [key, value] of Object.entries(over)) {
    // Own keys only: an inherited member (toString, constructor) is not a setting to merge into.
    const current = Object.hasOwn(out, key) ? out[key] : undefined;
    out[key] =
      isPlainObject(current) && isPlainObject(value) ? deepMerge(current, value) : value;
  }
  return out;
}

function isPlainObject(value: unknown): value is Tree {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Resolves "~/" and "$models/" in every path-valued setting. */
function expandPaths(config: JarvisConfig): JarvisConfig {
  const dataDir = expandHome(config.dataDir);
  const modelsDir = config.models.dir ? expandHome(config.models.dir) : path.join(dataDir, 'models');
  const expand = (p: string) => expandHome(p.replace(/^\$models(?=\/|$)/, modelsDir));
  const optional = (p: string | undefined) => (p === undefined ? undefined : expand(p));
  return {
    ...config,
    dataDir,
    wake: {
      ...config.wake,
      model: optional(config.wake.model),
      porcupine: { ...config.wake.porcupine, keywordPath: optional(config.wake.porcupine.keywordPath) },
    },
    vad: { ...config.vad, model: optional(config.vad.model) },
    stt: { ...config.stt, model: expand(config.stt.model) },
    llm: {
      ...config.llm,
      model: expand(config.llm.model),
      roles: {
        ...config.llm.roles,
        ...(config.llm.roles.code ? { code: { ...config.llm.roles.code, model: optional(config.llm.roles.code.model) } } : {}),
        ...(config.llm.roles.vision
          ? { vision: { ...config.llm.roles.vision, model: optional(config.llm.roles.vision.model), projector: optional(config.llm.roles.vision.projector) } }
          : {}),
      },
    },
    tts: { ...config.tts, voice: expand(config.tts.voice) },
    knowledge: { ...config.knowledge, model: expand(config.knowledge.model), folders: config.knowledge.folders.map(expand) },
    models: { ...config.models, dir: modelsDir },
  };
}

function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p;
}

export function modelsDir(config: JarvisConfig): string {
  return config.models.dir ?? path.join(config.dataDir, 'models');
}
