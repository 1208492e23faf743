// The supervisor hears every actor: messages cross the thread boundary in per-thread batches
// and come back on a broadcast channel (src/actors/messages.ts). Before, each actor had a
// MessageChannel whose supervisor end was closed when the outcome came back, which dropped
// the events still in flight: most operations never reached dbaas_operation_total.

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { startPlatform, type Platform } from './support/e2e.js';

function sumOf(metrics: string, name: string): number {
  return metrics
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

describe('actor messages', { concurrency: false }, () => {
  let platform: Platform;

  before(async () => {
    platform = await startPlatform(import.meta.url, {
      timings: { pendingMs: 0, progressingMs: 0 },
    });
  });
  afterEach(async () => {
    await platform?.stopWorkers();
  });
  after(async () => {
    await platform?.close();
  });

  it('count every finished operation in the metrics, however fast the actors end', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 24; i++) {
      const database = await platform.addDatabase({
        engine: 'postgres',
        namespace: 'messages',
        name: `pg-${i}`,
        replicas: 1,
        size: 'db.t3.small',
      });
      ids.push(await platform.queueOperation(database._id, 'restart', {}));
    }
    const worker = platform.startWorker({ LOG_LEVEL: 'info' });
    const operations = await platform.waitForFinal(ids, 60_000);
    assert.deepEqual(
      operations.map((operation) => operation.status),
      ids.map(() => 'completed'),
    );
    const url = `${await worker.adminUrl()}/metrics`;
    // Events travel apart from the outcomes: allow them a moment to land.
    const metrics = await platform.waitFor('every operation in the metrics', async () => {
      const text = await (await fetch(url)).text();
      return sumOf(text, 'dbaas_operation_total') >= ids.length ? text : null;
    });
    assert.equal(sumOf(metrics, 'dbaas_operation_total'), ids.length);
    assert.equal(sumOf(metrics, 'dbaas_worker_operations_processed_total'), ids.length);
    assert.equal(sumOf(metrics, 'dbaas_ops_request_created_total'), ids.length);
    assert.equal(await worker.stop('SIGTERM'), 0);
  });

  it('show each running actor with its thread and step, and stop it on a cancel', async () => {
    // KubeDB never starts it: a cancel withdraws a Pending OpsRequest and the actor ends.
    // (One already Progressing would be followed to its end; see e2e-worker.)
    platform.sim.setTimings({ pendingMs: 60_000, progressingMs: 100 });
    const database = await platform.addDatabase({
      engine: 'postgres',
      namespace: 'messages',
      name: 'pg-slow',
      replicas: 1,
      size: 'db.t3.small',
    });
    const id = await platform.queueOperation(database._id, 'restart', {});
    const worker = platform.startWorker({ LOG_LEVEL: 'info' });
    const admin = await worker.adminUrl();
    const actor = await platform.waitFor('the actor waiting on KubeDB', async () => {
      const actors = (await (await fetch(`${admin}/v1/actors`)).json()) as {
        actors?: Array<{ operationId: string; thread: number | null; step: string }>;
      };
      const found = actors.actors?.find((a) => a.operationId === id);
      return found?.step === 'change_requested' ? found : null;
    });
    assert.equal(typeof actor.thread, 'number');

    await platform.store.cancelOperation(id, 'Cancelled by the user');
    const [operation] = await platform.waitForFinal([id], 30_000);
    assert.equal(operation?.status, 'cancelled');
    await platform.waitFor('the actor to end', async () => {
      const actors = (await (await fetch(`${admin}/v1/actors`)).json()) as {
        actors?: Array<{ operationId: string }>;
      };
      return !actors.actors?.some((a) => a.operationId === id);
    });
    assert.equal(await worker.stop('SIGTERM'), 0);
  });
});
