import fs from 'node:fs';
import path from 'node:path';

/**
 * Which files in a knowledge folder are read, and why the others are not. Privacy first: only what is inside the
 * configured folders, never a hidden file or one that looks like it holds secrets (a key, a .env, a password
 * store), since a passage read aloud on the wall HUD is as good as published.
 */

export type DocumentKind = 'text' | 'markdown' | 'html' | 'pdf' | 'docx' | 'epub';

const KINDS: Readonly<Record<string, DocumentKind>> = {
  '.txt': 'text',
  '.text': 'text',
  '.md': 'markdown',
  '.markdown': 'markdown',
  '.html': 'html',
  '.htm': 'html',
  '.pdf': 'pdf',
  '.docx': 'docx',
  '.epub': 'epub',
};

export type SkipCode = 'hidden' | 'secret' | 'unsupported' | 'too-large' | 'outside-folder' | 'corrupt' | 'unreadable' | 'empty';

export interface Skip {
  readonly code: SkipCode;
  /** Why, in words a person can act on: what is wrong and what to do if it should be read. */
  readonly reason: string;
}

/** Names that hold secrets or keys, whatever their folder: never read, never embedded, never shown. */
const SECRET_NAMES = [
  /^\.?env(\..*)?$/i,
  /^id_(rsa|dsa|ecdsa|ed25519)(\.pub)?$/i,
  /\.(pem|key|p12|pfx|jks|keystore|kdbx|kdb|agilekeychain|opvault|gpg|pgp|asc|ovpn|ppk)$/i,
  /(^|[-_.])(secret|secrets|credential|credentials|password|passwords|passwd|private[-_]?key)([-_.]|$)/i,
  /^\.?netrc$|^\.?pgpass$|^\.?htpasswd$/i,
];
/** Folders that are password stores or key rings. */
const SECRET_FOLDERS = /^(\.password-store|\.gnupg|\.ssh|keepass(xc)?|1password|bitwarden)$/i;

export function kindOf(file: string): DocumentKind | undefined {
  return KINDS[path.extname(file).toLowerCase()];
}

/** Whether the path `relative` (inside a knowledge folder) is skipped for its name alone; undefined: read it. */
export function skipForName(relative: string): Skip | undefined {
  const parts = relative.split(path.sep).filter(Boolean);
  const name = parts[parts.length - 1] ?? '';
  if (parts.slice(0, -1).some((part) => SECRET_FOLDERS.test(part)) || SECRET_NAMES.some((pattern) => pattern.test(name))) {
    return { code: 'secret', reason: `${relative} looks like it holds secrets (a key, a password or an .env file), so it is never read; rename it if it is an ordinary document` };
  }
  if (parts.some((part) => part.startsWith('.'))) {
    return { code: 'hidden', reason: `${relative} is hidden (a name starting with "."), so it is not read; rename it to have it read` };
  }
  if (!kindOf(name)) {
    return { code: 'unsupported', reason: `${relative}: only text, Markdown, HTML, PDF, DOCX and EPUB files are read` };
  }
  return undefined;
}

/**
 * Whether a directory entry is walked into / read at all, before its name: a symlink is followed only when it
 * stays inside the folder (a link to ~/.ssh from a documents folder must not export the keys).
 */
export function skipForLocation(file: string, folderRealPath: string): Skip | undefined {
  let real: string;
  try {
    real = fs.realpathSync(file);
  } catch {
    return { code: 'unreadable', reason: `${file} cannot be opened (a broken link, or no permission)` };
  }
  if (real !== folderRealPath && !real.startsWith(folderRealPath + path.sep)) {
    return { code: 'outside-folder', reason: `${file} is a link to ${real}, outside the knowledge folder, so it is not followed; add that folder with "jarvis docs add" if it should be read` };
  }
  return undefined;
}

export function skipForSize(relative: string, bytes: number, maxBytes: number): Skip | undefined {
  if (bytes <= maxBytes) return undefined;
  const mb = (n: number) => `${(n / 1e6).toFixed(n < 1e7 ? 1 : 0)} MB`;
  return { code: 'too-large', reason: `${relative} is ${mb(bytes)}, over the ${mb(maxBytes)} limit (knowledge.maxFileMb); raise the limit to have it read` };
}
