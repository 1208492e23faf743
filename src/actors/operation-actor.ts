// One actor runs one claimed operation as a state machine (src/actors/steps.ts), from its
// last checkpoint to a final state, and says how it ended. It never touches Redis: the
// supervisor owns the claim and turns the outcome into the queue transition.

import type { Config } from '../shared/config.js';
import { PermanentError, TransientError, WorkerError, errorMessage } from '../shared/errors.js';
import type { KubeClients, KubeCluster, OpsRequestStatus } from '../shared/kubedb/index.js';
import {
  buildOpsRequest,
  databasePatch,
  finishedAt,
  observedStorageGb,
  opsRequestStatus,
} from '../shared/kubedb/index.js';
import type { Logger } from '../shared/logger.js';
import type { MetricEvent } from '../shared/metric-events.js';
import type { Store } from '../shared/store.js';
import { isStoreOutage } from '../shared/store-outage.js';
import type { Database, Operation, Provider } from '../shared/types.js';
import type { ActorOutcome } from './messages.js';
import { CHANGE_PLANS, type ChangePlan, type KubeObject } from './plans/index.js';
import { PROGRESS, isDone, type Step } from './steps.js';

export type StopReason = 'handback' | 'cancelled' | 'claim_lost';

export interface ActorContext {
  config: Config;
  store: Store;
  kube: KubeClients;
  logger: Logger;
  workerId: string;
  progress(update: {
    step: string;
    progress: number;
    message: string;
    databaseId: string;
    operationType: string;
  }): void;
  metric(event: MetricEvent): void;
  lockDatabase(databaseId: string): Promise<boolean>;
  /** Aborted when the supervisor asks the actor to stop; `stopReason()` says why. */
  stopSignal: AbortSignal;
  stopReason(): StopReason | null;
}

export interface ActorInput {
  operationId: string;
  claimToken: string;
  restarts: number;
}

/** Thrown inside the actor to unwind to the outcome handler when it must stop early. */
class Stopped extends Error {
  constructor(readonly reason: StopReason | 'timeout') {
    super(reason);
  }
}

export async function runActor(input: ActorInput, context: ActorContext): Promise<ActorOutcome> {
  const { store } = context;
  const log = context.logger.child({ operationId: input.operationId });

  let operation: Operation | null;
  try {
    operation = await store.getOperation(input.operationId);
  } catch (error) {
    if (error instanceof WorkerError && !error.retryable) {
      return failMalformed(input, context, log, error);
    }
    throw error;
  }
  if (!operation) return { kind: 'dropped', reason: 'operation_missing' };
  if (operation.status !== 'queued' && operation.status !== 'in_progress') {
    // Finished elsewhere (e.g. cancelled by the platform while it waited): forget it, and
    // free the platform's dedup key if it still names this operation.
    if (operation.status === 'cancelled') {
      await store.noteCancelled(operation._id, 'Cancelled before it started').catch(() => false);
    }
    return {
      kind: 'dropped',
      reason: `operation_${operation.status}`,
      dedup: { databaseId: operation.database_id, type: operation.type },
    };
  }

  let database: Database | null;
  try {
    database = await store.getDatabase(operation.database_id);
  } catch (error) {
    if (error instanceof WorkerError && !error.retryable) {
      return failEarly(input, operation, context, error);
    }
    throw error;
  }
  if (!database) {
    const error = new PermanentError(
      'DATABASE_NOT_FOUND',
      `database ${operation.database_id} does not exist`,
      { hint: 'Queue the operation for an existing database' },
    );
    return failEarly(input, operation, context, error);
  }

  if (!(await context.lockDatabase(database._id))) {
    return { kind: 'deferred', reason: `database ${database._id} runs another operation` };
  }

  const actor = new OperationRun(input, operation, database, context, log);
  return actor.run();
}

/**
 * An operation whose document breaks the contract: mark it failed where the user looks, and
 * dead-letter it like any failed operation, which frees the platform's dedup key so that a
 * corrected operation can be queued. A status the worker does not own (unknown, missing) is
 * left alone: the id is only dropped, with the log event and counter.
 */
