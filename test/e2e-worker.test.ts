import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import type { SeedDatabase } from '../src/sim/server.js';
import type { Database, DesiredState, OperationType } from '../src/shared/types.js';
import { startPlatform, type Platform } from './support/e2e.js';

const OPS_PLURALS = [
  'postgresopsrequests',
  'mysqlopsrequests',
  'mariadbopsrequests',
  'mongodbopsrequests',
  'redisopsrequests',
  'elasticsearchopsrequests',
];

let namespaceCounter = 0;

/** One database of every engine, in a namespace of its own for this test. */
function everyEngine(): SeedDatabase[] {
  namespaceCounter += 1;
  const ns = `e2e-${namespaceCounter}`;
  return [
    {
      engine: 'postgres',
      namespace: ns,
      name: 'pg',
      topology: 'cluster',
      replicas: 3,
      storageGb: 10,
      size: 'db.t3.small',
      version: '16.4',
    },
    {
      engine: 'mysql',
      namespace: ns,
      name: 'my',
      topology: 'group-replication',
      replicas: 3,
      storageGb: 10,
      size: 'db.t3.small',
      version: '8.0.35',
    },
    {
      engine: 'mariadb',
      namespace: ns,
      name: 'maria',
      topology: 'galera',
      replicas: 3,
      storageGb: 10,
      size: 'db.t3.small',
      version: '10.11.2',
    },
    {
      engine: 'mongodb',
      namespace: ns,
      name: 'mongo',
      topology: 'replicaset',
      replicas: 3,
      storageGb: 10,
      size: 'db.t3.small',
      version: '7.0.5',
    },
    {
      engine: 'redis',
      namespace: ns,
      name: 'redis',
      topology: 'standalone',
      replicas: 1,
      storageGb: 10,
      size: 'db.t3.small',
      version: '7.2.4',
    },
    {
      engine: 'elasticsearch',
      namespace: ns,
      name: 'es',
      topology: 'combined',
      replicas: 3,
      storageGb: 10,
      size: 'db.t3.small',
      version: 'xpack-8.11.1',
    },
  ];
}

interface Queued {
  id: string;
  database: Database;
  type: OperationType;
  desired: DesiredState;
}

async function queueMixedBatch(platform: Platform): Promise<Queued[]> {
  const queued: Queued[] = [];
  for (const seed of everyEngine()) {
    const database = await platform.addDatabase(seed);
    const plan: Array<[OperationType, DesiredState]> = [
      ['scale_vertical', { size: 'db.t3.large' }],
      ['expand_storage', { storage_gb: 20 }],
      ['restart', {}],
    ];
    if ((seed.replicas ?? 1) > 1) plan.push(['scale_horizontal', { replicas: 5 }]);
    for (const [type, desired] of plan) {
      queued.push({
        id: await platform.queueOperation(database._id, type, desired),
        database,
        type,
        desired,
      });
    }
  }
  return queued;
}

async function assertAllCompletedAndTrue(platform: Platform, queued: Queued[]) {
  const operations = await platform.waitForFinal(
    queued.map((q) => q.id),
    90_000,
  );
  for (const operation of operations) {
    assert.equal(
      operation.status,
      'completed',
      `${operation._id} ${operation.type}: ${operation.error_message}`,
    );
    assert.equal(operation.progress, 100);
    assert.ok(operation.completed_at instanceof Date);
  }
  for (const q of queued) {
    const database = await platform.store.getDatabase(q.database._id);
    assert.ok(database);
    if (q.type === 'scale_vertical') assert.equal(database.current_size, q.desired.size);
    if (q.type === 'expand_storage')
      assert.equal(database.current_storage_gb, q.desired.storage_gb);
    if (q.type === 'scale_horizontal') assert.equal(database.current_replicas, q.desired.replicas);
    assert.equal(database.status, 'running');
    // Desired fields belong to the platform: untouched.
    assert.equal(database.size, q.database.size);
    const dedup = await platform.redis.get(`operations:dedup:${q.database._id}:${q.type}`);
    assert.equal(dedup, null);
  }
  assert.equal(await platform.redis.scard('operations:processing'), 0);
}

