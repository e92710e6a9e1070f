import Database from 'better-sqlite3';
import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { JarvisError } from '../../base/errors.ts';
import { PAIRING_CODE_DIGITS, type Role } from '../protocol/wire.ts';
import { makePrivateDir, makePrivateSqliteFiles } from '../../base/private-files.ts';

/**
 * Paired devices and pending pairing codes, in one SQLite file shared by the daemon and `jarvis devices`.
 * Neither tokens nor codes are stored: only their SHA-256 (tokens are 256 random bits, so a plain hash is the
 * right tool; codes live five minutes). A code is single-use: redeeming it and creating the device happen in
 * one transaction. The daemon notices changes made by the CLI (a revoke) through SQLite's data_version.
 */

export interface Device {
  id: string;
  name: string;
  role: Role;
  createdAt: number;
  lastSeenAt: number | null;
  revokedAt: number | null;
}

export interface IssuedCode {
  code: string;
  role: Role;
  expiresAt: number;
}

export class PairingError extends JarvisError {
  constructor(message: string) {
    super('bad-code', message, 'Ask the HUD (or `jarvis devices pair`) for a new code and enter it within its time.');
  }
}

interface DeviceRow {
  id: string;
  name: string;
  role: Role;
  created_at: number;
  last_seen_at: number | null;
  revoked_at: number | null;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS devices (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'controller')),
    token_sha256 TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER,
    revoked_at INTEGER
  );
  CREATE TABLE IF NOT EXISTS pairing_codes (
    code_sha256 TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'controller')),
    expires_at INTEGER NOT NULL,
    used_at INTEGER
  );
