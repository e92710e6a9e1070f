import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { loadWarning, type LlamaResponder, type LlamaResponderEvent } from '../llm/llama-responder.ts';
import type { ResponderInfo } from '../responder.ts';

/**
 * Keeps LLMs loaded within a memory budget (VRAM on a GPU, RAM without one), each in its own worker process,
 * so switching back to a recent model is instant. Activating a model that is not resident loads it, first
 * unloading the least recently used ones until it fits; an optional idle timer unloads models nobody asked
 * anything for. Every load and unload is an event with its duration and the memory before and after.
 */

export interface PoolModel {
  /** The catalog id, or the path for a model outside the catalog. */
  readonly key: string;
  readonly path: string;
  /** Estimated bytes it will hold on the pooled device (model and context). */
  readonly costBytes: number;
  /** Instead of llm.systemPrompt: a model that answers one role (llm.roles.code) has instructions of its own. */
  readonly systemPrompt?: string;
}

export interface MemoryFigures {
  readonly beforeBytes: number;
  readonly afterBytes: number;
}

export type PoolEvent =
  | { readonly type: 'loading'; readonly key: string; readonly path: string; readonly costBytes: number }
  | {
      readonly type: 'loaded';
      readonly key: string;
      readonly path: string;
      readonly ms: number;
      readonly device: string;
      readonly gpuLayers: number;
      readonly totalLayers: number;
      /** What the pool counts for it: the VRAM the load really took on a GPU, the estimate otherwise. */
      readonly residentBytes: number;
      /** The device's used VRAM before and after, as llama.cpp reports it (0 on the CPU), and its size. */
      readonly vram: MemoryFigures;
      readonly vramTotalBytes: number;
      /** The pool's total for its residents, before and after (including evictions). */
      readonly pool: MemoryFigures & { readonly budgetBytes: number };
      readonly evicted: readonly string[];
      /** Loaded, but not as configured (the CPU standing in for a crashed GPU backend, say). */
      readonly warning: ResponderInfo['warning'];
    }
  | { readonly type: 'load-failed'; readonly key: string; readonly path: string; readonly error: Error; readonly ms: number }
  | { readonly type: 'unloaded'; readonly key: string; readonly reason: 'lru' | 'idle' | 'dispose' | 'removed'; readonly ms: number; readonly pool: MemoryFigures & { readonly budgetBytes: number } }
  | { readonly type: 'activated'; readonly key: string; readonly previous: string | undefined; readonly ms: number; readonly wasResident: boolean };

export interface ModelPoolOptions {
  readonly budgetBytes: number;
  /** Unload models unused this long; 0: never. */
  readonly idleUnloadMs?: number;
  readonly createResponder: (model: PoolModel) => LlamaResponder;
  /** The cost of a model given without one (costBytes 0: the chat model named before the device was known). */
  readonly estimateCost?: (model: PoolModel) => Promise<number>;
  readonly now?: () => number;
}

interface Resident {
  readonly model: PoolModel;
  readonly responder: LlamaResponder;
  residentBytes: number;
  lastUsed: number;
  unsubscribe: () => void;
}

export class ModelPool extends EventEmitter<{ event: [PoolEvent]; llm: [LlamaResponderEvent & { readonly model: string }] }> {
  #budgetBytes: number;
  readonly #idleUnloadMs: number;
  readonly #createResponder: (model: PoolModel) => LlamaResponder;
  readonly #estimateCost: ((model: PoolModel) => Promise<number>) | undefined;
  readonly #now: () => number;
  readonly #residents = new Map<string, Resident>();
  #active: string | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  #disposed = false;
  /** Activations run one after another, so two switches cannot evict each other's model half-way. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: ModelPoolOptions) {
    super();
    this.#budgetBytes = options.budgetBytes;
    this.#idleUnloadMs = options.idleUnloadMs ?? 0;
    this.#createResponder = options.createResponder;
    this.#estimateCost = options.estimateCost;
    this.#now = options.now ?? (() => performance.now());
    if (this.#idleUnloadMs > 0) {
      this.#idleTimer = setInterval(() => void this.unloadIdle(), Math.min(60_000, Math.max(1000, this.#idleUnloadMs / 4)));
      this.#idleTimer.unref();
    }
  }

  get budgetBytes(): number {
    return this.#budgetBytes;
  }

  /** The budget can be set once the device is known (after the first load). */
  set budgetBytes(bytes: number) {
    this.#budgetBytes = bytes;
  }

