import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import type { JarvisConfig } from '../config/schema.ts';
import { ModelManagerError } from './errors.ts';
import { readJson, writeJsonAtomic } from './json-file.ts';
import type { ModelStore } from './store.ts';
import { SELECTABLE_KINDS, type ModelEntry, type SelectableKind } from './types.ts';

/**
 * Which LLM, Whisper model and voice JARVIS uses, as chosen with `jarvis models use`, the HUD or a voice request.
 * The choice lives in a small file in the data folder (`active-models.json`), so the CLI can change it while the
 * daemon runs: the daemon watches the file and swaps the model without a restart. A choice overrides the model
 * paths in the config (llm.model, stt.model, tts.voice); without one, those paths are used.
 */

export type ModelSelection = Partial<Record<SelectableKind, string>>;

export const SELECTION_FILE = 'active-models.json';

export function selectionPath(dataDir: string): string {
  return path.join(dataDir, SELECTION_FILE);
}

export function readSelection(dataDir: string): ModelSelection {
  const raw = readJson<Record<string, unknown>>(selectionPath(dataDir), {});
  const selection: ModelSelection = {};
  for (const kind of SELECTABLE_KINDS) if (typeof raw[kind] === 'string') selection[kind] = raw[kind];
  return selection;
}

/** In-process announcements of a new choice, ahead of the file watcher (the HUD and the CLI in one process). */
export const selectionEvents = new EventEmitter<{ selected: [kind: SelectableKind, id: string] }>();

export function isSelectable(kind: string): kind is SelectableKind {
  return (SELECTABLE_KINDS as readonly string[]).includes(kind);
}

/**
 * Makes `id` the active model of its kind. The model must be installed (downloaded or imported) and be an LLM,
 * a Whisper model or a voice. Returns the entry and the id it replaced.
 */
export async function selectModel(
  store: ModelStore,
  dataDir: string,
  id: string,
  options: { announce?: boolean } = {},
): Promise<{ entry: ModelEntry; kind: SelectableKind; previous: string | undefined }> {
  const entry = store.find(id);
  const kind = entry.kind;
  if (!isSelectable(kind)) {
    throw new ModelManagerError('model-not-selectable', `${entry.id} is a ${kind} model; only an LLM, a Whisper model or a voice can be chosen`,
      kind === 'wake' || kind === 'vad' ? 'The wake word and VAD models ship with JARVIS and are always used.' : 'Pick one of the llm, stt or tts models in `jarvis models list`.');
  }
  const state = store.state(entry);
  if (state !== 'installed') {
    throw new ModelManagerError('model-not-installed', `${entry.id} is not downloaded yet${state === 'partial' ? ' (a download was interrupted)' : ''}`,
      `Run \`jarvis models pull ${entry.id}\` first.`);
  }
  const current = readSelection(dataDir);
  await writeJsonAtomic(selectionPath(dataDir), { ...current, [kind]: entry.id });
  if (options.announce ?? true) selectionEvents.emit('selected', kind, entry.id);
  return { entry, kind, previous: current[kind] };
}

/**
 * Records the models a first run picked for this machine, before they are downloaded, so every command (`doctor`,
 * `ask`, `models list`, the HUD) names the model that will be used and its fix is `jarvis models pull <id>`. A
 * choice already made is kept.
 */
export async function recordPlannedModels(dataDir: string, picks: ModelSelection): Promise<void> {
  const current = readSelection(dataDir);
  const added = Object.fromEntries(Object.entries(picks).filter(([kind]) => !(kind in current)));
  if (Object.keys(added).length === 0) return;
  await writeJsonAtomic(selectionPath(dataDir), { ...current, ...added });
}

/** Forgets the choice for `kind` (the config's path applies again). */
export async function clearSelection(dataDir: string, kind: SelectableKind): Promise<void> {
  const current = readSelection(dataDir);
  if (!(kind in current)) return;
  const { [kind]: _dropped, ...rest } = current;
  await writeJsonAtomic(selectionPath(dataDir), rest);
}

export interface ResolvedModel {
  readonly path: string;
  /** The catalog or imported entry, when the path is one of them. */
  readonly entry: ModelEntry | undefined;
  readonly from: 'selection' | 'config';
}

/**
 * The file each stage should open: the chosen model (installed or still to be downloaded, so that what is missing
 * is named as the model that will be used), else the configured path.
 */
export function resolveModelPaths(config: JarvisConfig, store: ModelStore, selection: ModelSelection): Record<SelectableKind, ResolvedModel> {
  const configured: Record<SelectableKind, string> = { llm: config.llm.model, stt: config.stt.model, tts: config.tts.voice };
  const resolve = (kind: SelectableKind): ResolvedModel => {
    const id = selection[kind];
    if (id) {
      const entry = store.entries().find((e) => e.id === id);
      if (entry && entry.kind === kind) return { path: store.mainPath(entry), entry, from: 'selection' };
    }
    return { path: configured[kind], entry: store.entryForPath(configured[kind]), from: 'config' };
  };
  return { llm: resolve('llm'), stt: resolve('stt'), tts: resolve('tts') };
}

/**
 * Calls `onChange` with the new selection whenever the file changes (written by `jarvis models use` in another
 * process, say). Returns a function that stops watching.
 */
export function watchSelection(dataDir: string, onChange: (selection: ModelSelection) => void): () => void {
  fs.mkdirSync(dataDir, { recursive: true });
  let last = JSON.stringify(readSelection(dataDir));
  let timer: NodeJS.Timeout | undefined;
  const check = () => {
    timer = undefined;
    const next = readSelection(dataDir);
    const text = JSON.stringify(next);
    if (text === last) return;
    last = text;
    onChange(next);
  };
  // The file is replaced by a rename, so the folder is watched, not the file; a short delay folds bursts.
  const watcher = fs.watch(dataDir, (_event, name) => {
    if (name && name !== SELECTION_FILE) return;
    clearTimeout(timer);
    timer = setTimeout(check, 50);
  });
  watcher.on('error', () => undefined);
  // Some file systems (network mounts) send no events: look every few seconds as well.
  const poll = setInterval(check, 3000);
  poll.unref();
  return () => {
    clearTimeout(timer);
    clearInterval(poll);
    watcher.close();
  };
}

/**
 * The config with the chosen models' paths in llm.model, stt.model and tts.voice, so every command (`ask`,
 * `turn`, `doctor`) opens the same files as the daemon.
 */
export function applyModelSelection(config: JarvisConfig, store: ModelStore): JarvisConfig {
  const selection = readSelection(config.dataDir);
  if (Object.keys(selection).length === 0) return config;
  const paths = resolveModelPaths(config, store, selection);
  return { ...config, llm: { ...config.llm, model: paths.llm.path }, stt: { ...config.stt, model: paths.stt.path }, tts: { ...config.tts, voice: paths.tts.path } };
}