`;

/** Codes alive at once; issuing more retires the oldest, so a busy HUD cannot widen the guessing space. */
const MAX_LIVE_CODES = 3;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export function devicesDbPath(dataDir: string): string {
  return path.join(dataDir, 'devices.sqlite');
}

export class DeviceStore {
  readonly #db: Database.Database;
  readonly #now: () => number;
  /** How long a new code is valid. */
  readonly #codeTtlMs: number;
  #dataVersion: number;
  #watchTimer: NodeJS.Timeout | undefined;

  constructor(file: string, options: { now?: () => number; codeTtlMs?: number } = {}) {
    this.#now = options.now ?? Date.now;
    this.#codeTtlMs = options.codeTtlMs ?? 5 * 60_000;
    if (file !== ':memory:') {
      makePrivateDir(path.dirname(file));
      makePrivateSqliteFiles(file);
    }
    this.#db = new Database(file);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('busy_timeout = 2000');
    this.#db.exec(SCHEMA);
    this.#dataVersion = this.#readDataVersion();
  }

  issueCode(role: Role): IssuedCode {
    const now = this.#now();
    const code = String(randomInt(0, 10 ** PAIRING_CODE_DIGITS)).padStart(PAIRING_CODE_DIGITS, '0');
    const ttl = this.#codeTtlMs;
    this.#db.transaction(() => {
      this.#db.prepare('DELETE FROM pairing_codes WHERE expires_at <= ? OR used_at IS NOT NULL').run(now);
      this.#db
        .prepare(
          `DELETE FROM pairing_codes WHERE code_sha256 IN
             (SELECT code_sha256 FROM pairing_codes ORDER BY expires_at DESC LIMIT -1 OFFSET ?)`,
        )
        .run(MAX_LIVE_CODES - 1);
      this.#db.prepare('INSERT OR REPLACE INTO pairing_codes (code_sha256, role, expires_at) VALUES (?, ?, ?)').run(sha256(code), role, now + ttl);
    })();
    return { code, role, expiresAt: now + ttl };
  }

  /** Redeems a code: a new device with a fresh token. Throws PairingError for an unknown, used or expired code. */
  redeemCode(code: string, name: string): { device: Device; token: string } {
    const now = this.#now();
    return this.#db.transaction(() => {
      const row = this.#db.prepare('SELECT role, expires_at, used_at FROM pairing_codes WHERE code_sha256 = ?').get(sha256(code)) as
        | { role: Role; expires_at: number; used_at: number | null }
        | undefined;
      if (!row) throw new PairingError('that pairing code is not valid');
      if (row.used_at !== null) throw new PairingError('that pairing code was already used');
      if (row.expires_at <= now) throw new PairingError('that pairing code has expired');
      this.#db.prepare('UPDATE pairing_codes SET used_at = ? WHERE code_sha256 = ?').run(now, sha256(code));
      const token = `jv1_${randomBytes(32).toString('base64url')}`;
      const id = randomBytes(4).toString('hex');
      this.#db
        .prepare('INSERT INTO devices (id, name, role, token_sha256, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(id, name, row.role, sha256(token), now, now);
      return { device: { id, name, role: row.role, createdAt: now, lastSeenAt: now, revokedAt: null }, token };
    })();
  }

  /** The device a token belongs to, revoked ones included (the caller says why it refuses). */
  findByToken(token: string): Device | undefined {
    if (!token.startsWith('jv1_') || token.length > 100) return undefined;
    const digest = sha256(token);
    const row = this.#db.prepare('SELECT *, token_sha256 FROM devices WHERE token_sha256 = ?').get(digest) as (DeviceRow & { token_sha256: string }) | undefined;
    // The lookup is by hash already; the comparison guards against a future change to a prefix lookup.
    if (!row || !timingSafeEqual(Buffer.from(row.token_sha256), Buffer.from(digest))) return undefined;
    return toDevice(row);
  }

  get(id: string): Device | undefined {
    const row = this.#db.prepare('SELECT * FROM devices WHERE id = ?').get(id) as DeviceRow | undefined;
    return row ? toDevice(row) : undefined;
  }

  touch(id: string): void {
    this.#db.prepare('UPDATE devices SET last_seen_at = ? WHERE id = ?').run(this.#now(), id);
  }

  list(options: { includeRevoked?: boolean } = {}): Device[] {
    const rows = this.#db
      .prepare(`SELECT * FROM devices ${options.includeRevoked ? '' : 'WHERE revoked_at IS NULL'} ORDER BY created_at`)
      .all() as DeviceRow[];
    return rows.map(toDevice);
  }

  /** Revokes by id (or unique id prefix, or exact name). Returns the revoked devices. */
  revoke(which: string): Device[] {
    const matches = this.list().filter((d) => d.id === which || d.name === which || (which.length >= 3 && d.id.startsWith(which)));
    const now = this.#now();
    const update = this.#db.prepare('UPDATE devices SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL');
    this.#db.transaction(() => matches.forEach((d) => update.run(now, d.id)))();
    return matches.map((d) => ({ ...d, revokedAt: now }));
  }

  /**
   * Calls `listener` (at most every `intervalMs`) after another process changed the store, e.g. `jarvis devices
   * revoke` while the daemon runs.
   */
  watch(listener: () => void, intervalMs = 500): void {
    this.unwatch();
    this.#watchTimer = setInterval(() => {
      const version = this.#readDataVersion();
      if (version === this.#dataVersion) return;
      this.#dataVersion = version;
      listener();
    }, intervalMs);
    this.#watchTimer.unref();
  }

  unwatch(): void {
    if (this.#watchTimer) clearInterval(this.#watchTimer);
    this.#watchTimer = undefined;
  }

  close(): void {
    this.unwatch();
    if (this.#db.open) this.#db.close();
  }

  #readDataVersion(): number {
    return this.#db.pragma('data_version', { simple: true }) as number;
  }
}

function toDevice(row: DeviceRow): Device {
  return { id: row.id, name: row.name, role: row.role, createdAt: row.created_at, lastSeenAt: row.last_seen_at, revokedAt: row.revoked_at };
}
