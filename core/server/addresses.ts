import os from 'node:os';
import type { JarvisConfig } from '../../config/schema.ts';

/** This machine's names and addresses, for the URLs the HUD offers, the certificate and the Host allowlist. */

export function lanAddresses(): string[] {
  const addresses: string[] = [];
  for (const entries of Object.values(os.networkInterfaces())) {
    for (const entry of entries ?? []) {
      if (!entry.internal && entry.family === 'IPv4') addresses.push(entry.address);
    }
  }
  return addresses;
}

export function machineHostNames(): string[] {
  const host = os.hostname().toLowerCase();
  return host.includes('.') ? [host] : [host, `${host}.local`];
}

export const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

/** 127.0.0.0/8 and ::1, also in their IPv4-mapped IPv6 form. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
  return plain === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(plain);
}

/** Loopback or one of this machine's own interface addresses: a client running on this computer. */
export function isThisMachine(address: string | undefined): boolean {
  if (!address) return false;
  if (isLoopbackAddress(address)) return true;
  const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
  return Object.values(os.networkInterfaces()).some((entries) => entries?.some((entry) => entry.address === plain));
}

/** The address the server binds for this config. */
export function bindHost(config: JarvisConfig['server']): string {
  return config.host ?? (config.lan ? '0.0.0.0' : '127.0.0.1');
}

/**
 * URLs to open the HUD at: with LAN access on every address, this machine's LAN addresses and .local name first
 * (what a phone uses), then the loopback URL (what this computer's own screen uses). Bound to one address, only
 * that one: a LAN address that nothing listens on must not be offered to a phone.
 */
export function serverUrls(config: JarvisConfig['server'], port: number): string[] {
  const scheme = config.lan ? 'https' : 'http';
  const host = bindHost(config);
  const everywhere = host === '0.0.0.0' || host === '::';
  const lan = config.lan && everywhere ? [...lanAddresses(), ...machineHostNames().filter((h) => h.endsWith('.local'))] : [];
  return [...lan, everywhere ? '127.0.0.1' : host].map((h) => `${scheme}://${h}:${port}`);
}
