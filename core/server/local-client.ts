import fs from 'node:fs';
import type { JarvisConfig } from '../../config/schema.ts';
import type { Socket } from 'socket.io-client';
import { type Ack, type AssistantView, type ClientToServerEvents, type CommandInput, type CommandName, type CommandResults, type ServerToClientEvents, SOCKET_PATH } from '../protocol/wire.ts';
import { withRememberedLan } from './lan-choice.ts';
import { authorityFile, tlsDir } from './tls.ts';

/**
 * A command to the JARVIS running on this machine, sent the way its own wall screen sends it: over loopback, as
 * the trusted local display (hud-server.ts), so that a command-line tool (`jarvis doctor`) can ask it for what
 * the wall may (try failed downloads again now). Nothing is paired or stored.
 */

export type LocalReply<C extends CommandName> =
  | { reached: true; url: string; ack: Ack<CommandResults[C]>; assistant: AssistantView | undefined }
  | { reached: false; url: string; reason: string };

export async function commandLocalJarvis<C extends CommandName>(config: JarvisConfig, command: C, payload: CommandInput<C>, timeoutMs = 2000): Promise<LocalReply<C>> {
  const server = withRememberedLan(config).server;
  const scheme = server.lan ? 'https' : 'http';
  const url = `${scheme}://127.0.0.1:${server.port}`;
  if (!server.enabled) return { reached: false, url, reason: 'the HUD server is turned off (server.enabled: false)' };
  if (server.port === 0) return { reached: false, url, reason: 'server.port is 0 (any free port), so its port is not known' };
  // Bound to one other address, the server is not on loopback.
  if (server.host !== undefined && !['0.0.0.0', '::', '127.0.0.1', '::1', 'localhost'].includes(server.host)) {
    return { reached: false, url, reason: `the HUD server listens on ${server.host} only, not on this computer's loopback address` };
  }
  let ca: string | undefined;
  if (scheme === 'https') {
    try {
      ca = fs.readFileSync(authorityFile(tlsDir(config.dataDir)), 'utf8');
    } catch {
      return { reached: false, url, reason: 'it has no certificate yet, so it has not been started with LAN access' };
    }
  }
  const { io } = await import('socket.io-client');
  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(url, {
    path: SOCKET_PATH,
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    timeout: timeoutMs,
    // The server accepts a socket only from its own origin, as a browser on this machine would send it.
    extraHeaders: { origin: url },
    ...(ca ? { ca } : {}),
  });
  try {
    return await new Promise<LocalReply<C>>((resolve) => {
      let assistant: AssistantView | undefined;
      const timer = setTimeout(() => resolve({ reached: false, url, reason: `no answer within ${timeoutMs} ms` }), timeoutMs);
      socket.on('connect_error', (error) => {
        clearTimeout(timer);
        // The transport's own error (e.g. ECONNREFUSED) says more than socket.io's "websocket error".
        const cause = (error as { description?: { message?: string } }).description?.message ?? error.message;
        resolve({ reached: false, url, reason: /ECONNREFUSED/.test(cause) ? 'nothing is listening there' : cause });
      });
      socket.on('assistant', (view) => (assistant = view));
      socket.on('snapshot', (snapshot) => (assistant ??= snapshot.assistant));
      socket.once('hello', () => {
        // One command of any name: the protocol's per-command types do not narrow over a generic name.
        const emit = socket.emit.bind(socket) as unknown as (name: C, payload: CommandInput<C>, ack: (result: Ack<CommandResults[C]>) => void) => void;
        emit(command, payload, (ack) => {
          clearTimeout(timer);
          resolve({ reached: true, url, ack, assistant });
        });
      });
    });
  } finally {
    socket.close();
  }
}
