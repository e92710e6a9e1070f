import fs from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';

/**
 * Serves the built HUD (hud/dist): the same files to everyone, since they hold no state (that only comes over
 * an authorised socket). Only files inside the folder (symbolic links included), only GET/HEAD, with headers that keep the page from
 * being framed or loading anything from elsewhere.
 */

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.woff2': 'font/woff2',
};

export const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; media-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Permissions-Policy': 'microphone=(self), camera=(self), geolocation=()',
  'Cross-Origin-Opener-Policy': 'same-origin',
};

export type HudFiles = { ready: true } | { ready: false; message: string };

export async function serveHudFile(
  dir: string,
  request: IncomingMessage,
  response: ServerResponse,
  status: () => HudFiles,
): Promise<void> {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) response.setHeader(name, value);
  if (request.method !== 'GET' && request.method !== 'HEAD') return plain(response, 405, 'method not allowed');
  const files = status();
  if (!files.ready) {
    response.setHeader('Retry-After', '3');
    return plain(response, 503, files.message);
  }
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname);
  } catch {
    return plain(response, 400, 'bad request');
  }
  // Client-side routes (the phone's /remote) get the app itself.
  if (pathname === '/' || pathname === '/remote' || pathname === '/pair') pathname = '/index.html';
  const file = path.resolve(dir, `.${pathname}`);
  if (!file.startsWith(dir + path.sep) || pathname.includes('\0')) return plain(response, 404, 'not found');
  let body: Buffer;
  try {
    body = await fs.readFile(await realPathInside(dir, file));
  } catch {
    return plain(response, 404, 'not found');
  }
  response.statusCode = 200;
  response.setHeader('Content-Type', TYPES[path.extname(file)] ?? 'application/octet-stream');
  response.setHeader('Content-Length', body.length);
  // Built assets have content hashes in their names; the page itself must always be fresh.
  response.setHeader('Cache-Control', pathname.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
  response.end(request.method === 'HEAD' ? undefined : body);
}

/**
 * `file` with its symbolic links resolved, if that is still inside `dir` (resolved too, so a HUD folder that is
 * itself reached through a link works). The check on the path alone passes a link in the folder that points
 * elsewhere (left by a build step or a package, or put there by anyone who can write to it), which would serve
 * whatever it points at: refused as if absent. Throws for a missing file too.
 */
async function realPathInside(dir: string, file: string): Promise<string> {
  const [root, real] = await Promise.all([fs.realpath(dir), fs.realpath(file)]);
  if (!real.startsWith(root + path.sep)) throw new Error(`${file} leads out of ${dir}`);
  return real;
}

export function plain(response: ServerResponse, status: number, text: string): void {
  response.statusCode = status;
  response.setHeader('Content-Type', 'text/plain; charset=utf-8');
  response.setHeader('Cache-Control', 'no-store');
  response.end(`${text}\n`);
}
