import path from 'node:path';
import type { JarvisConfig } from '../../config/schema.ts';
import type { Assistant } from '../pipeline/assistant.ts';
import { MODEL_PROBLEM, type ModelKind, type ModelView, type ModelsView } from '../protocol/wire.ts';
import type { Problem } from '../protocol/state.ts';
import type { ModelSwitcher } from './commands.ts';

/**
 * The models as the HUD lists them, from the daemon's model manager (core/live-models): the files the stages use
 * now, downloads with their progress, the installed models a controller may switch to, and switching through it.
 */

const KINDS: readonly ModelKind[] = ['stt', 'llm', 'tts'];

/** A stage's model, marked missing or broken when that stage has a problem. */
function stageView(kind: ModelKind, name: string, problems: readonly Problem[]): ModelView {
  const problem = problems.find((p) => p.id === MODEL_PROBLEM[kind]);
  if (!problem) return { kind, name, state: 'ready' };
  return { kind, name, state: /missing|not found|no such|does not exist|download/i.test(problem.message) ? 'missing' : 'error', detail: problem.message };
}

/** What the HUD needs of the model manager (models/live-models.ts LiveModels), by shape. */
export interface ModelManager {
  readonly paths: Readonly<Record<ModelKind, { readonly path: string; readonly entry: { readonly id: string; readonly title: string } | undefined }>>;
  readonly downloads: ReadonlyMap<
    ModelKind,
    {
      entry: { readonly title: string };
      /** What the plan expects to fetch. */
      bytes?: number;
      progress?: { readonly receivedBytes: number; readonly totalBytes: number | undefined; readonly bytesPerSecond?: number };
    }
  >;
  readonly store: {
    entries(): readonly { readonly id: string; readonly kind: string; readonly title: string }[];
    state(entry: never): string;
  };
  select(id: string): Promise<unknown>;
  retryDownloadsNow(): boolean;
  on(event: 'event', listener: (...args: never[]) => void): unknown;
  off(event: 'event', listener: (...args: never[]) => void): unknown;
}

export class ManagedModels implements ModelSwitcher {
  constructor(
    private readonly manager: ModelManager,
    private readonly assistant: Pick<Assistant, 'state'>,
  ) {}

  view(): ModelsView {
    const active = KINDS.map((kind): ModelView => {
      const current = this.manager.paths[kind];
      const download = this.manager.downloads.get(kind);
      if (download) {
        const receivedBytes = download.progress?.receivedBytes ?? 0;
        const totalBytes = download.progress?.totalBytes ?? download.bytes;
        const bytesPerSecond = download.progress?.bytesPerSecond;
        return {
          kind,
          name: download.entry.title,
          state: 'downloading',
          receivedBytes,
          ...(totalBytes ? { totalBytes, progress: receivedBytes / totalBytes } : {}),
          ...(bytesPerSecond ? { bytesPerSecond } : {}),
        };
      }
      return stageView(kind, current.entry?.title ?? path.basename(current.path), this.assistant.state.problems);
    });
    const choices = this.manager.store
      .entries()
      .filter((entry): entry is typeof entry & { kind: ModelKind } => KINDS.includes(entry.kind as ModelKind))
      .filter((entry) => this.manager.store.state(entry as never) === 'installed')
      .map((entry) => ({ id: entry.id, name: entry.title, kind: entry.kind }));
    return { active, choices, switchAvailable: true };
  }

  async switchModel(id: string): Promise<void> {
    await this.manager.select(id);
  }

  retryDownloads(): boolean {
    return this.manager.retryDownloadsNow();
  }

  /** Calls `listener` whenever the manager reports something (a swap, download progress). */
  onChange(listener: () => void): () => void {
    const handler = () => listener();
    this.manager.on('event', handler);
    return () => this.manager.off('event', handler);
  }
}
