import fs from 'node:fs';
import path from 'node:path';
import { configSchema, type JarvisConfig } from '../config/schema.ts';
import { catalogEntryForFile } from './catalog.ts';
import type { ModelSelection, ResolvedModel } from './selection.ts';
import type { ModelStore } from './store.ts';
import type { ModelEntry, SelectableKind } from './types.ts';

/**
 * What a first run must download: for each stage whose model file is missing, the model to fetch. The LLM is the
 * best fit for this machine unless the user named a model (a selection, or an llm.model that is a catalog file);
 * the Whisper model and the voice are the configured ones when the catalog has them. A configured path outside
 * the models folder is the user's own file: it is reported, never replaced by a download.
 */

export interface PlannedDownload {
  readonly kind: SelectableKind;
  readonly entry: ModelEntry;
  readonly bytes: number;
  readonly why: string;
}

export interface SkippedStage {
  readonly kind: SelectableKind;
  readonly path: string;
  readonly why: string;
}

export interface FirstRunPlan {
  readonly downloads: readonly PlannedDownload[];
  readonly skipped: readonly SkippedStage[];
  readonly totalBytes: number;
}

/** The schema's default paths, so a default llm.model (not chosen by the user) can be replaced by the best fit. */
const DEFAULT_PATHS: Record<SelectableKind, string> = (() => {
  const defaults = configSchema.parse({});
  return { llm: defaults.llm.model, stt: defaults.stt.model, tts: defaults.tts.voice };
})();

export function isDefaultModelPath(kind: SelectableKind, configured: string, modelsDir: string): boolean {
  return path.resolve(configured) === path.resolve(DEFAULT_PATHS[kind].replace(/^\$models/, modelsDir));
}

export async function planFirstRun(options: {
  readonly config: JarvisConfig;
  readonly store: ModelStore;
  readonly selection: ModelSelection;
  readonly resolved: Record<SelectableKind, ResolvedModel>;
  /** The best LLM for this machine, asked only when one is needed. */
  readonly bestLlm: () => Promise<{ entry: ModelEntry; reason: string } | undefined>;
}): Promise<FirstRunPlan> {
  const { config, store, selection, resolved } = options;
  const downloads: PlannedDownload[] = [];
  const skipped: SkippedStage[] = [];
  const plan = (kind: SelectableKind, entry: ModelEntry, why: string) => downloads.push({ kind, entry, bytes: store.missingBytes(entry), why });
  for (const kind of ['stt', 'tts', 'llm'] as const) {
    if (kind === 'tts' && config.tts.engine !== 'piper') continue;
    // A speech-to-text server (stt.engine "openai") transcribes: no Whisper to fetch.
    if (kind === 'stt' && config.stt.engine === 'openai') continue;
    // Another server answers (llm.backend "openai") and nothing falls back to a local model: no local LLM to fetch.
    if (kind === 'llm' && config.llm.backend === 'openai' && config.llm.fallback === 'none') continue;
    const current = resolved[kind];
    if (fileReady(kind, current.path)) continue;
    const chosen = selection[kind] ? store.entries().find((e) => e.id === selection[kind]) : undefined;
    if (chosen && chosen.kind === kind && store.state(chosen) !== 'installed') {
      plan(kind, chosen, 'chosen with `jarvis models use`');
      continue;
    }
    const inModelsDir = path.resolve(path.dirname(current.path)) === path.resolve(store.dir);
    if (!inModelsDir) {
      skipped.push({ kind, path: current.path, why: 'configured outside the models folder: JARVIS does not download over your own files' });
      continue;
    }
    if (kind === 'llm' && isDefaultModelPath('llm', current.path, store.dir)) {
      const best = await options.bestLlm();
      if (best) plan('llm', best.entry, `best fit for this machine: ${best.reason}`);
      else skipped.push({ kind, path: current.path, why: 'no catalog LLM fits this machine' });
      continue;
    }
    const entry = current.entry ?? catalogEntryForFile(path.basename(current.path));
    if (entry && entry.kind === kind) plan(kind, entry, 'the configured model');
    else skipped.push({ kind, path: current.path, why: 'not a file the catalog knows' });
  }
  return { downloads, skipped, totalBytes: downloads.reduce((sum, d) => sum + d.bytes, 0) };
}

/** The planned downloads that replace what a stage opens now (the LLM picked for this machine), as a selection. */
export function plannedSelection(plan: FirstRunPlan, resolved: Record<SelectableKind, ResolvedModel>, store: ModelStore): ModelSelection {
  const picks: ModelSelection = {};
  for (const item of plan.downloads) if (store.mainPath(item.entry) !== resolved[item.kind].path) picks[item.kind] = item.entry.id;
  return picks;
}

function fileReady(kind: SelectableKind, file: string): boolean {
  if (!fs.existsSync(file)) return false;
  return kind !== 'tts' || fs.existsSync(`${file}.json`);
}
