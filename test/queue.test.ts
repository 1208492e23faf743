import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { retryDelayMs } from '../src/shared/backoff.js';
import { OperationQueue, type Claim, type QueueOptions } from '../src/shared/queue.js';
import { RESUME_PRIORITY, queueKeys } from '../src/shared/queue-keys.js';
import { testServices } from './support/services.js';

const services = testServices(import.meta.url);
const LEASE_MS = 400;

let redis: Redis;
const connections: Redis[] = [];

function queue(workerId: string, options: Partial<QueueOptions> = {}): OperationQueue {
  const connection = new Redis(services.redisUrl);
  connections.push(connection);
  return new OperationQueue(connection, {
    workerId,
    leaseMs: LEASE_MS,
    retryBaseMs: 40,
    retryMaxMs: 200,
    ...options,
  });
}

/** Polls until `check` returns a value (not undefined), or fails after `ms`. */
async function eventually<T>(check: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const value = await check();
    if (value !== undefined) return value;
    await sleep(25);
  }
  throw new Error(`condition not met within ${ms} ms`);
}

/** Claims until `operationId` comes up; other ids claimed on the way are handed back. */
async function claimWhenDue(q: OperationQueue, operationId: string): Promise<Claim> {
  return eventually(async () => {
    const claims = await q.claim(10);
    const wanted = claims.find((claim) => claim.operationId === operationId);
    for (const other of claims) if (other !== wanted) await q.release(other);
    return wanted;
  });
}

before(() => {
  redis = new Redis(services.redisUrl);
});

beforeEach(async () => {
  await redis.flushdb();
});

after(async () => {
  await Promise.all([redis, ...connections].map((connection) => connection.quit()));
});

describe('operation queue: claiming', () => {
  it('claims the highest priority first and tracks the claim in processing', async () => {
    const q = queue('w1');
    await q.enqueue('op-000000000001', 5);
    await q.enqueue('op-000000000002', 9);
    await q.enqueue('op-000000000003', 1);

    const claims = await q.claim(2);

    assert.deepEqual(
      claims.map((claim) => [claim.operationId, claim.priority, claim.restarts]),
      [
        ['op-000000000002', 9, 0],
        ['op-000000000001', 5, 0],
      ],
    );
    assert.notEqual(claims[0]!.token, claims[1]!.token);
    assert.deepEqual(await q.depths(), {
      pending: 1,
      delayed: 0,
      processing: 2,
      leased: 2,
      dead: 0,
    });
    assert.equal(await redis.sismember(queueKeys.processing, 'op-000000000002'), 1);
  });

  it('keeps the platform key shapes: pending is a zset by priority, processing a set', async () => {
    // The platform's API writes these directly; the queue must read them as it does.
    await redis.zadd(queueKeys.pending, 7, 'op-00000000000a');
    const q = queue('w1');

    const [claim] = await q.claim(1);

    assert.equal(claim?.operationId, 'op-00000000000a');
    assert.equal(claim?.priority, 7);
    assert.equal(await redis.type(queueKeys.processing), 'set');
    assert.equal(await redis.scard(queueKeys.processing), 1);
  });

  it('never gives the same id to two claimers racing over the same queue', async () => {
    const ids = Array.from({ length: 300 }, (_, i) => `op-${i.toString(16).padStart(12, '0')}`);
    for (const id of ids) await redis.zadd(queueKeys.pending, 1 + (ids.indexOf(id) % 10), id);
    const claimers = [queue('w1'), queue('w2'), queue('w3')];

    const claimed = await Promise.all(
      claimers.map(async (q) => {
        const mine: string[] = [];
        while (true) {
          const claims = await q.claim(7);
          if (claims.length === 0) return mine;
          mine.push(...claims.map((claim) => claim.operationId));
        }
      }),
    );

    const all = claimed.flat();
    assert.equal(all.length, ids.length);
    assert.equal(new Set(all).size, ids.length);
    assert.ok(
      claimed.every((mine) => mine.length > 0),
      'every claimer took part',
    );
    assert.equal(await redis.scard(queueKeys.processing), ids.length);
  });

  it('does not lease an id again that the platform re-queued while it is leased', async () => {
    const q = queue('w1');
    await q.enqueue('op-000000000001');
    const [claim] = await q.claim(1);
    await q.enqueue('op-000000000001');

    assert.deepEqual(await q.claim(5), []);
    assert.deepEqual(await q.renew([claim!]), []);
  });
});

