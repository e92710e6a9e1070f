import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { watch, type FSWatcher } from 'chokidar';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeError, JarvisError, isAbortError } from '../../base/errors.ts';
import type { Logger } from '../../base/log.ts';
import type { JarvisConfig } from '../../config/schema.ts';
import type { TextEmbedder } from './embedder.ts';
import { ExactVectors } from './exact-vectors.ts';
import { skipForName } from './file-policy.ts';
import { hybridSearch, keywordHits, type FoundPassage, type VectorSearch } from './hybrid-search.ts';
import { alwaysIdle, FileIndexer, type IdleGate } from './indexer.ts';
import { KnowledgeDb, knowledgeDatabasePath } from './knowledge-db.ts';
import { openIndexedDocument, type DocumentRefusal, type OpenedDocument } from './open-document.ts';

/**
 * Local knowledge: the configured folders (knowledge.folders, and those added by `jarvis docs add`), kept indexed
 * in the background and searched by meaning and keywords. One queue of files, worked one at a time, held while a
 * turn runs (the IdleGate); a chokidar watcher feeds it added, edited, renamed and deleted files; a full scan at
 * start catches what changed while JARVIS was not running.
 */

export type KnowledgeConfig = JarvisConfig['knowledge'];

export interface KnowledgeProgress {
  /** Files still to read, the one being read included; 0: all done. */
  readonly pending: number;
  /** Files worked through since the queue was last empty. */
  readonly done: number;
  readonly current?: string;
}

export interface SearchResult {
  readonly passages: FoundPassage[];
  readonly embedMs: number;
  readonly searchMs: number;
  /** The question could not be embedded (the worker is down): the keywords alone answered. */
  readonly keywordsOnly: boolean;
}

export interface KnowledgeOptions {
  readonly config: KnowledgeConfig;
  readonly dataDir: string;
  readonly embedder: TextEmbedder;
  readonly log: Logger;
  readonly gate?: IdleGate;
  readonly now?: () => number;
}

export { knowledgeDatabasePath } from './knowledge-db.ts';

/** Tries of a file whose embedding crashed the worker before it is given up until it changes. */
const MAX_TRIES = 3;

export class Knowledge extends EventEmitter<{ progress: [KnowledgeProgress]; indexed: [{ file: string; outcome: string }] }> {
  readonly db: KnowledgeDb;
  readonly vectors: ExactVectors;
  readonly #indexer: FileIndexer;
  readonly #queue = new Map<string, string>();
  readonly #controller = new AbortController();
  #working: Promise<void> | undefined;
  #done = 0;
  #watcher: FSWatcher | undefined;
  #poll: NodeJS.Timeout | undefined;
  #seenVersion = 0;
  #watchedFolders = new Set<string>();
  #reindexSeen: string | undefined;
  /** Files the embedding worker went down on, with how often. */
  readonly #crashes = new Map<string, number>();

  private constructor(
    private readonly options: KnowledgeOptions,
    db: KnowledgeDb,
    vectors: ExactVectors,
  ) {
    super();
    this.db = db;
    this.vectors = vectors;
    const { config } = options;
    this.#indexer = new FileIndexer(db, vectors, options.embedder, { maxWords: config.passageWords, overlapWords: config.overlapWords, maxFileBytes: config.maxFileMb * 1e6, batchSize: config.batchSize }, options.gate ?? alwaysIdle, options.log, options.now ?? Date.now);
  }

