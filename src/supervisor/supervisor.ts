// The supervisor claims operations while it has capacity, hands each to an actor in the
// pool, keeps their leases alive, restarts actors whose thread died, turns each actor's
// outcome into the matching queue transition, and hands everything back on shutdown.

import { randomUUID } from 'node:crypto';
import { BroadcastChannel } from 'node:worker_threads';
import type { Piscina } from 'piscina';
import type { Redis } from 'ioredis';
import type {
  ActorMessage,
  ActorOutcome,
  ActorTask,
  SupervisorEnvelope,
  SupervisorMessage,
  ThreadMessage,
} from '../actors/messages.js';
import type { Config } from '../shared/config.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { MetricEvent } from '../shared/metric-events.js';
import { type Claim, type OperationQueue } from '../shared/queue.js';
import { queueKeys } from '../shared/queue-keys.js';
import type { Store } from '../shared/store.js';
import { FINAL_OPERATION_STATUSES, type Operation } from '../shared/types.js';
import type { ActorView, AdminBackend, QueueView, ReadyView } from './admin-backend.js';
import { Doorbell } from './doorbell.js';

/** What the supervisor reports to metrics besides the actors' own events. */
export interface SupervisorMetrics {
  apply(event: MetricEvent): void;
}

export interface SupervisorDeps {
  config: Config;
  queue: OperationQueue;
  store: Store;
  redis: Redis;
  pool: Piscina;
  metrics: SupervisorMetrics;
  logger: Logger;
}

type StopRequest = 'handback' | 'cancelled' | 'claim_lost';

interface ActorRecord {
  claim: Claim;
  view: ActorView;
  /** The run of its actor now in the pool (ActorTask.runId); null between runs. */
  runId: number | null;
  /** The actor said it started, so it hears stop requests from now on. */
  started: boolean;
  /** A stop asked for before the actor started; sent when it does. */
  pendingStop: StopRequest | null;
  /** Thread deaths survived by this operation in this process. */
  crashes: number;
  settled: boolean;
}

export class Supervisor implements AdminBackend {
  readonly workerId: string;
  private readonly actorsById = new Map<string, ActorRecord>();
  private readonly doorbell = new Doorbell();
  private isPaused = false;
  private stopping = false;
  private claimLoop: Promise<void> | null = null;
  private renewTimer: NodeJS.Timeout | null = null;
  private reconcileTimer: NodeJS.Timeout | null = null;
  private cancelTimer: NodeJS.Timeout | null = null;
  private sweeping = false;
  /** Operations handed back to the queue by this process (by their actor or on shutdown). */
  private handedBack = 0;
  private readonly idle = new Set<() => void>();
  /** Actors in the pool by run id, for the messages their threads send. */
  private readonly actorsByRun = new Map<number, ActorRecord>();
  private runs = 0;
  /** To the actors of this supervisor only: every worker in a process has its own name. */
  private readonly channel = new BroadcastChannel(`dbaas-actors-${randomUUID()}`);
  private channelClosed = false;
  private readonly onThreadMessage = (message: ThreadMessage) => {
    if (message?.type === 'actors' && Array.isArray(message.messages)) {
      for (const { runId, message: actorMessage } of message.messages) {
        this.onActorMessage(runId, actorMessage);
      }
    }
  };

  constructor(private readonly deps: SupervisorDeps) {
    this.workerId = deps.config.workerId;
    this.channel.unref();
  }

  start(): void {
    this.deps.pool.on('message', this.onThreadMessage);
    this.claimLoop = this.runClaimLoop();
    this.renewTimer = setInterval(() => void this.renewLeases(), this.deps.config.leaseRenewMs);
    this.reconcileTimer = setInterval(() => void this.reconcile(), this.deps.config.reconcileMs);
    this.cancelTimer = setInterval(
      () => void this.sweepCancelled(),
      this.deps.config.cancelSweepMs,
    );
    void this.reconcile();
    this.deps.logger.info(
      {
        concurrency: this.deps.config.concurrency,
        threads: this.deps.config.threads,
      },
      'supervisor_started',
    );
  }

