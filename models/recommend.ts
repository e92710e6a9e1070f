import { chooseBest, estimateFit, quantizationRetention, readGgufForFit, readShapeForFit, type BestChoice, type FitEstimate, type FitOptions, type MachineResources } from './fit.ts';
import type { ModelStore } from './store.ts';
import type { ModelEntry } from './types.ts';

/**
 * Fits every LLM the store knows to this machine (from the downloaded file's header when it is there, from the
 * catalog's shape otherwise) and picks the best one for a voice assistant: a general chat model, not a code
 * specialist.
 */

export interface LlmFitRow {
  readonly entry: ModelEntry;
  readonly fit: FitEstimate | undefined;
  /** Why there is no estimate (an unreadable imported file). */
  readonly error?: string;
  readonly quality: number;
}

export interface CatalogFit {
  readonly rows: readonly LlmFitRow[];
  readonly best: BestChoice<ModelEntry>;
}

/** A general assistant model: code-only models are listed but not chosen by default. */
export function isGeneralChatModel(entry: ModelEntry): boolean {
  return entry.kind === 'llm' && entry.capabilities.includes('chat') && !(entry.capabilities.includes('code') && !entry.capabilities.includes('tools'));
}

export async function fitLlms(store: ModelStore, machine: MachineResources, options: FitOptions): Promise<CatalogFit> {
  const llms = store.entries().filter((e) => e.kind === 'llm');
  const rows: LlmFitRow[] = [];
  for (const entry of llms) {
    const quality = (entry.llm?.parametersB ?? 0) * quantizationRetention(entry.llm?.quantization);
    try {
      const info =
        store.state(entry) === 'installed' || !entry.llm?.shape
          ? await readGgufForFit(store.mainPath(entry))
          : await readShapeForFit(entry.llm.shape, entry.llm.quantization);
      rows.push({ entry, fit: await estimateFit(info, machine, options), quality });
    } catch (error) {
      rows.push({ entry, fit: undefined, error: (error as Error).message, quality });
    }
  }
  const candidates = rows.filter((r) => r.fit && isGeneralChatModel(r.entry)).map((r) => ({ item: r.entry, fit: r.fit!, quality: r.quality }));
  return { rows, best: chooseBest(candidates, machine) };
}