describe('operation queue: leases', () => {
  it('loses nothing when a claimer dies: the id comes back ahead of new work, restarts + 1', async () => {
    const doomed = queue('doomed');
    const survivor = queue('survivor');
    await doomed.enqueue('op-000000000001', 5);
    const [lost] = await doomed.claim(1);
    // The process "dies": it never renews. Newer, higher-priority work arrives meanwhile.
    await survivor.enqueue('op-000000000002', 10);

    await eventually(async () => ((await survivor.promote()).recovered === 1 ? true : undefined));
    const [first] = await survivor.claim(1);

    assert.equal(first?.operationId, 'op-000000000001');
    assert.equal(first?.restarts, 1);
    assert.equal(first?.recovered, true, 'the claim knows it took over from a dead worker');
    assert.equal(first?.takenOver, true);
    assert.equal(first?.priority, 5, 'keeps its own priority, not the resume boost');
    assert.notEqual(first?.token, lost!.token);
    const [second] = await survivor.claim(1);
    assert.equal(second?.operationId, 'op-000000000002');
    assert.equal(second?.recovered, false);
    assert.deepEqual(await survivor.stats(), { leasesRecovered: 1, dropped: 0, deadLettered: 0 });

    assert.equal(await doomed.complete(lost!, 'db-1', 'scale_vertical'), false);
    assert.deepEqual(await doomed.renew([lost!]), ['op-000000000001']);
  });

  it('counts every restart of an operation whose workers keep dying', async () => {
    const q = queue('w1');
    await q.enqueue('op-000000000001');
    await q.claim(1);

    await claimWhenDue(q, 'op-000000000001');
    const third = await claimWhenDue(q, 'op-000000000001');

    assert.equal(third.restarts, 2);
  });

  it('keeps a renewed lease past its original expiry and reports leases it lost', async () => {
    const holder = queue('holder');
    const rival = queue('rival');
    await holder.enqueue('op-000000000001');
    await holder.enqueue('op-000000000002');
    const claims = await holder.claim(2);
    const kept = claims.find((claim) => claim.operationId === 'op-000000000001')!;
    const dropped = claims.find((claim) => claim.operationId === 'op-000000000002')!;

    // Renew only one of the two for three lease periods.
    const until = Date.now() + LEASE_MS * 3;
    while (Date.now() < until) {
      assert.deepEqual(await holder.renew([kept]), []);
      assert.deepEqual(
        (await rival.claim(5))
          .map((claim) => claim.operationId)
          .filter((id) => id === kept.operationId),
        [],
      );
      await sleep(LEASE_MS / 4);
    }

    assert.deepEqual(await holder.renew([kept, dropped]), ['op-000000000002']);
    assert.deepEqual(await holder.renew([{ ...kept, token: 'forged' }]), ['op-000000000001']);
  });

  it('refuses every transition to a stale token and changes nothing', async () => {
    const q = queue('w1');
    await q.enqueue('op-000000000001');
    const [claim] = await q.claim(1);
    const stale = { ...claim!, token: 'not-the-token' };
    await redis.set(queueKeys.dedup('db-1', 'scale_vertical'), 'op-000000000001');

    assert.equal(await q.complete(stale, 'db-1', 'scale_vertical'), false);
    assert.equal(await q.deadLetter(stale, 'db-1', 'scale_vertical', 'x'), false);
    assert.equal((await q.retry(stale, 1, 'x')).ok, false);
    assert.equal(await q.defer(stale, 10, 'x'), false);
    assert.equal(await q.release(stale), false);
    assert.equal(await q.drop(stale, 'x'), false);
    assert.equal(await q.lockDatabase(stale, 'db-1'), false);

    assert.deepEqual(await q.depths(), {
      pending: 0,
      delayed: 0,
      processing: 1,
      leased: 1,
      dead: 0,
    });
    assert.equal(await redis.get(queueKeys.dedup('db-1', 'scale_vertical')), 'op-000000000001');
    assert.equal(await q.complete(claim!, 'db-1', 'scale_vertical'), true);
  });

  it('keeps the mark of a dead worker through hand-backs until a claim settles it', async () => {
    // A claim that took over from a dead worker may be handed back before its actor reads
    // the operation (MongoDB away, shutdown): the next claim must still know, or it would
    // only drop an operation the dead worker had failed but not yet dead-lettered.
    const doomed = queue('doomed');
    const survivor = queue('survivor');
    await doomed.enqueue('op-000000000001', 5);
    await doomed.claim(1);
    await eventually(async () => ((await survivor.promote()).recovered === 1 ? true : undefined));

    const [takeover] = await survivor.claim(1);
    assert.equal(takeover?.recovered, true);
    assert.equal(takeover?.takenOver, true);
    assert.equal(await survivor.defer(takeover!, 0, 'storage unavailable'), true);
    const [afterDefer] = await survivor.claim(1);
    assert.equal(afterDefer?.recovered, true, 'still from a dead worker');
    assert.equal(afterDefer?.takenOver, false, 'but not a second recovery');
    assert.equal(await survivor.release(afterDefer!), true);
    const [afterRelease] = await survivor.claim(1);
    assert.equal(afterRelease?.recovered, true);
    assert.equal(afterRelease?.restarts, 1, 'hand-backs are not restarts');

    assert.equal(await survivor.complete(afterRelease!, 'db-1', 'scale_vertical'), true);
    await survivor.enqueue('op-000000000001', 5);
    const [queuedAgain] = await survivor.claim(1);
    assert.equal(queuedAgain?.recovered, false, 'settled: the mark is gone');
    assert.equal((await survivor.stats()).leasesRecovered, 1);
  });

  it('hands a claim back on shutdown: first in line again, not a retry nor a restart', async () => {
    const q = queue('w1');
    await q.enqueue('op-000000000001', 3);
    const [claim] = await q.claim(1);
    await q.enqueue('op-000000000002', 10);

    assert.equal(await q.release(claim!), true);

    assert.ok(Number(await redis.zscore(queueKeys.pending, 'op-000000000001')) >= RESUME_PRIORITY);
    const [again] = await q.claim(1);
    assert.equal(again?.operationId, 'op-000000000001');
    assert.equal(again?.restarts, 0);
    assert.equal(again?.recovered, false, 'a hand-back is not a recovery');
    assert.equal(again?.priority, 3);
    assert.equal((await q.depths()).delayed, 0);
  });
});