  get inFlight(): number {
    return this.actorsById.size;
  }

  // ---- claiming and dispatch ---------------------------------------------------------

  private async runClaimLoop() {
    const { config, queue, logger } = this.deps;
    let failures = 0;
    while (!this.stopping) {
      const free = config.concurrency - this.actorsById.size;
      if (this.isPaused || free <= 0) {
        await this.doorbell.wait(config.claimPollMs);
        continue;
      }
      const wanted = Math.min(free, config.claimBatch);
      let claims: Claim[];
      try {
        claims = await queue.claim(wanted);
        failures = 0;
      } catch (error) {
        // Redis is away: wait and try again; nothing is lost while nothing is claimed.
        failures += 1;
        this.deps.metrics.apply({ kind: 'worker_error', code: 'STORE_TRANSIENT' });
        logger.warn({ error: errorMessage(error), failures }, 'claim_failed');
        await this.doorbell.wait(Math.min(5_000, config.claimPollMs * 2 ** failures));
        continue;
      }
      if (this.stopping || this.isPaused) {
        // Paused or stopping while the claim was on its way (slow to reach Redis, say): hand
        // the ids straight back rather than start work that was asked not to start.
        await Promise.all(claims.map((claim) => queue.release(claim).catch(() => undefined)));
        if (this.stopping) break;
        continue;
      }
      for (const claim of claims) this.dispatch(claim);
      if (claims.length < wanted) await this.doorbell.wait(config.claimPollMs);
    }
  }

  private dispatch(claim: Claim) {
    const record: ActorRecord = {
      claim,
      crashes: 0,
      runId: null,
      started: false,
      pendingStop: null,
      settled: false,
      view: {
        operationId: claim.operationId,
        databaseId: null,
        type: null,
        thread: null,
        startedAt: new Date().toISOString(),
        step: 'claimed',
        progress: 0,
        message: null,
        restarts: claim.restarts,
      },
    };
    const previous = this.actorsById.get(claim.operationId);
    // Its lease lapsed (renewals were missed) and this process claimed it again: the old
    // actor must stop now, and the new one resumes from the checkpoint.
    if (previous) this.stopActor(previous, 'claim_lost');
    this.actorsById.set(claim.operationId, record);
    if (claim.takenOver) this.deps.metrics.apply({ kind: 'leases_recovered', count: 1 });
    this.deps.logger.debug({ operationId: claim.operationId }, 'operation_claimed');
    void this.runActor(record);
  }

  private async runActor(record: ActorRecord) {
    const { pool, logger } = this.deps;
    const runId = ++this.runs;
    record.runId = runId;
    record.started = false;
    this.actorsByRun.set(runId, record);
    const task: ActorTask = {
      operationId: record.claim.operationId,
      claimToken: record.claim.token,
      restarts: record.claim.restarts + record.crashes,
      workerId: this.workerId,
      runId,
      channel: this.channel.name,
    };

    let outcome: ActorOutcome;
    try {
      outcome = await pool.run(task);
    } catch (error) {
      this.endRun(record, runId);
      await this.onActorCrash(record, error);
      return;
    }
    this.endRun(record, runId);
    logger.debug({ operationId: record.claim.operationId, outcome: outcome.kind }, 'actor_ended');
    await this.settle(record, outcome);
    this.doorbell.notify();
  }

  private endRun(record: ActorRecord, runId: number) {
    this.actorsByRun.delete(runId);
    record.runId = null;
    record.started = false;
  }

