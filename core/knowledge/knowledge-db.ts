import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openPrivateDatabase } from '../../base/private-database.ts';
import { isProcessAlive } from '../../base/process.ts';
import type { Passage } from './chunk.ts';

/**
 * The knowledge index on disk (data folder, owner-only): the folders, their files with content hashes, the passages
 * with an FTS5 table over them for keyword search (BM25), and the embeddings keyed by a hash of the text embedded
 * and the model, so an unchanged passage (an unchanged file, a renamed one, the untouched paragraphs of an edited
 * one, or work done before a restart) is never embedded twice. A file's passages are replaced in one transaction,
 * so a restart mid-way leaves each file either as it was or as it is now.
 */

/** The index lives beside the other databases in the data folder. */
export function knowledgeDatabasePath(dataDir: string): string {
  return path.join(dataDir, 'knowledge.db');
}

export type FileStatus = 'indexed' | 'skipped';

export interface FileRow {
  readonly id: number;
  readonly path: string;
  readonly folder: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly hash: string;
  readonly status: FileStatus;
  readonly skipCode: string | null;
  readonly skipReason: string | null;
  readonly title: string | null;
  readonly passages: number;
}

export interface PassageRow {
  readonly id: number;
  readonly fileId: number;
  readonly path: string;
  readonly title: string | null;
  readonly page: number | null;
  readonly heading: string | null;
  readonly text: string;
}

export interface StoredPassage extends Passage {
  /** Hash of the text that was embedded for it (see embeddingKey). */
  readonly key: string;
}

const SCHEMA = `
create table if not exists meta (key text primary key, value text not null);
create table if not exists folders (path text primary key, added_at integer not null);
create table if not exists files (
  id integer primary key,
  path text not null unique,
  folder text not null,
  size integer not null,
  mtime_ms real not null,
  hash text not null,
  status text not null,
  skip_code text,
  skip_reason text,
  title text,
  passages integer not null default 0,
  indexed_at integer not null
);
create table if not exists passages (
  id integer primary key,
  file_id integer not null references files(id) on delete cascade,
  ord integer not null,
  page integer,
  heading text,
  text text not null,
  key text not null
);
create index if not exists passages_file on passages(file_id);
create index if not exists passages_key on passages(key);
create table if not exists embeddings (key text primary key, vector blob not null);
create virtual table if not exists passage_words using fts5(title, heading, text, tokenize = 'porter unicode61 remove_diacritics 2');
`;

export class KnowledgeDb {
  readonly #db: Database.Database;

  private constructor(
    readonly location: string,
    db: Database.Database,
  ) {
    this.#db = db;
  }

  static open(file: string): KnowledgeDb {
    const db = openPrivateDatabase(file, {
      what: 'the knowledge index',
      code: 'knowledge-unavailable',
      timeoutMs: 5000,
      damagedFix: 'The index is damaged: run `jarvis docs forget` and add the folders again (the documents themselves are untouched).',
      setUp: (opened) => opened.exec(SCHEMA),
    });
    return new KnowledgeDb(file, db);
  }

  /** Changes whenever another connection (`jarvis docs add` beside the daemon) commits a write. */
  dataVersion(): number {
    return this.#db.pragma('data_version', { simple: true }) as number;
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }

