import path from 'node:path';
import Database from 'better-sqlite3';
import { JarvisError } from './errors.ts';
import { makePrivateDir, makePrivateSqliteFiles } from './private-files.ts';

/**
 * Opens (creating it if needed) one of the household's SQLite files the way all of them are kept: owner-only
 * folder and files, WAL (a reader never waits for a writer; other jarvis processes share the file), foreign keys.
 * `setUp` creates or migrates the schema. A file that cannot be opened is a JarvisError naming `what` and the fix
 * (`damagedFix` for a damaged file); ':memory:' gives a database that is not kept.
 */
export function openPrivateDatabase(
  file: string,
  options: { readonly what: string; readonly code: string; readonly timeoutMs: number; readonly damagedFix: string; readonly setUp: (db: Database.Database) => void },
): Database.Database {
  let db: Database.Database | undefined;
  try {
    if (file !== ':memory:') {
      makePrivateDir(path.dirname(file));
      makePrivateSqliteFiles(file);
    }
    db = new Database(file, { timeout: options.timeoutMs });
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    options.setUp(db);
    if (file !== ':memory:') makePrivateSqliteFiles(file);
    return db;
  } catch (error) {
    db?.close();
    if (error instanceof JarvisError) throw error;
    const message = (error as Error).message;
    throw new JarvisError(
      options.code,
      `cannot open ${options.what} ${file}: ${message}`,
      /not a database|malformed|corrupt/i.test(message) ? options.damagedFix : `Check that ${path.dirname(file)} exists and is writable by this user.`,
      { cause: error },
    );
  }
}
