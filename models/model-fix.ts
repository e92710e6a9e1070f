import { ModelFileError } from '../base/errors.ts';
import type { ModelStore } from './store.ts';

/**
 * The one command that fixes a model file the catalog knows. The engines' own fixes (voice/, gguf-file.ts) name a
 * URL or a path, since they know no catalog; the daemon and `jarvis doctor` put this in their place, so a problem
 * on the HUD says `jarvis models pull <id>`, not where to save which download.
 */
export function pullFixFor(store: ModelStore, file: string, problem: 'missing' | 'broken' = 'missing'): string | undefined {
  const entry = store.entryOwning(file);
  if (!entry || entry.files.some((f) => f.source.type !== 'huggingface')) return undefined;
  return pullFix(entry.id, problem);
}

/** The text of the fix for catalog model `id`. */
export function pullFix(id: string, problem: 'missing' | 'broken'): string {
  return problem === 'missing'
    ? `Run \`jarvis models pull ${id}\`.`
    : `Download it again: \`jarvis models rm --force ${id} && jarvis models pull ${id} && jarvis models use ${id}\`.`;
}

/** pullFixFor() for a model file error: missing, or broken (corrupt or not the format its engine reads). */
export function modelFileFix(store: ModelStore, error: unknown): string | undefined {
  if (!(error instanceof ModelFileError) || error.code === 'model-load-failed') return undefined;
  return pullFixFor(store, error.path, error.code === 'model-missing' ? 'missing' : 'broken');
}
