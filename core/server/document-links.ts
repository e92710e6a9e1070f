import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { describeError } from '../../base/errors.ts';
import type { Logger } from '../../base/log.ts';
import { isRefusal, type DocumentRefusal, type OpenedDocument } from '../knowledge/open-document.ts';
import type { Ack, CommandResults } from '../protocol/wire.ts';
import { fail } from './commands.ts';
import { plain } from './static-files.ts';

/**
 * The documents behind the sources a screen shows, opened with a tap. A paired screen asks over its socket
 * (`open-document`, authorised like every command: the device's token from the handshake, or the trusted display
 * on this computer) by the document's id in the index; it gets a link that names no path, only a random
 * capability valid for a few minutes, which the browser then opens like any page (the PDF viewer at its page with
 * #page=N). The HTTP request carries no token (a tab cannot send the socket's), so the capability is what a
 * device was given for that one document; the file itself is found again from the index on every request
 * (knowledge/open-document.ts: still indexed, still in its folder, not a link), so a link outlives neither the
 * file nor its place in the index.
 */

export const DOCUMENTS_PATH = '/documents/';

/** How long a link opens its document: long enough for a PDF viewer that fetches again, short enough to leak little. */
export const DOCUMENT_LINK_TTL_MS = 10 * 60_000;
/** Links kept at once (the oldest goes first). */
const MAX_LINKS = 200;

export interface DocumentSource {
  openDocument(id: number): Promise<OpenedDocument | DocumentRefusal>;
}

interface Link {
  readonly document: number;
  readonly expiresAt: number;
}

/**
 * What the document may do in the browser: an HTML page of the user's runs no script and gets an origin of its
 * own (it must not reach the HUD's token in this origin's storage), and loads nothing from anywhere. PDFs are
 * left to the browser's viewer, which a sandbox would block.
 */
const SANDBOX = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'";

export class DocumentLinks {
  readonly #links = new Map<string, Link>();

  constructor(
    private readonly source: DocumentSource,
    private readonly log: Logger,
    private readonly options: { ttlMs?: number; now?: () => number } = {},
  ) {}

  /** A link to document `id` for the device `deviceName`, opened at `page` when it is a PDF; or why not. */
  async issue(id: number, page: number | undefined, deviceName: string): Promise<Ack<CommandResults['open-document']>> {
    const opened = await this.source.openDocument(id);
    if (isRefusal(opened)) return fail('not-found', opened.message, 'Ask the question again: the sources under the new answer open what is read now.');
    await opened.handle.close();
    const now = this.#now();
    for (const [token, link] of this.#links) if (link.expiresAt <= now) this.#links.delete(token);
    while (this.#links.size >= MAX_LINKS) this.#links.delete(this.#links.keys().next().value!);
    const token = randomBytes(24).toString('base64url');
    this.#links.set(token, { document: id, expiresAt: now + (this.options.ttlMs ?? DOCUMENT_LINK_TTL_MS) });
    this.log.debug({ device: deviceName, document: id }, 'a screen opens a document');
    const at = opened.kind === 'pdf' && page ? `#page=${page}` : '';
    return { ok: true, url: `${DOCUMENTS_PATH}${token}/${encodeURIComponent(opened.name)}${at}`, type: opened.type, name: opened.name };
  }

  /** Answers a request under DOCUMENTS_PATH: the document of a live link, or a 404 that says why. */
  async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    response.setHeader('X-Content-Type-Options', 'nosniff');
    response.setHeader('Referrer-Policy', 'no-referrer');
    response.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    if (request.method !== 'GET' && request.method !== 'HEAD') return plain(response, 405, 'method not allowed');
    // The raw path, never decoded: the capability, then the name (for the tab's title only, never looked up).
    const match = /^\/documents\/([A-Za-z0-9_-]{32})\/[^/?#]*$/.exec((request.url ?? '').split('?')[0]!);
    const link = match ? this.#links.get(match[1]!) : undefined;
    if (!link || link.expiresAt <= this.#now()) {
      if (link) this.#links.delete(match![1]!);
      return plain(response, 404, 'no such document link, or it has expired: tap the source on the screen again');
    }
    const opened = await this.source.openDocument(link.document);
    if (isRefusal(opened)) return plain(response, 404, opened.message);
    try {
      response.statusCode = 200;
      response.setHeader('Content-Type', opened.type);
      response.setHeader('Content-Length', opened.size);
      response.setHeader('Content-Disposition', `${opened.inline ? 'inline' : 'attachment'}; filename="${opened.name.replace(/[^\x20-\x7e]|["\\]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(opened.name)}`);
      response.setHeader('Cache-Control', 'private, no-store');
      response.setHeader('Accept-Ranges', 'none');
      if (opened.kind !== 'pdf') response.setHeader('Content-Security-Policy', SANDBOX);
      if (request.method === 'HEAD') {
        response.end();
        return;
      }
      await pipeline(opened.handle.createReadStream({ start: 0, end: Math.max(0, opened.size - 1), autoClose: false }), response);
    } catch (error) {
      // The screen went away mid-file, or the disk failed: nothing more to send.
      this.log.debug({ err: describeError(error).message }, 'a document was not sent whole');
      response.destroy();
    } finally {
      await opened.handle.close().catch(() => {});
    }
  }

  #now(): number {
    return (this.options.now ?? Date.now)();
  }
}