  /** Opens the index and loads its vectors (loading the embedding model first, for its vector size). */
  static async open(options: KnowledgeOptions): Promise<Knowledge> {
    const db = KnowledgeDb.open(knowledgeDatabasePath(options.dataDir));
    try {
      const dimensions = options.embedder.dimensions ?? (await options.embedder.load());
      // Vectors of another model (or other prefixes) are meaningless beside this one's: all are made again.
      if (db.getMeta('model') !== options.embedder.modelKey) {
        if (db.getMeta('model') !== undefined) options.log.warn('the embedding model changed: every document is embedded again');
        db.dropAllEmbeddings();
        for (const file of db.files()) db.touchFile(file.path, -1, -1);
        db.setMeta('model', options.embedder.modelKey);
      }
      const vectors = new ExactVectors(dimensions);
      for (const { id, vector } of db.passageVectors()) vectors.set(id, vector);
      return new Knowledge(options, db, vectors);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /** The folders read: the configured ones and those added with `jarvis docs add`. */
  folders(): string[] {
    return [...new Set([...this.options.config.folders.map((f) => path.resolve(f)), ...this.db.folders()])];
  }

  /** Adds a folder (`jarvis docs add`); throws with a fix when it is not a readable folder. */
  addFolder(folder: string): string {
    const resolved = checkFolder(folder);
    this.db.addFolder(resolved, (this.options.now ?? Date.now)());
    return resolved;
  }

  /** Removes a folder added with `jarvis docs add` and everything indexed from it. */
  removeFolder(folder: string): number {
    const resolved = path.resolve(folder);
    if (this.options.config.folders.some((f) => path.resolve(f) === resolved)) {
      throw new JarvisError('knowledge-configured-folder', `${resolved} is in knowledge.folders in the config`, 'Remove it from knowledge.folders in your config file, then run `jarvis docs rm` again.');
    }
    const removed = this.db.removeFolder(resolved);
    this.#reloadVectors();
    return removed;
  }

  /** Queues every file of `folders` (all by default), and the indexed ones that are gone; resolves when all are done. */
  async sync(folders = this.folders()): Promise<void> {
    for (const folder of folders) {
      if (!fs.existsSync(folder)) {
        this.options.log.warn({ folder }, 'a knowledge folder does not exist; it is read at the next start once it does');
        continue;
      }
      for (const file of walk(folder, folder)) this.enqueue(file, folder);
      for (const known of this.db.filesIn(folder)) if (!fs.existsSync(known.path)) this.enqueue(known.path, folder);
    }
    // Folders no longer configured nor added: their files go.
    const current = new Set(this.folders());
    for (const known of this.db.files()) if (!current.has(known.folder)) this.enqueue(known.path, known.folder);
    await this.idle();
    this.db.dropUnusedEmbeddings();
  }

  /** Re-reads every file from scratch (`jarvis docs reindex`); embeddings of unchanged passages are still reused. */
  async reindex(): Promise<void> {
    for (const file of this.db.files()) this.db.touchFile(file.path, -1, -1);
    await this.sync();
  }

  enqueue(file: string, folder: string): void {
    this.#queue.set(file, folder);
    this.#report();
    this.#kick();
  }

  /**
   * Starts working through the queue unless that runs already. Started on the next tick, so a whole scan is queued
   * before the first file (and the progress counts it). A file queued after the loop saw the queue empty but
   * before it was marked done is picked up by a new loop, not left waiting for the next change.
   */
  #kick(): void {
    if (this.#working || this.#controller.signal.aborted) return;
    this.#working = Promise.resolve()
      .then(() => this.#work())
      .finally(() => {
        this.#working = undefined;
        if (this.#queue.size > 0) this.#kick();
      });
  }

  /** Resolves once the queue is empty. */
  async idle(): Promise<void> {
    while (this.#working) await this.#working;
  }

  get pending(): number {
    return this.#queue.size;
  }

  /**
   * Watches every folder for changes, and the index for folders added or removed by another process; each folder
   * is scanned once too (what changed while nobody watched). Resolves when the watcher is ready: a file written
   * before that may be taken for one that was already there.
   */
  watch(pollMs = 2000): Promise<void> {
    if (this.#watcher) return Promise.resolve();
    const initial = this.folders().filter((folder) => fs.existsSync(folder));
    this.#watcher = watch(initial, {
      ignoreInitial: true,
      followSymlinks: false,
      awaitWriteFinish: { stabilityThreshold: this.options.config.settleMs, pollInterval: Math.min(100, this.options.config.settleMs) },
      // Hidden folders (.git, .ssh) are never walked into; hidden files are recorded as skipped by the indexer.
      ignored: (file, stats) => stats?.isDirectory() === true && path.basename(file).startsWith('.'),
    });
    const onFile = (file: string) => {
      const folder = this.#folderOf(file);
      if (folder) this.enqueue(file, folder);
    };
    this.#watcher.on('add', onFile).on('change', onFile).on('unlink', onFile);
    this.#watcher.on('unlinkDir', (dir) => {
      for (const known of this.db.files()) if (known.path.startsWith(dir + path.sep)) this.enqueue(known.path, known.folder);
    });
    this.#watcher.on('error', (error) => this.options.log.warn({ err: describeError(error) }, 'knowledge folder watcher error'));
    const ready = new Promise<void>((resolve) => this.#watcher!.once('ready', () => resolve()));
    for (const folder of initial) this.#watchedFolders.add(folder);
    void this.sync(initial).catch((error: unknown) => this.options.log.warn({ err: describeError(error) }, 'could not read the knowledge folders'));
    this.#followFolders();
    this.#seenVersion = this.db.dataVersion();
    this.#reindexSeen = this.db.getMeta('reindex-requested');
    this.#poll = setInterval(() => {
      const version = this.db.dataVersion();
      if (version === this.#seenVersion) return;
      this.#seenVersion = version;
      this.#reloadVectors();
      this.#followFolders();
      // `jarvis docs reindex` beside this process asks for it through the index.
      const requested = this.db.getMeta('reindex-requested');
      if (requested !== undefined && requested !== this.#reindexSeen) {
        this.#reindexSeen = requested;
        void this.reindex().catch((error: unknown) => this.options.log.warn({ err: describeError(error) }, 'reindex failed'));
      }
    }, pollMs);
    this.#poll.unref();
    return ready;
  }

  /** The best passages for `question`: its vector and its keywords, fused. */
  search(question: string, limit: number): Promise<SearchResult> {
    return searchKnowledge(this.db, this.vectors, this.options.embedder, { question, limit, minSimilarity: this.options.config.minSimilarity }, this.options.log);
  }

  /** The indexed document `id` opened for a screen (a tap on a source), or why not (open-document.ts). */
  openDocument(id: number): Promise<OpenedDocument | DocumentRefusal> {
    return openIndexedDocument(this.db, this.folders(), id);
  }

  async dispose(): Promise<void> {
    this.#controller.abort();
    if (this.#poll) clearInterval(this.#poll);
    await this.#watcher?.close();
    await this.#working?.catch(() => {});
    this.db.close();
  }

  #followFolders(): void {
    const folders = new Set(this.folders());
    for (const folder of folders) {
      if (this.#watchedFolders.has(folder)) continue;
      this.#watchedFolders.add(folder);
      this.#watcher?.add(folder);
      void this.sync([folder]).catch((error: unknown) => this.options.log.warn({ err: describeError(error), folder }, 'could not read a knowledge folder'));
    }
    for (const folder of this.#watchedFolders) {
      if (folders.has(folder)) continue;
      this.#watchedFolders.delete(folder);
      void this.#watcher?.unwatch(folder);
    }
  }

  #folderOf(file: string): string | undefined {
    return this.folders()
      .filter((f) => file === f || file.startsWith(f + path.sep))
      .sort((a, b) => b.length - a.length)[0];
  }

  #reloadVectors(): void {
    this.vectors.clear();
    for (const { id, vector } of this.db.passageVectors()) this.vectors.set(id, vector);
  }

  async #work(): Promise<void> {
    const signal = this.#controller.signal;
    while (this.#queue.size > 0 && !signal.aborted) {
      const [file, folder] = this.#queue.entries().next().value as [string, string];
      this.#queue.delete(file);
      this.#report(file);
      try {
        const { outcome } = await this.#indexer.index(file, folder, signal);
        this.emit('indexed', { file, outcome });
      } catch (error) {
        if (signal.aborted && isAbortError(error)) return;
        const code = error instanceof JarvisError ? error.code : '';
        const tries = (this.#crashes.get(file) ?? 0) + 1;
        if ((code === 'embedding-crashed' || code === 'embedding-restarting') && tries < MAX_TRIES) {
          // The worker went down (on this file or meanwhile): the file goes back in the queue once it is up again.
          this.#crashes.set(file, tries);
          this.#queue.set(file, folder);
          await sleep(1000, undefined, { signal }).catch(() => {});
          continue;
        }
        this.#crashes.delete(file);
        if (code === 'embedding-crashed') {
          // The same file took the worker down again and again: given up for now, not retried in a loop.
          this.options.log.error({ file }, `the embedding model crashed ${tries} times on this document; it is tried again at its next change or start`);
        } else {
          // One file failing must not stop the rest; it is tried again at its next change or at start.
          this.options.log.warn({ err: describeError(error), file }, 'could not index a document; it is tried again at the next change or start');
        }
      }
      this.#crashes.delete(file);
      this.#done++;
    }
    if (this.#queue.size === 0) {
      this.#done = 0;
      this.#report();
    }
  }

  #report(current?: string): void {
    // The file being read still counts: "done" on the HUD only once the last one is in the index.
    this.emit('progress', { pending: this.#queue.size + (current ? 1 : 0), done: this.#done, ...(current ? { current } : {}) });
  }
}

/**
 * Knowledge.search: the question goes to the embedding worker first, and the keyword search (SQLite, in this
 * process) runs while it is embedded; then the vector scan and the fusion. embedMs: from the start until the vector
 * came back (the keyword search ran inside it); searchMs: the rest. Their sum is the retrieval's wall time.
 */
export async function searchKnowledge(
  db: KnowledgeDb,
  vectors: VectorSearch,
  embedder: Pick<TextEmbedder, 'embedQuery'>,
  input: { readonly question: string; readonly limit: number; readonly minSimilarity: number },
  log: Logger,
): Promise<SearchResult> {
  const { question, limit, minSimilarity } = input;
  const started = performance.now();
  const embedding = embedder.embedQuery(question).then(
    (v): Float32Array | undefined => v,
    (error: unknown) => {
      log.warn({ err: describeError(error) }, 'could not embed the question; searching by keywords only');
      return undefined;
    },
  );
  const keywords = keywordHits(db, question);
  const vector = await embedding;
  const embedded = performance.now();
  const passages = hybridSearch(db, vectors, { question, vector, limit, minSimilarity }, keywords);
  return { passages, embedMs: embedded - started, searchMs: performance.now() - embedded, keywordsOnly: vector === undefined };
}

/** A folder that exists and can be read, as an absolute path; a clear error otherwise. */
export function checkFolder(folder: string): string {
  const resolved = path.resolve(folder);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(resolved);
  } catch {
    throw new JarvisError('knowledge-folder-missing', `${resolved} does not exist`, 'Give the path of a folder of documents, e.g. `jarvis docs add ~/Documents/manuals`.');
  }
  if (!stat.isDirectory()) throw new JarvisError('knowledge-not-a-folder', `${resolved} is a file, not a folder`, `Add the folder it is in: \`jarvis docs add ${path.dirname(resolved)}\`.`);
  try {
    fs.accessSync(resolved, fs.constants.R_OK | fs.constants.X_OK);
  } catch {
    throw new JarvisError('knowledge-folder-unreadable', `${resolved} cannot be read by this user`, `Check its permissions (ls -ld "${resolved}").`);
  }
  return resolved;
}

/** Every file under `folder`, not entering hidden or secret folders, nor links that lead out of it. */
function* walk(folder: string, root: string): Generator<string> {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(folder, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    const full = path.join(folder, entry.name);
    if (entry.isDirectory()) {
      if (!entry.name.startsWith('.') && !skipForName(path.join(path.relative(root, full), 'x.txt'))) yield* walk(full, root);
    } else if (entry.isFile() || entry.isSymbolicLink()) {
      yield full;
    }
  }
}
