// The KubeDB client against the simulator (src/sim): every engine, topology and operation
// kind accepted, run and applied; strict validation; idempotent creation; retries under
// injected faults; and OpsRequests followed through shared watches whose cost does not
// grow with the number followed.

import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino, type Logger } from 'pino';
import YAML from 'yaml';
import { loadConfig } from '../src/shared/config.js';
import { PermanentError, WorkerError } from '../src/shared/errors.js';
import {
  KubeClients,
  buildOpsRequest,
  databasePatch,
  isFinalPhase,
  observedStorageGb,
  readTopology,
  type KubeCluster,
  type KubeObject,
  type OpsRequestKind,
  type OpsRequestStatus,
  type WatchTiming,
} from '../src/shared/kubedb/index.js';
import { SEED_TOPOLOGIES } from '../src/sim/seed.js';
import { startSimulator, type SeedDatabase, type Simulator } from '../src/sim/server.js';
import { ENGINES, type Engine, type Operation } from '../src/shared/types.js';

const silent = pino({ level: 'silent' });

function capture(): { logger: Logger; events: () => string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return {
    logger: pino({ level: 'debug' }, stream),
    events: () => lines.map((line) => (JSON.parse(line) as { msg: string }).msg),
  };
}

let sim: Simulator;
const clientsMade: KubeClients[] = [];

function connect(
  options: {
    watch?: Partial<WatchTiming>;
    logger?: Logger;
    env?: Record<string, string>;
    retries?: number;
  } = {},
): KubeCluster {
  const kube = new KubeClients({
    config: loadConfig({
      KUBECONFIG: sim.kubeconfigPath,
      KUBE_REQUEST_TIMEOUT_MS: '3000',
      WATCH_IDLE_MS: '2000',
      ...options.env,
    }),
    logger: options.logger ?? silent,
    retry: {
      minTimeoutMs: 10,
      maxTimeoutMs: 100,
      maxRetryTimeMs: 10_000,
      ...(options.retries === undefined ? {} : { retries: options.retries }),
    },
    watch: { lingerMs: 100, confirmMs: 200, pollMs: 100, ...options.watch },
  });
  clientsMade.push(kube);
  return kube.forDatabase({ provider_id: null }, null);
}

let operations = 0;
function operation(desired: Operation['desired_state']) {
  operations += 1;
  return {
    _id: `op-${operations.toString(16).padStart(12, '0')}`,
    database_id: `db-${operations.toString(16).padStart(12, '0')}`,
    type: 'scale_vertical',
    desired_state: desired,
  } as const;
}

const DESIRED: Record<OpsRequestKind, Operation['desired_state']> = {
  VerticalScaling: { size: 'db.t3.large' },
  HorizontalScaling: { replicas: 5 },
  VolumeExpansion: { storage_gb: 20 },
  UpdateVersion: { target_version: '9.9.9' },
  Restart: {},
};

async function run(
  cluster: KubeCluster,
  engine: Engine,
  database: KubeObject,
  kind: OpsRequestKind,
  desired = DESIRED[kind],
): Promise<{ body: KubeObject; final: OpsRequestStatus }> {
  const body = buildOpsRequest({
    engine,
    database,
    operation: operation(desired),
    attempt: 1,
    kind,
    volumeExpansionMode: 'Online',
  });
  const created = await cluster.createOpsRequest(engine, body);
  assert.ok(created.metadata?.uid, 'the API server gave the OpsRequest a uid');
  const namespace = body.metadata!.namespace!;
  const final = await cluster.follow(engine, namespace, body.metadata!.name!, () => {});
  return { body, final };
}

function seed(databases: SeedDatabase[]) {
  sim.seed(databases);
}

function rejectsWith(promise: Promise<unknown>, check: (error: WorkerError) => void) {
  return assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof WorkerError, `expected a WorkerError, got ${String(error)}`);
    check(error);
    return true;
  });
}

before(async () => {
  sim = await startSimulator({ timings: { pendingMs: 10, progressingMs: 30, bookmarkMs: 100 } });
});

after(async () => {
  for (const kube of clientsMade) kube.close();
  await sim.stop();
});

