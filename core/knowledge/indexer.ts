import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../base/log.ts';
import { chunkDocument, type ChunkOptions } from './chunk.ts';
import type { ExactVectors } from './exact-vectors.ts';
import { CorruptDocumentError, extractDocument } from './extract.ts';
import { kindOf, skipForLocation, skipForName, skipForSize, type Skip } from './file-policy.ts';
import type { KnowledgeDb, StoredPassage } from './knowledge-db.ts';
import type { TextEmbedder } from './embedder.ts';

/**
 * Brings one file's entry in the index up to date with the file on disk: gone → removed; unchanged bytes → nothing
 * (no read beyond the hash, no embedding); skipped for a reason → recorded with it; otherwise extracted, chunked,
 * the passages not embedded before are embedded (waiting for the assistant to be idle before each batch), and
 * the file's passages replaced in one transaction.
 */

export interface IndexerOptions extends ChunkOptions {
  readonly maxFileBytes: number;
  readonly batchSize: number;
}

/** Holds indexing back while a turn runs. */
export interface IdleGate {
  waitUntilIdle(signal: AbortSignal): Promise<void>;
}

export const alwaysIdle: IdleGate = { waitUntilIdle: async () => {} };

export type FileOutcome = 'indexed' | 'unchanged' | 'skipped' | 'removed';

export class FileIndexer {
  constructor(
    private readonly db: KnowledgeDb,
    private readonly vectors: ExactVectors,
    private readonly embedder: TextEmbedder,
    private readonly options: IndexerOptions,
    private readonly gate: IdleGate,
    private readonly log: Logger,
    private readonly now: () => number,
  ) {}

  async index(file: string, folder: string, signal: AbortSignal): Promise<{ outcome: FileOutcome; skip?: Skip }> {
    const relative = path.relative(folder, file) || path.basename(file);
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(file);
    } catch {
      return this.#remove(file);
    }
    if (!stat.isFile() && !stat.isSymbolicLink()) return this.#remove(file);
    const skip = skipForName(relative) ?? skipForLocation(file, fs.realpathSync(folder));
    if (skip) return this.#skip(file, folder, stat, '', skip);
    const real = fs.statSync(file);
    const tooLarge = skipForSize(relative, real.size, this.options.maxFileBytes);
    if (tooLarge) return this.#skip(file, folder, real, '', tooLarge);
    const known = this.db.file(file);
    if (known && known.size === real.size && known.mtimeMs === real.mtimeMs) return { outcome: 'unchanged' };
    const bytes = fs.readFileSync(file);
    const hash = createHash('sha256').update(bytes).digest('hex');
    if (known && known.hash === hash) {
      this.db.touchFile(file, real.size, real.mtimeMs);
      return { outcome: 'unchanged' };
    }
    // Extraction runs on this process's event loop (a long PDF takes a while): not while a turn runs either.
    await this.gate.waitUntilIdle(signal);
    signal.throwIfAborted();
    let document;
    try {
      document = await extractDocument(file, kindOf(file)!);
    } catch (error) {
      if (!(error instanceof CorruptDocumentError)) throw error;
      return this.#skip(file, folder, real, hash, { code: 'corrupt', reason: `${relative} cannot be read: ${error.message}; open and save it again, or remove it from the folder` });
    }
    const passages = chunkDocument(document, this.options);
    if (passages.length === 0) return this.#skip(file, folder, real, hash, { code: 'empty', reason: `${relative} has no text to read (a scanned PDF has only pictures of text)` });
    const title = document.title ?? titleFromName(file);
    const stored: StoredPassage[] = passages.map((p) => ({ ...p, key: embeddingKey(this.embedder.modelKey, embeddedText(title, p)) }));
    const missing = stored.filter((p, i) => stored.findIndex((q) => q.key === p.key) === i && !this.db.hasEmbedding(p.key));
    for (let i = 0; i < missing.length; i += this.options.batchSize) {
      await this.gate.waitUntilIdle(signal);
      signal.throwIfAborted();
      const batch = missing.slice(i, i + this.options.batchSize);
      const vectors = await this.embedder.embedDocuments(batch.map((p) => embeddedText(title, p)));
      // Kept as soon as made: a restart mid-file embeds only the rest.
      this.db.putEmbeddings(batch.map((p, j) => ({ key: p.key, vector: vectors[j]! })));
    }
    signal.throwIfAborted();
    const { removed, added } = this.db.replaceFile({ path: file, folder, size: real.size, mtimeMs: real.mtimeMs, hash, title }, stored, this.now());
    for (const id of removed) this.vectors.delete(id);
    added.forEach((id, i) => this.vectors.set(id, this.db.embedding(stored[i]!.key)!));
    this.log.debug({ file, passages: stored.length, embedded: missing.length }, 'document indexed');
    return { outcome: 'indexed' };
  }

  #remove(file: string): { outcome: FileOutcome } {
    for (const id of this.db.removeFile(file) ?? []) this.vectors.delete(id);
    return { outcome: 'removed' };
  }

  #skip(file: string, folder: string, stat: fs.Stats, hash: string, skip: Skip): { outcome: FileOutcome; skip: Skip } {
    const known = this.db.file(file);
    if (known?.status !== 'skipped' || known.skipReason !== skip.reason) {
      this.log.info({ file, code: skip.code }, `document skipped: ${skip.reason}`);
      for (const id of this.db.markSkipped({ path: file, folder, size: stat.size, mtimeMs: stat.mtimeMs, hash, code: skip.code, reason: skip.reason }, this.now())) this.vectors.delete(id);
    }
    return { outcome: 'skipped', skip };
  }
}

/** What is embedded for a passage: where it is from, then its text, so "the boiler manual" finds the boiler's pages. */
export function embeddedText(title: string, passage: { heading?: string; text: string }): string {
  return `${title}${passage.heading ? ` — ${passage.heading}` : ''}\n${passage.text}`;
}

export function embeddingKey(modelKey: string, text: string): string {
  return createHash('sha256').update(modelKey).update('\0').update(text).digest('hex');
}

/** "boiler-manual_2019.pdf" → "boiler manual 2019". */
export function titleFromName(file: string): string {
  return path.basename(file, path.extname(file)).replace(/[-_.]+/g, ' ').trim();
}
