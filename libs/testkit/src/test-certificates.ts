import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureOpenssl, type Progress } from './packages.js';

/** A throwaway certificate authority and a server certificate it signed for 127.0.0.1 (PEM files). */
export interface TestCertificates {
  dir: string;
  /** The CA certificate: what a client trusts (e.g. `NODE_EXTRA_CA_CERTS`). */
  caFile: string;
  /** The server's certificate (subjectAltName IP:127.0.0.1) and key. */
  certFile: string;
  keyFile: string;
  remove(): void;
}

/**
 * Makes a CA and a loopback server certificate with the `openssl` CLI (installed if missing and we may): P-256
 * keys, valid for two days. For tests of TLS connections to our own servers.
 */
export function makeTestCertificates(progress?: Progress): TestCertificates {
  const openssl = ensureOpenssl(progress);
  const dir = mkdtempSync(join(tmpdir(), 'th-tls-'));
  const f = (name: string) => join(dir, name);
  const run = (...args: string[]) => execFileSync(openssl, args, { stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=TelemetryHub test CA',
  );
  run('req', '-new', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1\n');
  run(
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.crt'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    f('server.ext'),
    '-out',
    f('server.crt'),
  );
  return {
    dir,
    caFile: f('ca.crt'),
    certFile: f('server.crt'),
    keyFile: f('server.key'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
