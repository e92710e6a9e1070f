import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { generate } from 'selfsigned';
import { lanAddresses, machineHostNames } from './addresses.ts';

/**
 * The HTTPS certificate for LAN access: a phone's browser only lets a page use the microphone in a secure
 * context, and on a LAN that means HTTPS. The certificate is made here, once, and kept in the data directory
 * (key readable by the owner only); it is made again when this machine's addresses are no longer all in it or it
 * is about to expire. The browser will warn that it does not know who signed it: the HUD shows the fingerprint
 * so the user can check it is this one before accepting.
 */

export interface TlsIdentity {
  key: string;
  cert: string;
  /** SHA-256, colon-separated hex, as browsers show it. */
  fingerprint: string;
}

const VALID_DAYS = 730;
const RENEW_BEFORE_MS = 30 * 86_400_000;

/** Where the server keeps its key and certificate, in the data folder. */
export const tlsDir = (dataDir: string): string => path.join(dataDir, 'server');

/** The certificate's file in `dir` (public: what a local client trusts to reach the server over HTTPS). */
export const certificateFile = (dir: string): string => path.join(dir, 'tls-cert.pem');

export async function ensureCertificate(dir: string, extraHosts: readonly string[] = []): Promise<TlsIdentity> {
  const keyFile = path.join(dir, 'tls-key.pem');
  const certFile = certificateFile(dir);
  const names = ['localhost', ...machineHostNames(), ...extraHosts.filter((h) => !/^[\d.:[\]]+$/.test(h))];
  const ips = ['127.0.0.1', '::1', ...lanAddresses()];
  const existing = readExisting(keyFile, certFile);
  if (existing && covers(existing.x509, names, ips) && new Date(existing.x509.validTo).getTime() - Date.now() > RENEW_BEFORE_MS) {
    return { key: existing.key, cert: existing.cert, fingerprint: existing.x509.fingerprint256 };
  }
  const now = new Date();
  const pems = await generate([{ name: 'commonName', value: `JARVIS on ${machineHostNames()[0]}` }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - 60_000),
    notAfterDate: new Date(now.getTime() + VALID_DAYS * 86_400_000),
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
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(keyFile, pems.private, { mode: 0o600 });
  fs.writeFileSync(certFile, pems.cert, { mode: 0o644 });
  return { key: pems.private, cert: pems.cert, fingerprint: new X509Certificate(pems.cert).fingerprint256 };
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