/** Each (operation, attempt) has exactly one OpsRequest in the cluster. */
function assertNoDuplicateOpsRequests(platform: Platform) {
  const seen = new Map<string, number>();
  for (const plural of OPS_PLURALS) {
    for (const object of platform.sim.list(plural) as Array<{
      metadata: { labels?: Record<string, string> };
    }>) {
      const labels = object.metadata.labels ?? {};
      const key = `${labels['dbaas.io/operation-id']}/${labels['dbaas.io/attempt']}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
  }
  const duplicates = [...seen.entries()].filter(([, count]) => count > 1);
  assert.deepEqual(duplicates, []);
  return seen.size;
}

describe('worker end to end', { concurrency: false }, () => {
  let platform: Platform;

  before(async () => {
    platform = await startPlatform(import.meta.url);
  });
  afterEach(async () => {
    await platform?.stopWorkers();
  });
  after(async () => {
    await platform?.close();
  });

  it('completes a mixed batch over all six engines and leaves every record true', async () => {
    const queued = await queueMixedBatch(platform);
    const worker = platform.startWorker();
    await assertAllCompletedAndTrue(platform, queued);
    assert.equal(await worker.stop('SIGTERM'), 0);
    const mongo = platform.sim.get(
      'kubedb.com',
      'v1',
      'mongodbs',
      queued[0]!.database.namespace,
      'mongo',
    ) as {
      spec: { storage?: { resources?: { requests?: { storage?: string } } } };
    };
    assert.equal(mongo.spec.storage?.resources?.requests?.storage, '20Gi');
  });

  it('hands work back on SIGTERM and a restarted worker finishes it with no failure or duplicate', async () => {
    platform.sim.setTimings({ pendingMs: 50, progressingMs: 1500 });
    const queued = await queueMixedBatch(platform);
    const first = platform.startWorker({
      DELETE_FINISHED_OPS_REQUESTS: 'false',
      LOG_LEVEL: 'info',
    });
    await platform.waitFor('OpsRequests in flight', async () => {
      const ops = await platform.store.listOperations({ ids: queued.map((q) => q.id) }, 100);
      return ops.filter((op) => op.ops_request_name).length >= 4;
    });
    assert.equal(await first.stop('SIGTERM'), 0);
    const afterStop = await platform.store.listOperations({ ids: queued.map((q) => q.id) }, 100);
    assert.equal(afterStop.filter((op) => op.status === 'failed').length, 0);
    const finished = first
      .output()
      .split('\n')
      .find((line) => line.includes('"shutdown_finished"'));
    const { handedBack } = JSON.parse(finished ?? '{}') as { handedBack?: number };
    assert.ok((handedBack ?? 0) >= 1, `the log counts what was handed back: ${finished}`);

    const second = platform.startWorker({ DELETE_FINISHED_OPS_REQUESTS: 'false' });
    await assertAllCompletedAndTrue(platform, queued);
    assertNoDuplicateOpsRequests(platform);
    await second.stop();
  });

  it('survives SIGKILL: after the leases expire a new worker resumes without duplicates', async () => {
    platform.sim.setTimings({ pendingMs: 50, progressingMs: 1500 });
    const queued = await queueMixedBatch(platform);
    const first = platform.startWorker({ DELETE_FINISHED_OPS_REQUESTS: 'false' });
    await platform.waitFor('OpsRequests in flight', async () => {
      const ops = await platform.store.listOperations({ ids: queued.map((q) => q.id) }, 100);
      return ops.filter((op) => op.ops_request_name && op.status === 'in_progress').length >= 4;
    });
    await first.stop('SIGKILL');

    const second = platform.startWorker({ DELETE_FINISHED_OPS_REQUESTS: 'false' });
    await assertAllCompletedAndTrue(platform, queued);
    assertNoDuplicateOpsRequests(platform);
    const operations = await platform.store.listOperations({ ids: queued.map((q) => q.id) }, 100);
    assert.ok(
      operations.some((op) => (op.worker_state?.restarts ?? 0) > 0),
      'some were resumed',
    );
    assert.ok(
      operations.every((op) => op.retry_count === 0),
      'a restart is not a retry',
    );
    await second.stop();
  });

  it('queues again unfinished operations that Redis lost, and ones the old worker left', async () => {
    const [seed] = everyEngine();
    const database = await platform.addDatabase(seed!);
    const other = await platform.addDatabase({ ...seed!, name: 'pg-old' });
    // Queued in MongoDB, but its ZADD never reached Redis (or Redis lost it in a crash).
    const lost = await platform.store.createOperation({
      database_id: database._id,
      type: 'scale_vertical',
      desired_state: { size: 'db.t3.medium' },
    });
    // Left in progress by the Python worker, which never wrote worker_state.
    const abandoned = await platform.store.createOperation({
      database_id: other._id,
      type: 'restart',
      desired_state: {},
    });
    await platform.platformSet('operations', abandoned._id, {
      status: 'in_progress',
      progress: 20,
    });
    await new Promise((resolve) => setTimeout(resolve, 300));

    const worker = platform.startWorker({ RECONCILE_MS: '200', RECONCILE_AFTER_MS: '200' });
    const operations = await platform.waitForFinal([lost._id, abandoned._id]);
    for (const operation of operations) {
      assert.equal(operation.status, 'completed', operation.error_message ?? '');
    }
    await worker.stop();
  });

  it('withdraws the OpsRequest of an operation cancelled before KubeDB started it', async () => {
    // KubeDB starts it 4 s after it is created. Leases are renewed every 10 s, as by default:
    // the cancel must be seen sooner than that (CANCEL_SWEEP_MS, 2 s by default).
    platform.sim.setTimings({ pendingMs: 4000, progressingMs: 100 });
    const [seed] = everyEngine();
    const database = await platform.addDatabase(seed!);
    const id = await platform.queueOperation(database._id, 'restart', {});
    const worker = platform.startWorker({ LEASE_TTL_MS: '30000', LEASE_RENEW_MS: '10000' });
    const running = await platform.waitFor('the OpsRequest to be Pending', async () => {
      const op = await platform.store.getOperation(id);
      return op?.ops_request_phase === 'Pending' ? op : null;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    // The platform's API writes the status only.
    await platform.platformSet('operations', id, { status: 'cancelled' });

    await platform.waitFor(
      'the OpsRequest to be withdrawn while still Pending',
      async () =>
        platform.sim.get(
          'ops.kubedb.com',
          'v1alpha1',
          'postgresopsrequests',
          seed!.namespace,
          running.ops_request_name!,
        ) === undefined,
      3500,
    );
    const cancelled = await platform.waitFor('the record of the cancel completed', async () => {
      const op = await platform.store.getOperation(id);
      return op?.completed_at ? op : null;
    });
    assert.equal(cancelled.status, 'cancelled');
    assert.equal(cancelled.message, 'Cancelled');
    await worker.stop();
    platform.sim.setTimings({ pendingMs: 20, progressingMs: 100 });
  });

  it('records the change of a cancelled operation that KubeDB had already started', async () => {
    platform.sim.setTimings({ pendingMs: 20, progressingMs: 2500 });
    const [seed] = everyEngine();
    const database = await platform.addDatabase(seed!);
    const id = await platform.queueOperation(database._id, 'scale_vertical', {
      size: 'db.t3.large',
    });
    const worker = platform.startWorker();
    try {
      const running = await platform.waitFor('the OpsRequest to be Progressing', async () => {
        const op = await platform.store.getOperation(id);
        return op?.ops_request_phase === 'Progressing' ? op : null;
      });
      await platform.store.cancelOperation(id, 'Cancelled by the user');
      const opsRequest = () =>
        platform.sim.get(
          'ops.kubedb.com',
          'v1alpha1',
          'postgresopsrequests',
          seed!.namespace,
          running.ops_request_name!,
        ) as { status?: { phase?: string } } | undefined;
      // KubeDB cannot stop a rolling change: it lands, and the record must say so.
      const record = await platform.waitFor('the record to show the change', async () => {
        const current = await platform.store.getDatabase(database._id);
        return current?.current_size === 'db.t3.large' ? current : null;
      });
      assert.equal(record.status, 'running');
      const cancelled = await platform.store.getOperation(id);
      assert.equal(cancelled?.status, 'cancelled');
      assert.equal(cancelled?.message, 'Cancelled by the user', "the canceller's own words stay");
      await platform.waitFor('the finished OpsRequest deleted', async () =>
        opsRequest() === undefined ? true : null,
      );
      await platform.waitFor('the database lock released', async () =>
        (await platform.redis.exists(`operations:dblock:${database._id}`)) === 0 ? true : null,
      );
    } finally {
      await worker.stop();
      platform.sim.setTimings({ pendingMs: 20, progressingMs: 100 });
    }
  });

  it('refuses to change a paused database, and its record stays paused', async () => {
    const [seed] = everyEngine();
    const database = await platform.addDatabase(seed!);
    const worker = platform.startWorker();
    try {
      const pause = await platform.queueOperation(database._id, 'pause', {});
      const [paused] = await platform.waitForFinal([pause]);
      assert.equal(paused!.status, 'completed', paused!.error_message ?? '');
      const scale = await platform.queueOperation(database._id, 'scale_vertical', {
        size: 'db.t3.large',
      });
      const [refused] = await platform.waitForFinal([scale]);
      assert.equal(refused!.status, 'failed');
      assert.match(refused!.error_message ?? '', /is paused.*Resume the database first/);
      const record = await platform.store.getDatabase(database._id);
      assert.equal(record!.status, 'paused', 'true to the halted cluster');
      assert.equal(record!.current_size, database.current_size);
    } finally {
      await worker.stop();
    }
  });

  it('frees the dedup key of an operation the platform cancelled while it waited', async () => {
    const [seed] = everyEngine();
    const database = await platform.addDatabase(seed!);
    const id = await platform.queueOperation(database._id, 'restart', {});
    await platform.store.cancelOperation(id, 'Cancelled by the user');
    const worker = platform.startWorker();
    await platform.waitFor(
      'the dedup key to be freed',
      async () => (await platform.redis.get(`operations:dedup:${database._id}:restart`)) === null,
    );
    assert.equal((await platform.store.getOperation(id))?.status, 'cancelled');
    assert.equal(await platform.redis.zscore('operations:pending', id), null);
    await worker.stop();
  });

  it('stops an operation cancelled in MongoDB and fails a bad one once while the rest complete', async () => {
    platform.sim.setTimings({ pendingMs: 50, progressingMs: 3000 });
    const [seed] = everyEngine();
    const database = await platform.addDatabase(seed!);
    const other = await platform.addDatabase({ ...seed!, name: 'pg-two' });
    const slow = await platform.queueOperation(database._id, 'scale_vertical', {
      size: 'db.t3.large',
    });
    const bad = await platform.queueOperation(other._id, 'expand_storage', { storage_gb: 2 });
    const unknownSize = await platform.queueOperation(other._id, 'scale_vertical', {
      size: 'db.t3.galactic',
    });
    const fine = await platform.queueOperation(other._id, 'restart', {});
    const worker = platform.startWorker();

    // Cancel while the actor is quiet (waiting on Progressing): FerretDB applies an update as
    // read-modify-write of the whole document, so a cancel racing one of the actor's progress
    // writes can be undone there (MongoDB applies each update atomically).
    await platform.waitFor('the slow operation in flight', async () => {
      const op = await platform.store.getOperation(slow);
      return op?.ops_request_phase === 'Progressing' ? op : null;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await platform.store.cancelOperation(slow, 'Cancelled by the user');

    const [cancelled, shrink, size, ok] = await platform
      .waitForFinal([slow, bad, unknownSize, fine])
      .then((ops) => [slow, bad, unknownSize, fine].map((id) => ops.find((op) => op._id === id)!));
    assert.equal(cancelled!.status, 'cancelled');
    assert.equal(shrink!.status, 'failed');
    assert.match(shrink!.error_message ?? '', /cannot shrink from 10 GB to 2 GB/);
    assert.equal(shrink!.retry_count, 0);
    assert.equal(size!.status, 'failed');
    assert.match(size!.error_message ?? '', /db\.t3\.galactic.*Use one of db\.t3\.micro/);
    assert.equal(ok!.status, 'completed');
    const dead = await platform.queue.deadLetters(10);
    assert.ok(dead.some((letter) => letter.operationId === bad));
    await worker.stop();
  });
});
