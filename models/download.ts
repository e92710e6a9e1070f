import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffMs } from '../base/backoff.ts';
import { describeError } from '../base/errors.ts';
import { formatBytes } from '../base/format.ts';
import { ModelDownloadError } from './errors.ts';
import { withFileLock } from './file-lock.ts';

/**
 * Downloads one file over HTTP(S) the way a multi-gigabyte model needs it:
 * - into `<name>.part`, renamed to the final name only once size, hash and format are verified, so a file under
 *   its final name is always complete;
 * - resumable: an interrupted transfer (a dropped connection, a stall, Ctrl+C) continues with an HTTP Range
 *   request from the bytes already there, guarded by If-Range so a file that changed upstream starts over;
 * - bounded: a server that sends nothing for `stallTimeoutMs` is a failure, retried `retries` times with backoff;
 * - checked against the SHA-256/SHA-1 the catalog knows, else the SHA-256 Hugging Face reports for LFS files
 *   (x-linked-etag), and the size the server announced;
 * - locked: a second download of the same file (another process) waits for the first and then finds it done.
 * The access token is sent only to the host it belongs to, never after a redirect to another host.
 */

export interface ExpectedFile {
  readonly bytes?: number;
  /** `bytes` is exact; otherwise it is an estimate and only a gross difference is refused. */
  readonly exactBytes?: boolean;
  readonly sha256?: string;
  readonly sha1?: string;
}

export type DownloadPhase = 'waiting' | 'checking' | 'downloading' | 'verifying' | 'done';

export interface DownloadProgress {
  /** The file name (the final one, without folders). */
  readonly file: string;
  readonly url: string;
  readonly phase: DownloadPhase;
  readonly receivedBytes: number;
  readonly totalBytes: number | undefined;
  /** Over the last few seconds. */
  readonly bytesPerSecond: number;
  readonly etaSeconds: number | undefined;
  /** Where the last resumed request started (0: never resumed). */
  readonly resumedFromBytes: number;
  readonly attempt: number;
}

export interface DownloadOptions {
  readonly url: string;
  readonly destination: string;
  readonly expected?: ExpectedFile;
  readonly token?: string;
  readonly offline?: boolean;
  readonly stallTimeoutMs?: number;
  /** Further attempts after a dropped connection or a stall. */
  readonly retries?: number;
  /** First backoff; doubles per attempt. */
  readonly retryDelayMs?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: DownloadProgress) => void;
  /** Checks the finished `.part` file's format (GGUF header, Whisper layout…); throws to refuse it. */
  readonly verifyFormat?: (file: string) => Promise<void>;
}

export interface DownloadResult {
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
  /** Which hash the content was checked against. */
  readonly checkedAgainst: 'catalog sha256' | 'catalog sha1' | 'server sha256' | 'size and format only';
  readonly resumedFromBytes: number;
  readonly attempts: number;
  readonly ms: number;
  /** Another process had finished it while this one waited. */
  readonly alreadyPresent: boolean;
}

interface PartMeta {
  readonly url: string;
  /** ETag or Last-Modified of the copy being downloaded, for If-Range. */
  readonly validator?: string;
  readonly totalBytes?: number;
  readonly serverSha256?: string;
}

interface OpenResponse {
  readonly response: IncomingMessage;
  /** From the first hop that had them (Hugging Face puts them on its redirect). */
  readonly linkedSha256: string | undefined;
  readonly linkedSize: number | undefined;
}

const MAX_REDIRECTS = 8;
const PROGRESS_INTERVAL_MS = 250;
const SPEED_WINDOW_MS = 3000;

/** In this process, one download per destination; others join it. */
const inFlight = new Map<string, Promise<DownloadResult>>();

export function downloadFile(options: DownloadOptions): Promise<DownloadResult> {
  const destination = path.resolve(options.destination);
  const running = inFlight.get(destination);
  if (running) return running;
  const started = (async () => {
    try {
      return await withLockedDownload(options, destination);
    } finally {
      inFlight.delete(destination);
    }
  })();
  inFlight.set(destination, started);
  return started;
}