  private onActorMessage(runId: number, message: ActorMessage) {
    // Metrics count whether or not the actor is still known: its outcome may come back first.
    if (message.type === 'metric') {
      this.deps.metrics.apply(message.event);
      return;
    }
    const record = this.actorsByRun.get(runId);
    if (!record) return;
    switch (message.type) {
      case 'started':
        record.view.thread = message.threadId;
        record.started = true;
        if (record.pendingStop) this.stopActor(record, record.pendingStop);
        break;
      case 'progress':
        record.view.step = message.step;
        record.view.progress = message.progress;
        record.view.message = message.message;
        if (message.databaseId) record.view.databaseId = message.databaseId;
        if (message.operationType) record.view.type = message.operationType;
        break;
      case 'lock_database':
        record.view.databaseId = message.databaseId;
        void this.deps.queue
          .lockDatabase(record.claim, message.databaseId)
          .then(
            (locked): SupervisorMessage => ({
              type: 'lock_database_result',
              requestId: message.requestId,
              locked,
            }),
            (error): SupervisorMessage => ({
              type: 'lock_database_result',
              requestId: message.requestId,
              locked: false,
              error: errorMessage(error),
            }),
          )
          .then((reply) => this.send(runId, reply));
        break;
    }
  }

  /** The actor's thread died (or its code threw): resume it from its checkpoint, bounded. */
  private async onActorCrash(record: ActorRecord, error: unknown) {
    const { config, logger, metrics } = this.deps;
    const operationId = record.claim.operationId;
    record.crashes += 1;
    metrics.apply({ kind: 'thread_restarted' });
    logger.error(
      { operationId, crashes: record.crashes, error: errorMessage(error) },
      'actor_crashed',
    );

    if (this.stopping) {
      await this.settle(record, { kind: 'handed_back' });
      return;
    }
    if (record.crashes > config.actorRestartLimit) {
      const reason =
        `the worker thread running this operation crashed ${record.crashes} times ` +
        `(last: ${errorMessage(error)}); report this to the platform team`;
      const { store } = this.deps;
      const operation = await store.getOperation(operationId).catch(() => null);
      // The crashes may have come before the actor took the operation (its claim token is
      // not in the document yet): then record the failure unconditionally. Redis is told
      // only once MongoDB says failed, so the two never disagree; if MongoDB cannot be
      // written, the operation is handed back instead.
      const recorded =
        (await store
          .finishOperation(operationId, record.claim.token, 'failed', {
            message: 'Operation failed',
            errorMessage: reason,
          })
          .catch(() => false)) ||
        (await store.failInvalidOperation(operationId, reason).catch(() => false));
      if (!recorded) {
        logger.warn({ operationId }, 'operation_fail_write_failed');
        await this.settle(record, { kind: 'handed_back' });
        return;
      }
      await this.settle(record, {
        kind: 'failed',
        databaseId: operation?.database_id ?? record.view.databaseId ?? '',
        type: operation?.type ?? record.view.type ?? '',
        reason,
      });
      return;
    }
    const delay = Math.min(30_000, 250 * 2 ** (record.crashes - 1));
    record.view.step = 'restarting';
    record.view.restarts += 1;
    setTimeout(() => {
      if (this.stopping) void this.settle(record, { kind: 'handed_back' });
      else if (this.actorsById.get(record.claim.operationId) !== record) {
        void this.settle(record, { kind: 'claim_lost' });
      } else void this.runActor(record);
    }, delay);
  }

