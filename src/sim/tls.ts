// A private CA and a server certificate for 127.0.0.1/localhost, made with the openssl CLI.
// client-node refuses plain HTTP unless TLS checks are switched off, so the simulator is
// served like a real cluster: HTTPS, with the CA in the kubeconfig it prints.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TlsMaterial {
  caCert: string;
  cert: string;
  key: string;
}

const FILES = { caCert: 'ca.crt', cert: 'server.crt', key: 'server.key' } as const;

/** Reuses the material in `dir` when present (a restarted simulator keeps its kubeconfig). */
export function loadOrCreateTls(dir?: string): TlsMaterial {
  if (dir && Object.values(FILES).every((f) => existsSync(path.join(dir, f)))) {
    return {
      caCert: readFileSync(path.join(dir, FILES.caCert), 'utf8'),
      cert: readFileSync(path.join(dir, FILES.cert), 'utf8'),
      key: readFileSync(path.join(dir, FILES.key), 'utf8'),
    };
  }
  const material = cached ?? createTls();
  cached = material;
  if (dir) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, FILES.caCert), material.caCert);
    writeFileSync(path.join(dir, FILES.cert), material.cert);
    writeFileSync(path.join(dir, FILES.key), material.key, { mode: 0o600 });
  }
  return material;
}

// Several simulators in one test process can share one CA: each kubeconfig carries it.
let cached: TlsMaterial | undefined;

function createTls(): TlsMaterial {
  const work = mkdtempSync(path.join(os.tmpdir(), 'dbaas-sim-tls-'));
  const file = (name: string) => path.join(work, name);
  const openssl = (...args: string[]) =>
    execFileSync('openssl', args, { cwd: work, stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', file('ca.key'));
    openssl(
      'req',
      '-x509',
      '-new',
      '-key',
      file('ca.key'),
      '-sha256',
      '-days',
      '3650',
      '-subj',
      '/CN=dbaas-sim-ca',
      '-out',
      file('ca.crt'),
    );
    openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', file('server.key'));
    openssl(
      'req',
      '-new',
      '-key',
      file('server.key'),
      '-subj',
      '/CN=dbaas-sim',
      '-out',
      file('server.csr'),
    );
    writeFileSync(
      file('server.ext'),
      [
        'basicConstraints=CA:FALSE',
        'keyUsage=digitalSignature,keyEncipherment',
        'extendedKeyUsage=serverAuth',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '',
      ].join('\n'),
    );
    openssl(
      'x509',
      '-req',
      '-in',
      file('server.csr'),
      '-CA',
      file('ca.crt'),
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-days',
      '3650',
      '-sha256',
      '-extfile',
      file('server.ext'),
      '-out',
      file('server.crt'),
    );
    return {
      caCert: readFileSync(file('ca.crt'), 'utf8'),
      cert: readFileSync(file('server.crt'), 'utf8'),
      key: readFileSync(file('server.key'), 'utf8'),
    };
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`could not create the simulator's TLS certificate with openssl: ${stderr}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
