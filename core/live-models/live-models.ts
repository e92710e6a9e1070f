import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { JarvisConfig } from '../../config/schema.ts';
import { describeError } from '../../base/errors.ts';
import { LlamaResponder } from '../llm/llama-responder.ts';
import type { Logger } from '../../base/log.ts';
import { SKILL_TOOLS } from '../skills/skill-tools.ts';
import type { Problem } from '../protocol/state.ts';
import type { ToolDefinition } from '../responder.ts';
import { MODEL_PROBLEM } from '../protocol/wire.ts';
import type { Synthesizer, Transcriber } from '../../voice/ports.ts';
import { createTranscriber } from '../../voice/stt/select.ts';
import { createSynthesizer } from '../../voice/tts/select.ts';
import { estimateResidentBytes } from '../../models/fit.ts';
import { plannedSelection, planFirstRun, type FirstRunPlan, type PlannedDownload } from '../../models/first-run.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatBytes } from '../../base/format.ts';
import { probeMachine } from '../../models/machine.ts';
import { ModelPool, type PoolEvent, type PoolModel } from './pool.ts';
import { PooledResponder } from './pooled-responder.ts';
import { PooledRoleResponder } from './role-model.ts';
import { fitLlms } from '../../models/recommend.ts';
import {
  applyModelSelection,
  readSelection,
  recordPlannedModels,
  resolveModelPaths,
  selectionEvents,
  selectModel,
  watchSelection,
  type ModelSelection,
  type ResolvedModel,
} from '../../models/selection.ts';
import { ModelStore, type PullProgress } from '../../models/store.ts';
import { SwappableSynthesizer, SwappableTranscriber } from './swappable.ts';
import { SELECTABLE_KINDS, type ModelEntry, type SelectableKind } from '../../models/types.ts';

/**
 * The model manager inside the running daemon: it decides which files the stages open (the selection, else the
 * config), swaps the LLM, the Whisper model or the voice when the selection changes (from `jarvis models use` in
 * another process, the HUD through `select()`, or a spoken "use the big model"), keeps LLMs in a VRAM-budgeted
 * pool, and on a first run downloads the missing models while the daemon already listens.
 *
 * Everything it does is an event (`on('event')`) for the log and the HUD; problems it finds or solves are events
 * too, which the daemon turns into the assistant's state.
 */

export type LiveModelEvent =
  | { readonly type: 'pool'; readonly event: PoolEvent }
  | { readonly type: 'switched'; readonly kind: SelectableKind; readonly id: string | undefined; readonly path: string; readonly ms: number }
  | { readonly type: 'switch-failed'; readonly kind: SelectableKind; readonly id: string | undefined; readonly path: string; readonly error: Error }
  | { readonly type: 'download-plan'; readonly plan: FirstRunPlan }
  | { readonly type: 'download-progress'; readonly kind: SelectableKind; readonly progress: PullProgress }
  | { readonly type: 'download-done'; readonly kind: SelectableKind; readonly id: string; readonly ms: number }
  | { readonly type: 'download-failed'; readonly kind: SelectableKind; readonly id: string; readonly error: Error }
  | { readonly type: 'problem'; readonly problem: Problem }
  | { readonly type: 'problem-cleared'; readonly id: string };

/** The problem a model that loaded degraded is reported as (the CPU answering for a crashed GPU backend, say). */
const LOAD_WARNING = 'llm-gpu-fallback';

/** A planned download: the model, the bytes the plan expects, and its progress once it has started. */
interface ActiveDownload {
  readonly entry: ModelEntry;
  readonly bytes: number;
  readonly progress?: PullProgress;
}
const SPOKEN_KIND: Record<SelectableKind, string> = { llm: 'language model', stt: 'speech recognition model', tts: 'voice' };