  /** Applies the queue transition for an outcome; retried while Redis is away. */
  private async settle(record: ActorRecord, ended: ActorOutcome) {
    const { queue, logger, metrics, config } = this.deps;
    const { claim } = record;
    if (record.settled) return;
    record.settled = true;
    const outcome = failedBeforeDeadLetter(claim, ended) ?? ended;
    if (outcome.kind === 'handed_back') this.handedBack += 1;

    const transition = async () => {
      switch (outcome.kind) {
        case 'completed':
        case 'cancelled':
          await queue.complete(claim, outcome.databaseId, outcome.type);
          break;
        case 'failed':
        case 'timeout':
          await queue.deadLetter(claim, outcome.databaseId, outcome.type, outcome.reason);
          break;
        case 'retry':
          await queue.retry(claim, outcome.retryNumber, outcome.reason);
          break;
        case 'deferred':
          await queue.defer(claim, config.databaseBusyDelayMs, outcome.reason);
          break;
        case 'handed_back':
          await queue.release(claim);
          break;
        case 'dropped':
          await queue.drop(claim, outcome.reason);
          if (outcome.dedup) await queue.remove(claim.operationId, outcome.dedup);
          break;
        case 'claim_lost':
          break;
      }
    };

    for (let attempt = 1; ; attempt++) {
      try {
        await transition();
        break;
      } catch (error) {
        metrics.apply({ kind: 'worker_error', code: 'STORE_TRANSIENT' });
        logger.warn(
          {
            operationId: claim.operationId,
            outcome: outcome.kind,
            attempt,
            error: errorMessage(error),
          },
          'queue_transition_failed',
        );
        if (attempt >= 20) {
          // The lease will expire and another claimer will see the operation's final state.
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 100 * 2 ** attempt)));
      }
    }

    if (outcome.kind === 'failed' || outcome.kind === 'timeout') {
      metrics.apply({ kind: 'dead_lettered' });
    } else if (outcome.kind === 'dropped') {
      metrics.apply({ kind: 'queue_dropped', reason: dropReasonLabel(outcome.reason) });
    }
    // A record claimed again since (see dispatch) belongs to the new actor: leave it be.
    if (this.actorsById.get(claim.operationId) === record)
      this.actorsById.delete(claim.operationId);
    if (this.actorsById.size === 0) for (const resolve of this.idle) resolve();
  }

  // ---- leases and cancellation -------------------------------------------------------

  private async renewLeases() {
    await this.promoteWhileNotClaiming();
    const records = [...this.actorsById.values()].filter((record) => !record.settled);
    if (records.length === 0) return;
    try {
      const lost = new Set(await this.deps.queue.renew(records.map((record) => record.claim)));
      for (const record of records) {
        if (lost.has(record.claim.operationId)) this.stopActor(record, 'claim_lost');
      }
    } catch (error) {
      this.deps.metrics.apply({ kind: 'worker_error', code: 'STORE_TRANSIENT' });
      this.deps.logger.warn({ error: errorMessage(error) }, 'lease_renewal_failed');
    }
  }

  /**
   * A claim also recovers expired leases and moves due retries back to pending. A worker that
   * claims nothing (paused, or full) does that here instead, so dead workers' operations and
   * due retries show in pending, and reach any worker with room, without waiting for a claim.
   */
  private async promoteWhileNotClaiming() {
    if (!this.isPaused && this.actorsById.size < this.deps.config.concurrency) return;
    try {
      const { recovered, promoted } = await this.deps.queue.promote();
      if (recovered > 0 || promoted > 0) {
        this.deps.logger.info({ recovered, promoted }, 'queue_promoted');
      }
    } catch (error) {
      this.deps.logger.warn({ error: errorMessage(error) }, 'queue_promote_failed');
    }
  }

  /**
   * Operations cancelled in MongoDB (by the platform's API) stop without waiting for a step,
   * soon enough to withdraw an OpsRequest KubeDB has not started.
   */
  private async sweepCancelled() {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      await this.sweepCancelledNow();
    } finally {
      this.sweeping = false;
    }
  }

  private async sweepCancelledNow() {
    const records = [...this.actorsById.values()].filter((record) => !record.settled);
    const ids = records.map((record) => record.claim.operationId);
    try {
      for (let i = 0; i < ids.length; i += 500) {
        const cancelled = await this.deps.store.listOperations(
          { ids: ids.slice(i, i + 500), status: ['cancelled'] },
          500,
        );
        for (const operation of cancelled) {
          const record = this.actorsById.get(operation._id);
          if (record) this.stopActor(record, 'cancelled');
        }
      }
    } catch (error) {
      this.deps.logger.warn({ error: errorMessage(error) }, 'cancel_sweep_failed');
    }
  }

  private stopActor(record: ActorRecord, reason: StopRequest) {
    if (record.runId === null) return;
    if (!record.started) {
      // Its thread may get the broadcast before the task: keep it for the 'started' message.
      record.pendingStop ??= reason;
      return;
    }
    this.send(record.runId, { type: 'stop', reason });
  }

  private send(runId: number, message: SupervisorMessage) {
    // A lock answered after shutdown closed the channel has no actor left to read it.
    if (this.channelClosed) return;
    const envelope: SupervisorEnvelope = { runId, message };
    this.channel.postMessage(envelope);
  }

  /**
   * MongoDB is the record of what must still happen; Redis only schedules it. Unfinished
   * operations idle for a while that no queue structure holds (Redis lost its last writes
   * in a crash, or an older worker left them in progress) are put back into pending. Every
   * worker may run this at once: the check and the re-queue are one atomic script.
   */
  async reconcile(): Promise<string[]> {
    const { config, store, queue, logger } = this.deps;
    if (this.stopping) return [];
    try {
      const before = new Date(Date.now() - config.reconcileAfterMs);
      const ids = await store.idleUnfinishedOperations(before, 1000);
      const adopted = await queue.adopt(ids);
      if (adopted.length > 0) {
        logger.warn({ count: adopted.length, sample: adopted.slice(0, 10) }, 'operations_adopted');
      }
      return adopted;
    } catch (error) {
      logger.warn({ error: errorMessage(error) }, 'reconcile_failed');
      return [];
    }
  }

  // ---- pause, resume, shutdown -------------------------------------------------------

  pause(): void {
    this.isPaused = true;
    this.deps.logger.info({}, 'supervisor_paused');
  }

  resume(): void {
    this.isPaused = false;
    this.doorbell.notify();
    this.deps.logger.info({}, 'supervisor_resumed');
  }

  paused(): boolean {
    return this.isPaused;
  }

  async recycleThread(threadId: number): Promise<boolean> {
    const thread = this.deps.pool.threads.find((worker) => worker.threadId === threadId);
    if (!thread) return false;
    this.deps.logger.warn({ threadId }, 'thread_recycling');
    await thread.terminate();
    return true;
  }

  /**
   * Stops claiming, asks every actor to hand its operation back at its next step boundary,
   * waits up to the grace period, then hands back whatever is left itself.
   */
  async shutdown(graceMs = this.deps.config.shutdownGraceMs): Promise<void> {
    const { logger, store } = this.deps;
    if (this.stopping) return;
    this.stopping = true;
    this.doorbell.notify();
    await this.claimLoop;
    logger.info({ inFlight: this.actorsById.size, graceMs }, 'shutdown_started');

    for (const record of this.actorsById.values()) this.stopActor(record, 'handback');
    await this.whenIdle(graceMs);

    const left = [...this.actorsById.values()];
    await Promise.all(
      left.map(async (record) => {
        await store
          .releaseOperation(record.claim.operationId, record.claim.token)
          .catch(() => false);
        await this.settle(record, { kind: 'handed_back' });
      }),
    );
    if (this.renewTimer) clearInterval(this.renewTimer);
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
    if (this.cancelTimer) clearInterval(this.cancelTimer);
    this.deps.pool.off('message', this.onThreadMessage);
    this.channelClosed = true;
    this.channel.close();
    // handedBack: by their actors at a step boundary, or after the grace period (forced).
    logger.info({ handedBack: this.handedBack, forced: left.length }, 'shutdown_finished');
  }

  private whenIdle(ms: number): Promise<void> {
    if (this.actorsById.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.idle.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.idle.add(done);
    });
  }

  // ---- admin backend -----------------------------------------------------------------

  actors(): ActorView[] {
    return [...this.actorsById.values()].map((record) => ({ ...record.view }));
  }

  async queue(): Promise<QueueView> {
    return this.deps.queue.depths();
  }

  async ready(): Promise<ReadyView> {
    const check = (promise: Promise<unknown>) =>
      promise.then(
        () => true,
        () => false,
      );
    const [redis, mongodb] = await Promise.all([
      check(this.deps.redis.ping()),
      check(this.deps.store.ping()),
    ]);
    return { redis, mongodb, pool: !this.stopping && this.deps.pool.threads.length > 0 };
  }

  async operation(id: string): Promise<Record<string, unknown> | null> {
    const operation = await this.deps.store.getOperation(id);
    return operation ? toJson(operation) : null;
  }

  async enqueue(
    id: string,
    priority = 5,
  ): Promise<'queued' | 'not_found' | 'final' | 'already_queued'> {
    const operation = await this.deps.store.getOperation(id);
    if (!operation) return 'not_found';
    if (FINAL_OPERATION_STATUSES.includes(operation.status)) return 'final';
    if (this.actorsById.has(id)) return 'already_queued';
    const score = await this.deps.redis.zscore(queueKeys.pending, id);
    if (score !== null) return 'already_queued';
    await this.deps.queue.enqueue(id, priority);
    return 'queued';
  }

  async cancel(id: string): Promise<'cancelled' | 'not_found' | 'final'> {
    const previous = await this.deps.store.cancelOperation(id, 'Cancelled by an operator');
    // Raw keys, not the parsed document: a malformed one exists all the same.
    if (previous === null) {
      return (await this.deps.store.operationKeys(id)) ? 'final' : 'not_found';
    }
    const record = this.actorsById.get(id);
    if (record) {
      this.stopActor(record, 'cancelled');
    } else {
      const keys = await this.deps.store.operationKeys(id).catch(() => null);
      await this.deps.queue.remove(
        id,
        keys?.databaseId && keys.type
          ? { databaseId: keys.databaseId, type: keys.type }
          : undefined,
      );
    }
    this.deps.logger.info({ operationId: id, previous }, 'operation_cancelled_by_admin');
    return 'cancelled';
  }

  async retryDead(id: string): Promise<'queued' | 'not_found'> {
    const reopened = await this.deps.store.reopenOperation(id);
    if (!reopened) return 'not_found';
    const moved = await this.deps.queue.requeueDead(id, 10);
    if (!moved) await this.deps.queue.enqueue(id, 10);
    return 'queued';
  }

  async deadLetters(limit: number) {
    const letters = await this.deps.queue.deadLetters(limit);
    // The score is the time it was dead-lettered; one written by hand may be no date at all.
    return letters.map((letter) => {
      const at = new Date(letter.at);
      return { ...letter, at: Number.isNaN(at.getTime()) ? null : at.toISOString() };
    });
  }
}

/**
 * An operation found already failed or timed out by the claim that took over its expired
 * lease (or by a later one, when that claim was handed back unread): its worker recorded
 * the failure in MongoDB, then died before the dead letter. It is dead-lettered now. (An id
 * queued again for an old failed operation is only dropped.)
 */
function failedBeforeDeadLetter(claim: Claim, outcome: ActorOutcome): ActorOutcome | null {
  if (outcome.kind !== 'dropped' || !claim.recovered || !outcome.dedup) return null;
  const status = /^operation_(failed|timeout)$/.exec(outcome.reason)?.[1];
  if (!status) return null;
  return {
    kind: 'failed',
    ...outcome.dedup,
    reason: `${status}; its worker died before dead-lettering it`,
  };
}

/** The fixed label of a drop reason: not_found, invalid or final. */
function dropReasonLabel(reason: string): string {
  if (reason.startsWith('operation_missing')) return 'not_found';
  if (reason.startsWith('operation_invalid')) return 'invalid';
  return 'final';
}

function toJson(operation: Operation): Record<string, unknown> {
  return JSON.parse(JSON.stringify(operation)) as Record<string, unknown>;
}