async function withLockedDownload(options: DownloadOptions, destination: string): Promise<DownloadResult> {
  const file = path.basename(destination);
  if (options.offline) {
    throw new ModelDownloadError(
      'download-offline',
      options.url,
      `not downloading ${file}: offline mode is on (models.offline)`,
      `Fetch ${options.url} by hand and save it as ${destination}, then run \`jarvis models verify\`; or set models.offline to false.`,
    );
  }
  await fs.promises.mkdir(path.dirname(destination), { recursive: true });
  const started = performance.now();
  return withFileLock(
    `${destination}.lock`,
    async (): Promise<DownloadResult> => {
      if (fs.existsSync(destination)) {
        const bytes = (await fs.promises.stat(destination)).size;
        return { path: destination, bytes, sha256: '', checkedAgainst: 'size and format only', resumedFromBytes: 0, attempts: 0, ms: performance.now() - started, alreadyPresent: true };
      }
      return new Transfer(options, destination).run(started);
    },
    {
      ...(options.signal ? { signal: options.signal } : {}),
      onWait: () => options.onProgress?.({ file, url: options.url, phase: 'waiting', receivedBytes: 0, totalBytes: undefined, bytesPerSecond: 0, etaSeconds: undefined, resumedFromBytes: 0, attempt: 0 }),
    },
  ).catch((error: unknown) => {
    if (error instanceof ModelDownloadError) throw error;
    if (options.signal?.aborted) throw aborted(options.url, file);
    throw error;
  });
}

function aborted(url: string, file: string): ModelDownloadError {
  return new ModelDownloadError('download-aborted', url, `download of ${file} stopped`, 'Run the same command again: it continues where it stopped.');
}

/** Both digests of everything written to the .part file, in order. */
class ContentHash {
  #sha256: Hash = createHash('sha256');
  #sha1: Hash = createHash('sha1');

  update(chunk: Buffer): void {
    this.#sha256.update(chunk);
    this.#sha1.update(chunk);
  }

  reset(): void {
    this.#sha256 = createHash('sha256');
    this.#sha1 = createHash('sha1');
  }

  digest(): { sha256: string; sha1: string } {
    return { sha256: this.#sha256.digest('hex'), sha1: this.#sha1.digest('hex') };
  }
}

class Transfer {
  readonly #options: DownloadOptions;
  readonly #destination: string;
  readonly #part: string;
  readonly #metaFile: string;
  readonly #file: string;
  readonly #hash = new ContentHash();
  #meta: PartMeta | undefined;
  #received = 0;
  #resumedFrom = 0;
  #total: number | undefined;
  #attempt = 0;
  #phase: DownloadPhase = 'checking';
  #lastProgress = 0;
  readonly #samples: { t: number; bytes: number }[] = [];
  #digest: { sha256: string; sha1: string } | undefined;

  constructor(options: DownloadOptions, destination: string) {
    this.#options = options;
    this.#destination = destination;
    this.#part = `${destination}.part`;
    this.#metaFile = `${destination}.part.json`;
    this.#file = path.basename(destination);
  }