async function failMalformed(
  input: ActorInput,
  context: ActorContext,
  log: Logger,
  error: WorkerError,
): Promise<ActorOutcome> {
  log.warn({ code: error.code, error: error.message }, 'operation_document_invalid');
  const failed = await context.store.failInvalidOperation(input.operationId, error.describe());
  if (!failed) return { kind: 'dropped', reason: `operation_invalid: ${error.message}` };
  const keys = await context.store.operationKeys(input.operationId);
  return {
    kind: 'failed',
    databaseId: keys?.databaseId ?? '',
    type: keys?.type ?? '',
    reason: error.describe(),
  };
}

/** Fails an operation before it could start (its database is missing or malformed). */
async function failEarly(
  input: ActorInput,
  operation: Operation,
  context: ActorContext,
  error: WorkerError,
): Promise<ActorOutcome> {
  const started = await context.store.startOperation(input.operationId, input.claimToken, {
    workerId: context.workerId,
    restarts: input.restarts,
    estimatedCompletionAt: new Date(),
    message: 'Checking the request',
  });
  if (!started) return { kind: 'dropped', reason: 'operation_final' };
  await context.store.finishOperation(input.operationId, input.claimToken, 'failed', {
    message: 'Operation failed',
    errorMessage: error.describe(),
  });
  context.metric({
    kind: 'operation_finished',
    type: operation.type,
    status: 'failed',
    durationSeconds: 0,
  });
  return {
    kind: 'failed',
    databaseId: operation.database_id,
    type: operation.type,
    reason: error.describe(),
  };
}

/** The operations that make sense on a paused (halted) database. */
const RUNS_ON_PAUSED: ReadonlySet<string> = new Set(['pause', 'resume']);

class OperationRun {
  private readonly plan: ChangePlan;
  private checkpoint: string | null;
  private attempt: number;
  private progress: number;
  private deadline = 0;
  private cluster: KubeCluster | null = null;
  private resource: KubeObject | null = null;
  private readonly timeoutController = new AbortController();
  /** Set when a background write found the operation cancelled or taken over. */
  private readonly lostController = new AbortController();
  private lost: StopReason | null = null;
  private writes: Promise<unknown> = Promise.resolve();
  private appliedAt: Date | null;

  constructor(
    private readonly input: ActorInput,
    private operation: Operation,
    private readonly database: Database,
    private readonly context: ActorContext,
    private readonly log: Logger,
  ) {
    this.plan = CHANGE_PLANS[operation.type];
    this.checkpoint = operation.worker_state?.step ?? null;
    // A document without a recorded attempt is on its first one.
    this.attempt = Math.max(1, operation.worker_state?.attempt ?? 1);
    this.progress = operation.progress ?? 0;
    this.appliedAt = operation.worker_state?.applied_at ?? null;
  }