describe('KubeDB client against the simulator', () => {
  for (const engine of ENGINES) {
    for (const topology of SEED_TOPOLOGIES[engine]) {
      it(`runs every operation kind on a ${topology} ${engine} and sees it applied`, async () => {
        const cluster = connect();
        const namespace = `all-${engine}`;
        const name = `${engine}-${topology}`.toLowerCase();
        seed([{ engine, namespace, name, topology, replicas: 3 }]);
        const read = () => cluster.getDatabase(engine, namespace, name);

        for (const kind of Object.keys(DESIRED) as OpsRequestKind[]) {
          const database = await read();
          const standalone = readTopology(database, engine).mode === 'standalone';
          if (kind === 'HorizontalScaling' && standalone && engine !== 'postgres') {
            // A standalone server does not become a cluster by scaling (KubeDB refuses too).
            assert.throws(
              () =>
                buildOpsRequest({
                  engine,
                  database,
                  operation: operation(DESIRED[kind]),
                  attempt: 1,
                  kind,
                  volumeExpansionMode: 'Online',
                }),
              (error: unknown) =>
                error instanceof PermanentError && error.code === 'REQUEST_INVALID',
            );
            continue;
          }
          const { body, final } = await run(cluster, engine, database, kind);
          assert.equal(final.phase, 'Successful', `${kind}: ${final.reason}`);

          const applied = await read();
          const now = readTopology(applied, engine);
          const spec = body.spec as Record<string, Record<string, unknown>>;
          if (kind === 'VerticalScaling') {
            const wanted = JSON.stringify({ cpu: '2', memory: '8Gi' });
            const times = JSON.stringify(applied.spec).split(wanted).length - 1;
            const components = Object.keys(spec.verticalScaling!).length;
            assert.ok(times >= components * 2, `${kind}: requests=limits on ${components}`);
          }
          if (kind === 'HorizontalScaling') assert.equal(now.replicas, 5);
          if (kind === 'VolumeExpansion') {
            assert.ok(now.dataComponents.every((c) => c.storage === '20Gi'));
            assert.equal(observedStorageGb(applied, engine), 20);
          }
          if (kind === 'UpdateVersion') assert.equal(now.version, '9.9.9');
        }
      });
    }
  }

  it('works with v1alpha2 database resources when KUBEDB_API_VERSION says so', async () => {
    const cluster = connect({ env: { KUBEDB_API_VERSION: 'v1alpha2' } });
    const namespace = 'legacy';
    seed([
      { engine: 'redis', namespace, name: 'cache', topology: 'cluster', apiVersion: 'v1alpha2' },
    ]);
    const database = await cluster.getDatabase('redis', namespace, 'cache');
    assert.equal(database.apiVersion, 'kubedb.com/v1alpha2');
    const { final } = await run(cluster, 'redis', database, 'HorizontalScaling', {
      replicas: 2,
      shards: 4,
    });
    assert.equal(final.phase, 'Successful', final.reason);
    const after = await cluster.getDatabase('redis', namespace, 'cache');
    assert.equal(readTopology(after).shards, 4);
  });

  it('patches replicas, storage and halted directly, in the field each topology uses', async () => {
    const cluster = connect();
    const namespace = 'patching';
    const cases: Array<[Engine, string]> = [
      ['mongodb', 'sharded'],
      ['redis', 'cluster'],
      ['elasticsearch', 'dedicated'],
      ['postgres', 'cluster'],
    ];
    for (const [engine, topology] of cases) {
      const name = `${engine}-${topology}`;
      seed([{ engine, namespace, name, topology, replicas: 3 }]);
      const database = await cluster.getDatabase(engine, namespace, name);
      for (const [type, desired] of [
        ['scale_horizontal', { replicas: 4 }],
        ['expand_storage', { storage_gb: 30 }],
        ['pause', {}],
      ] as const) {
        const patch = databasePatch(engine, database, { type, desired_state: desired });
        await cluster.patchDatabase(engine, namespace, name, patch);
      }
      const after = readTopology(await cluster.getDatabase(engine, namespace, name), engine);
      assert.equal(after.replicas, 4, `${name} replicas`);
      assert.ok(
        after.dataComponents.every((c) => c.storage === '30Gi'),
        `${name} storage`,
      );
      assert.equal(after.halted, true);
    }
  });

  it('refuses to shrink storage before sending anything', async () => {
    const cluster = connect();
    seed([{ engine: 'mysql', namespace: 'shrink', name: 'db', storageGb: 50 }]);
    const database = await cluster.getDatabase('mysql', 'shrink', 'db');
    const before = sim.stats().total;
    assert.throws(
      () =>
        databasePatch('mysql', database, {
          type: 'expand_storage',
          desired_state: { storage_gb: 20 },
        }),
      (error: unknown) => error instanceof PermanentError && error.code === 'REQUEST_INVALID',
    );
    assert.equal(sim.stats().total, before);
  });

  it('has a body with an unknown field rejected by strict validation, for good', async () => {
    const cluster = connect();
    seed([{ engine: 'postgres', namespace: 'strict', name: 'pg' }]);
    const database = await cluster.getDatabase('postgres', 'strict', 'pg');
    const body = buildOpsRequest({
      engine: 'postgres',
      database,
      operation: operation(DESIRED.VerticalScaling),
      attempt: 1,
      kind: 'VerticalScaling',
      volumeExpansionMode: 'Online',
    });
    (body.spec as Record<string, unknown>).verticalScaling = { standalone: { resources: {} } };
    const before = sim.stats().total;
    await rejectsWith(cluster.createOpsRequest('postgres', body), (error) => {
      assert.ok(error instanceof PermanentError);
      assert.equal(error.code, 'KUBE_REJECTED');
      assert.equal(error.details?.statusCode, 400);
      assert.match(error.message, /unknown field "spec\.verticalScaling\.standalone"/);
    });
    assert.equal(sim.stats().total, before + 1, 'sent once, not retried');
    await rejectsWith(
      cluster.patchDatabase('postgres', 'strict', 'pg', { spec: { replica: 2 } }),
      (error) => assert.equal(error.details?.statusCode, 400),
    );
  });

  it('fails at once on 422 and 403, with the API server message', async () => {
    const cluster = connect();
    seed([{ engine: 'mariadb', namespace: 'refused', name: 'maria' }]);
    const database = await cluster.getDatabase('mariadb', 'refused', 'maria');
    const body = buildOpsRequest({
      engine: 'mariadb',
      database,
      operation: operation({}),
      attempt: 1,
      kind: 'Restart',
      volumeExpansionMode: 'Online',
    });
    (body.spec as Record<string, unknown>).type = 'Explode';
    let before = sim.stats().total;
    await rejectsWith(cluster.createOpsRequest('mariadb', body), (error) => {
      assert.equal(error.retryable, false);
      assert.equal(error.details?.statusCode, 422);
      assert.match(error.message, /spec\.type/);
    });
    assert.equal(sim.stats().total, before + 1);

    sim.setFaults({ failNext: 1, errorKinds: [403] });
    before = sim.stats().total;
    await rejectsWith(cluster.getDatabase('mariadb', 'refused', 'maria'), (error) => {
      assert.equal(error.retryable, false);
      assert.equal(error.code, 'KUBE_REJECTED');
      assert.equal(error.details?.statusCode, 403);
      assert.match(error.describe(), /Allow the worker's Kubernetes user/);
    });
    assert.equal(sim.stats().total, before + 1);
    sim.setFaults({ failNext: 0 });
  });

  it('completes every call through injected 500, 503 and connection resets', async () => {
    // 40% of requests fail: with the default 6 retries one call in 600 still fails for good
    // (0.4^7), about one run in 25 of this test's 25 calls. It tests surviving faults, so
    // it retries more.
    const cluster = connect({ retries: 12 });
    const namespace = 'faulty';
    seed([{ engine: 'mongodb', namespace, name: 'mongo', topology: 'replicaset' }]);
    sim.setFaults({ errorRate: 0.4, errorKinds: [500, 503, 'reset'] });
    const faultsBefore = Object.values(sim.stats().faults).reduce((a, b) => a + b, 0);
    try {
      for (let round = 0; round < 5; round += 1) {
        const database = await cluster.getDatabase('mongodb', namespace, 'mongo');
        const body = buildOpsRequest({
          engine: 'mongodb',
          database,
          operation: operation({}),
          attempt: 1,
          kind: 'Restart',
          volumeExpansionMode: 'Online',
        });
        const created = await cluster.createOpsRequest('mongodb', body);
        const name = created.metadata!.name!;
        assert.ok(await cluster.getOpsRequest('mongodb', namespace, name));
        await cluster.patchDatabase('mongodb', namespace, 'mongo', {
          metadata: { labels: { round: String(round) } },
        });
        assert.ok((await cluster.listOpsRequests('mongodb', namespace)).length >= 1);
        await cluster.deleteOpsRequest('mongodb', namespace, name);
      }
    } finally {
      sim.setFaults({ errorRate: 0 });
    }
    const injected = Object.values(sim.stats().faults).reduce((a, b) => a + b, 0) - faultsBefore;
    assert.ok(injected >= 5, `faults were injected (${injected})`);
  });

  it('waits as long as a 429 Retry-After asks', async () => {
    const cluster = connect();
    seed([{ engine: 'redis', namespace: 'throttled', name: 'cache' }]);
    sim.setFaults({ failNext: 1, errorKinds: [429], retryAfterSeconds: 1 });
    const started = Date.now();
    const database = await cluster.getDatabase('redis', 'throttled', 'cache');
    assert.equal(database.metadata?.name, 'cache');
    assert.ok(Date.now() - started >= 950, 'waited for Retry-After');
  });

  it('creates the same operation attempt once, however often it is sent', async () => {
    const cluster = connect();
    const namespace = 'idempotent';
    seed([{ engine: 'elasticsearch', namespace, name: 'search' }]);
    const database = await cluster.getDatabase('elasticsearch', namespace, 'search');
    const body = buildOpsRequest({
      engine: 'elasticsearch',
      database,
      operation: operation({ size: 'db.t3.medium' }),
      attempt: 1,
      kind: 'VerticalScaling',
      volumeExpansionMode: 'Online',
    });
    const [a, b] = await Promise.all([
      cluster.createOpsRequest('elasticsearch', body),
      cluster.createOpsRequest('elasticsearch', body),
    ]);
    const c = await cluster.createOpsRequest('elasticsearch', body);
    assert.equal(a.metadata!.uid, b.metadata!.uid);
    assert.equal(a.metadata!.uid, c.metadata!.uid);
    const stored = sim
      .list('elasticsearchopsrequests', namespace)
      .filter((o) => (o.metadata as { name: string }).name === body.metadata!.name);
    assert.equal(stored.length, 1);

    const stranger = structuredClone(body);
    stranger.metadata!.labels!['dbaas.io/operation-id'] = 'op-ffffffffffff';
    await rejectsWith(cluster.createOpsRequest('elasticsearch', stranger), (error) => {
      assert.equal(error.retryable, false);
      assert.match(error.message, /belongs to op-/);
    });
  });

  it("reaches a provider's cluster through the provider's own kubeconfig", async () => {
    const kube = new KubeClients({ config: loadConfig({}), logger: silent });
    clientsMade.push(kube);
    seed([{ engine: 'postgres', namespace: 'provided', name: 'pg' }]);
    const provider = {
      _id: 'prov-sim',
      name: 'sim',
      kubeconfig_content: sim.kubeconfig,
      is_active: true,
      is_maintenance: false,
    };
    const cluster = kube.forDatabase({ provider_id: 'prov-sim' }, provider);
    const database = await cluster.getDatabase('postgres', 'provided', 'pg');
    assert.equal(database.metadata?.name, 'pg');

    // Without the simulator's CA the server is not trusted: a permanent, explained error.
    const parsed = YAML.parse(sim.kubeconfig) as {
      clusters: Array<{ cluster: Record<string, unknown> }>;
    };
    delete parsed.clusters[0]!.cluster['certificate-authority-data'];
    const withoutCa = YAML.stringify(parsed);
    const untrusted = kube.forDatabase(
      { provider_id: 'prov-sim' },
      { ...provider, kubeconfig_content: withoutCa },
    );
    await rejectsWith(untrusted.getDatabase('postgres', 'provided', 'pg'), (error) => {
      assert.equal(error.code, 'KUBECONFIG_INVALID');
      assert.equal(error.retryable, false);
    });
    const unverified = kube.forDatabase(
      { provider_id: 'prov-sim' },
      { ...provider, kubeconfig_content: withoutCa, verify_ssl: false },
    );
    assert.ok(await unverified.getDatabase('postgres', 'provided', 'pg'));
  });

  it('gives up on a request without an answer in time, as a transient error', async () => {
    const kube = new KubeClients({
      config: loadConfig({ KUBECONFIG: sim.kubeconfigPath, KUBE_REQUEST_TIMEOUT_MS: '100' }),
      logger: silent,
      retry: { retries: 2, minTimeoutMs: 10, maxTimeoutMs: 20 },
    });
    clientsMade.push(kube);
    const cluster = kube.forDatabase({}, null);
    seed([{ engine: 'mysql', namespace: 'slow', name: 'my' }]);
    sim.setFaults({ latencyMs: 300 });
    const before = sim.stats().requests.get.MySQL ?? 0;
    try {
      await rejectsWith(cluster.getDatabase('mysql', 'slow', 'my'), (error) => {
        assert.equal(error.code, 'KUBE_TRANSIENT');
        assert.equal(error.retryable, true);
        assert.match(error.message, /no answer within 100 ms/);
      });
    } finally {
      sim.setFaults({ latencyMs: 0 });
    }
    await new Promise((resolve) => setTimeout(resolve, 350));
    assert.equal((sim.stats().requests.get.MySQL ?? 0) - before, 3, 'tried 1 + 2 retries');
  });

  it('deletes an OpsRequest, and a second delete is fine', async () => {
    const cluster = connect();
    seed([{ engine: 'postgres', namespace: 'cleanup', name: 'pg' }]);
    const database = await cluster.getDatabase('postgres', 'cleanup', 'pg');
    const { body } = await run(cluster, 'postgres', database, 'Restart');
    const name = body.metadata!.name!;
    await cluster.deleteOpsRequest('postgres', 'cleanup', name);
    await cluster.deleteOpsRequest('postgres', 'cleanup', name);
    assert.equal(await cluster.getOpsRequest('postgres', 'cleanup', name), null);
  });
});

describe('following OpsRequests', () => {
  async function created(
    cluster: KubeCluster,
    engine: Engine,
    namespace: string,
    databaseName: string,
    kind: OpsRequestKind = 'Restart',
  ): Promise<string> {
    const database = await cluster.getDatabase(engine, namespace, databaseName);
    const body = buildOpsRequest({
      engine,
      database,
      operation: operation(DESIRED[kind]),
      attempt: 1,
      kind,
      volumeExpansionMode: 'Online',
    });
    return (await cluster.createOpsRequest(engine, body)).metadata!.name!;
  }

  function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (condition()) return resolve();
        if (Date.now() - started > timeoutMs) return reject(new Error('condition not met'));
        setTimeout(check, 10);
      };
      check();
    });
  }

  it('reports phase changes and the failure reason from the conditions', async () => {
    const cluster = connect();
    seed([{ engine: 'mysql', namespace: 'failing', name: 'my' }]);
    sim.setFaults({ opsFailPattern: '^my-restart-' });
    try {
      const name = await created(cluster, 'mysql', 'failing', 'my');
      const phases: Array<string | null> = [];
      const final = await cluster.follow('mysql', 'failing', name, (s) => phases.push(s.phase));
      assert.equal(final.phase, 'Failed');
      assert.match(final.reason ?? '', /simulator was told to fail/);
      assert.deepEqual(phases.slice(-1), ['Failed']);
      assert.ok(phases.length >= 2, `saw ${phases.join(' > ')}`);
    } finally {
      sim.setFaults({ opsFailPattern: '' });
    }
  });

  it('follows 1,000 OpsRequests with one watch, not 1,000 pollers', async () => {
    const namespace = 'thousand';
    const cluster = connect();
    const databases = Array.from({ length: 50 }, (_, i) => `pg-${i}`);
    seed(databases.map((name) => ({ engine: 'postgres' as const, namespace, name })));
    sim.setTimings({ pendingMs: 1, progressingMs: 1 });
    sim.setFaults({ opsStayProgressing: true });
    const names: string[] = [];
    try {
      for (let batch = 0; batch < 20; batch += 1) {
        names.push(
          ...(await Promise.all(
            databases.map((db) => created(cluster, 'postgres', namespace, db)),
          )),
        );
      }
      assert.equal(names.length, 1000);

      sim.resetStats();
      const before = cluster.stats().requests;
      const seen = new Set<string>();
      const followed = Promise.all(
        names.map((name) => cluster.follow('postgres', namespace, name, () => seen.add(name))),
      );
      await waitFor(() => seen.size === 1000);
      sim.setFaults({ opsStayProgressing: false });
      const finals = await followed;

      assert.ok(finals.every((s) => s.phase === 'Successful'));
      const stats = sim.stats();
      assert.ok(stats.total < 20, `follow phase cost ${stats.total} API requests`);
      assert.ok(stats.watchesOpened <= 2, `${stats.watchesOpened} watches opened`);
      assert.ok(stats.activeWatches <= 2, `${stats.activeWatches} watches open`);
      assert.deepEqual(stats.requests.get, {}, 'no OpsRequest was read one by one');
      assert.ok(cluster.stats().requests - before < 20);
    } finally {
      sim.setFaults({ opsStayProgressing: false });
      sim.setTimings({ pendingMs: 10, progressingMs: 30 });
    }
  });

  it('follows OpsRequests in 100 namespaces with one cluster-wide watch', async () => {
    const cluster = connect({ env: { OPS_REQUEST_WATCH_SCOPE: 'cluster' } });
    const namespaces = Array.from({ length: 100 }, (_, i) => `tenant-${i}`);
    seed(namespaces.map((namespace) => ({ engine: 'redis' as const, namespace, name: 'cache' })));
    sim.setTimings({ pendingMs: 1, progressingMs: 1 });
    sim.setFaults({ opsStayProgressing: true });
    try {
      const created_ = await Promise.all(
        namespaces.map(async (ns) => ({ ns, name: await created(cluster, 'redis', ns, 'cache') })),
      );
      sim.resetStats();
      const seen = new Set<string>();
      const followed = Promise.all(
        created_.map(({ ns, name }) =>
          cluster.follow('redis', ns, name, () => seen.add(`${ns}/${name}`)),
        ),
      );
      await waitFor(() => seen.size === 100);
      sim.setFaults({ opsStayProgressing: false });
      const finals = await followed;

      assert.ok(finals.every((s) => s.phase === 'Successful'));
      // Each follower got its own OpsRequest, though all share one name in 100 namespaces.
      assert.deepEqual(
        finals.map((s) => s.name),
        created_.map(({ name }) => name),
      );
      const stats = sim.stats();
      assert.ok(stats.watchesOpened <= 2, `${stats.watchesOpened} watches opened`);
      assert.ok(stats.total < 10, `follow phase cost ${stats.total} API requests`);
    } finally {
      sim.setFaults({ opsStayProgressing: false });
      sim.setTimings({ pendingMs: 10, progressingMs: 30 });
    }
  });

  it('resumes a cut watch and still sees the final phase', async () => {
    const cluster = connect();
    seed([{ engine: 'mongodb', namespace: 'cut', name: 'mongo' }]);
    sim.setFaults({ opsStuckPattern: '^mongo-' });
    try {
      const name = await created(cluster, 'mongodb', 'cut', 'mongo');
      let phase: string | null = null;
      const final = cluster.follow('mongodb', 'cut', name, (s) => (phase = s.phase));
      await waitFor(() => phase === 'Progressing' && cluster.stats().streams === 1);
      const watches = () => cluster.stats().byVerb.watch ?? 0;
      const lists = () => cluster.stats().byVerb.list ?? 0;
      const [watchesBefore, listsBefore] = [watches(), lists()];
      // Each stream lives long enough for a bookmark (every 100 ms): a stream that ends
      // before saying anything counts as a failed watch, and two of those mean polling.
      const aWhile = () => new Promise((resolve) => setTimeout(resolve, 250));
      await aWhile();
      assert.ok(sim.cutWatches('end') >= 1);
      await waitFor(() => watches() === watchesBefore + 1 && cluster.stats().streams === 1);
      await aWhile();
      sim.cutWatches('reset');
      await waitFor(() => watches() === watchesBefore + 2 && cluster.stats().streams === 1);
      sim.setFaults({ opsStuckPattern: '' });
      assert.equal((await final).phase, 'Successful');
      assert.equal(lists(), listsBefore, 'resumed from the last resourceVersion, no relist');
    } finally {
      sim.setFaults({ opsStuckPattern: '' });
    }
  });

  it('drops a silent watch after the idle limit, relists and sees the final phase', async () => {
    const { logger, events } = capture();
    const cluster = connect({ logger, watch: { idleMs: 400 } });
    seed([{ engine: 'redis', namespace: 'silent', name: 'cache' }]);
    sim.setFaults({ opsStuckPattern: '^cache-' });
    try {
      const name = await created(cluster, 'redis', 'silent', 'cache');
      let phase: string | null = null;
      const final = cluster.follow('redis', 'silent', name, (s) => (phase = s.phase));
      await waitFor(() => phase === 'Progressing' && cluster.stats().streams === 1);
      // Healthy streams get a bookmark every 100 ms, well within the 400 ms limit.
      await new Promise((resolve) => setTimeout(resolve, 600));
      assert.ok(!events().includes('ops_request_watch_idle'));
      sim.cutWatches('silent');
      sim.setFaults({ opsStuckPattern: '' });
      const started = Date.now();
      assert.equal((await final).phase, 'Successful');
      assert.ok(Date.now() - started < 2000);
      assert.ok(events().includes('ops_request_watch_idle'));
    } finally {
      sim.setFaults({ opsStuckPattern: '' });
    }
  });

  it('falls back to one LIST per interval while watches fail', async () => {
    const cluster = connect({ watch: { pollMs: 100 } });
    const namespace = 'nowatch';
    seed([{ engine: 'mariadb', namespace, name: 'maria' }]);
    const names = await Promise.all(
      Array.from({ length: 30 }, () => created(cluster, 'mariadb', namespace, 'maria')),
    );
    sim.resetStats();
    sim.setFaults({ errorRate: 1, errorVerbs: ['watch'], errorKinds: [503] });
    const started = Date.now();
    try {
      const finals = await Promise.all(
        names.map((name) => cluster.follow('mariadb', namespace, name, () => {})),
      );
      assert.ok(finals.every((s) => isFinalPhase(s.phase)));
    } finally {
      sim.setFaults({ errorRate: 0, errorVerbs: [] });
    }
    const lists = sim.stats().requests.list.MariaDBOpsRequest ?? 0;
    const elapsed = Date.now() - started;
    assert.ok(lists <= elapsed / 100 + 3, `${lists} lists in ${elapsed} ms for 30 OpsRequests`);
    assert.deepEqual(sim.stats().requests.get, {});
  });

  it('relists when the resourceVersion to resume from is too old (410 Gone)', async () => {
    const small = await startSimulator({
      eventWindow: 5,
      timings: { pendingMs: 10, progressingMs: 30, bookmarkMs: 100 },
    });
    const { logger, events } = capture();
    const kube = new KubeClients({
      config: loadConfig({ KUBECONFIG: small.kubeconfigPath }),
      logger,
      watch: { lingerMs: 100 },
    });
    try {
      const cluster = kube.forDatabase({}, null);
      small.seed([{ engine: 'postgres', namespace: 'gone', name: 'pg' }]);
      small.setFaults({ opsStuckPattern: '^pg-' });
      const name = await created(cluster, 'postgres', 'gone', 'pg');
      let phase: string | null = null;
      const final = cluster.follow('postgres', 'gone', name, (s) => (phase = s.phase));
      await waitFor(() => phase === 'Progressing' && cluster.stats().streams === 1);
      const listsBefore = small.stats().requests.list.PostgresOpsRequest ?? 0;
      small.cutWatches('end');
      // More changes than the simulator remembers, before the client can resume.
      small.seed(
        Array.from({ length: 6 }, (_, i) => ({ engine: 'redis', namespace: 'x', name: `r${i}` })),
      );
      small.setFaults({ opsStuckPattern: '' });
      assert.equal((await final).phase, 'Successful');
      assert.ok((small.stats().requests.list.PostgresOpsRequest ?? 0) > listsBefore, 'relisted');
      assert.ok(events().includes('ops_request_watch_error_event'), 'the resume got 410 Gone');
    } finally {
      kube.close();
      await small.stop();
    }
  });

  it('rejects a follow of an OpsRequest that does not exist', async () => {
    const cluster = connect();
    seed([{ engine: 'postgres', namespace: 'missing', name: 'pg' }]);
    await rejectsWith(
      cluster.follow('postgres', 'missing', 'no-such-opsrequest', () => {}),
      (error) => {
        assert.equal(error.retryable, false);
        assert.equal(error.details?.reason, 'NotFound');
      },
    );
  });

  it('stops watching when no one follows any more, and on abort', async () => {
    const cluster = connect();
    seed([{ engine: 'mysql', namespace: 'abort', name: 'my' }]);
    sim.setFaults({ opsStuckPattern: '^my-restart-' });
    try {
      const name = await created(cluster, 'mysql', 'abort', 'my');
      const controller = new AbortController();
      const following = cluster.follow('mysql', 'abort', name, () => {}, controller.signal);
      await waitFor(() => cluster.stats().streams === 1);
      controller.abort(new Error('operation cancelled'));
      await assert.rejects(following, /operation cancelled/);
      await waitFor(() => cluster.stats().feeds === 0, 2000);
      assert.equal(cluster.stats().streams, 0);
    } finally {
      sim.setFaults({ opsStuckPattern: '' });
    }
  });
});
