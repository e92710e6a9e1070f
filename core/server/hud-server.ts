import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { Server, type Socket } from 'socket.io';
import type { JarvisConfig } from '../../config/schema.ts';
import { describeError, JarvisError } from '../../base/errors.ts';
import type { Logger } from '../../base/log.ts';
import {
  commandSchemas,
  isCommandName,
  mayCommand,
  PROTOCOL_VERSION,
  SOCKET_PATH,
  type Ack,
  type ClientToServerEvents,
  type Hello,
  type Role,
  type ServerInfo,
  type ServerToClientEvents,
  type SpeechAudio,
} from '../protocol/wire.ts';
import { bindHost, isLoopbackAddress, isThisMachine, serverUrls } from './addresses.ts';
import { fail, type ClientSession, type CommandHandlers } from './commands.ts';
import type { Device, DeviceStore } from './device-store.ts';
import { HostPolicy } from './host-policy.ts';
import type { FeedEvents, LiveFeed } from './live-feed.ts';
import { TokenBucket } from './rate-limit.ts';
import { plain, serveHudFile, type HudFiles } from './static-files.ts';
import { AUTHORITY_PATH, authorityDer, type TlsIdentity } from './tls.ts';
import { DOCUMENTS_PATH, type DocumentLinks } from './document-links.ts';

/**
 * The HUD's HTTP(S) and socket.io server. Security, in the order a request meets it:
 * 1. the Host header must name this machine, and a socket's Origin must be this server (HostPolicy);
 * 2. at most `maxClients` sockets, each message at most `maxMessageBytes` (a bigger one closes that socket);
 * 3. the client is a paired device (token), the trusted local display, or unpaired; unpaired clients get
 *    `hello` and may only `pair`, at most `maxUnpairedClients` at once and each for `unpairedTimeoutMs`, so that
 *    idle unpaired sockets never crowd out the paired phone;
 * 4. every command is rate-limited per client, authorised by role and schema-validated, and answered with an
 *    Ack; a client that keeps sending bad or too many messages is disconnected. Nothing a client sends can
 *    throw out of a handler, so one client can never take the daemon down.
 * A device revoked with `jarvis devices revoke` while connected is disconnected within a second.
 */

export interface HudServerOptions {
  config: JarvisConfig['server'];
  feed: LiveFeed;
  commands: CommandHandlers;
  devices: DeviceStore;
  log: Logger;
  version: string;
  /** The built HUD and whether it can be served yet. */
  hud: { dir: string; status: () => HudFiles };
  /** Present when serving HTTPS (LAN access). */
  tls?: TlsIdentity;
  /** Whether a client address is this computer (default: loopback or one of its interfaces' addresses). */
  isThisMachine?: (address: string) => boolean;
  /** The documents the answers' sources open (links a paired screen was given by `open-document`). */
  documents?: DocumentLinks;
}

interface Identity {
  role?: Role;
  device?: Device;
  /** The trusted display on this machine. */
  local: boolean;
}

interface SocketData {
  identity: Identity;
  rejected?: Hello['rejected'];
}

type HudSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

/** Screens that may see the assistant: viewers and controllers. */
const SCREENS = 'screens';
/** Phones that play the answers too. */
const LISTENERS = 'listeners';
/** Bad (invalid, forbidden, unknown) messages a client may send before it is disconnected. */
const MAX_BAD_MESSAGES = 20;
/** A refused handshake is logged once per address in this time: a client retrying in a loop must not fill the log. */
const REFUSAL_LOG_INTERVAL_MS = 60_000;
const FEED_EVENTS = ['assistant', 'run-event', 'answer-delta', 'telemetry', 'level', 'models', 'timers', 'confirmation', 'photo'] as const satisfies readonly (keyof FeedEvents)[];