describe('operation queue: retries and dead letters', () => {
  it('backs off exponentially with jitter, capped at the maximum', () => {
    const low = (n: number) => retryDelayMs(n, 1000, 60_000, () => 0);
    const high = (n: number) => retryDelayMs(n, 1000, 60_000, () => 0.999999);

    assert.deepEqual([1, 2, 3, 4].map(low), [500, 1000, 2000, 4000]);
    assert.deepEqual([1, 2, 3, 4].map(high), [1000, 2000, 4000, 8000]);
    assert.equal(high(30), 60_000);
    assert.equal(low(1000), 30_000);
    const samples = new Set(Array.from({ length: 20 }, () => retryDelayMs(3, 1000, 60_000)));
    assert.ok(samples.size > 1, 'delays are jittered');
  });

  it('retries with growing delays at priority 10, then dead-letters at the limit', async () => {
    const q = queue('w1', { retryBaseMs: 40, retryMaxMs: 120 });
    const id = 'op-000000000001';
    const maxRetries = 3;
    await redis.set(queueKeys.dedup('db-1', 'expand_storage'), id, 'EX', 3600);
    await q.enqueue(id, 5);
    let claim = (await q.claim(1))[0]!;
    const delays: number[] = [];

    for (let retryNumber = 1; retryNumber <= maxRetries; retryNumber++) {
      const { delayMs, ok } = await q.retry(claim, retryNumber, 'OpsRequest failed');
      assert.equal(ok, true);
      delays.push(delayMs);
      assert.equal((await q.depths()).delayed, 1);
      assert.equal(await redis.sismember(queueKeys.processing, id), 0);

      claim = await claimWhenDue(q, id);
      assert.equal(claim.priority, 10);
    }
    assert.equal(await q.deadLetter(claim, 'db-1', 'expand_storage', 'retries exhausted'), true);

    assert.ok(delays[0]! >= 20 && delays[0]! <= 40, `first delay ${delays[0]}`);
    assert.ok(delays[1]! >= 40 && delays[1]! <= 80, `second delay ${delays[1]}`);
    assert.ok(delays[2]! >= 60 && delays[2]! <= 120, `third delay capped ${delays[2]}`);
    const dead = await q.deadLetters();
    assert.deepEqual(
      dead.map((entry) => [entry.operationId, entry.reason]),
      [[id, 'retries exhausted']],
    );
    assert.ok(Math.abs(dead[0]!.at - Date.now()) < 60_000);
    assert.equal(await redis.exists(queueKeys.dedup('db-1', 'expand_storage')), 0);
    assert.deepEqual(await q.depths(), {
      pending: 0,
      delayed: 0,
      processing: 0,
      leased: 0,
      dead: 1,
    });
    assert.equal((await q.stats()).deadLettered, 1);
  });

  it('returns a retried id to pending at priority 10 once it is due', async () => {
    const q = queue('w1', { retryBaseMs: 50, retryMaxMs: 50 });
    await q.enqueue('op-000000000001', 2);
    const [claim] = await q.claim(1);
    await q.retry(claim!, 1, 'transient');

    await eventually(async () => ((await q.promote()).promoted === 1 ? true : undefined));

    assert.equal(await redis.zscore(queueKeys.pending, 'op-000000000001'), '10');
  });

  it('lists dead letters newest first and requeues one on request', async () => {
    const q = queue('w1');
    for (const id of ['op-000000000001', 'op-000000000002']) {
      await q.enqueue(id);
      const [claim] = await q.claim(1);
      await q.deadLetter(claim!, 'db-1', 'backup', `reason for ${id}`);
      await sleep(5);
    }

    const dead = await q.deadLetters(10);
    assert.deepEqual(
      dead.map((entry) => entry.operationId),
      ['op-000000000002', 'op-000000000001'],
    );
    assert.equal(dead[1]!.reason, 'reason for op-000000000001');

    assert.equal(await q.requeueDead('op-000000000001'), true);
    assert.equal(await q.requeueDead('op-000000000001'), false);
    assert.equal(await redis.zscore(queueKeys.pending, 'op-000000000001'), '10');
    assert.deepEqual(
      (await q.deadLetters()).map((entry) => entry.operationId),
      ['op-000000000002'],
    );
  });

  it('keeps at most the configured number of dead letters, dropping the oldest', async () => {
    const q = queue('w1', { deadLetterCap: 2 });
    for (const id of ['op-000000000001', 'op-000000000002', 'op-000000000003']) {
      await q.enqueue(id);
      const [claim] = await q.claim(1);
      await q.deadLetter(claim!, 'db-1', 'backup', 'x');
      await sleep(5);
    }

    assert.deepEqual(
      (await q.deadLetters()).map((entry) => entry.operationId),
      ['op-000000000003', 'op-000000000002'],
    );
    assert.equal(await redis.hexists(queueKeys.deadReasons, 'op-000000000001'), 0);
  });
});

