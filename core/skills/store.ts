import path from 'node:path';
import Database from 'better-sqlite3';
import { JarvisError } from '../../base/errors.ts';
import { openPrivateDatabase } from '../../base/private-database.ts';
import type { TimerKind } from './skill-call.ts';
import type { JarvisConfig } from '../../config/schema.ts';

/** The skills' database: one SQLite file under the data directory. */
export function skillsDatabasePath(config: Pick<JarvisConfig, 'dataDir'>): string {
  return path.join(config.dataDir, 'jarvis.db');
}

/**
 * What the skills keep between runs, in one SQLite file under the data directory: timers and alarms (so they
 * ring after a restart), household notes, and small settings such as the speaker level. WAL mode lets `jarvis
 * ask` / `jarvis memory` in another process write while the daemon reads; the daemon notices such writes through
 * `dataVersion()`. The schema is versioned with PRAGMA user_version and migrated forward on open.
 *
 * Only text is stored: what was asked for (a timer's name, a note's words), never audio.
 */

export type TimerState = 'pending' | 'ringing' | 'done' | 'cancelled' | 'missed';

export interface StoredTimer {
  readonly id: number;
  readonly kind: TimerKind;
  readonly label: string | undefined;
  /** Epoch ms at which it rings. */
  readonly dueAt: number;
  /** The length asked for, for timers ("the 5 minute timer"); undefined for alarms at a clock time. */
  readonly durationMs: number | undefined;
  readonly createdAt: number;
  readonly state: TimerState;
  readonly endedAt: number | undefined;
}

export interface Note {
  readonly id: number;
  readonly text: string;
  readonly createdAt: number;
}

interface TimerRow {
  id: number;
  kind: TimerKind;
  label: string | null;
  due_at: number;
  duration_ms: number | null;
  created_at: number;
  state: TimerState;
  ended_at: number | null;
}

interface NoteRow {
  id: number;
  text: string;
  created_at: number;
}

/** Each entry migrates from version i to i + 1. Never edit a shipped entry: add a new one. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE timers (
     id INTEGER PRIMARY KEY,
     kind TEXT NOT NULL CHECK (kind IN ('timer', 'alarm', 'reminder')),
     label TEXT,
     due_at INTEGER NOT NULL,
     duration_ms INTEGER,
     created_at INTEGER NOT NULL,
     state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'ringing', 'done', 'cancelled', 'missed')),
     ended_at INTEGER
   );
   CREATE INDEX timers_open ON timers (state, due_at);
   CREATE TABLE notes (
     id INTEGER PRIMARY KEY,
     text TEXT NOT NULL,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE settings (
     key TEXT PRIMARY KEY,
     value TEXT NOT NULL
   );`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Ended timers are kept this long (for "it's off" right after one rang, and for the log), then deleted. */
const ENDED_TIMERS_KEPT_MS = 7 * 86_400_000;

export class SkillStore {
  readonly file: string;
  readonly #db: Database.Database;

  private constructor(file: string, db: Database.Database) {
    this.file = file;
    this.#db = db;
  }

  /** Opens (creating it if needed) and migrates the store. ':memory:' gives a store that is not kept. */
  static open(file: string): SkillStore {
    // Household notes and what was set when: for this user's eyes only, the folder and every SQLite file.
    const db = openPrivateDatabase(file, {
      what: 'the skills database',
      code: 'store-unavailable',
      timeoutMs: 3000,
      damagedFix: `The file is damaged: move it aside (mv "${file}" "${file}.broken") and start again; timers and notes start empty.`,
      setUp: (opened) => migrate(opened, file),
    });
    return new SkillStore(file, db);
  }

  /** Changes whenever another connection (another jarvis process) commits a write. */
  dataVersion(): number {
    return this.#db.pragma('data_version', { simple: true }) as number;
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }

  // timers --------------------------------------------------------------------------------------------------