  getMeta(key: string): string | undefined {
    return (this.#db.prepare('select value from meta where key = ?').get(key) as { value: string } | undefined)?.value;
  }

  setMeta(key: string, value: string): void {
    this.#db.prepare('insert into meta(key, value) values (?, ?) on conflict(key) do update set value = excluded.value').run(key, value);
  }

  // folders ------------------------------------------------------------------------------------------------

  addFolder(folder: string, now: number): boolean {
    return this.#db.prepare('insert or ignore into folders(path, added_at) values (?, ?)').run(folder, now).changes > 0;
  }

  /** Removes the folder and everything indexed from it. */
  removeFolder(folder: string): number {
    return this.#db.transaction(() => {
      this.#db.prepare('delete from folders where path = ?').run(folder);
      let removed = 0;
      for (const file of this.filesIn(folder)) removed += this.removeFile(file.path) ? 1 : 0;
      return removed;
    })();
  }

  folders(): string[] {
    return (this.#db.prepare('select path from folders order by path').all() as { path: string }[]).map((r) => r.path);
  }

  // files --------------------------------------------------------------------------------------------------

  file(filePath: string): FileRow | undefined {
    return this.#db.prepare(`${FILE_COLUMNS} where path = ?`).get(filePath) as FileRow | undefined;
  }

  fileById(id: number): FileRow | undefined {
    return this.#db.prepare(`${FILE_COLUMNS} where id = ?`).get(id) as FileRow | undefined;
  }

  files(): FileRow[] {
    return this.#db.prepare(`${FILE_COLUMNS} order by path`).all() as FileRow[];
  }

  /** The titles of the documents read (for telling whether a question names one). */
  titles(): string[] {
    return (this.#db.prepare("select distinct title from files where status = 'indexed' and title is not null").all() as { title: string }[]).map((r) => r.title);
  }

  filesIn(folder: string): FileRow[] {
    return this.#db.prepare(`${FILE_COLUMNS} where folder = ? order by path`).all(folder) as FileRow[];
  }

  /** Records a file that is not read, and why; its old passages go. */
  markSkipped(file: { path: string; folder: string; size: number; mtimeMs: number; hash: string; code: string; reason: string }, now: number): number[] {
    return this.#db.transaction(() => {
      const removed = this.#dropPassages(file.path);
      this.#db
        .prepare(
          `insert into files(path, folder, size, mtime_ms, hash, status, skip_code, skip_reason, title, passages, indexed_at) values (?, ?, ?, ?, ?, 'skipped', ?, ?, null, 0, ?)
           on conflict(path) do update set folder = excluded.folder, size = excluded.size, mtime_ms = excluded.mtime_ms, hash = excluded.hash, status = 'skipped',
             skip_code = excluded.skip_code, skip_reason = excluded.skip_reason, title = null, passages = 0, indexed_at = excluded.indexed_at`,
        )
        .run(file.path, file.folder, file.size, file.mtimeMs, file.hash, file.code, file.reason, now);
      return removed;
    })();
  }

  /** A file whose bytes did not change (a touch): only its stat is updated. */
  touchFile(filePath: string, size: number, mtimeMs: number): void {
    this.#db.prepare('update files set size = ?, mtime_ms = ? where path = ?').run(size, mtimeMs, filePath);
  }

  /**
   * Replaces the file's passages with `passages` (whose embeddings are stored already), in one transaction.
   * Returns the ids of the passages removed and of those added, for the vectors in memory.
   */
  replaceFile(
    file: { path: string; folder: string; size: number; mtimeMs: number; hash: string; title: string },
    passages: readonly StoredPassage[],
    now: number,
  ): { removed: number[]; added: number[] } {
    return this.#db.transaction(() => {
      const removed = this.#dropPassages(file.path);
      const info = this.#db
        .prepare(
          `insert into files(path, folder, size, mtime_ms, hash, status, skip_code, skip_reason, title, passages, indexed_at) values (?, ?, ?, ?, ?, 'indexed', null, null, ?, ?, ?)
           on conflict(path) do update set folder = excluded.folder, size = excluded.size, mtime_ms = excluded.mtime_ms, hash = excluded.hash, status = 'indexed',
             skip_code = null, skip_reason = null, title = excluded.title, passages = excluded.passages, indexed_at = excluded.indexed_at
           returning id`,
        )
        .get(file.path, file.folder, file.size, file.mtimeMs, file.hash, file.title, passages.length, now) as { id: number };
      const insert = this.#db.prepare('insert into passages(file_id, ord, page, heading, text, key) values (?, ?, ?, ?, ?, ?)');
      const words = this.#db.prepare('insert into passage_words(rowid, title, heading, text) values (?, ?, ?, ?)');
      const added: number[] = [];
      passages.forEach((p, ord) => {
        const id = Number(insert.run(info.id, ord, p.page ?? null, p.heading ?? null, p.text, p.key).lastInsertRowid);
        words.run(id, file.title, p.heading ?? '', p.text);
        added.push(id);
      });
      return { removed, added };
    })();
  }

  /** Forgets a file (deleted, renamed away, its folder removed); returns the ids of its passages. */
  removeFile(filePath: string): number[] | undefined {
    return this.#db.transaction(() => {
      if (!this.file(filePath)) return undefined;
      const removed = this.#dropPassages(filePath);
      this.#db.prepare('delete from files where path = ?').run(filePath);
      return removed;
    })();
  }

  #dropPassages(filePath: string): number[] {
    const ids = (this.#db.prepare('select p.id from passages p join files f on f.id = p.file_id where f.path = ?').all(filePath) as { id: number }[]).map((r) => r.id);
    const words = this.#db.prepare('delete from passage_words where rowid = ?');
    const passage = this.#db.prepare('delete from passages where id = ?');
    for (const id of ids) {
      words.run(id);
      passage.run(id);
    }
    return ids;
  }

  // embeddings ---------------------------------------------------------------------------------------------

  embedding(key: string): Float32Array | undefined {
    const row = this.#db.prepare('select vector from embeddings where key = ?').get(key) as { vector: Buffer } | undefined;
    return row ? toFloats(row.vector) : undefined;
  }

  hasEmbedding(key: string): boolean {
    return this.#db.prepare('select 1 from embeddings where key = ?').get(key) !== undefined;
  }

  /** A batch of embeddings, in one transaction. */
  putEmbeddings(entries: readonly { key: string; vector: Float32Array }[]): void {
    const insert = this.#db.prepare('insert or replace into embeddings(key, vector) values (?, ?)');
    this.#db.transaction(() => {
      for (const { key, vector } of entries) insert.run(key, Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength));
    })();
  }

  /** Every passage's id and vector, for the search in memory at start. */
  *passageVectors(): Generator<{ id: number; vector: Float32Array }> {
    for (const row of this.#db.prepare('select p.id as id, e.vector as vector from passages p join embeddings e on e.key = p.key').iterate() as Iterable<{ id: number; vector: Buffer }>) {
      yield { id: row.id, vector: toFloats(row.vector) };
    }
  }

  /** Embeddings no passage uses any more (a file deleted, a paragraph edited away). */
  dropUnusedEmbeddings(): number {
    return this.#db.prepare('delete from embeddings where key not in (select key from passages)').run().changes;
  }

  /** All embeddings (another embedding model was configured: every vector is redone). */
  dropAllEmbeddings(): void {
    this.#db.exec('delete from embeddings');
  }

  // search -------------------------------------------------------------------------------------------------

  /** Passages matching any of `terms` (FTS5, BM25; title and heading weigh more than the text), best first. */
  keywordSearch(terms: readonly string[], limit: number): { id: number; rank: number }[] {
    if (terms.length === 0) return [];
    const query = terms.map((t) => `"${t.replace(/"/g, '""')}"`).join(' OR ');
    return this.#db.prepare('select rowid as id, bm25(passage_words, 3.0, 2.0, 1.0) as rank from passage_words where passage_words match ? order by rank limit ?').all(query, limit) as { id: number; rank: number }[];
  }

  passages(ids: readonly number[]): Map<number, PassageRow> {
    const out = new Map<number, PassageRow>();
    const get = this.#db.prepare('select p.id as id, p.file_id as fileId, f.path as path, f.title as title, p.page as page, p.heading as heading, p.text as text from passages p join files f on f.id = p.file_id where p.id = ?');
    for (const id of ids) {
      const row = get.get(id) as PassageRow | undefined;
      if (row) out.set(id, row);
    }
    return out;
  }

  counts(): { files: number; skipped: number; passages: number; embeddings: number } {
    const one = (sql: string) => (this.#db.prepare(sql).get() as { n: number }).n;
    return {
      files: one("select count(*) as n from files where status = 'indexed'"),
      skipped: one("select count(*) as n from files where status = 'skipped'"),
      passages: one('select count(*) as n from passages'),
      embeddings: one('select count(*) as n from embeddings'),
    };
  }
}

