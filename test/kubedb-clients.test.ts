// Which cluster a database's requests go to, and what the worker says when it cannot tell:
// provider states, kubeconfig problems, the client cache, and error classification.

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { loadConfig } from '../src/shared/config.js';
import { PermanentError, TransientError, WorkerError } from '../src/shared/errors.js';
import { KubeClients } from '../src/shared/kubedb/index.js';
import { responseError, retryAfterMs } from '../src/shared/kubedb/api-errors.js';
import type { Provider } from '../src/shared/types.js';

const SECRET_TOKEN = 'sekret-token-0123456789';

function kubeconfig(server = 'https://127.0.0.1:6443', token = SECRET_TOKEN): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: c',
    '  cluster:',
    `    server: ${server}`,
    'users:',
    '- name: u',
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: x',
    '  context: {cluster: c, user: u}',
    'current-context: x',
    '',
  ].join('\n');
}

function provider(fields: Partial<Provider> = {}): Provider {
  return {
    _id: 'prov-1',
    name: 'east',
    kubeconfig_content: kubeconfig(),
    is_active: true,
    is_maintenance: false,
    ...fields,
  };
}

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

function clients(env: Record<string, string> = {}) {
  const { logger, lines } = capture();
  return { kube: new KubeClients({ config: loadConfig(env), logger }), lines };
}

const withProvider = { provider_id: 'prov-1' };

function fails(fn: () => unknown, type: typeof WorkerError, code: string, text?: RegExp) {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof type, `expected ${type.name}, got ${String(error)}`);
    assert.equal((error as WorkerError).code, code);
    if (text) assert.match((error as WorkerError).message, text);
    assert.doesNotMatch((error as WorkerError).message, new RegExp(SECRET_TOKEN));
    return true;
  });
}

describe('KubeClients', () => {
  it('builds one client per provider and reuses it', () => {
    const { kube } = clients();
    const first = kube.forDatabase(withProvider, provider());
    assert.equal(kube.forDatabase(withProvider, provider()), first);
    const other = kube.forDatabase({ provider_id: 'prov-2' }, provider({ _id: 'prov-2' }));
    assert.notEqual(other, first);
    kube.close();
  });

  it('rebuilds the client when the provider kubeconfig changes', () => {
    const { kube } = clients();
    const first = kube.forDatabase(withProvider, provider());
    const changed = provider({ kubeconfig_content: kubeconfig('https://127.0.0.1:7443') });
    const second = kube.forDatabase(withProvider, changed);
    assert.notEqual(second, first);
    assert.equal(kube.forDatabase(withProvider, changed), second);
    kube.close();
  });

  it('reads kubeconfig_path when the provider has no kubeconfig_content', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kubedb-clients-'));
    const file = path.join(dir, 'config');
    writeFileSync(file, kubeconfig());
    const { kube } = clients();
    const byPath = provider({ kubeconfig_content: null, kubeconfig_path: file });
    assert.ok(kube.forDatabase(withProvider, byPath));
    fails(
      () => kube.forDatabase(withProvider, { ...byPath, kubeconfig_path: `${file}.missing` }),
      PermanentError,
      'KUBECONFIG_INVALID',
      /cannot be read/,
    );
    kube.close();
  });

  it('uses KUBECONFIG for databases without a provider, and says so when it is unset', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kubedb-clients-'));
    const file = path.join(dir, 'config');
    writeFileSync(file, kubeconfig());
    const { kube } = clients({ KUBECONFIG: file });
    assert.ok(kube.forDatabase({ provider_id: null }, null));
    kube.close();
    if (!process.env.KUBERNETES_SERVICE_HOST) {
      fails(
        () => clients().kube.forDatabase({}, null),
        PermanentError,
        'KUBECONFIG_INVALID',
        /KUBECONFIG|inside a Kubernetes cluster/,
      );
    }
  });

  it('refuses a missing or inactive provider for good, and a provider in maintenance for now', () => {
    const { kube } = clients();
    fails(
      () => kube.forDatabase(withProvider, null),
      PermanentError,
      'PROVIDER_UNAVAILABLE',
      /does not exist/,
    );
    fails(
      () => kube.forDatabase(withProvider, provider({ is_active: false })),
      PermanentError,
      'PROVIDER_UNAVAILABLE',
      /inactive/,
    );
    fails(
      () => kube.forDatabase(withProvider, provider({ is_maintenance: true })),
      TransientError,
      'PROVIDER_UNAVAILABLE',
      /maintenance/,
    );
  });

  it('rejects an unusable kubeconfig without quoting it', () => {
    const { kube, lines } = clients();
    const broken = `${kubeconfig()}\n  bad: [${SECRET_TOKEN}\n`;
    fails(
      () => kube.forDatabase(withProvider, provider({ kubeconfig_content: broken })),
      PermanentError,
      'KUBECONFIG_INVALID',
    );
    fails(
      () => kube.forDatabase(withProvider, provider({ kubeconfig_content: 'just text' })),
      PermanentError,
      'KUBECONFIG_INVALID',
      /no current cluster/,
    );
    fails(
      () => kube.forDatabase(withProvider, provider({ kubeconfig_content: '' })),
      PermanentError,
      'KUBECONFIG_INVALID',
      /neither kubeconfig_content nor kubeconfig_path/,
    );
    kube.forDatabase(withProvider, provider());
    assert.ok(lines.some((line) => line.includes('kube_client_built')));
    assert.ok(lines.every((line) => !line.includes(SECRET_TOKEN)));
  });

  it('refuses provider kubeconfigs that would run commands, unless told they are trusted', () => {
    const execUser = kubeconfig().replace(
      `    token: ${SECRET_TOKEN}`,
      '    exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/sh, args: [-c, id]}',
    );
    const { kube } = clients();
    fails(
      () => kube.forDatabase(withProvider, provider({ kubeconfig_content: execUser })),
      PermanentError,
      'KUBECONFIG_INVALID',
      /run a command for its credentials/,
    );
    const trusting = clients({ PROVIDER_KUBECONFIG_COMMANDS: 'allow' }).kube;
    trusting.forDatabase(withProvider, provider({ kubeconfig_content: execUser }));
  });
});

