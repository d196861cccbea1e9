// Throwaway X.509 certificates for TLS tests, made with the openssl binary: a server CA and a server certificate for
// localhost / 127.0.0.1, and client certificates for mTLS (any subject CN, from a client CA or a stranger CA).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const opensslSkip: string | undefined =
  spawnSync('openssl', ['version'], { encoding: 'utf8' }).status === 0 ? undefined : 'the openssl binary is not installed';

export interface CertPair {
  readonly cert: string;
  readonly key: string;
}

export interface TestCa {
  readonly dir: string;
  /** The CA certificate file (PEM) clients trust. */
  readonly caCert: string;
  /** A certificate for CN=localhost with subjectAltName DNS:localhost and IP:127.0.0.1, signed by this CA. */
  server(): CertPair;
  /** A client certificate (extendedKeyUsage clientAuth) with this subject CN, signed by this CA. */
  client(cn: string): CertPair;
  /** Removes the directory. */
  remove(): void;
}

const openssl = (args: string[], cwd: string) => execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });

/** A new CA (EC P-256, one day) in a fresh temp directory. */
export function makeTestCa(name = 'Trent Test CA'): TestCa {
  const dir = mkdtempSync(path.join(tmpdir(), 'trent-ca-'));
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  let n = 0;
  const issue = (cn: string, ext: string): CertPair => {
    const base = `cert${++n}`;
    writeFileSync(path.join(dir, `${base}.ext`), ext);
    openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${cn}`], dir);
    openssl(['x509', '-req', '-in', `${base}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${base}.pem`, '-days', '1', '-extfile', `${base}.ext`], dir);
    return { cert: path.join(dir, `${base}.pem`), key: path.join(dir, `${base}.key`) };
  };
  return {
    dir,
    caCert: path.join(dir, 'ca.pem'),
    server: () => issue('localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n'),
    client: (cn) => issue(cn, 'extendedKeyUsage=clientAuth\n'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
