import net from 'node:net';
import { JarvisError } from '../../base/errors.ts';
import type { Logger } from '../../base/log.ts';
import type { JarvisConfig } from '../../config/schema.ts';
import { encodeEvent } from './framing.ts';
import { WyomingConnection } from './connection.ts';
import type { WyomingEngines } from './session.ts';

/**
 * The Wyoming TCP server: Home Assistant's Wyoming integration (or any Wyoming client) connects here for JARVIS's
 * speech to text, voice and wake word. Binding stays on loopback unless configured; a client whose address is not
 * in wyoming.allowedClients (when that list is set) or one over wyoming.limits.maxConnections is told why in an
 * `error` event and disconnected. close() ends every connection and releases their wake word detectors.
 */

export type WyomingSettings = JarvisConfig['wyoming'];

export interface WyomingServerOptions {
  readonly settings: WyomingSettings;
  readonly engines: WyomingEngines;
  /** The config as it is now (a model switched while running shows in `info`). */
  readonly config: () => JarvisConfig;
  readonly log: Logger;
}

export class WyomingServer {
  readonly #server: net.Server;
  readonly #connections = new Set<WyomingConnection>();
  readonly #allowed: net.BlockList | undefined;

  constructor(private readonly options: WyomingServerOptions) {
    this.#allowed = options.settings.allowedClients.length > 0 ? allowList(options.settings.allowedClients) : undefined;
    // Half-open: a client may finish sending (shutdown its side) and still read the answer.
    this.#server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.#accept(socket));
  }

  /** Binds wyoming.host:port; a port in use is a JarvisError that says what to do. */
  async start(): Promise<{ host: string; port: number }> {
    const { host, port } = this.options.settings;
    await new Promise<void>((resolve, reject) => {
      const failed = (error: NodeJS.ErrnoException) => reject(listenError(error, host, port));
      this.#server.once('error', failed);
      this.#server.listen(port, host, () => {
        this.#server.off('error', failed);
        resolve();
      });
    });
    this.#server.on('error', (error) => this.options.log.warn({ err: error.message }, 'wyoming: server error'));
    const address = this.address!;
    this.options.log.info(`Wyoming server at tcp://${address.host}:${address.port}`);
    return address;
  }

  get address(): { host: string; port: number } | undefined {
    const address = this.#server.address();
    return address && typeof address === 'object' ? { host: address.address, port: address.port } : undefined;
  }

  get connections(): number {
    return this.#connections.size;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => (this.#server.listening ? this.#server.close(() => resolve()) : resolve()));
    const connections = [...this.#connections];
    for (const connection of connections) connection.destroy();
    await Promise.all([closed, ...connections.map((c) => c.closed)]);
  }

  #accept(socket: net.Socket): void {
    const address = plainAddress(socket.remoteAddress ?? '');
    const { settings, log } = this.options;
    const refuse = (code: string, text: string) => {
      socket.on('error', () => {});
      socket.end(encodeEvent({ type: 'error', data: { text, code } }), () => socket.destroy());
    };
    if (this.#allowed && !this.#allowed.check(address, net.isIPv6(address) ? 'ipv6' : 'ipv4')) {
      log.warn({ client: address }, 'wyoming: connection refused (not in wyoming.allowedClients)');
      refuse('not-allowed', `${address} may not use this JARVIS: add it to wyoming.allowedClients in the JARVIS config`);
      return;
    }
    if (this.#connections.size >= settings.limits.maxConnections) {
      log.warn({ client: address, connections: this.#connections.size }, 'wyoming: connection refused (too many)');
      refuse('busy', `${settings.limits.maxConnections} clients are connected already (wyoming.limits.maxConnections): try again when one has finished`);
      return;
    }
    const connection = new WyomingConnection(socket, address, {
      engines: this.options.engines,
      config: this.options.config,
      limits: settings.limits,
      log,
    });
    this.#connections.add(connection);
    void connection.closed.then(() => this.#connections.delete(connection));
  }
}

/** "::ffff:192.168.1.20" (an IPv4 client on a dual-stack socket) is 192.168.1.20. */
function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/** wyoming.allowedClients (IPs and CIDR ranges; validated by the config schema) as a lookup. */
function allowList(entries: readonly string[]): net.BlockList {
  const list = new net.BlockList();
  for (const entry of entries) {
    const [address = '', bits] = entry.split('/');
    const family = net.isIPv6(address) ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(bits), family);
  }
  return list;
}

function listenError(error: NodeJS.ErrnoException, host: string, port: number): Error {
  if (error.code === 'EADDRINUSE') {
    return new JarvisError('wyoming-port', `the Wyoming port ${port} on ${host} is already in use (another Wyoming service, or another JARVIS?)`, 'Stop the other program, or set wyoming.port to a free port (and point Home Assistant at it).');
  }
  if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND') {
    return new JarvisError('wyoming-host', `wyoming.host ${host} is not an address of this machine`, 'Set wyoming.host to one of this machine\'s addresses, 0.0.0.0 for all of them, or 127.0.0.1.');
  }
  if (error.code === 'EACCES') {
    return new JarvisError('wyoming-port', `not allowed to listen on port ${port}`, 'Use a port above 1023 for wyoming.port (the default is 10700).');
  }
  return error;
}