describe('Kubernetes API errors', () => {
  const status = (code: number, reason: string, message: string) => ({
    kind: 'Status',
    status: 'Failure',
    code,
    reason,
    message,
  });

  it('are transient for 429, 5xx and update conflicts, and keep Retry-After', () => {
    for (const [code, reason] of [
      [429, 'TooManyRequests'],
      [500, 'InternalError'],
      [503, 'ServiceUnavailable'],
      [409, 'Conflict'],
    ] as const) {
      const error = responseError('patch', 'MySQL demo/db', code, status(code, reason, 'x'), {
        'retry-after': '2',
      });
      assert.ok(error instanceof TransientError, `${code}`);
      assert.equal(error.code, 'KUBE_TRANSIENT');
      assert.equal(error.details?.retryAfterMs, 2000);
    }
  });

  it('are permanent for 400, 403, 404, 422 and AlreadyExists, with the server message', () => {
    for (const [code, reason] of [
      [400, 'BadRequest'],
      [403, 'Forbidden'],
      [404, 'NotFound'],
      [422, 'Invalid'],
      [409, 'AlreadyExists'],
    ] as const) {
      const error = responseError(
        'create',
        'MySQLOpsRequest demo/x',
        code,
        status(code, reason, `said ${code}`),
        {},
      );
      assert.ok(error instanceof PermanentError, `${code}`);
      assert.equal(error.code, 'KUBE_REJECTED');
      assert.equal(error.details?.reason, reason);
      assert.match(error.message, new RegExp(`said ${code}`));
      assert.match(error.message, /MySQLOpsRequest demo\/x/);
    }
  });

  it('read Retry-After as seconds or as a date', () => {
    assert.equal(retryAfterMs('3'), 3000);
    assert.equal(retryAfterMs(undefined), undefined);
    const inFive = new Date(Date.now() + 5000).toUTCString();
    assert.ok(Math.abs(retryAfterMs(inFive)! - 5000) < 1500);
  });
});