const FILE_COLUMNS =
  'select id, path, folder, size, mtime_ms as mtimeMs, hash, status, skip_code as skipCode, skip_reason as skipReason, title, passages from files';

function toFloats(buffer: Buffer): Float32Array {
  // Copied: better-sqlite3's Buffer may sit at an offset that is not a multiple of 4.
  const out = new Float32Array(buffer.byteLength / 4);
  new Uint8Array(out.buffer).set(buffer);
  return out;
}

/** Deletes the index and the files SQLite keeps beside it (`jarvis docs forget`). */
export function deleteKnowledgeFiles(file: string): string[] {
  const deleted: string[] = [];
  for (const suffix of ['', '-wal', '-shm', '-journal']) {
    try {
      fs.rmSync(file + suffix);
      deleted.push(file + suffix);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return deleted;
}

/**
 * The process that keeps the index up to date (a running JARVIS), recorded beside it, so `jarvis docs add` leaves
 * the reading to it instead of embedding the same files twice, and `jarvis docs forget` does not delete a database
 * another process still writes.
 */
export function indexOwnerFile(dataDir: string): string {
  return path.join(dataDir, 'knowledge.owner');
}

/** The pid of the JARVIS that keeps the index up to date, if one runs. */
export function runningIndexer(dataDir: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(indexOwnerFile(dataDir), 'utf8'));
    return Number.isInteger(pid) && pid > 0 && isProcessAlive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}