export class LiveModels extends EventEmitter<{ event: [LiveModelEvent] }> {
  readonly store: ModelStore;
  readonly pool: ModelPool;
  readonly responder: PooledResponder;
  readonly #config: JarvisConfig;
  readonly #log: Logger;
  #paths: Record<SelectableKind, ResolvedModel>;
  #transcriber: SwappableTranscriber | undefined;
  #synthesizer: SwappableSynthesizer | undefined;
  readonly #downloads = new Map<SelectableKind, ActiveDownload>();
  readonly #downloadAbort = new AbortController();
  #wakeRetry: (() => void) | undefined;
  #budgetKnown: boolean;
  #onGpu = false;
  #stopWatching: (() => void) | undefined;
  /** Swaps run one at a time, in the order asked. */
  #swaps: Promise<unknown> = Promise.resolve();
  /** The file each stage last failed to switch to: not retried on every file event, only when asked again. */
  readonly #failed = new Map<SelectableKind, string>();
  /** The skills' functions, when the LLM may call them (skills.tools). */
  readonly #skillTools: readonly ToolDefinition[];
  /** What every model loads evaluated with its system prompt (see offerTools()). */
  #preloadTools: readonly ToolDefinition[];

  constructor(config: JarvisConfig, log: Logger, store = ModelStore.fromConfig(config)) {
    super();
    this.#config = config;
    this.#skillTools = config.skills.enabled && config.skills.tools ? SKILL_TOOLS : [];
    this.#preloadTools = this.#skillTools;
    this.#log = log;
    this.store = store;
    this.#paths = resolveModelPaths(config, store, readSelection(config.dataDir));
    const headroomBytes = config.models.vramHeadroomMb * 1024 * 1024;
    const configuredBudget = config.models.poolBudgetMb !== undefined ? config.models.poolBudgetMb * 1024 * 1024 : undefined;
    this.#budgetKnown = configuredBudget !== undefined;
    this.pool = new ModelPool({
      // Until the first load says which device runs the models, one model at a time is all that is assumed.
      budgetBytes: configuredBudget ?? Number.MAX_SAFE_INTEGER,
      idleUnloadMs: config.models.idleUnloadMinutes * 60_000,
      // Estimated from the file on the device the last load ran on (the CPU until a load says otherwise).
      estimateCost: (model) => estimateResidentBytes(model.path, this.#onGpu, config.llm.contextSize),
      createResponder: (model) =>
        new LlamaResponder(
          { ...config.llm, model: model.path, ...(model.systemPrompt ? { systemPrompt: model.systemPrompt } : {}) },
          {
            ...(config.llm.threads ? { threads: config.llm.threads } : {}),
            vramPaddingBytes: headroomBytes,
            // The functions offered with every question (the skills', core/skills/skills-runtime.ts, and the MCP servers').
            ...(this.#preloadTools.length > 0 ? { preloadTools: this.#preloadTools } : {}),
          },
        ),
    });
    this.pool.on('event', (event) => this.#onPoolEvent(event, headroomBytes));
    this.responder = new PooledResponder(this.pool, poolModel(this.#paths.llm, 0), { pendingMessage: () => this.#pendingMessage() });
  }

  /**
   * Function definitions the LLM gets with every question besides the skills' (an MCP server's tools; the skills'
   * come first, as the answer chain offers them): the loaded model evaluates the new list now, between questions,
   * and every model loaded later at its load, so no question pays for a changed tool list.
   */
  async offerTools(extra: readonly ToolDefinition[]): Promise<void> {
    this.#preloadTools = [...this.#skillTools, ...extra];
    await this.pool.activeResponder?.preloadTools(this.#preloadTools);
  }

  /**
   * The local model of a role (llm.roles.code, backend "local"): a second worker in this pool, loaded on the role's
   * first request and unloaded before the chat model when memory runs short (core/live-models/role-model.ts).
   */
  roleModel(role: 'code', file: string, systemPrompt: string): PooledRoleResponder {
    // Its cost is estimated by the pool when it loads, on the device known by then.
    return new PooledRoleResponder(this.pool, { key: `${role}:${path.basename(file, '.gguf')}`, path: file, costBytes: 0, systemPrompt }, `llm.roles.${role}.model`);
  }

  /** The config with the paths the stages must open now (the selection applied). */
  get effectiveConfig(): JarvisConfig {
    return applyModelSelection(this.#config, this.store);
  }

  get paths(): Readonly<Record<SelectableKind, ResolvedModel>> {
    return this.#paths;
  }

  /** Downloads in progress (first run), by stage. */
  get downloads(): ReadonlyMap<SelectableKind, ActiveDownload> {
    return this.#downloads;
  }

  /** Wraps the Whisper engine so it can be replaced while running. */
  wrapTranscriber(transcriber: Transcriber): SwappableTranscriber {
    this.#transcriber = new SwappableTranscriber(transcriber);
    return this.#transcriber;
  }

  wrapSynthesizer(synthesizer: Synthesizer): SwappableSynthesizer {
    this.#synthesizer = new SwappableSynthesizer(synthesizer);
    return this.#synthesizer;
  }

  /** Applies every later change of the selection file (another process) or of select() (this process). */
  watch(): void {
    if (this.#stopWatching) return;
    const stopFile = watchSelection(this.#config.dataDir, (selection) => void this.apply(selection));
    const onSelected = () => void this.apply(readSelection(this.#config.dataDir));
    selectionEvents.on('selected', onSelected);
    this.#stopWatching = () => {
      stopFile();
      selectionEvents.off('selected', onSelected);
    };
  }

  /**
   * Makes `id` the active model of its kind and swaps it in now; for the HUD's "switch model" command and spoken
   * requests. Resolves once the new model is loaded (or rejects, leaving the old one in use).
   */
  async select(id: string): Promise<{ entry: ModelEntry; kind: SelectableKind; ms: number }> {
    const started = performance.now();
    const { entry, kind } = await selectModel(this.store, this.#config.dataDir, id, { announce: false });
    await this.apply(readSelection(this.#config.dataDir), { throwOnFailure: true, force: [kind] });
    return { entry, kind, ms: performance.now() - started };
  }

  /** Swaps every stage whose file differs from what it uses now. */
  apply(selection: ModelSelection, options: { throwOnFailure?: boolean; force?: readonly SelectableKind[] } = {}): Promise<void> {
    const run = this.#swaps.then(async () => {
      const next = resolveModelPaths(this.#config, this.store, selection);
      for (const kind of SELECTABLE_KINDS) {
        const forced = options.force?.includes(kind) ?? false;
        if (!forced && (next[kind].path === this.#paths[kind].path || next[kind].path === this.#failed.get(kind))) continue;
        await this.#swap(kind, next[kind], options.throwOnFailure ?? false);
      }
    });
    this.#swaps = run.catch(() => undefined);
    return run;
  }

  async #swap(kind: SelectableKind, target: ResolvedModel, throwOnFailure: boolean): Promise<void> {
    const started = performance.now();
    const id = target.entry?.id;
    try {
      if (kind === 'llm') {
        await this.responder.use(await this.#poolModel(target));
      } else if (kind === 'stt') {
        await this.#transcriber?.swap(createTranscriber({ ...this.#config.stt, model: target.path }, this.#log));
      } else {
        const choice = createSynthesizer({ ...this.#config.tts, voice: target.path }, this.#log);
        if (choice.engine !== 'piper') throw new Error(choice.reason);
        await this.#synthesizer?.swap(choice.synthesizer);
      }
      this.#paths = { ...this.#paths, [kind]: target };
      this.#failed.delete(kind);
      const ms = performance.now() - started;
      this.#log.info({ kind, model: id ?? target.path, ms: Math.round(ms) }, `now using ${id ?? target.path} for the ${SPOKEN_KIND[kind]}`);
      this.emit('event', { type: 'switched', kind, id, path: target.path, ms });
      this.emit('event', { type: 'problem-cleared', id: MODEL_PROBLEM[kind] });
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      this.#failed.set(kind, target.path);
      this.#log.warn({ kind, model: id ?? target.path, err: describeError(error) }, `could not switch the ${SPOKEN_KIND[kind]}; keeping the current one`);
      this.emit('event', { type: 'switch-failed', kind, id, path: target.path, error: failure });
      if (throwOnFailure) throw failure;
    }
  }

  async #poolModel(target: ResolvedModel): Promise<PoolModel> {
    return poolModel(target, await estimateResidentBytes(target.path, this.#onGpu, this.#config.llm.contextSize));
  }

  #onPoolEvent(event: PoolEvent, headroomBytes: number): void {
    this.emit('event', { type: 'pool', event });
    if (event.type === 'loaded') {
      // Whichever model loads (at start, on a switch, on a first question): a degraded load is the user's to know.
      if (event.warning) this.emit('event', { type: 'problem', problem: { id: LOAD_WARNING, ...event.warning, blocking: false } });
      else this.emit('event', { type: 'problem-cleared', id: LOAD_WARNING });
      this.#onGpu = event.device !== 'cpu';
      if (!this.#budgetKnown) {
        this.#budgetKnown = true;
        this.pool.budgetBytes = this.#onGpu ? Math.max(0, event.vramTotalBytes - headroomBytes) : Math.floor(os.totalmem() / 2);
      }
      this.#log.info(
        {
          model: event.key,
          ms: Math.round(event.ms),
          device: event.device,
          layersOnGpu: `${event.gpuLayers}/${event.totalLayers}`,
          vramMb: [mb(event.vram.beforeBytes), mb(event.vram.afterBytes)],
          poolMb: [mb(event.pool.beforeBytes), mb(event.pool.afterBytes)],
          budgetMb: mb(this.pool.budgetBytes),
          evicted: event.evicted,
        },
        `LLM ${event.key} loaded in ${Math.round(event.ms)} ms`,
      );
    } else if (event.type === 'unloaded') {
      this.#log.info({ model: event.key, reason: event.reason, ms: Math.round(event.ms), poolMb: [mb(event.pool.beforeBytes), mb(event.pool.afterBytes)] }, `LLM ${event.key} unloaded (${event.reason})`);
    }
  }

  #pendingMessage(): string | undefined {
    const download = this.#downloads.get('llm');
    if (!download || fs.existsSync(this.#paths.llm.path)) return undefined;
    const progress = download.progress;
    const done = progress?.totalBytes ? Math.floor((progress.receivedBytes / progress.totalBytes) * 100) : undefined;
    return (
      `I am still downloading my language model${done !== undefined ? `: ${done} percent of ${formatBytes(progress!.totalBytes!, { style: 'spoken' })}` : ''}. ` +
      'Please ask me again in a few minutes.'
    );
  }

  /** First run: what is missing, and what to download for it (the LLM by fit to this machine). */
  async planDownloads(): Promise<FirstRunPlan> {
    const selection = readSelection(this.#config.dataDir);
    const plan = await planFirstRun({
      config: this.#config,
      store: this.store,
      selection,
      resolved: this.#paths,
      bestLlm: async () => {
        const { machine, note } = await probeMachine();
        if (note) this.#log.warn(note);
        const { best } = await fitLlms(this.store, machine, { contextSize: this.#config.llm.contextSize, headroomBytes: this.#config.models.vramHeadroomMb * 1024 * 1024 });
        return best.choice ? { entry: best.choice.item, reason: best.reason } : undefined;
      },
    });
    // From now on the picks are the models, named as such everywhere (and in what is missing) until they arrive.
    await recordPlannedModels(this.#config.dataDir, plannedSelection(plan, this.#paths, this.store));
    this.#adoptPlanned();
    this.emit('event', { type: 'download-plan', plan });
    return plan;
  }

  /** A stage whose file is missing takes the planned model's path now, unloaded: it is what will be used. */
  #adoptPlanned(): void {
    const next = resolveModelPaths(this.#config, this.store, readSelection(this.#config.dataDir));
    for (const kind of SELECTABLE_KINDS) {
      if (next[kind].path === this.#paths[kind].path || fs.existsSync(this.#paths[kind].path)) continue;
      this.#paths = { ...this.#paths, [kind]: next[kind] };
      if (kind === 'llm') this.responder.want(poolModel(next.llm, 0));
    }
  }

  /**
   * Fetches what the plan lists (smallest first, so hearing works soonest) and swaps each model in as it arrives.
   * A failure is a problem with its fix; the other downloads go on. Returns those that failed.
   */
  async download(plan: FirstRunPlan): Promise<PlannedDownload[]> {
    const failed: PlannedDownload[] = [];
    if (plan.downloads.length === 0) return failed;
    this.emit('event', {
      type: 'problem',
      problem: {
        id: 'models-downloading',
        message: `downloading ${plan.downloads.map((d) => d.entry.id).join(', ')} (${formatBytes(plan.totalBytes)})`,
        fix: 'Wait for the download to finish; progress is in the log and on the HUD. Interrupted downloads continue where they stopped.',
        blocking: false,
      },
    });
    for (const item of plan.downloads) this.#downloads.set(item.kind, { entry: item.entry, bytes: item.bytes });
    for (const item of plan.downloads) {
      const started = performance.now();
      try {
        await this.store.pull(item.entry, {
          signal: this.#downloadAbort.signal,
          onProgress: (progress) => {
            this.#downloads.set(item.kind, { entry: item.entry, bytes: item.bytes, progress });
            this.emit('event', { type: 'download-progress', kind: item.kind, progress });
          },
        });
        this.emit('event', { type: 'download-done', kind: item.kind, id: item.entry.id, ms: performance.now() - started });
        this.emit('event', { type: 'problem-cleared', id: `download-${item.kind}` });
        await this.#useDownloaded(item.kind, item.entry);
      } catch (error) {
        failed.push(item);
        const failure = error instanceof Error ? error : new Error(String(error));
        this.emit('event', { type: 'download-failed', kind: item.kind, id: item.entry.id, error: failure });
        const { message, fix } = describeError(error);
        this.emit('event', { type: 'problem', problem: { id: `download-${item.kind}`, message, fix: fix ?? `Run \`jarvis models pull ${item.entry.id}\`.`, blocking: false } });
      } finally {
        this.#downloads.delete(item.kind);
      }
      if (this.#downloadAbort.signal.aborted) break;
    }
    this.emit('event', { type: 'problem-cleared', id: 'models-downloading' });
    return failed;
  }

  /**
   * Waits `ms` before failed downloads are tried again; retryDownloadsNow() ends the wait at once. False when the
   * model manager is closing (no retry then).
   */
  async waitToRetryDownloads(ms: number): Promise<boolean> {
    const wake = new AbortController();
    this.#wakeRetry = () => wake.abort();
    const signal = AbortSignal.any([wake.signal, this.#downloadAbort.signal]);
    await sleep(ms, undefined, { signal }).catch(() => undefined);
    this.#wakeRetry = undefined;
    return !this.#downloadAbort.signal.aborted;
  }

  /** Tries failed downloads again now (the network is back, the user asked); false if none is waiting. */
  retryDownloadsNow(): boolean {
    const wake = this.#wakeRetry;
    wake?.();
    return wake !== undefined;
  }

  /** A model that arrived: chosen if it is not where the config points, then swapped in. */
  async #useDownloaded(kind: SelectableKind, entry: ModelEntry): Promise<void> {
    if (this.store.mainPath(entry) !== this.#paths[kind].path) {
      await selectModel(this.store, this.#config.dataDir, entry.id);
    }
    await this.apply(readSelection(this.#config.dataDir), { force: [kind] });
  }

  async dispose(): Promise<void> {
    this.#stopWatching?.();
    this.#downloadAbort.abort();
    await this.#swaps.catch(() => undefined);
    await this.responder.dispose();
  }
}

function poolModel(target: ResolvedModel, costBytes: number): PoolModel {
  return { key: target.entry?.id ?? target.path, path: target.path, costBytes };
}

function mb(bytes: number): number {
  return Math.round(bytes / (1024 * 1024));
}