  async run(): Promise<ActorOutcome> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await this.start();
      const remaining = this.deadline - Date.now();
      if (remaining <= 0) throw new Stopped('timeout');
      timer = setTimeout(() => this.timeoutController.abort(), remaining);
      await this.validate();
      await this.requestChange();
      await this.awaitChange();
      await this.syncDatabase();
      await this.deleteOpsRequest();
      return await this.complete();
    } catch (error) {
      return await this.settle(error);
    } finally {
      clearTimeout(timer);
    }
  }

  // ---- steps -------------------------------------------------------------------------

  private async start() {
    const timeoutMs = this.context.config.timeoutsMs[this.operation.type];
    const started = await this.context.store.startOperation(
      this.input.operationId,
      this.input.claimToken,
      {
        workerId: this.context.workerId,
        restarts: this.input.restarts,
        estimatedCompletionAt: new Date(Date.now() + Math.min(timeoutMs, 5 * 60_000)),
        message: this.checkpoint ? 'Resuming where the last worker stopped' : 'Starting',
      },
    );
    if (!started) throw new Stopped('cancelled');
    this.operation = started;
    this.deadline = (started.started_at ?? new Date()).getTime() + timeoutMs;
    this.log.info(
      { databaseId: this.database._id, type: this.operation.type, step: this.checkpoint },
      this.checkpoint ? 'operation_resumed' : 'operation_started',
    );
    await this.report('started', PROGRESS.started, 'Checking the request');
  }

  private async validate() {
    if (isDone(this.checkpoint, 'validated')) return;
    this.plan.validate(this.operation, this.database);
    const method = this.plan.method(this.context.config);
    if (method.kind === 'unsupported') {
      throw new PermanentError('UNSUPPORTED', `${this.operation.type}: ${method.reason}`);
    }
    await this.context.store.updateDatabase(this.database._id, { status: this.plan.busyStatus });
    await this.checkpointStep('validated', PROGRESS.validated, this.plan.describe(this.operation));
  }

  private async requestChange() {
    if (isDone(this.checkpoint, 'change_requested')) return;
    const cluster = await this.kube();
    const resource = await this.readResource();
    const halted = (resource.spec as { halted?: unknown } | undefined)?.halted === true;
    if (halted && !RUNS_ON_PAUSED.has(this.operation.type)) {
      // A halted database has no pods for KubeDB to change; the record would also end up
      // saying running while the cluster stays halted.
      throw new PermanentError(
        'REQUEST_INVALID',
        `${this.database.name} is paused (halted in the cluster), so ${this.operation.type} ` +
          'cannot run',
        { hint: 'Resume the database first, then queue the operation again' },
      );
    }
    const method = this.plan.method(this.context.config);

    if (method.kind === 'patch') {
      const patch = databasePatch(this.database.engine, resource, this.operation);
      await cluster.patchDatabase(
        this.database.engine,
        this.database.namespace,
        this.database.kubedb_resource_name,
        patch,
      );
      // A patch is applied when the API server takes it. Kept with the checkpoint so that an
      // actor resuming later does not claim a later time than the patch had.
      this.appliedAt = new Date();
      await this.checkpointStep('change_requested', PROGRESS.change_requested, 'Change sent', {
        appliedAt: this.appliedAt,
      });
      return;
    }
    if (method.kind !== 'ops-request') return;

    if (this.operation.type === 'expand_storage') {
      const observed = observedStorageGb(resource, this.database.engine);
      if (observed !== null && observed === this.operation.desired_state.storage_gb) {
        this.log.info({ storageGb: observed }, 'change_already_applied');
        await this.markApplied('Already applied', new Date());
        return;
      }
    }

    const body = buildOpsRequest({
      engine: this.database.engine,
      database: resource,
      operation: this.operation,
      attempt: this.attempt,
      kind: method.opsKind,
      volumeExpansionMode: this.context.config.volumeExpansionMode,
    });
    const created = await cluster.createOpsRequest(this.database.engine, body);
    const name = created.metadata?.name ?? '';
    this.context.metric({
      kind: 'ops_request_created',
      engine: this.database.engine,
      opsType: method.opsKind,
    });
    this.log.info({ opsRequest: name, attempt: this.attempt }, 'ops_request_created');
    await this.checkpointStep('change_requested', PROGRESS.change_requested, 'Change requested', {
      opsRequestName: name,
      opsRequestUid: created.metadata?.uid ?? null,
      opsRequestPhase: null,
      attempt: this.attempt,
    });
    this.operation.ops_request_name = name;
  }

  private async awaitChange() {
    if (isDone(this.checkpoint, 'change_applied')) return;
    const method = this.plan.method(this.context.config);
    if (method.kind === 'patch') {
      await this.markApplied('Change applied', this.appliedAt ?? new Date());
      return;
    }
    if (method.kind !== 'ops-request') return;

    const name = this.operation.ops_request_name;
    if (!name) throw new TransientError('KUBE_TRANSIENT', 'checkpoint names no OpsRequest');
    const cluster = await this.kube();
    const followStarted = Date.now();
    let lastPhase: string | null = this.operation.ops_request_phase ?? null;

    const final = await this.guard(
      cluster.follow(
        this.database.engine,
        this.database.namespace,
        name,
        (status: OpsRequestStatus) => {
          if (status.phase === lastPhase) return;
          lastPhase = status.phase;
          void this.onPhase(method.opsKind, status).catch((error) => this.phaseReportFailed(error));
        },
        this.abortSignal(),
      ),
    );

    const seconds = (Date.now() - followStarted) / 1000;
    this.context.metric({
      kind: 'ops_request_finished',
      engine: this.database.engine,
      opsType: method.opsKind,
      phase: final.phase ?? 'Unknown',
      durationSeconds: seconds,
    });
    if (final.phase !== 'Successful') {
      // The next attempt gets an OpsRequest of its own; this one stays for inspection.
      this.attempt += 1;
      await this.record({ opsRequestPhase: final.phase, attempt: this.attempt, step: 'validated' });
      this.checkpoint = 'validated';
      throw new TransientError(
        'OPS_REQUEST_FAILED',
        `KubeDB OpsRequest ${name} ended ${final.phase}: ${final.reason ?? 'no reason given'}`,
        { hint: 'Check the database in the cluster; the worker retries with a new OpsRequest' },
      );
    }
    // An actor resuming after its OpsRequest finished must not claim the time it looked.
    await this.markApplied('KubeDB applied the change', finishedAt(final) ?? new Date(), {
      opsRequestPhase: 'Successful',
    });
  }

  /**
   * A phase report runs in the background while the actor follows its OpsRequest. When it
   * finds the operation cancelled (by the platform, in MongoDB) or taken over, the actor stops
   * following at once: a cancel must reach an OpsRequest while it is still Pending.
   */
  private phaseReportFailed(error: unknown) {
    if (error instanceof Stopped && error.reason !== 'timeout' && error.reason !== 'handback') {
      this.lost ??= error.reason;
      this.lostController.abort();
      return;
    }
    this.log.warn({ error: errorMessage(error) }, 'progress_write_failed');
  }

  private async onPhase(opsKind: string, status: OpsRequestStatus) {
    this.context.metric({
      kind: 'ops_request_phase',
      engine: this.database.engine,
      opsType: opsKind,
      phase: status.phase ?? 'Unknown',
    });
    const progress =
      status.phase === 'Progressing'
        ? PROGRESS.progressing
        : status.phase === 'Pending'
          ? PROGRESS.pending
          : this.progress;
    const message =
      status.phase === 'Progressing'
        ? 'KubeDB is applying the change, one pod at a time'
        : status.phase === 'Pending'
          ? 'Waiting for KubeDB to start the change'
          : `KubeDB reports ${status.phase}`;
    await this.report('change_requested', progress, message, { opsRequestPhase: status.phase });
  }

  /**
   * Checkpoints `change_applied` with when the cluster took the change, which orders results
   * on one database. OpsRequest times are the cluster's clock, patch times the worker's: a
   * plan and its `recordsSameAs` use one method per deployment, so the two rarely meet, and
   * NTP keeps them within a second when they do. Known limit: Kubernetes keeps times to the
   * second, so a resumed actor and a newer change finished in the same second tie, and the
   * resumed one records.
   */
  private async markApplied(
    message: string,
    at: Date,
    extra: Parameters<Store['recordProgress']>[2] = {},
  ) {
    this.appliedAt = at;
    await this.checkpointStep('change_applied', PROGRESS.change_applied, message, {
      ...extra,
      appliedAt: this.appliedAt,
    });
  }

  private async syncDatabase() {
    if (isDone(this.checkpoint, 'database_synced')) return;
    await this.recordResult(this.appliedAt ?? this.operation.started_at ?? new Date(0));
    await this.checkpointStep('database_synced', PROGRESS.database_synced, 'Recording the result');
  }

  /**
   * Writes this operation's result, applied at `appliedAt`, into the database document.
   * An actor that stopped after its change (a retry, a SIGKILL) released the database; an
   * operation of the same kind may have run, applied and recorded since. Its result is what
   * the cluster has now: recording ours over it would make the record untrue, so it is left.
   */
  private async recordResult(appliedAt: Date): Promise<void> {
    const newer = await this.context.store.newerAppliedOperation(
      this.database._id,
      this.plan.recordsSameAs,
      appliedAt,
      this.operation._id,
    );
    if (newer) {
      this.log.info({ newer }, 'database_record_left_to_newer_operation');
      return;
    }
    await this.context.store.updateDatabase(this.database._id, {
      ...this.plan.databaseFields(this.operation),
      status: this.plan.doneStatus,
    });
  }

  private async deleteOpsRequest() {
    if (isDone(this.checkpoint, 'ops_request_deleted')) return;
    const name = this.operation.ops_request_name;
    if (name && this.context.config.deleteFinishedOpsRequests) {
      try {
        const cluster = await this.kube();
        await cluster.deleteOpsRequest(this.database.engine, this.database.namespace, name);
      } catch (error) {
        // A leftover OpsRequest costs nothing but clutter; the operation itself succeeded.
        this.log.warn(
          { opsRequest: name, error: errorMessage(error) },
          'ops_request_delete_failed',
        );
      }
    }
    await this.checkpointStep('ops_request_deleted', PROGRESS.database_synced, 'Cleaning up');
  }

  private async complete(): Promise<ActorOutcome> {
    await this.writes;
    const finished = await this.context.store.finishOperation(
      this.input.operationId,
      this.input.claimToken,
      'completed',
      { message: 'Operation completed successfully' },
    );
    if (!finished) return this.whyLost();
    this.finishedMetric('completed');
    this.log.info({ databaseId: this.database._id }, 'operation_completed');
    return { kind: 'completed', databaseId: this.database._id, type: this.operation.type };
  }

  // ---- endings -----------------------------------------------------------------------

  private async settle(error: unknown): Promise<ActorOutcome> {
    await this.writes;
    const ids = { databaseId: this.database._id, type: this.operation.type };
    const stop = error instanceof Stopped ? error.reason : this.stopReasonNow();

    if (stop === 'handback') {
      await this.context.store.releaseOperation(this.input.operationId, this.input.claimToken);
      this.log.info({ step: this.checkpoint }, 'operation_handed_back');
      return { kind: 'handed_back' };
    }
    if (stop === 'claim_lost') return { kind: 'claim_lost' };
    if (stop === 'cancelled') return this.whyLost();
    if (stop === 'timeout') {
      const reason = `did not finish within ${this.context.config.timeoutsMs[this.operation.type] / 1000} s`;
      await this.context.store.finishOperation(
        this.input.operationId,
        this.input.claimToken,
        'timeout',
        {
          message: 'Operation timed out',
          errorMessage: `${this.operation.type} ${reason}; KubeDB may still be working on it`,
        },
      );
      await this.restoreDatabaseStatus();
      this.finishedMetric('timeout');
      this.log.warn({ step: this.checkpoint }, 'operation_timed_out');
      return { kind: 'timeout', ...ids, reason };
    }

    const reason = errorMessage(error);
    if (isStoreOutage(error)) {
      // MongoDB could not take a write: wait and resume from the checkpoint, uncounted.
      await this.context.store.releaseOperation(this.input.operationId, this.input.claimToken);
      this.log.warn({ error: reason }, 'operation_waiting_for_store');
      return { kind: 'deferred', reason: `storage unavailable: ${reason}` };
    }
    if (error instanceof WorkerError && error.retryable && error.details?.maintenance) {
      // Maintenance ends by itself: wait for it without spending the operation's retries.
      await this.record({ message: `Waiting: ${error.message}` });
      await this.writes;
      await this.context.store.releaseOperation(this.input.operationId, this.input.claimToken);
      this.log.info({ error: reason }, 'operation_waiting_for_provider');
      return { kind: 'deferred', reason };
    }
    const retryable = !(error instanceof WorkerError) || error.retryable;
    this.context.metric({
      kind: 'worker_error',
      code: error instanceof WorkerError ? error.code : 'UNEXPECTED',
    });
    const retries = this.operation.retry_count ?? 0;
    if (
      retryable &&
      retries < (this.operation.max_retries ?? this.context.config.defaultMaxRetries)
    ) {
      const ok = await this.context.store.scheduleRetry(
        this.input.operationId,
        this.input.claimToken,
        {
          retryCount: retries + 1,
          errorMessage: reason,
          message: `Retrying after a temporary problem (retry ${retries + 1} of ${this.operation.max_retries})`,
        },
      );
      if (!ok) return this.whyLost();
      this.context.metric({ kind: 'operation_retry', type: this.operation.type });
      this.log.warn({ retry: retries + 1, error: reason }, 'operation_retry_scheduled');
      return { kind: 'retry', retryNumber: retries + 1, reason };
    }

    const finished = await this.context.store.finishOperation(
      this.input.operationId,
      this.input.claimToken,
      'failed',
      {
        message: 'Operation failed',
        errorMessage: retryable ? `${reason} (gave up after ${retries} retries)` : reason,
      },
    );
    if (!finished) return this.whyLost();
    await this.restoreDatabaseStatus(error);
    this.finishedMetric('failed');
    this.log.warn({ error: reason, retryable }, 'operation_failed');
    return { kind: 'failed', ...ids, reason };
  }

  /** After a failure, the database status says what KubeDB reports, not what we hoped. */
  private async restoreDatabaseStatus(cause?: unknown) {
    if (cause instanceof WorkerError && cause.details?.network !== undefined) {
      // No HTTP answer from the API server: reading the resource now would only wait out
      // the same retries again (tens of seconds) before the failure reaches the queue.
      this.log.warn({ error: errorMessage(cause) }, 'database_status_unknown');
      return;
    }
    try {
      const resource = await this.readResource(true);
      const phase = (resource.status as { phase?: string } | undefined)?.phase;
      const halted = (resource.spec as { halted?: boolean } | undefined)?.halted === true;
      const status = halted
        ? 'paused'
        : phase === 'Ready' || phase === 'Critical'
          ? 'running'
          : 'failed';
      await this.context.store.updateDatabase(this.database._id, { status });
    } catch (error) {
      this.log.warn({ error: errorMessage(error) }, 'database_status_unknown');
    }
  }

  /**
   * A cancelled operation withdraws its OpsRequest while KubeDB has not started it. One
   * already Progressing is left to finish: KubeDB cannot stop a rolling change midway.
   * Returns the name of an OpsRequest left running, else null.
   */
  private async withdrawOpsRequest(): Promise<string | null> {
    const name = this.operation.ops_request_name;
    if (!name || isDone(this.checkpoint, 'change_applied')) return null;
    const { engine, namespace } = this.database;
    try {
      const cluster = await this.kube();
      const current = await cluster.getOpsRequest(engine, namespace, name);
      if (!current) return null;
      const phase = opsRequestStatus(current).phase;
      if (phase === null || phase === 'Pending') {
        await cluster.deleteOpsRequest(engine, namespace, name);
        this.log.info({ opsRequest: name }, 'ops_request_withdrawn');
        return null;
      }
      this.log.warn({ opsRequest: name, phase }, 'ops_request_left_running');
      return name;
    } catch (error) {
      this.log.warn(
        { opsRequest: name, error: errorMessage(error) },
        'ops_request_withdraw_failed',
      );
      return null;
    }
  }

  /**
   * The change of a cancelled operation that KubeDB had already started lands anyway. The
   * actor keeps the database locked and follows the OpsRequest to its end (within the
   * operation's timeout), so that no other operation starts on top of it and the database
   * record shows what was applied. The operation itself stays cancelled, as the platform
   * wrote it. Returns whether the database record was brought up to date.
   */
  private async recordChangeLeftRunning(name: string): Promise<boolean> {
    const { engine, namespace } = this.database;
    try {
      const cluster = await this.kube();
      const final = await cluster.follow(
        engine,
        namespace,
        name,
        () => undefined,
        this.timeoutController.signal,
      );
      if (final.phase !== 'Successful') {
        this.log.info({ opsRequest: name, phase: final.phase }, 'ops_request_left_running_ended');
        return false;
      }
      await this.recordResult(finishedAt(final) ?? new Date());
      this.log.info({ opsRequest: name }, 'ops_request_left_running_applied');
      if (this.context.config.deleteFinishedOpsRequests) {
        await cluster.deleteOpsRequest(engine, namespace, name).catch(() => undefined);
      }
      return true;
    } catch (error) {
      this.log.warn(
        { opsRequest: name, error: errorMessage(error) },
        'ops_request_left_running_unknown',
      );
      return false;
    }
  }

  /** A conditional write failed: find out whether the operation was cancelled or taken over. */
  private async whyLost(): Promise<ActorOutcome> {
    const current = await this.context.store.getOperation(this.input.operationId).catch(() => null);
    if (current?.status === 'cancelled') {
      this.log.info({}, 'operation_cancelled');
      this.finishedMetric('cancelled');
      const leftRunning = await this.withdrawOpsRequest();
      const applied = leftRunning !== null && (await this.recordChangeLeftRunning(leftRunning));
      if (!applied) await this.restoreDatabaseStatus();
      await this.context.store
        .noteCancelled(
          this.operation._id,
          applied ? 'Cancelled after KubeDB had started the change, which it applied' : 'Cancelled',
        )
        .catch((error: unknown) =>
          this.log.warn({ error: errorMessage(error) }, 'cancel_note_failed'),
        );
      return { kind: 'cancelled', databaseId: this.database._id, type: this.operation.type };
    }
    if (current && current.worker_state?.claim_token !== this.input.claimToken) {
      this.log.warn({}, 'claim_lost');
      return { kind: 'claim_lost' };
    }
    return { kind: 'dropped', reason: `operation_${current?.status ?? 'missing'}` };
  }

  // ---- helpers -----------------------------------------------------------------------

  private async kube(): Promise<KubeCluster> {
    if (this.cluster) return this.cluster;
    let provider: Provider | null = null;
    if (this.database.provider_id) {
      provider = await this.context.store.getProvider(this.database.provider_id);
    }
    this.cluster = this.context.kube.forDatabase(this.database, provider);
    return this.cluster;
  }

  private async readResource(fresh = false): Promise<KubeObject> {
    if (this.resource && !fresh) return this.resource;
    const cluster = await this.kube();
    this.resource = (await cluster.getDatabase(
      this.database.engine,
      this.database.namespace,
      this.database.kubedb_resource_name,
    )) as KubeObject;
    return this.resource;
  }

  /** Aborts on stop requests and on the operation's deadline. */
  private abortSignal(): AbortSignal {
    return AbortSignal.any([
      this.context.stopSignal,
      this.timeoutController.signal,
      this.lostController.signal,
    ]);
  }

  private stopReasonNow(): StopReason | 'timeout' | null {
    if (this.timeoutController.signal.aborted) return 'timeout';
    return this.context.stopReason() ?? this.lost;
  }

  /**
   * Awaits a long wait (following an OpsRequest), unwinding at once when a stop or the
   * deadline comes first. Short steps (one API call, one write) are not raced: they finish,
   * and the stop takes effect at the next checkpoint, so no effect goes unrecorded.
   */
  private async guard<T>(promise: Promise<T>): Promise<T> {
    const signal = this.abortSignal();
    const early = this.stopReasonNow();
    if (early) throw new Stopped(early);
    let onAbort: () => void = () => undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(new Stopped(this.stopReasonNow() ?? 'handback'));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([promise, aborted]);
    } finally {
      signal.removeEventListener('abort', onAbort);
      promise.catch(() => undefined);
    }
  }

  private async checkpointStep(
    step: Step,
    progress: number,
    message: string,
    extra: Parameters<Store['recordProgress']>[2] = {},
  ) {
    await this.report(step, progress, message, { ...extra, step });
    this.checkpoint = step;
    const stop = this.stopReasonNow();
    if (stop) throw new Stopped(stop);
  }

  private async report(
    step: string,
    progress: number,
    message: string,
    extra: Parameters<Store['recordProgress']>[2] = {},
  ) {
    const forward = Math.max(progress, this.progress);
    const ok = await this.record({ ...extra, progress: forward, message });
    if (!ok) throw new Stopped((await this.lostReason()) ?? 'cancelled');
    this.progress = forward;
    this.context.progress({
      step,
      progress: forward,
      message,
      databaseId: this.database._id,
      operationType: this.operation.type,
    });
  }

  /**
   * Writes to the operation document go out one at a time, in order. A phase report runs in
   * the background while the actor moves on; on a server that applies updates as
   * read-modify-write of the whole document (FerretDB does), two updates in flight at once
   * can undo each other, and even on MongoDB an older progress must not land after a newer.
   */
  private record(fields: Parameters<Store['recordProgress']>[2]): Promise<boolean> {
    const write = () =>
      this.context.store.recordProgress(this.input.operationId, this.input.claimToken, fields);
    const next = this.writes.then(write, write);
    this.writes = next.catch(() => undefined);
    return next;
  }

  private async lostReason(): Promise<StopReason | null> {
    const current = await this.context.store.getOperation(this.input.operationId).catch(() => null);
    if (!current || current.status === 'cancelled') return 'cancelled';
    if (current.worker_state?.claim_token !== this.input.claimToken) return 'claim_lost';
    return null;
  }

  private finishedMetric(status: 'completed' | 'failed' | 'timeout' | 'cancelled') {
    const started = this.operation.started_at?.getTime() ?? Date.now();
    this.context.metric({
      kind: 'operation_finished',
      type: this.operation.type,
      status,
      durationSeconds: (Date.now() - started) / 1000,
    });
  }
}