describe('operation queue: dedup keys', () => {
  for (const finalState of ['complete', 'deadLetter'] as const) {
    it(`clears the dedup key on ${finalState} only while it names this operation`, async () => {
      const q = queue('w1');
      await q.enqueue('op-000000000001');
      await q.enqueue('op-000000000002');
      const [first, second] = await q.claim(2);
      const ownKey = queueKeys.dedup('db-1', 'scale_horizontal');
      const otherKey = queueKeys.dedup('db-2', 'scale_horizontal');
      await redis.set(ownKey, first!.operationId, 'EX', 3600);
      // The platform already accepted a newer operation for db-2: its key must survive.
      await redis.set(otherKey, 'op-0000000000ff', 'EX', 3600);

      const finish = (claim: Claim, databaseId: string) =>
        finalState === 'complete'
          ? q.complete(claim, databaseId, 'scale_horizontal')
          : q.deadLetter(claim, databaseId, 'scale_horizontal', 'failed');
      assert.equal(await finish(first!, 'db-1'), true);
      assert.equal(await finish(second!, 'db-2'), true);

      assert.equal(await redis.exists(ownKey), 0);
      assert.equal(await redis.get(otherKey), 'op-0000000000ff');
      assert.equal((await q.depths()).processing, 0);
    });
  }
});

