// Fault knobs make the simulator fail the way a struggling API server does (500, 503, 429
// with Retry-After, 403, dropped connections, slowness, cut watches), settable in code or
// over /sim/; counters show the API load a client caused, by verb and kind.

import assert from 'node:assert/strict';
import { request } from 'node:https';
import { after, before, beforeEach, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { type Simulator, startSimulator } from '../src/sim/server.js';

const NS = 'faults-test';
const LIST_PATH = `/apis/kubedb.com/v1/namespaces/${NS}/postgreses`;

let sim: Simulator;
let kc: k8s.KubeConfig;
let api: k8s.CustomObjectsApi;

before(async () => {
  sim = await startSimulator({ seed: [{ engine: 'postgres', namespace: NS, name: 'pg' }] });
  kc = new k8s.KubeConfig();
  kc.loadFromString(sim.kubeconfig);
  api = kc.makeApiClient(k8s.CustomObjectsApi);
});

beforeEach(() => {
  sim.setFaults({ errorRate: 0, failNext: 0, errorVerbs: [], latencyMs: 0, errorKinds: [500] });
  sim.resetStats();
});

after(() => sim.stop());

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

function call(method: string, path: string, body?: unknown, auth = true): Promise<Answer> {
  const cluster = kc.getCurrentCluster()!;
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, sim.url),
      {
        method,
        ca: Buffer.from(cluster.caData!, 'base64'),
        headers: {
          ...(auth ? { Authorization: `Bearer ${kc.getCurrentUser()!.token}` } : {}),
          ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
          });
        });
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

describe('request faults', () => {
  for (const [code, reason] of [
    [500, 'InternalError'],
    [503, 'ServiceUnavailable'],
    [403, 'Forbidden'],
  ] as const) {
    it(`answers ${code} ${reason} with a Status body when told to`, async () => {
      sim.setFaults({ failNext: 1, errorKinds: [code] });
      const failed = await call('GET', LIST_PATH);
      assert.equal(failed.status, code);
      assert.equal(failed.body.kind, 'Status');
      assert.equal(failed.body.reason, reason);
      assert.equal((await call('GET', LIST_PATH)).status, 200, 'only the next request fails');
      assert.equal(sim.stats().faults[String(code)], 1);
    });
  }

  it('answers 429 with Retry-After in the header and in the Status details', async () => {
    sim.setFaults({ failNext: 1, errorKinds: [429], retryAfterSeconds: 3 });
    const limited = await call('GET', LIST_PATH);
    assert.equal(limited.status, 429);
    assert.equal(limited.headers['retry-after'], '3');
    assert.equal(limited.body.reason, 'TooManyRequests');
    assert.deepEqual(limited.body.details, { retryAfterSeconds: 3 });
  });

  it('drops the connection for reset', async () => {
    sim.setFaults({ failNext: 1, errorKinds: ['reset'] });
    await assert.rejects(call('GET', LIST_PATH), /socket hang up|ECONNRESET/);
    assert.equal((await call('GET', LIST_PATH)).status, 200);
  });

  it('cycles through errorKinds and fails only the chosen verbs', async () => {
    sim.setFaults({ failNext: 2, errorKinds: [503, 429], errorVerbs: ['create'] });
    assert.equal((await call('GET', LIST_PATH)).status, 200, 'a list is not a create');
    const body = (name: string) => ({
      apiVersion: 'ops.kubedb.com/v1alpha1',
      kind: 'PostgresOpsRequest',
      metadata: { name },
      spec: { type: 'Restart', databaseRef: { name: 'pg' } },
    });
    const path = `/apis/ops.kubedb.com/v1alpha1/namespaces/${NS}/postgresopsrequests`;
    assert.equal((await call('POST', path, body('f1'))).status, 503);
    assert.equal((await call('POST', path, body('f1'))).status, 429);
    assert.equal((await call('POST', path, body('f1'))).status, 201);
    assert.equal(sim.list('postgresopsrequests', NS).length, 1, 'failed creates stored nothing');
  });

  it('fails about errorRate of the requests', async () => {
    sim.setFaults({ errorRate: 0.5, errorKinds: [500] });
    const codes = await Promise.all(Array.from({ length: 200 }, () => call('GET', '/version')));
    const failed = codes.filter((c) => c.status === 500).length;
    assert.ok(failed > 60 && failed < 140, `${failed} of 200 failed`);
  });

  it('adds latency to every API request', async () => {
    sim.setFaults({ latencyMs: 150 });
    const started = Date.now();
    await call('GET', LIST_PATH);
    assert.ok(Date.now() - started >= 140);
  });

  it('client-node surfaces injected faults as ApiException codes', async () => {
    sim.setFaults({ failNext: 1, errorKinds: [503] });
    await assert.rejects(
      api.listNamespacedCustomObject({
        group: 'kubedb.com',
        version: 'v1',
        namespace: NS,
        plural: 'postgreses',
      }),
      (error: { code?: number }) => error.code === 503,
    );
  });

  it('refuses out-of-range knobs', () => {
    assert.throws(() => sim.setFaults({ errorRate: 2 }), RangeError);
    assert.throws(() => sim.setFaults({ errorKinds: [418 as never] }), RangeError);
    assert.throws(() => sim.setFaults({ opsFailPattern: '(' }), RangeError);
  });
});