  async run(started: number): Promise<DownloadResult> {
    await this.#prepareResume();
    this.#resumedFrom = this.#received;
    const retries = this.#options.retries ?? 4;
    for (;;) {
      this.#attempt++;
      try {
        await this.#attemptTransfer();
        break;
      } catch (error) {
        const failure = this.#classify(error);
        if (!failure.retryable || this.#attempt > retries) {
          // What was received belongs to another file: nothing to resume. Otherwise the .part stays for next time.
          if (failure.code === 'download-not-found' || failure.code === 'download-size-mismatch') await this.#discard();
          throw failure;
        }
        await this.#syncWithDisk();
        const delay = backoffMs(this.#options.retryDelayMs ?? 1000, this.#attempt - 1);
        await sleep(delay, undefined, this.#options.signal ? { signal: this.#options.signal } : {}).catch(() => {
          throw aborted(this.#options.url, this.#file);
        });
      }
    }
    const checkedAgainst = await this.#verify();
    await fs.promises.rename(this.#part, this.#destination);
    await fs.promises.rm(this.#metaFile, { force: true });
    this.#phase = 'done';
    this.#report(true);
    return {
      path: this.#destination,
      bytes: this.#received,
      sha256: this.#digest!.sha256,
      checkedAgainst,
      resumedFromBytes: this.#resumedFrom,
      attempts: this.#attempt,
      ms: performance.now() - started,
      alreadyPresent: false,
    };
  }

  /** Keeps a .part of the same URL and hashes what it holds; anything else starts from zero. */
  async #prepareResume(): Promise<void> {
    let meta: PartMeta | undefined;
    try {
      meta = JSON.parse(await fs.promises.readFile(this.#metaFile, 'utf8')) as PartMeta;
    } catch {
      meta = undefined;
    }
    const partBytes = fs.statSync(this.#part, { throwIfNoEntry: false })?.size ?? 0;
    if (!meta || meta.url !== this.#options.url || partBytes === 0) {
      await this.#discard();
      return;
    }
    this.#meta = meta;
    this.#total = meta.totalBytes;
    this.#report(true);
    // The hash covers the whole file, so the bytes already there go through it first.
    await this.#hashPart(partBytes);
  }

  async #discard(): Promise<void> {
    await fs.promises.rm(this.#part, { force: true });
    await fs.promises.rm(this.#metaFile, { force: true });
    this.#hash.reset();
    this.#received = 0;
    this.#meta = undefined;
  }

  async #attemptTransfer(): Promise<void> {
    const resumeFrom = this.#received;
    const headers: Record<string, string> = { 'user-agent': 'jarvis-model-manager', 'accept-encoding': 'identity' };
    if (resumeFrom > 0) {
      headers.range = `bytes=${resumeFrom}-`;
      if (this.#meta?.validator) headers['if-range'] = this.#meta.validator;
    }
    let stalled = false;
    try {
      const opened = await this.#open(headers, () => {
        stalled = true;
      });
      const { response } = opened;
      const status = response.statusCode ?? 0;
      if (status === 416 && resumeFrom > 0) {
        // The .part is as long as (or longer than) the file: start over rather than guess.
        response.resume();
        await this.#discard();
        throw new ModelDownloadError('download-truncated', this.#options.url, `the server refused to resume ${this.#file}`, 'Retrying from the start.');
      }
      this.#checkStatus(status, response);
      let offset = 0;
      if (status === 206) {
        const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(response.headers['content-range'] ?? ''));
        if (!range || Number(range[1]) !== resumeFrom) {
          response.resume();
          await this.#discard();
          throw new ModelDownloadError('download-truncated', this.#options.url, `the server resumed ${this.#file} at the wrong place (${response.headers['content-range'] ?? 'no Content-Range'})`, 'Retrying from the start.');
        }
        offset = resumeFrom;
        this.#resumedFrom = resumeFrom;
        if (range[3] !== '*') this.#total = Number(range[3]);
      } else {
        // 200: the whole file, whether or not a range was asked for (a changed file, a server without ranges).
        if (resumeFrom > 0) await this.#discard();
        const length = Number(response.headers['content-length']);
        this.#total = Number.isFinite(length) && response.headers['content-length'] !== undefined ? length : opened.linkedSize;
        if (opened.linkedSize !== undefined && this.#total !== opened.linkedSize) {
          response.resume();
          throw new ModelDownloadError('download-size-mismatch', this.#options.url,
            `the server announces ${opened.linkedSize} bytes for ${this.#file} but sends ${this.#total}: its copy is truncated or damaged`,
            'Try again later or use another mirror (models.baseUrl).');
        }
      }
      if (this.#total === undefined && opened.linkedSize !== undefined) this.#total = opened.linkedSize;
      this.#checkAnnouncedSize();
      const validator = headerText(response.headers.etag) ?? headerText(response.headers['last-modified']);
      this.#meta = {
        url: this.#options.url,
        ...(validator ? { validator } : {}),
        ...(this.#total !== undefined ? { totalBytes: this.#total } : {}),
        ...(opened.linkedSha256 ?? this.#meta?.serverSha256 ? { serverSha256: opened.linkedSha256 ?? this.#meta?.serverSha256 } : {}),
      };
      await fs.promises.writeFile(this.#metaFile, JSON.stringify(this.#meta));
      this.#phase = 'downloading';
      this.#report(true);
      await this.#writeBody(response, offset);
      // The size that counts is the file's, not a count kept in memory.
      this.#received = (await fs.promises.stat(this.#part)).size;
      if (this.#total !== undefined && this.#received < this.#total) {
        throw new ModelDownloadError(
          'download-truncated',
          this.#options.url,
          `the connection ended after ${this.#received} of ${this.#total} bytes of ${this.#file}`,
          'Run the same command again: it continues where it stopped.',
        );
      }
      if (this.#total !== undefined && this.#received > this.#total) {
        throw new ModelDownloadError('download-corrupt', this.#options.url, `${this.#file}: the server sent ${this.#received} bytes but announced ${this.#total}`,
          'Try again later or use another mirror (models.baseUrl).');
      }
    } catch (error) {
      if (stalled) throw this.#stallError(error);
      throw error;
    }
  }

  /**
   * Appends the body to the .part file and feeds each chunk to the hash only once it is written, so the hash and
   * `#received` always describe the bytes on disk; the next chunk is read only after that (backpressure).
   */
  async #writeBody(response: IncomingMessage, offset: number): Promise<void> {
    const file = await fs.promises.open(this.#part, offset > 0 ? 'a' : 'w');
    try {
      for await (const chunk of response as AsyncIterable<Buffer>) {
        for (let written = 0; written < chunk.length; ) {
          written += (await file.write(chunk, written, chunk.length - written)).bytesWritten;
        }
        this.#hash.update(chunk);
        this.#received += chunk.length;
        this.#report(false);
      }
    } finally {
      await file.close();
    }
  }

  /**
   * After a failed attempt: the resume offset and the hash come from the .part file on disk. Normally they already
   * agree (chunks are hashed after they are written); if a write was cut short part-way, the file is read again.
   */
  async #syncWithDisk(): Promise<void> {
    const onDisk = fs.statSync(this.#part, { throwIfNoEntry: false })?.size ?? 0;
    if (onDisk === this.#received) return;
    this.#hash.reset();
    this.#received = 0;
    if (onDisk > 0) await this.#hashPart(onDisk);
  }

  async #hashPart(bytes: number): Promise<void> {
    for await (const chunk of fs.createReadStream(this.#part, { end: bytes - 1 })) {
      if (this.#options.signal?.aborted) throw aborted(this.#options.url, this.#file);
      this.#hash.update(chunk as Buffer);
    }
    this.#received = bytes;
  }

  #stallError(cause: unknown): ModelDownloadError {
    const seconds = (this.#options.stallTimeoutMs ?? 30_000) / 1000;
    return new ModelDownloadError(
      'download-stalled',
      this.#options.url,
      `no data from ${new URL(this.#options.url).host} for ${seconds} s while downloading ${this.#file} (${this.#received} bytes so far)`,
      'Check the network and run the same command again: it continues where it stopped. A slow mirror can be given more time with models.stallTimeoutMs.',
      { cause },
    );
  }

  /** Sends the request and follows redirects, collecting Hugging Face's x-linked-* headers on the way. */
  async #open(headers: Record<string, string>, onStall: () => void): Promise<OpenResponse> {
    let url = new URL(this.#options.url);
    const tokenHost = url.host;
    let linkedSha256: string | undefined;
    let linkedSize: number | undefined;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const withAuth = this.#options.token && url.host === tokenHost ? { ...headers, authorization: `Bearer ${this.#options.token}` } : headers;
      const response = await this.#get(url, withAuth, onStall);
      const etag = headerText(response.headers['x-linked-etag'])?.replace(/^W\//, '').replace(/"/g, '').toLowerCase();
      if (!linkedSha256 && etag && /^[0-9a-f]{64}$/.test(etag)) linkedSha256 = etag;
      const size = Number(response.headers['x-linked-size']);
      if (linkedSize === undefined && Number.isFinite(size) && size > 0) linkedSize = size;
      const status = response.statusCode ?? 0;
      const location = response.headers.location;
      if (status >= 300 && status < 400 && location) {
        response.resume();
        url = new URL(location, url);
        continue;
      }
      return { response, linkedSha256, linkedSize };
    }
    throw new ModelDownloadError('download-http', this.#options.url, `more than ${MAX_REDIRECTS} redirects for ${this.#file}`, 'Check models.baseUrl: the mirror redirects in a loop.');
  }

  #get(url: URL, headers: Record<string, string>, onStall: () => void): Promise<IncomingMessage> {
    const client = url.protocol === 'https:' ? https : http;
    const stallMs = this.#options.stallTimeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      const request = client.get(url, { headers, ...(this.#options.signal ? { signal: this.#options.signal } : {}) });
      // Socket inactivity: covers a server that never answers and one that stops sending mid-file.
      request.setTimeout(stallMs, () => {
        onStall();
        request.destroy(new Error(`no data for ${stallMs} ms`));
      });
      request.once('response', resolve);
      request.once('error', (error) => reject(error));
    });
  }

  #checkStatus(status: number, response: IncomingMessage): void {
    if (status === 200 || status === 206) return;
    response.resume();
    const url = this.#options.url;
    if (status === 404) {
      throw new ModelDownloadError('download-not-found', url, `${this.#file} was not found at ${url} (HTTP 404)`,
        'Check models.baseUrl (a mirror must keep Hugging Face\'s /<repo>/resolve/<revision>/<path> layout), or import the file you have with `jarvis models import PATH`.');
    }
    if (status === 401 || status === 403) {
      throw new ModelDownloadError('download-unauthorized', url, `${url} refused the download of ${this.#file} (HTTP ${status})`,
        this.#options.token
          ? 'The access token in models.token was refused: check it, and accept the model\'s licence on its Hugging Face page.'
          : 'This model needs an access token: accept its licence on Hugging Face, create a read token and set models.token (or JARVIS_MODELS__TOKEN).');
    }
    throw new ModelDownloadError('download-http', url, `${url} answered HTTP ${status} for ${this.#file}`,
      'Try again later, or set models.baseUrl to a mirror.', { retryable: status >= 500 || status === 429 });
  }

  #checkAnnouncedSize(): void {
    const expected = this.#options.expected;
    if (this.#total === undefined || expected?.bytes === undefined) return;
    const wrong = expected.exactBytes ? this.#total !== expected.bytes : Math.abs(this.#total - expected.bytes) > expected.bytes * 0.25;
    if (!wrong) return;
    throw new ModelDownloadError(
      'download-size-mismatch',
      this.#options.url,
      `the server offers ${this.#total} bytes for ${this.#file}, but ${expected.exactBytes ? 'the file is' : 'the catalog expects about'} ${expected.bytes}: it is not the file JARVIS knows`,
      'Check models.baseUrl (a mirror serving another file?), or import the file with `jarvis models import PATH` if it is what you want.',
    );
  }

  async #verify(): Promise<DownloadResult['checkedAgainst']> {
    this.#phase = 'verifying';
    this.#report(true);
    const digest = this.#hash.digest();
    this.#digest = digest;
    const expected = this.#options.expected ?? {};
    const fail = async (what: string, want: string, got: string) => {
      await this.#discard();
      return new ModelDownloadError(
        'download-hash-mismatch',
        this.#options.url,
        `${this.#file} is damaged or not the expected file: its ${what} is ${got}, expected ${want}; the download was deleted`,
        'Run the same command again to download it afresh; if it repeats, the mirror (models.baseUrl) serves another file.',
      );
    };
    if (expected.exactBytes && expected.bytes !== undefined && this.#received !== expected.bytes) {
      await this.#discard();
      throw new ModelDownloadError('download-size-mismatch', this.#options.url, `${this.#file} has ${this.#received} bytes, expected ${expected.bytes}; the download was deleted`,
        'Run the same command again to download it afresh.');
    }
    let checkedAgainst: DownloadResult['checkedAgainst'] = 'size and format only';
    const serverSha256 = this.#meta?.serverSha256;
    if (expected.sha256) {
      if (digest.sha256 !== expected.sha256.toLowerCase()) throw await fail('SHA-256', expected.sha256, digest.sha256);
      checkedAgainst = 'catalog sha256';
    } else if (expected.sha1) {
      if (digest.sha1 !== expected.sha1.toLowerCase()) throw await fail('SHA-1', expected.sha1, digest.sha1);
      checkedAgainst = 'catalog sha1';
    }
    if (serverSha256 && digest.sha256 !== serverSha256) throw await fail('SHA-256', `${serverSha256} (reported by the server)`, digest.sha256);
    if (serverSha256 && checkedAgainst === 'size and format only') checkedAgainst = 'server sha256';
    if (this.#options.verifyFormat) {
      try {
        await this.#options.verifyFormat(this.#part);
      } catch (error) {
        await this.#discard();
        const { message } = describeError(error);
        throw new ModelDownloadError('download-corrupt', this.#options.url, `${this.#file} downloaded but is not usable: ${message}; the download was deleted`,
          'Run the same command again; if it repeats, the mirror (models.baseUrl) serves a damaged file.', { cause: error });
      }
    }
    return checkedAgainst;
  }

  #classify(error: unknown): ModelDownloadError {
    if (error instanceof ModelDownloadError) return error;
    if (this.#options.signal?.aborted) return aborted(this.#options.url, this.#file);
    const code = (error as NodeJS.ErrnoException).code;
    const host = new URL(this.#options.url).host;
    const message = (error as Error).message;
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
      // No name resolution means no network at all: fail at once rather than after minutes of retries.
      return new ModelDownloadError('download-network', this.#options.url, `cannot resolve ${host} to download ${this.#file} (no internet?)`,
        `Connect to the internet, or fetch ${this.#options.url} by hand and save it as ${this.#destination}, or set models.offline to true.`,
        { cause: error, retryable: false });
    }
    // This machine's disk, not the connection: trying again cannot help, and the fix is here.
    const folder = path.dirname(this.#destination);
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      const needed = this.#total !== undefined ? ` (${formatBytes(this.#total - this.#received)} more needed)` : '';
      return new ModelDownloadError('download-disk-full', this.#options.url,
        `the disk holding ${folder} is full: ${formatBytes(this.#received)} of ${this.#file} were written${needed}`,
        `Free space on that disk, or set models.dir to a folder on a larger one; then run the same command again (it continues where it stopped).`,
        { cause: error, retryable: false });
    }
    if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM') {
      return new ModelDownloadError('download-not-writable', this.#options.url, `cannot write ${this.#file} into ${folder} (${code === 'EROFS' ? 'a read-only file system' : 'permission denied'})`,
        `Make ${folder} writable by this user, or set models.dir to a folder that is.`, { cause: error, retryable: false });
    }
    if (this.#total !== undefined && this.#received < this.#total) {
      return new ModelDownloadError('download-truncated', this.#options.url,
        `the connection ended after ${this.#received} of ${this.#total} bytes of ${this.#file} (${message})`,
        'Run the same command again: it continues where it stopped.', { cause: error });
    }
    if (code === 'ECONNREFUSED') {
      return new ModelDownloadError('download-network', this.#options.url, `${host} refused the connection for ${this.#file}`,
        `Check models.baseUrl, or fetch ${this.#options.url} by hand and save it as ${this.#destination}.`, { cause: error });
    }
    return new ModelDownloadError('download-network', this.#options.url, `the connection to ${host} failed while downloading ${this.#file} (${message})`,
      'Run the same command again: it continues where it stopped.', { cause: error });
  }

  #report(force: boolean): void {
    const onProgress = this.#options.onProgress;
    if (!onProgress) return;
    const now = performance.now();
    if (!force && now - this.#lastProgress < PROGRESS_INTERVAL_MS) return;
    this.#lastProgress = now;
    this.#samples.push({ t: now, bytes: this.#received });
    while (this.#samples.length > 2 && this.#samples[0]!.t < now - SPEED_WINDOW_MS) this.#samples.shift();
    const first = this.#samples[0]!;
    const seconds = (now - first.t) / 1000;
    const bytesPerSecond = seconds > 0.05 ? Math.max(0, (this.#received - first.bytes) / seconds) : 0;
    const left = this.#total !== undefined ? this.#total - this.#received : undefined;
    onProgress({
      file: this.#file,
      url: this.#options.url,
      phase: this.#phase,
      receivedBytes: this.#received,
      totalBytes: this.#total,
      bytesPerSecond,
      etaSeconds: left !== undefined && bytesPerSecond > 0 ? left / bytesPerSecond : undefined,
      resumedFromBytes: this.#resumedFrom,
      attempt: this.#attempt,
    });
  }
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