describe('operation queue: one operation per database', () => {
  it('defers the second operation on a busy database until the first completes', async () => {
    // A long lease: this is about the database lock, which must not lapse on a slow machine.
    const q = queue('w1', { leaseMs: 60_000 });
    await q.enqueue('op-000000000001', 6);
    await q.enqueue('op-000000000002', 5);
    const [first, second] = await q.claim(2);
    assert.equal(first?.operationId, 'op-000000000001');

    assert.equal(await q.lockDatabase(first!, 'db-1'), true);
    assert.equal(await q.lockDatabase(first!, 'db-1'), true, 're-entrant for its holder');
    assert.equal(await q.lockDatabase(second!, 'db-1'), false);
    assert.equal(await q.defer(second!, 50, 'database_busy'), true);
    assert.deepEqual(await q.depths(), {
      pending: 0,
      delayed: 1,
      processing: 1,
      leased: 1,
      dead: 0,
    });

    // It comes back with its own priority, and the database is still busy: defer again.
    const back = await claimWhenDue(q, 'op-000000000002');
    assert.equal(back.priority, 5);
    assert.equal(back.restarts, 0);
    assert.equal(await q.lockDatabase(back, 'db-1'), false);
    await q.defer(back, 50, 'database_busy');

    assert.equal(await q.complete(first!, 'db-1', 'scale_vertical'), true);
    const runs = await claimWhenDue(q, 'op-000000000002');
    assert.equal(await q.lockDatabase(runs, 'db-1'), true);
    assert.equal(await redis.get(queueKeys.databaseLock('db-1')), 'op-000000000002');
  });

  it('renews the database lock with the lease and frees it when the holder dies', async () => {
    const q = queue('w1');
    await q.enqueue('op-000000000001');
    await q.enqueue('op-000000000002');
    const [holder, waiter] = await q.claim(2);
    await q.lockDatabase(holder!, 'db-1');

    for (let i = 0; i < 4; i++) {
      await sleep(LEASE_MS / 3);
      await q.renew([holder!, waiter!]);
    }
    assert.equal(await redis.get(queueKeys.databaseLock('db-1')), holder!.operationId);
    assert.equal(await q.lockDatabase(waiter!, 'db-1'), false);

    // The holder's process dies; once its lease is recovered the database is free again.
    await eventually(async () => {
      await q.renew([waiter!]);
      await q.promote();
      return (await redis.exists(queueKeys.databaseLock('db-1'))) === 0 ? true : undefined;
    });
    assert.equal(await q.lockDatabase(waiter!, 'db-1'), true);
  });

  it('gives an operation resumed after a crash its own database lock back', async () => {
    const q = queue('w1');
    await q.enqueue('op-000000000001');
    const [claim] = await q.claim(1);
    await q.lockDatabase(claim!, 'db-1');

    const resumed = await claimWhenDue(q, 'op-000000000001');

    assert.equal(await q.lockDatabase(resumed, 'db-1'), true);
  });
});

describe('operation queue: dropping and removing', () => {
  it('drops junk ids for good, logs and counts them', async () => {
    const q = queue('w1');
    const junk = ['op-deadbeef0000', 'not-an-operation', '{"id":1}', ' '];
    for (const id of junk) await q.enqueue(id);

    const claims = await q.claim(10);
    assert.equal(claims.length, junk.length);
    for (const claim of claims) assert.equal(await q.drop(claim, 'operation_not_found'), true);

    assert.deepEqual(await q.depths(), {
      pending: 0,
      delayed: 0,
      processing: 0,
      leased: 0,
      dead: 0,
    });
    assert.equal(q.droppedCount(), junk.length);
    assert.equal((await q.stats()).dropped, junk.length);
    assert.deepEqual(await q.claim(10), []);
  });

  it('clears the dedup key of a cancelled waiting id only while it names that id', async () => {
    const q = queue('w1');
    await q.enqueue('op-00000000000a');
    await redis.set('operations:dedup:db-1:restart', 'op-00000000000a');
    await redis.set('operations:dedup:db-1:pause', 'op-someoneelse1');
    assert.equal(await q.remove('op-00000000000a', { databaseId: 'db-1', type: 'restart' }), true);
    assert.equal(await q.remove('op-00000000000a', { databaseId: 'db-1', type: 'pause' }), false);
    assert.equal(await redis.get('operations:dedup:db-1:restart'), null);
    assert.equal(await redis.get('operations:dedup:db-1:pause'), 'op-someoneelse1');
  });

  it('adopts only ids that no queue structure holds', async () => {
    const q = queue('w1');
    await q.enqueue('op-0000000000a1');
    await q.enqueue('op-0000000000a2');
    const [leased] = await q.claim(1);
    await q.enqueue('op-0000000000a3');
    const [delayed] = await q.claim(1);
    await q.defer(delayed!, 60_000, 'database_busy');
    const adopted = await q.adopt([
      'op-0000000000a1',
      'op-0000000000a2',
      'op-0000000000a3',
      'op-0000000000a4',
    ]);
    assert.deepEqual(adopted, ['op-0000000000a4']);
    assert.ok(leased);
    assert.equal(await redis.zscore('operations:pending', 'op-0000000000a4'), '5');
  });

  it('removes a waiting id from pending or delayed on an admin cancel', async () => {
    const q = queue('w1');
    await q.enqueue('op-000000000001');
    await q.enqueue('op-000000000002');
    const [claim] = await q.claim(1);
    await q.defer(claim!, 60_000, 'database_busy');

    assert.equal(await q.remove('op-000000000001'), true);
    assert.equal(await q.remove('op-000000000002'), true);
    assert.equal(await q.remove('op-000000000003'), false);

    assert.deepEqual(await q.depths(), {
      pending: 0,
      delayed: 0,
      processing: 0,
      leased: 0,
      dead: 0,
    });
  });
});
