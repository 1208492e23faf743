import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import type { SeedDatabase } from '../src/sim/server.js';
import { startPlatform, type Platform } from './support/e2e.js';

const TOKEN = 'e2e-admin-token-0123456789';

let counter = 0;
function postgres(name = 'pg'): SeedDatabase {
  counter += 1;
  return {
    engine: 'postgres',
    namespace: `faults-${counter}`,
    name,
    topology: 'cluster',
    replicas: 3,
    storageGb: 10,
    size: 'db.t3.small',
    version: '16.4',
  };
}

async function admin(url: string, path: string, method = 'GET') {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: method === 'POST' ? { authorization: `Bearer ${TOKEN}` } : {},
  });
  const text = await response.text();
  return { status: response.status, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

interface ActorView {
  operationId: string;
  thread: number | null;
  step: string | null;
  type: string | null;
  databaseId: string | null;
}

/** The actor of an operation once it follows its OpsRequest, as /v1/actors shows it. */
function followingActor(platform: Platform, url: string, id: string): Promise<ActorView> {
  return platform.waitFor('the actor on a thread', async () => {
    const actors = (await admin(url, '/v1/actors')).json().actors as ActorView[];
    const actor = actors.find((a) => a.operationId === id && a.step === 'change_requested');
    return actor?.thread ? actor : null;
  });
}

describe('worker end to end under faults', { concurrency: false }, () => {
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

  it('restarts the actors of a thread that died and their operations complete', async () => {
    platform.sim.setTimings({ pendingMs: 50, progressingMs: 2500 });
    const database = await platform.addDatabase(postgres());
    const id = await platform.queueOperation(database._id, 'scale_vertical', {
      size: 'db.t3.large',
    });
    const worker = platform.startWorker({ ADMIN_TOKEN: TOKEN, LOG_LEVEL: 'info' });
    const url = await worker.adminUrl();

    const actor = await followingActor(platform, url, id);
    assert.equal(actor.type, 'scale_vertical');
    assert.equal(actor.databaseId, database._id);
    const recycled = await admin(url, `/v1/threads/${actor.thread}/recycle`, 'POST');
    assert.equal(recycled.status, 200, recycled.text);

    const [operation] = await platform.waitForFinal([id]);
    assert.equal(operation!.status, 'completed', operation!.error_message ?? '');
    assert.equal(operation!.retry_count, 0);
    assert.ok((operation!.worker_state?.restarts ?? 0) >= 1);
    const metrics = (await admin(url, '/metrics')).text;
    assert.match(metrics, /dbaas_thread_restarts_total [1-9]/);
    assert.equal(platform.sim.stats().opsRequestsCreated >= 1, true);
    await worker.stop();
  });

  it('fails an operation whose thread keeps dying, in MongoDB and the dead letters alike', async () => {
    platform.sim.setTimings({ pendingMs: 50, progressingMs: 4000 });
    const database = await platform.addDatabase(postgres());
    const id = await platform.queueOperation(database._id, 'restart', {});
    const worker = platform.startWorker({
      ADMIN_TOKEN: TOKEN,
      LOG_LEVEL: 'info',
      ACTOR_RESTART_LIMIT: '0',
    });
    const url = await worker.adminUrl();
    const { thread } = await followingActor(platform, url, id);
    assert.equal((await admin(url, `/v1/threads/${thread}/recycle`, 'POST')).status, 200);

    const [operation] = await platform.waitForFinal([id]);
    assert.equal(operation!.status, 'failed');
    assert.match(operation!.error_message ?? '', /crashed 1 times/);
    await platform.waitFor('the dead letter', async () =>
      (await platform.queue.deadLetters(50)).some((letter) => letter.operationId === id),
    );
    await worker.stop();
  });

  it('retries a failed OpsRequest with a new one each attempt, bounded, then dead-letters', async () => {
    platform.sim.setTimings({ pendingMs: 20, progressingMs: 100 });
    const seed = postgres('doomed');
    const database = await platform.addDatabase(seed);
    platform.sim.setFaults({ opsFailPattern: '^doomed-' });
    const operation = await platform.store.createOperation({
      database_id: database._id,
      type: 'restart',
      desired_state: {},
      max_retries: 2,
    });
    await platform.queue.enqueue(operation._id);
    const worker = platform.startWorker({ ADMIN_TOKEN: TOKEN, LOG_LEVEL: 'info' });
    const url = await worker.adminUrl();

    const [failed] = await platform.waitForFinal([operation._id]);
    assert.equal(failed!.status, 'failed');
    assert.equal(failed!.retry_count, 2);
    assert.match(failed!.error_message ?? '', /OpsRequest doomed-restart-.*-a3 ended Failed/);
    assert.match(failed!.error_message ?? '', /gave up after 2 retries/);
    const names = platform.sim
      .list('postgresopsrequests', seed.namespace)
      .map((o) => (o as { metadata: { name: string } }).metadata.name)
      .sort();
    assert.deepEqual(
      names.map((n) => n.slice(-3)),
      ['-a1', '-a2', '-a3'],
      'one OpsRequest per attempt',
    );
    // MongoDB records the failure first; the dead letter follows once the actor has ended.
    await platform.waitFor('the dead letter', async () => {
      const dead = (await admin(url, '/v1/dead-letters')).json().deadLetters as Array<{
        operationId: string;
      }>;
      return dead.some((d) => d.operationId === operation._id);
    });

    // A dead letter written by hand with a score that is no date is listed, not a 500.
    await platform.redis.zadd('operations:dead', '1e300', 'op-0000000dead1');
    const listed = await admin(url, '/v1/dead-letters?limit=1');
    assert.equal(listed.status, 200, listed.text);
    assert.deepEqual(
      (listed.json().deadLetters as Array<{ at: unknown }>).map((d) => d.at),
      [null],
    );
    await platform.redis.zrem('operations:dead', 'op-0000000dead1');

    // An operator fixes the cause and retries it from the dead-letter set.
    platform.sim.setFaults({ opsFailPattern: '' });
    const retried = await admin(url, `/v1/dead-letters/${operation._id}/retry`, 'POST');
    assert.equal(retried.status, 200, retried.text);
    const [completed] = await platform.waitFor('the retried operation to complete', async () => {
      const op = await platform.store.getOperation(operation._id);
      return op?.status === 'completed' ? [op] : null;
    });
    assert.equal(completed!.status, 'completed');
    await worker.stop();
  });

  it('ends an operation whose OpsRequest never finishes in timeout', async () => {
    const seed = postgres('stuck');
    const database = await platform.addDatabase(seed);
    platform.sim.setFaults({ opsStuckPattern: '^stuck-' });
    const id = await platform.queueOperation(database._id, 'restart', {});
    const worker = platform.startWorker({ WORKER_TIMEOUT_RESTART: '3' });
    const [operation] = await platform.waitForFinal([id]);
    assert.equal(operation!.status, 'timeout');
    assert.match(operation!.error_message ?? '', /restart did not finish within 3 s/);
    // Redis is told after MongoDB: the dedup key goes a moment after the final status.
    await platform.waitFor(
      'the dedup key to be cleared',
      async () => (await platform.redis.get(`operations:dedup:${database._id}:restart`)) === null,
    );
    platform.sim.setFaults({ opsStuckPattern: '' });
    await worker.stop();
  });

  it('completes its operations while the API fails a third of requests and cuts watches', async () => {
    platform.sim.setTimings({ pendingMs: 20, progressingMs: 300 });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const database = await platform.addDatabase(postgres(`flaky${i}`));
      ids.push(
        await platform.queueOperation(database._id, 'scale_vertical', { size: 'db.t3.medium' }),
      );
      ids.push(await platform.queueOperation(database._id, 'expand_storage', { storage_gb: 15 }));
    }
    platform.sim.setFaults({
      errorRate: 0.3,
      errorKinds: [500, 503, 429, 'reset'],
      retryAfterSeconds: 1,
      watchCutEveryMs: 700,
    });
    const worker = platform.startWorker();
    try {
      const operations = await platform.waitForFinal(ids, 90_000);
      for (const op of operations) assert.equal(op.status, 'completed', op.error_message ?? '');
    } finally {
      platform.sim.setFaults({ errorRate: 0, watchCutEveryMs: 0 });
    }
    await worker.stop();
  });

  it('stops the old actor when its lapsed lease is claimed again and keeps the new one renewed', async () => {
    platform.sim.setTimings({ pendingMs: 50, progressingMs: 6000 });
    const database = await platform.addDatabase(postgres('lapsed'));
    const id = await platform.queueOperation(database._id, 'restart', {});
    const worker = platform.startWorker({ LOG_LEVEL: 'debug' });
    try {
      await platform.waitFor('the OpsRequest in flight', async () => {
        const op = await platform.store.getOperation(id);
        return op?.ops_request_name ? op : null;
      });

      // The supervisor missed its renewals (its event loop stalled, Redis was away a moment):
      // the lease lapses and this same process claims the operation again.
      // Held lapsed until a claim takes it over: the renew tick would otherwise extend a
      // lease no claimer has recovered yet, as it should, and the test would race it.
      const { redis } = platform;
      const firstToken = await redis.hget(`operations:lease:${id}`, 'token');
      const lapsedAt = Date.now();
      // Atomically, so that a new claim's lease is never the one lapsed.
      const lapseFirstLease = `if redis.call('HGET', KEYS[2], 'token') == ARGV[2] then
        redis.call('ZADD', KEYS[1], 'XX', 1, ARGV[1]) return 0 end return 1`;
      await platform.waitFor('a claim to take over the lapsed lease', async () => {
        const leases = ['operations:leases', `operations:lease:${id}`];
        return (await redis.eval(lapseFirstLease, 2, ...leases, id, firstToken!)) === 1;
      });
      await platform.waitFor('the first actor to end', async () =>
        worker
          .output()
          .split('\n')
          .some((l) => l.includes('"actor_ended"') && l.includes(id) && l.includes('claim_lost')),
      );
      assert.ok(
        Date.now() - lapsedAt < 4000,
        'the first actor stops at once, not when its OpsRequest ends',
      );

      const [operation] = await platform.waitForFinal([id]);
      assert.equal(operation!.status, 'completed', operation!.error_message ?? '');
      assert.equal(
        operation!.worker_state?.restarts,
        1,
        'taken over once: the new lease is renewed',
      );
    } finally {
      platform.sim.setTimings({ pendingMs: 20, progressingMs: 100 });
      await worker.stop();
    }
  });

  it('leaves the record to a newer change when an older operation resumes after it', async () => {
    // An actor dies with its OpsRequest Progressing. Before anyone resumes it, a newer
    // operation on the same database runs and records its result. When the older one resumes,
    // its OpsRequest has long been Successful: it must not record its value over the newer
    // one, which is what the cluster has.
    platform.sim.setTimings({ pendingMs: 20, progressingMs: 1500 });
    const database = await platform.addDatabase(postgres('resumed'));
    const older = await platform.queueOperation(database._id, 'scale_vertical', {
      size: 'db.t3.medium',
    });
    const first = platform.startWorker();
    let second: ReturnType<Platform['startWorker']> | undefined;
    try {
      const { ops_request_name: name } = await platform.waitFor('the OpsRequest', async () => {
        const op = await platform.store.getOperation(older);
        return op?.ops_request_name ? op : null;
      });
      await first.stop('SIGKILL');
      // Another worker has not recovered the lease yet: take the older one out of the queue.
      const { redis } = platform;
      await redis.zrem('operations:leases', older);
      await redis.del(`operations:lease:${older}`, `operations:dblock:${database._id}`);
      await platform.waitFor('the older OpsRequest to succeed', async () => {
        const object = platform.sim
          .list('postgresopsrequests', database.namespace)
          .find((o) => (o.metadata as { name: string }).name === name);
        return (object?.status as { phase?: string } | undefined)?.phase === 'Successful';
      });

      platform.sim.setTimings({ pendingMs: 20, progressingMs: 100 });
      await platform.redis.del(`operations:dedup:${database._id}:scale_vertical`);
      const newer = await platform.queueOperation(database._id, 'scale_vertical', {
        size: 'db.t3.large',
      });
      second = platform.startWorker({ LOG_LEVEL: 'info' });
      const [done] = await platform.waitForFinal([newer]);
      assert.equal(done!.status, 'completed', done!.error_message ?? '');
      assert.equal((await platform.store.getDatabase(database._id))!.current_size, 'db.t3.large');

      // Lease recovery puts the older one back; it resumes from its checkpoint.
      await platform.queue.enqueue(older, 1000);
      const [resumed] = await platform.waitForFinal([older]);
      assert.equal(resumed!.status, 'completed', resumed!.error_message ?? '');
      assert.ok(
        resumed!.worker_state!.applied_at! < done!.worker_state!.applied_at!,
        'the older change is recorded as applied when KubeDB applied it, not when it resumed',
      );
      const record = await platform.store.getDatabase(database._id);
      assert.equal(record!.current_size, 'db.t3.large', 'the record shows what the cluster has');
      assert.match(second.output(), /database_record_left_to_newer_operation/);
    } finally {
      platform.sim.setTimings({ pendingMs: 20, progressingMs: 100 });
      await second?.stop();
    }
  });

  it('waits, uncounted, while Redis cannot take its database lock, and completes once it can', async () => {
    const database = await platform.addDatabase(postgres('lockless'));
    // Redis answers the lock script with an error, as it does while it restarts or fails over
    // (here: a key of the wrong type where the database lock lives).
    const lockKey = `operations:dblock:${database._id}`;
    await platform.redis.hset(lockKey, 'not', 'a lock');
    const id = await platform.queueOperation(database._id, 'restart', {});
    const worker = platform.startWorker({
      ACTOR_RESTART_LIMIT: '2',
      DATABASE_BUSY_DELAY_MS: '100',
    });
    try {
      await platform.waitFor('the operation to wait for its lock a few times', async () => {
        const waits = worker
          .output()
          .split('\n')
          .filter((l) => l.includes('"actor_deferred"') && l.includes(id));
        return waits.length >= 4;
      });
      assert.equal((await platform.store.getOperation(id))?.status, 'queued');
      assert.deepEqual(
        await platform.queue
          .deadLetters(100)
          .then((d) => d.map((x) => x.operationId).filter((x) => x === id)),
        [],
      );

      await platform.redis.del(lockKey);
      const [operation] = await platform.waitForFinal([id]);
      assert.equal(operation!.status, 'completed', operation!.error_message ?? '');
      assert.equal(operation!.retry_count, 0);
    } finally {
      await platform.redis.del(lockKey);
      await worker.stop();
    }
  });

  it('claims nothing while paused, still recovers dead leases, and resumes on request', async () => {
    const worker = platform.startWorker({ ADMIN_TOKEN: TOKEN, LOG_LEVEL: 'info' });
    const url = await worker.adminUrl();
    assert.equal((await admin(url, '/v1/pause', 'POST')).status, 200);
    const database = await platform.addDatabase(postgres());
    const id = await platform.queueOperation(database._id, 'restart', {});
    await new Promise((resolve) => setTimeout(resolve, 800));
    assert.equal((await platform.store.getOperation(id))?.status, 'queued');

    // A worker that died left a lease behind: a paused worker still puts it back in pending.
    const dead = await platform.queueOperation(database._id, 'scale_horizontal', { replicas: 5 });
    await platform.redis.zrem('operations:pending', dead);
    await platform.redis.zadd('operations:leases', Date.now() - 1000, dead);
    await platform.redis.hset(`operations:lease:${dead}`, 'token', 'gone', 'priority', '5');
    await platform.waitFor('the dead lease back in pending', async () =>
      (await platform.redis.zscore('operations:pending', dead)) !== null ? true : null,
    );
    assert.equal(await platform.redis.zscore('operations:leases', dead), null);
    assert.equal((await platform.store.getOperation(dead))?.status, 'queued');

    assert.equal((await admin(url, '/v1/resume', 'POST')).status, 200);
    const operations = await platform.waitForFinal([id, dead]);
    for (const operation of operations) assert.equal(operation.status, 'completed');
    // Threads count their Kubernetes API calls and send them to the supervisor's registry.
    await platform.waitFor('API calls in /metrics', async () => {
      const text = (await admin(url, '/metrics')).text;
      return /dbaas_kube_api_requests_total\{verb="create",code="201"\} [1-9]/.test(text);
    });
    await worker.stop();
  });

  it('fails at once for a missing provider, and waits out a provider in maintenance', async () => {
    const orphan = await platform.addDatabase(postgres(), { provider_id: 'prov-gone' });
    await platform.store.insertProvider({
      _id: 'prov-maint',
      name: 'maint',
      kubeconfig_content: platform.sim.kubeconfig,
      is_active: true,
      is_maintenance: true,
    });
    const held = await platform.addDatabase(postgres(), { provider_id: 'prov-maint' });
    const lost = await platform.queueOperation(orphan._id, 'restart', {});
    const waits = await platform.queueOperation(held._id, 'restart', {});
    const worker = platform.startWorker();

    const [failed] = await platform.waitForFinal([lost]);
    assert.equal(failed!.status, 'failed');
    assert.match(failed!.error_message ?? '', /provider prov-gone does not exist/);
    assert.equal(failed!.retry_count, 0);

    const waiting = await platform.waitFor('the operation to wait for maintenance', async () => {
      const op = await platform.store.getOperation(waits);
      return op?.message?.includes('in maintenance') ? op : null;
    });
    assert.equal(waiting.retry_count, 0, 'waiting for maintenance spends no retry');
    // Maintenance over: the platform flips the flag on the provider document.
    await platform.platformSet('providers', 'prov-maint', { is_maintenance: false });
    const [done] = await platform.waitForFinal([waits]);
    assert.equal(done!.status, 'completed', done!.error_message ?? '');
    assert.equal(done!.retry_count, 0);
    await worker.stop();
  });
});