export class HudServer {
  readonly #options: HudServerOptions;
  readonly #http: http.Server;
  readonly #io: Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
  readonly #policy: HostPolicy;
  readonly #feedListeners: (() => void)[] = [];
  /** Sockets connected and not paired (nor the local display). */
  readonly #unpaired = new Set<string>();
  /** When a refusal from each address was last logged, and how many since. */
  readonly #refusalsLogged = new Map<string, { at: number; since: number }>();
  #urls: string[] = [];

  constructor(options: HudServerOptions) {
    this.#options = options;
    const scheme = options.tls ? 'https' : 'http';
    this.#policy = new HostPolicy(scheme, options.config.allowedHosts);
    const onRequest = (request: http.IncomingMessage, response: http.ServerResponse) => {
      if (!this.#policy.allowsHost(request.headers.host)) return plain(response, 421, 'this server answers only to its own host names');
      // Public by nature: a phone installs it before it can pair.
      if (options.tls && request.method === 'GET' && request.url === AUTHORITY_PATH) return sendAuthority(response, options.tls);
      // Only through a link a paired screen was given (document-links.ts); without one, a 404.
      if (options.documents && request.url?.startsWith(DOCUMENTS_PATH)) {
        return void options.documents.serve(request, response).catch((error: unknown) => {
          options.log.warn({ err: describeError(error) }, 'could not serve a document');
          if (!response.headersSent) plain(response, 500, 'internal error');
        });
      }
      void serveHudFile(options.hud.dir, request, response, options.hud.status).catch((error: unknown) => {
        options.log.warn({ err: describeError(error) }, 'could not serve a HUD file');
        if (!response.headersSent) plain(response, 500, 'internal error');
      });
    };
    this.#http = options.tls ? https.createServer({ key: options.tls.key, cert: options.tls.cert }, onRequest) : http.createServer(onRequest);
    this.#io = new Server(this.#http, {
      path: SOCKET_PATH,
      serveClient: false,
      // WebSocket only: browsers always send Origin on its handshake (not on same-origin polling requests).
      transports: ['websocket'],
      maxHttpBufferSize: options.config.maxMessageBytes,
      pingInterval: 10_000,
      pingTimeout: 8000,
      connectTimeout: 10_000,
      allowRequest: (request, callback) => {
        const refused = this.#policy.refuseSocket(request);
        if (refused) {
          this.#logRefusal(request.socket.remoteAddress ?? 'unknown', refused);
          return callback(refused, false);
        }
        if (this.#io.engine.clientsCount >= options.config.maxClients) return callback('too many clients', false);
        callback(null, true);
      },
    });
    this.#io.use((socket, next) => {
      socket.data = this.#identify(socket.handshake.auth, socket.handshake.address);
      if (!socket.data.identity.role && this.#unpaired.size >= options.config.maxUnpairedClients) {
        this.#logRefusal(socket.handshake.address, 'too many unpaired clients');
        return next(new Error('too many unpaired clients'));
      }
      next();
    });
    this.#io.on('connection', (socket) => this.#onConnection(socket));
    for (const name of FEED_EVENTS) {
      const forward = (payload: unknown) => {
        // Nobody to send it to (the usual case): not even encoded. The microphone's level alone comes 10 times a second.
        if (this.#io.sockets.adapter.rooms.get(SCREENS)?.size) this.#io.to(SCREENS).emit(name, payload as never);
      };
      options.feed.on(name, forward as never);
      this.#feedListeners.push(() => options.feed.off(name, forward as never));
    }
    const speech = (audio: SpeechAudio) => {
      if (this.#io.sockets.adapter.rooms.get(LISTENERS)?.size) this.#io.to(LISTENERS).emit('speech', audio);
    };
    options.feed.on('speech', speech);
    this.#feedListeners.push(() => options.feed.off('speech', speech));
    options.devices.watch(() => this.#recheckDevices());
  }

  /** URLs to open the HUD at (LAN addresses first when LAN access is on). */
  get urls(): string[] {
    return this.#urls;
  }

  get port(): number {
    return (this.#http.address() as AddressInfo).port;
  }

  async listen(): Promise<ServerInfo> {
    const { config } = this.#options;
    const host = bindHost(config);
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException) => reject(listenError(error, host, config.port));
      this.#http.once('error', onError);
      this.#http.listen(config.port, host, () => {
        this.#http.off('error', onError);
        resolve();
      });
    });
    this.#urls = serverUrls(config, this.port);
    const info: ServerInfo = {
      version: this.#options.version,
      urls: this.#urls,
      lan: config.lan,
      ...(this.#options.tls
        ? { tlsFingerprint: this.#options.tls.fingerprint, authority: { path: AUTHORITY_PATH, fingerprint: this.#options.tls.authority.fingerprint } }
        : {}),
    };
    this.#options.feed.setServerInfo(info);
    return info;
  }

  async close(): Promise<void> {
    this.#options.devices.unwatch();
    for (const off of this.#feedListeners.splice(0)) off();
    await new Promise<void>((resolve) => {
      void this.#io.close(() => resolve());
      this.#http.closeAllConnections();
    });
  }

  #identify(auth: Record<string, unknown>, address: string): SocketData {
    const local = this.#options.config.trustLocalDisplay && isLoopbackAddress(address);
    const token = auth.token;
    if (typeof token === 'string' && token.length > 0) {
      const device = this.#options.devices.findByToken(token);
      if (device && device.revokedAt === null) return { identity: { role: device.role, device, local } };
      return { identity: local ? { role: 'viewer', local } : { local }, rejected: device ? 'revoked' : 'unknown-token' };
    }
    return { identity: local ? { role: 'viewer', local } : { local } };
  }

  #onConnection(socket: HudSocket): void {
    const { log, commands, devices } = this.#options;
    const bucket = new TokenBucket(this.#options.config.messagesPerSecond, this.#options.config.messageBurst);
    let badMessages = 0;
    const session: ClientSession = {
      id: socket.id,
      get deviceName() {
        return socket.data.identity.device?.name ?? (socket.data.identity.local ? 'this computer' : 'unpaired');
      },
      listen: (enabled) => void (enabled ? socket.join(LISTENERS) : socket.leave(LISTENERS)),
      address: socket.handshake.address,
      fromThisMachine: (this.#options.isThisMachine ?? isThisMachine)(socket.handshake.address),
      paired: (device) => {
        this.#unpaired.delete(socket.id);
        socket.data = { identity: { role: device.role, device, local: socket.data.identity.local } };
        this.#io.to(SCREENS).emit('device-paired', { id: device.id, name: device.name, role: device.role });
        this.#admit(socket);
      },
    };
    if (socket.data.identity.device) this.#touch(socket.data.identity.device);
    if (!socket.data.identity.role) this.#holdUnpaired(socket);
    log.debug({ address: socket.handshake.address, role: socket.data.identity.role ?? 'unpaired' }, 'screen connected');
    this.#admit(socket);

    socket.onAny((event: unknown, ...args: unknown[]) => {
      const ack = typeof args.at(-1) === 'function' ? (args.pop() as (result: Ack) => void) : () => {};
      const reply = (result: Ack) => {
        if (!result.ok && result.code !== 'bad-code' && result.code !== 'unavailable' && result.code !== 'not-found' && result.code !== 'failed' && ++badMessages > MAX_BAD_MESSAGES) {
          log.warn({ address: socket.handshake.address }, 'disconnecting a client that keeps sending bad messages');
          socket.disconnect(true);
        }
        if (socket.connected) ack(result);
      };
      if (!bucket.take()) return reply(fail('rate-limited', 'too many messages', 'Slow down.'));
      if (!isCommandName(event)) return reply(fail('unknown-command', 'unknown command'));
      if (args.length > 1) return reply(fail('invalid', 'a command takes one payload'));
      if (!mayCommand(event, socket.data.identity)) {
        return reply(fail('forbidden', socket.data.identity.role ? 'this screen may only watch' : 'not paired', 'Pair this device with the code shown on the HUD.'));
      }
      const parsed = commandSchemas[event].safeParse(args[0]);
      if (!parsed.success) return reply(fail('invalid', `invalid ${event}: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; ')}`.slice(0, 300)));
      commands.handle(session, event, parsed.data as never).then(reply, (error: unknown) => {
        const { message, fix } = describeError(error);
        log.warn({ command: event, err: message }, 'command failed');
        reply(fail('failed', message, fix));
      });
    });
    socket.on('disconnect', () => {
      this.#unpaired.delete(socket.id);
      commands.sessionClosed(session);
    });
  }

  /** An unpaired socket has `unpairedTimeoutMs` to pair; then it is closed. */
  #holdUnpaired(socket: HudSocket): void {
    this.#unpaired.add(socket.id);
    const deadline = setTimeout(() => {
      if (socket.data.identity.role || !socket.connected) return;
      this.#options.log.debug({ address: socket.handshake.address }, 'closing a client that did not pair in time');
      socket.disconnect(true);
    }, this.#options.config.unpairedTimeoutMs);
    deadline.unref();
    socket.once('disconnect', () => clearTimeout(deadline));
  }

  /** The device's last-seen time; a full or read-only disk costs that time, never the connection. */
  #touch(device: Device): void {
    try {
      this.#options.devices.touch(device.id);
    } catch (error) {
      this.#options.log.warn({ err: describeError(error).message, device: device.id }, 'could not record when a device was last seen');
    }
  }

  #logRefusal(address: string, reason: string): void {
    const now = performance.now();
    const logged = this.#refusalsLogged.get(address);
    if (logged && now - logged.at < REFUSAL_LOG_INTERVAL_MS) {
      logged.since++;
      return;
    }
    if (this.#refusalsLogged.size >= 1024) this.#refusalsLogged.clear();
    this.#refusalsLogged.set(address, { at: now, since: 0 });
    // The reason quotes the client's own headers: cut, so a client cannot write what it likes into the log.
    this.#options.log.warn({ address, ...(logged?.since ? { refusedSinceLastLogged: logged.since } : {}) }, `socket refused: ${reason.slice(0, 160)}`);
  }

  /** Says hello, and gives a screen that may see the assistant its snapshot. */
  #admit(socket: HudSocket): void {
    const { identity, rejected } = socket.data;
    const hello: Hello = { protocol: PROTOCOL_VERSION };
    if (identity.role) hello.role = identity.role;
    if (identity.device || identity.local) {
      hello.device = { id: identity.device?.id ?? 'local', name: identity.device?.name ?? 'this computer', local: identity.local };
    }
    if (rejected) hello.rejected = rejected;
    socket.emit('hello', hello);
    if (!identity.role) return;
    void socket.join(SCREENS);
    socket.emit('snapshot', this.#options.feed.snapshot());
  }

  #recheckDevices(): void {
    for (const socket of this.#io.sockets.sockets.values()) {
      const device = socket.data.identity?.device;
      if (!device) continue;
      const current = this.#options.devices.get(device.id);
      if (current && current.revokedAt === null) continue;
      this.#options.log.info({ device: device.id, name: device.name }, 'device revoked: disconnected');
      socket.emit('hello', { protocol: PROTOCOL_VERSION, rejected: 'revoked' });
      socket.disconnect(true);
    }
  }
}

function listenError(error: NodeJS.ErrnoException, host: string, port: number): Error {
  if (error.code === 'EADDRINUSE') {
    return new JarvisError('server-port', `port ${port} on ${host} is already in use (another JARVIS?)`, 'Stop the other program, or set server.port to a free port in the config.');
  }
  return error;
}

/** The local authority's certificate, as a phone installs it: DER, served as a CA certificate to save. */
function sendAuthority(response: http.ServerResponse, tls: TlsIdentity): void {
  response.statusCode = 200;
  response.setHeader('Content-Type', 'application/x-x509-ca-cert');
  response.setHeader('Content-Disposition', 'attachment; filename="jarvis-ca.crt"');
  response.setHeader('Cache-Control', 'no-store');
  response.end(authorityDer(tls));
}