describe('counters', () => {
  it('counts requests by verb and kind, and open watches', async () => {
    const ops = {
      group: 'ops.kubedb.com',
      version: 'v1alpha1',
      namespace: NS,
      plural: 'postgresopsrequests',
    };
    await api.listNamespacedCustomObject(ops);
    await api.createNamespacedCustomObject({
      ...ops,
      body: {
        apiVersion: 'ops.kubedb.com/v1alpha1',
        kind: 'PostgresOpsRequest',
        metadata: { name: 'counted' },
        spec: { type: 'Restart', databaseRef: { name: 'pg' } },
      },
    });
    await api.getNamespacedCustomObject({ ...ops, name: 'counted' });
    await api.getNamespacedCustomObject({ ...ops, name: 'counted' });
    await api.patchNamespacedCustomObject(
      {
        group: 'kubedb.com',
        version: 'v1',
        namespace: NS,
        plural: 'postgreses',
        name: 'pg',
        body: { metadata: { labels: { a: 'b' } } },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    const controller = await new k8s.Watch(kc).watch(
      `/apis/ops.kubedb.com/v1alpha1/namespaces/${NS}/postgresopsrequests`,
      {},
      () => {},
      () => {},
    );
    const deadline = Date.now() + 2000;
    while (sim.stats().activeWatches < 1 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));

    const stats = sim.stats();
    assert.equal(stats.requests.list.PostgresOpsRequest, 1);
    assert.equal(stats.requests.create.PostgresOpsRequest, 1);
    assert.equal(stats.requests.get.PostgresOpsRequest, 2);
    assert.equal(stats.requests.patch.Postgres, 1);
    assert.equal(stats.requests.watch.PostgresOpsRequest, 1);
    assert.equal(stats.total, 6);
    assert.equal(stats.activeWatches, 1);
    assert.equal(stats.opsRequestsCreated, 1);

    controller.abort();
    while (sim.stats().activeWatches > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    assert.equal(sim.stats().activeWatches, 0);
    sim.resetStats();
    assert.equal(sim.stats().total, 0);
  });
});

describe('control API under /sim/', () => {
  it('sets faults, reads and resets stats, seeds databases, cuts watches', async () => {
    const set = await call('PUT', '/sim/faults', { failNext: 1, errorKinds: [503] }, false);
    assert.equal(set.status, 200);
    assert.equal(set.body.failNext, 1);
    assert.equal((await call('GET', LIST_PATH)).status, 503);

    const stats = await call('GET', '/sim/stats', undefined, false);
    assert.equal((stats.body.requests as Record<string, Record<string, number>>).list!.Postgres, 1);
    assert.equal((await call('POST', '/sim/reset-stats', undefined, false)).body.total, 0);

    const seeded = await call(
      'POST',
      '/sim/seed',
      { databases: [{ engine: 'redis', namespace: NS, name: 'rd', topology: 'cluster' }] },
      false,
    );
    assert.equal(seeded.status, 200);
    const redis = sim.get('kubedb.com', 'v1', 'redises', NS, 'rd') as { status: { phase: string } };
    assert.equal(redis.status.phase, 'Ready');

    const bad = await call(
      'POST',
      '/sim/seed',
      [{ engine: 'redis', namespace: NS, name: 'x', topology: 'ring' }],
      false,
    );
    assert.equal(bad.status, 400);
    assert.match(String(bad.body.message), /no topology ring/);

    const wrong = await call('PUT', '/sim/faults', { errorRate: 5 }, false);
    assert.equal(wrong.status, 400);

    const cut = await call('POST', '/sim/cut-watches?mode=reset', undefined, false);
    assert.equal(cut.status, 200);
    assert.equal(typeof cut.body.cut, 'number');

    const timings = await call('PUT', '/sim/timings', { pendingMs: 7 }, false);
    assert.equal(timings.body.pendingMs, 7);
    assert.equal(sim.timings().pendingMs, 7);
  });

  it('cuts all watches every watchCutEveryMs', async () => {
    sim.setFaults({ watchCutEveryMs: 100 });
    try {
      const ended = await new Promise<boolean>((resolve) => {
        void new k8s.Watch(kc).watch(
          `/apis/kubedb.com/v1/namespaces/${NS}/postgreses`,
          {},
          () => {},
          () => resolve(true),
        );
        setTimeout(() => resolve(false), 1000);
      });
      assert.equal(ended, true);
    } finally {
      sim.setFaults({ watchCutEveryMs: 0 });
    }
  });
});
