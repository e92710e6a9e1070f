import type { IncomingMessage } from 'node:http';
import { lanAddresses, LOOPBACK_NAMES, machineHostNames } from './addresses.ts';

/**
 * Which requests may talk to the server at all, before any token is looked at:
 * - the Host header must name this machine (or a configured name): a web page on another site that points its
 *   own domain at 127.0.0.1 (DNS rebinding) is refused;
 * - a WebSocket must come from a page of this same origin: another site open in the user's browser cannot
 *   connect to the HUD's socket (cross-site WebSocket hijacking). Browsers always send Origin on a WebSocket
 *   handshake; a request without one is refused too.
 */
export class HostPolicy {
  readonly #hosts: Set<string>;

  constructor(
    private readonly scheme: 'http' | 'https',
    extraHosts: readonly string[] = [],
  ) {
    this.#hosts = new Set([...LOOPBACK_NAMES, ...machineHostNames(), ...extraHosts].map((h) => h.toLowerCase()));
  }

  allowsHost(hostHeader: string | undefined): boolean {
    if (!hostHeader) return false;
    let hostname: string;
    try {
      hostname = new URL(`${this.scheme}://${hostHeader}`).hostname.toLowerCase();
    } catch {
      return false;
    }
    // Addresses are looked up each time: DHCP may give this machine a new one while the daemon runs.
    return this.#hosts.has(hostname) || lanAddresses().includes(hostname);
  }

  /** Undefined when the request may go on, else why not. */
  refuseSocket(request: Pick<IncomingMessage, 'headers'>): string | undefined {
    const host = request.headers.host;
    if (!this.allowsHost(host)) return `host ${JSON.stringify(host ?? '')} is not this machine`;
    const origin = request.headers.origin;
    if (!origin) return 'no Origin header';
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      return `malformed Origin ${JSON.stringify(origin)}`;
    }
    if (url.protocol !== `${this.scheme}:` || url.host.toLowerCase() !== host!.toLowerCase()) return `Origin ${origin} is not this server`;
    return undefined;
  }
}
