import fs from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';

/**
 * Serves the built HUD (hud/dist): the same files to everyone, since they hold no state (that only comes over
 * an authorised socket). Only files inside the folder, only GET/HEAD, with headers that keep the page from
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
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; media-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Permissions-Policy': 'microphone=(self), camera=(), geolocation=()',
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
    body = await fs.readFile(file);
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

export function plain(response: ServerResponse, status: number, text: string): void {
  response.statusCode = status;
  response.setHeader('Content-Type', 'text/plain; charset=utf-8');
  response.setHeader('Cache-Control', 'no-store');
  response.end(`${text}\n`);
}