  get usedBytes(): number {
    let sum = 0;
    for (const resident of this.#residents.values()) sum += resident.residentBytes;
    return sum;
  }

  get activeKey(): string | undefined {
    return this.#active;
  }

  /** The active model's responder, if it is loaded. */
  get activeResponder(): LlamaResponder | undefined {
    return this.#active ? this.#residents.get(this.#active)?.responder : undefined;
  }

  residents(): { key: string; path: string; residentBytes: number; idleMs: number; active: boolean }[] {
    const now = this.#now();
    return [...this.#residents.values()]
      .sort((a, b) => b.lastUsed - a.lastUsed)
      .map((r) => ({ key: r.model.key, path: r.model.path, residentBytes: r.residentBytes, idleMs: now - r.lastUsed, active: r.model.key === this.#active }));
  }

  /** Marks the model as used now (it moves to the end of the eviction order). */
  touch(key: string): void {
    const resident = this.#residents.get(key);
    if (resident) resident.lastUsed = this.#now();
  }

  /** Makes `model` the active one, loading it (and unloading others to fit the budget) unless it is resident. */
  activate(model: PoolModel): Promise<LlamaResponder> {
    const run = this.#queue.then(() => this.#activate(model));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * `model` resident beside the active one, loaded (making room like activate()) unless it is: the model of a
   * role (llm.roles.code) answers its requests without becoming the model the chat questions go to. As a
   * resident that is not active it is the first to go when memory runs short (unloadInactive(), LRU, idle).
   */
  acquire(model: PoolModel): Promise<LlamaResponder> {
    const run = this.#queue.then(async () => {
      if (this.#disposed) throw new Error('the model pool was disposed');
      const resident = this.#residents.get(model.key) ?? (await this.#load(model));
      resident.lastUsed = this.#now();
      return resident.responder;
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** A resident model's responder, without loading it. */
  residentResponder(key: string): LlamaResponder | undefined {
    return this.#residents.get(key)?.responder;
  }

  async #activate(model: PoolModel): Promise<LlamaResponder> {
    if (this.#disposed) throw new Error('the model pool was disposed');
    const started = this.#now();
    const previous = this.#active;
    const resident = this.#residents.get(model.key);
    if (resident) {
      resident.lastUsed = this.#now();
      this.#active = model.key;
      if (previous !== model.key) this.emit('event', { type: 'activated', key: model.key, previous, ms: this.#now() - started, wasResident: true });
      return resident.responder;
    }
    const loaded = await this.#load(model);
    this.#active = model.key;
    this.emit('event', { type: 'activated', key: model.key, previous, ms: this.#now() - started, wasResident: false });
    return loaded.responder;
  }

  async #load(wanted: PoolModel): Promise<Resident> {
    const model = wanted.costBytes > 0 || !this.#estimateCost ? wanted : { ...wanted, costBytes: await this.#estimateCost(wanted).catch(() => 0) };
    const poolBefore = this.usedBytes;
    const evicted = await this.#makeRoom(model);
    this.emit('event', { type: 'loading', key: model.key, path: model.path, costBytes: model.costBytes });
    const started = this.#now();
    const responder = this.#createResponder(model);
    const unsubscribe = responder.subscribe((event) => this.emit('llm', { ...event, model: model.key }));
    try {
      const { info } = await responder.load();
      const residentBytes = info.vramUsedBytes > 0 ? info.vramUsedBytes : model.costBytes;
      const resident: Resident = { model, responder, residentBytes, lastUsed: this.#now(), unsubscribe };
      this.#residents.set(model.key, resident);
      this.emit('event', {
        type: 'loaded',
        key: model.key,
        path: model.path,
        ms: this.#now() - started,
        device: info.device,
        gpuLayers: info.layersOnGpu,
        totalLayers: info.totalLayers,
        residentBytes,
        vram: { beforeBytes: info.vramBeforeBytes, afterBytes: info.vramAfterBytes },
        vramTotalBytes: info.vramTotalBytes,
        pool: { beforeBytes: poolBefore, afterBytes: this.usedBytes, budgetBytes: this.#budgetBytes },
        evicted,
        warning: loadWarning(info),
      });
      return resident;
    } catch (error) {
      unsubscribe();
      await responder.dispose().catch(() => undefined);
      const failure = error instanceof Error ? error : new Error(String(error));
      this.emit('event', { type: 'load-failed', key: model.key, path: model.path, error: failure, ms: this.#now() - started });
      throw failure;
    }
  }

  /** Unloads least recently used models until `model` fits; a model bigger than the whole budget loads alone. */
  async #makeRoom(model: PoolModel): Promise<string[]> {
    const evicted: string[] = [];
    while (this.usedBytes + model.costBytes > this.#budgetBytes && this.#residents.size > 0) {
      const oldest = [...this.#residents.values()].sort((a, b) => a.lastUsed - b.lastUsed)[0]!;
      await this.#unload(oldest, 'lru');
      evicted.push(oldest.model.key);
    }
    return evicted;
  }

  async #unload(resident: Resident, reason: 'lru' | 'idle' | 'dispose' | 'removed'): Promise<void> {
    const before = this.usedBytes;
    const started = this.#now();
    this.#residents.delete(resident.model.key);
    if (this.#active === resident.model.key) this.#active = undefined;
    resident.unsubscribe();
    await resident.responder.dispose();
    this.emit('event', { type: 'unloaded', key: resident.model.key, reason, ms: this.#now() - started, pool: { beforeBytes: before, afterBytes: this.usedBytes, budgetBytes: this.#budgetBytes } });
  }

  /** Unloads a model (e.g. one whose files were removed). */
  async unload(key: string, reason: 'removed' | 'idle' = 'removed'): Promise<void> {
    const resident = this.#residents.get(key);
    if (resident) await this.#unload(resident, reason);
  }

  /** Unloads every model unused for idleUnloadMs; returns their keys. */
  async unloadIdle(): Promise<string[]> {
    if (this.#idleUnloadMs <= 0) return [];
    const now = this.#now();
    const idle = [...this.#residents.values()].filter((r) => now - r.lastUsed >= this.#idleUnloadMs);
    for (const resident of idle) await this.#unload(resident, 'idle');
    return idle.map((r) => r.model.key);
  }

  /** Unloads every resident model but the one answering now (the GPU ran short of memory); returns their keys. */
  async unloadInactive(): Promise<string[]> {
    const inactive = [...this.#residents.values()].filter((r) => r.model.key !== this.activeKey);
    for (const resident of inactive) await this.#unload(resident, 'idle');
    return inactive.map((r) => r.model.key);
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    clearInterval(this.#idleTimer);
    await this.#queue.catch(() => undefined);
    for (const resident of [...this.#residents.values()]) await this.#unload(resident, 'dispose');
  }
}