  addTimer(timer: { kind: TimerKind; label?: string; dueAt: number; durationMs?: number; createdAt: number }): StoredTimer {
    const info = this.#db
      .prepare('INSERT INTO timers (kind, label, due_at, duration_ms, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(timer.kind, timer.label ?? null, Math.round(timer.dueAt), timer.durationMs ?? null, timer.createdAt);
    return this.timer(Number(info.lastInsertRowid))!;
  }

  timer(id: number): StoredTimer | undefined {
    const row = this.#db.prepare('SELECT * FROM timers WHERE id = ?').get(id) as TimerRow | undefined;
    return row ? toTimer(row) : undefined;
  }

  /** Pending and ringing timers, soonest first. */
  openTimers(): StoredTimer[] {
    const rows = this.#db.prepare("SELECT * FROM timers WHERE state IN ('pending', 'ringing') ORDER BY due_at, id").all() as TimerRow[];
    return rows.map(toTimer);
  }

  /** Timers that ended (rang out, were stopped or cancelled) at or after `since`, latest first. */
  endedSince(since: number): StoredTimer[] {
    const rows = this.#db.prepare("SELECT * FROM timers WHERE state IN ('done', 'missed', 'cancelled') AND ended_at >= ? ORDER BY ended_at DESC").all(since) as TimerRow[];
    return rows.map(toTimer);
  }

  /** Moves open timers to `state`; returns how many changed (a timer that already ended stays as it was). */
  setTimerState(ids: readonly number[], state: TimerState, at: number): number {
    if (ids.length === 0) return 0;
    const ended = state === 'done' || state === 'cancelled' || state === 'missed';
    const update = this.#db.prepare(
      `UPDATE timers SET state = ?, ended_at = ? WHERE id = ? AND state IN ('pending', 'ringing')`,
    );
    const run = this.#db.transaction(() => ids.reduce((n, id) => n + update.run(state, ended ? at : null, id).changes, 0));
    const changed = run();
    if (ended) this.#db.prepare("DELETE FROM timers WHERE state IN ('done', 'missed', 'cancelled') AND ended_at < ?").run(at - ENDED_TIMERS_KEPT_MS);
    return changed;
  }

  /** Puts a timer (pending, ringing or just ended) off to `dueAt` and makes it pending again. */
  reschedule(id: number, dueAt: number): void {
    this.#db.prepare("UPDATE timers SET due_at = ?, state = 'pending', ended_at = NULL WHERE id = ?").run(Math.round(dueAt), id);
  }

  // notes ---------------------------------------------------------------------------------------------------

  addNote(text: string, createdAt: number): Note {
    const info = this.#db.prepare('INSERT INTO notes (text, created_at) VALUES (?, ?)').run(text, createdAt);
    return { id: Number(info.lastInsertRowid), text, createdAt };
  }

  notes(): Note[] {
    const rows = this.#db.prepare('SELECT * FROM notes ORDER BY created_at, id').all() as NoteRow[];
    return rows.map((row) => ({ id: row.id, text: row.text, createdAt: row.created_at }));
  }

  deleteNotes(ids: readonly number[]): number {
    const remove = this.#db.prepare('DELETE FROM notes WHERE id = ?');
    return this.#db.transaction(() => ids.reduce((n, id) => n + remove.run(id).changes, 0))();
  }

  deleteAllNotes(): number {
    return this.#db.prepare('DELETE FROM notes').run().changes;
  }

  // settings ------------------------------------------------------------------------------------------------

  setting(key: string): string | undefined {
    const row = this.#db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined;
    return row?.value;
  }

  deleteSetting(key: string): void {
    this.#db.prepare('DELETE FROM settings WHERE key = ?').run(key);
  }

  setSetting(key: string, value: string): void {
    this.#db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }
}

function migrate(db: Database.Database, file: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > MIGRATIONS.length) {
    throw new JarvisError(
      'store-too-new',
      `the skills database ${file} was written by a newer JARVIS (schema ${version}; this one knows up to ${MIGRATIONS.length})`,
      'Update JARVIS, or point dataDir at another directory.',
    );
  }
  for (let v = version; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}

function toTimer(row: TimerRow): StoredTimer {
  return {
    id: row.id,
    kind: row.kind,
    label: row.label ?? undefined,
    dueAt: row.due_at,
    durationMs: row.duration_ms ?? undefined,
    createdAt: row.created_at,
    state: row.state,
    endedAt: row.ended_at ?? undefined,
  };
}
