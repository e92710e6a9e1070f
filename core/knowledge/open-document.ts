import fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { kindOf, skipForName, type DocumentKind } from './file-policy.ts';
import type { KnowledgeDb } from './knowledge-db.ts';

/**
 * A document of the index opened for a screen (a tap on a source under the answer). Only by its id in the index,
 * never by a path a client names, and only while it is still what was indexed: a file read (not skipped) from a
 * folder that is still configured, still inside that folder (its folders resolved: a folder swapped for a link
 * that leads elsewhere is refused), itself a plain file (a symlink is never followed, even one inside the folder),
 * and still not hidden nor secret-looking by name. Each check is made again on every open: an index entry is not a
 * licence for whatever sits at that path today.
 */

export type DocumentRefusalCode = 'not-indexed' | 'gone' | 'not-in-folder';

export interface DocumentRefusal {
  readonly refused: DocumentRefusalCode;
  /** Why, in words for the person who tapped it. */
  readonly message: string;
}

export interface OpenedDocument {
  readonly id: number;
  /** The file's name (no folders), for the tab's title and a download. */
  readonly name: string;
  readonly kind: DocumentKind;
  /** The Content-Type it is served with. */
  readonly type: string;
  /** Shown in the browser (PDF, text, HTML); the others (DOCX, EPUB) are downloads for an app. */
  readonly inline: boolean;
  readonly size: number;
  /** Open for reading; the caller closes it. */
  readonly handle: FileHandle;
}

const TYPES: Readonly<Record<DocumentKind, { type: string; inline: boolean }>> = {
  pdf: { type: 'application/pdf', inline: true },
  text: { type: 'text/plain; charset=utf-8', inline: true },
  markdown: { type: 'text/markdown; charset=utf-8', inline: true },
  html: { type: 'text/html; charset=utf-8', inline: true },
  docx: { type: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', inline: false },
  epub: { type: 'application/epub+zip', inline: false },
};

export function documentType(kind: DocumentKind): { type: string; inline: boolean } {
  return TYPES[kind];
}

export const isRefusal = (value: OpenedDocument | DocumentRefusal): value is DocumentRefusal => 'refused' in value;

/** Opens the indexed document `id` for reading, or says why it cannot be. */
export async function openIndexedDocument(db: KnowledgeDb, folders: readonly string[], id: number): Promise<OpenedDocument | DocumentRefusal> {
  const row = db.fileById(id);
  if (!row || row.status !== 'indexed' || !folders.includes(row.folder)) {
    return { refused: 'not-indexed', message: 'that document is not in the index (any more): ask again to find where the answer is now' };
  }
  const name = path.basename(row.path);
  const relative = path.relative(row.folder, row.path);
  const kind = kindOf(row.path);
  if (!kind || relative === '' || relative.startsWith('..') || path.isAbsolute(relative) || skipForName(relative)) {
    return { refused: 'not-in-folder', message: `${name} is not a document JARVIS may open` };
  }
  let link: fs.Stats;
  try {
    link = await fs.promises.lstat(row.path);
  } catch {
    return { refused: 'gone', message: `${name} is no longer there (moved or deleted since it was read)` };
  }
  if (link.isSymbolicLink()) return { refused: 'not-in-folder', message: `${name} is a link, and links are not opened from the screens` };
  if (!link.isFile()) return { refused: 'gone', message: `${name} is no longer a file` };
  // The folders on the way: still inside the knowledge folder once every link among them is resolved.
  try {
    const [root, parent] = await Promise.all([fs.promises.realpath(row.folder), fs.promises.realpath(path.dirname(row.path))]);
    if (parent !== root && !parent.startsWith(root + path.sep)) throw new Error('outside');
  } catch {
    return { refused: 'not-in-folder', message: `${name} is no longer inside its knowledge folder` };
  }
  let handle: FileHandle;
  try {
    // O_NOFOLLOW: a link put in its place since the lstat is refused by the kernel, not followed.
    handle = await fs.promises.open(row.path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') return { refused: 'not-in-folder', message: `${name} is a link, and links are not opened from the screens` };
    return { refused: 'gone', message: `${name} cannot be opened (${code === 'EACCES' ? 'no permission' : 'moved or deleted'})` };
  }
  const opened = await handle.stat();
  if (!opened.isFile() || opened.ino !== link.ino || opened.dev !== link.dev) {
    await handle.close();
    return { refused: 'gone', message: `${name} changed while it was opened; tap it again` };
  }
  return { id, name, kind, ...documentType(kind), size: opened.size, handle };
}
