// The yardstick of the pipeline benchmark: one process, no pool, no supervisor, no thread
// hops, no admin server or metrics. It claims ids and, for each, makes the same Redis,
// MongoDB and Kubernetes calls, in the same order and with the same clients, that the
// actor and supervisor make for a scale_vertical operation that succeeds first time
// (src/actors/operation-actor.ts), and renews its leases and sweeps for cancellations on
// the supervisor's schedule (one batched call each per LEASE_RENEW_MS).

import { Redis } from 'ioredis';
import type { Config } from '../src/shared/config.js';
import { KubeClients, buildOpsRequest, type OpsRequestStatus } from '../src/shared/kubedb/index.js';
import type { Logger } from '../src/shared/logger.js';
import { OperationQueue, type Claim } from '../src/shared/queue.js';
import { Store } from '../src/shared/store.js';
import { PROGRESS } from '../src/actors/steps.js';
import { Doorbell } from '../src/supervisor/doorbell.js';

export interface BareLoop {
  stop(): Promise<void>;
  /** Attempts that failed (FerretDB's SQLITE_BUSY, mostly) and were retried. */
  failures(): number;
}

export async function startBareLoop(config: Config, logger: Logger): Promise<BareLoop> {
  const redis = new Redis(config.redisUrl);
  const queue = new OperationQueue(redis, {
    workerId: config.workerId,
    leaseMs: config.leaseMs,
    retryBaseMs: config.retryBaseMs,
    retryMaxMs: config.retryMaxMs,
  });
  const store = await Store.connect(config.mongodbUrl, config.mongodbDatabase, logger);
  const kube = new KubeClients({ config, logger });
  const doorbell = new Doorbell();
  let inFlight = 0;
  let stopping = false;
  let failed = 0;
  const active = new Map<string, Claim>();
  const renewTimer = setInterval(() => {
    const claims = [...active.values()];
    if (claims.length === 0) return;
    void queue.renew(claims).catch(() => undefined);
    const ids = claims.map((claim) => claim.operationId);
    void store.listOperations({ ids, status: ['cancelled'] }, 500).catch(() => undefined);
  }, config.leaseRenewMs);

  async function runOne(claim: Claim) {
    const { operationId: id, token } = claim;
    const operation = (await store.getOperation(id))!;
    const database = (await store.getDatabase(operation.database_id))!;
    if (!(await queue.lockDatabase(claim, database._id))) throw new Error('database locked');
    await store.startOperation(id, token, {
      workerId: config.workerId,
      restarts: 0,
      estimatedCompletionAt: new Date(Date.now() + 300_000),
      message: 'Starting',
    });
    const progress = (progress: number, message: string, extra: object = {}) =>
      store.recordProgress(id, token, { progress, message, ...extra });
    await progress(PROGRESS.started, 'Checking the request');
    await store.updateDatabase(database._id, { status: 'scaling' });
    await progress(PROGRESS.validated, 'Resizing', { step: 'validated' });
    const cluster = kube.forDatabase(database, null);
    const { engine, namespace, kubedb_resource_name: name } = database;
    const resource = await cluster.getDatabase(engine, namespace, name);
    const body = buildOpsRequest({
      engine,
      database: resource,
      operation,
      attempt: 1,
      kind: 'VerticalScaling',
      volumeExpansionMode: config.volumeExpansionMode,
    });
    const created = await cluster.createOpsRequest(engine, body);
    const opsName = created.metadata?.name ?? '';
    await progress(PROGRESS.change_requested, 'Change requested', {
      step: 'change_requested',
      opsRequestName: opsName,
      opsRequestUid: created.metadata?.uid ?? null,
      opsRequestPhase: null,
      attempt: 1,
    });
    let lastPhase: string | null = null;
    const final = await cluster.follow(engine, namespace, opsName, (status: OpsRequestStatus) => {
      if (status.phase === lastPhase) return;
      lastPhase = status.phase;
      const value = status.phase === 'Progressing' ? PROGRESS.progressing : PROGRESS.pending;
      void progress(value, `KubeDB reports ${status.phase}`, {
        opsRequestPhase: status.phase,
      }).catch(() => undefined);
    });
    if (final.phase !== 'Successful') throw new Error(`OpsRequest ended ${final.phase}`);
    const appliedAt = new Date();
    await progress(PROGRESS.change_applied, 'KubeDB applied the change', {
      step: 'change_applied',
      opsRequestPhase: 'Successful',
      appliedAt,
    });
    await store.newerAppliedOperation(database._id, ['scale_vertical'], appliedAt, id);
    await store.updateDatabase(database._id, { current_size: 'db.t3.medium', status: 'running' });
    await progress(PROGRESS.database_synced, 'Recording the result', { step: 'database_synced' });
    await cluster.deleteOpsRequest(engine, namespace, opsName);
    await progress(PROGRESS.database_synced, 'Cleaning up', { step: 'ops_request_deleted' });
    await store.finishOperation(id, token, 'completed', {
      message: 'Operation completed successfully',
    });
    await queue.complete(claim, database._id, operation.type);
  }

  const loop = (async () => {
    while (!stopping) {
      const free = config.concurrency - inFlight;
      if (free <= 0) {
        await doorbell.wait(config.claimPollMs);
        continue;
      }
      const wanted = Math.min(free, config.claimBatch);
      const claims = await queue.claim(wanted);
      inFlight += claims.length;
      for (const claim of claims) {
        active.set(claim.operationId, claim);
        void runOne(claim)
          .catch(async (error: unknown) => {
            // As the actor does for a transient error: record the retry, back off, go again.
            failed += 1;
            logger.debug({ operationId: claim.operationId, error: String(error) }, 'bare_retry');
            await store
              .scheduleRetry(claim.operationId, claim.token, {
                retryCount: 1,
                errorMessage: String(error),
                message: 'Retrying after a temporary problem',
              })
              .catch(() => undefined);
            await queue.retry(claim, 1, String(error)).catch(() => undefined);
          })
          .finally(() => {
            active.delete(claim.operationId);
            inFlight -= 1;
            doorbell.notify();
          });
      }
      if (claims.length < wanted) await doorbell.wait(config.claimPollMs);
    }
  })();

  return {
    failures: () => failed,
    stop: async () => {
      stopping = true;
      doorbell.notify();
      await loop;
      clearInterval(renewTimer);
      while (inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 20));
      kube.close();
      await store.close();
      redis.disconnect();
    },
  };
}
