import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { generate } from 'selfsigned';
import { lanAddresses, machineHostNames } from './addresses.ts';

/**
 * The HTTPS certificate for LAN access: a phone's browser only lets a page use the microphone in a secure
 * context, and on a LAN that means HTTPS. Two certificates are made here and kept in the data directory (keys
 * readable by the owner only): this JARVIS's own certificate authority, made once and valid for ten years, and
 * the server's certificate, signed by it and made again when this machine's addresses are no longer all in it or
 * it is about to expire. A phone that installs the authority once (the HUD offers it at AUTHORITY_PATH) trusts
 * every server certificate after it, with no warning, also after the address changes; a phone that does not
 * gets the browser's warning, and the HUD shows the fingerprint to check before accepting.
 */

export interface TlsIdentity {
  key: string;
  cert: string;
  /** SHA-256, colon-separated hex, as browsers show it. */
  fingerprint: string;
  /** The authority that signed `cert`, for a phone to install. */
  authority: { cert: string; fingerprint: string };
}

/** Where the HUD server offers the authority's certificate (DER, as phones install it). */
export const AUTHORITY_PATH = '/jarvis-ca.crt';

/** Apple's limit for a server certificate from a user-installed authority is 825 days. */
const VALID_DAYS = 730;
const AUTHORITY_VALID_DAYS = 3650;
const RENEW_BEFORE_MS = 30 * 86_400_000;
const DAY_MS = 86_400_000;

/** Where the server keeps its key and certificate, in the data folder. */
export const tlsDir = (dataDir: string): string => path.join(dataDir, 'server');

/** The server certificate's file in `dir`. */
export const certificateFile = (dir: string): string => path.join(dir, 'tls-cert.pem');
/** The authority's certificate file in `dir` (public: what a client on this machine trusts to reach the server). */
export const authorityFile = (dir: string): string => path.join(dir, 'ca-cert.pem');

export async function ensureCertificate(dir: string, extraHosts: readonly string[] = []): Promise<TlsIdentity> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const authority = await ensureAuthority(dir);
  const keyFile = path.join(dir, 'tls-key.pem');
  const certFile = certificateFile(dir);
  const names = ['localhost', ...machineHostNames(), ...extraHosts.filter((h) => !/^[\d.:[\]]+$/.test(h))];
  const ips = ['127.0.0.1', '::1', ...lanAddresses()];
  const existing = readExisting(keyFile, certFile);
  const authorityInfo = { cert: authority.cert, fingerprint: authority.x509.fingerprint256 };
  if (
    existing &&
    existing.x509.checkIssued(authority.x509) &&
    existing.x509.verify(authority.x509.publicKey) &&
    covers(existing.x509, names, ips) &&
    new Date(existing.x509.validTo).getTime() - Date.now() > RENEW_BEFORE_MS
  ) {
    return { key: existing.key, cert: existing.cert, fingerprint: existing.x509.fingerprint256, authority: authorityInfo };
  }
  const now = new Date();
  const pems = await generate([{ name: 'commonName', value: `JARVIS on ${machineHostNames()[0]}` }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - 60_000),
    notAfterDate: new Date(now.getTime() + VALID_DAYS * DAY_MS),
    ca: { key: authority.key, cert: authority.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          ...[...new Set(names)].map((value) => ({ type: 2 as const, value })),
          ...[...new Set(ips)].map((ip) => ({ type: 7 as const, ip })),
        ],
      },
    ],
  });
  fs.writeFileSync(keyFile, pems.private, { mode: 0o600 });
  fs.writeFileSync(certFile, pems.cert, { mode: 0o644 });
  return { key: pems.private, cert: pems.cert, fingerprint: new X509Certificate(pems.cert).fingerprint256, authority: authorityInfo };
}

/** This JARVIS's certificate authority: made once, kept until it nears its end (phones would have to install it again). */
async function ensureAuthority(dir: string): Promise<{ key: string; cert: string; x509: X509Certificate }> {
  const keyFile = path.join(dir, 'ca-key.pem');
  const certFile = authorityFile(dir);
  const existing = readExisting(keyFile, certFile);
  if (existing?.x509.ca && new Date(existing.x509.validTo).getTime() - Date.now() > RENEW_BEFORE_MS) return existing;
  const now = new Date();
  const pems = await generate([{ name: 'commonName', value: `JARVIS on ${machineHostNames()[0]} (local authority)` }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - 60_000),
    notAfterDate: new Date(now.getTime() + AUTHORITY_VALID_DAYS * DAY_MS),
    // It signs this machine's server certificates and nothing else.
    extensions: [
      { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  fs.writeFileSync(keyFile, pems.private, { mode: 0o600 });
  fs.writeFileSync(certFile, pems.cert, { mode: 0o644 });
  return { key: pems.private, cert: pems.cert, x509: new X509Certificate(pems.cert) };
}

/** The authority's certificate as phones install it (DER). */
export function authorityDer(identity: TlsIdentity): Buffer {
  return new X509Certificate(identity.authority.cert).raw;
}

function readExisting(keyFile: string, certFile: string): { key: string; cert: string; x509: X509Certificate } | undefined {
  try {
    const key = fs.readFileSync(keyFile, 'utf8');
    const cert = fs.readFileSync(certFile, 'utf8');
    return { key, cert, x509: new X509Certificate(cert) };
  } catch {
    return undefined;
  }
}

function covers(x509: X509Certificate, names: string[], ips: string[]): boolean {
  const san = x509.subjectAltName ?? '';
  return names.every((n) => san.includes(`DNS:${n}`)) && ips.every((ip) => san.includes(`IP Address:${ip}`) || (ip === '::1' && san.includes('IP Address:0:0:0:0:0:0:0:1')));
}
