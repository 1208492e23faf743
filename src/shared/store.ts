// The platform's MongoDB documents: typed reads, and writes that touch only the fields the
// worker owns, always with $set, never a whole-document replace. Every write to an operation
// in progress is conditional on the claim token, so a worker that lost its claim cannot
// overwrite the work of the one that took over. Verified against FerretDB 1.24 (tests).

import { randomBytes } from 'node:crypto';
import { MongoClient, MongoServerError, type Collection, type Db, type Filter } from 'mongodb';
import { parseDatabase, parseOperation, parseProvider } from './documents.js';
import { DocumentValidationError } from './errors.js';
import type { Logger } from './logger.js';
import {
  DATABASE_STATUSES,
  FINAL_OPERATION_STATUSES,
  OPERATION_STATUSES,
  type Database,
  type DesiredState,
  type Operation,
  type OperationStatus,
  type OperationType,
  type Provider,
} from './types.js';

export type StoredDocument = { _id: string } & Record<string, unknown>;

/** The database fields the worker owns; the platform's API writes the desired ones. */
export type DatabaseObservedFields = Partial<
  Pick<
    Database,
    | 'current_size'
    | 'current_storage_gb'
    | 'current_replicas'
    | 'status'
    | 'health_status'
    | 'version'
  >
>;
const DATABASE_OWNED_FIELDS = [
  'current_size',
  'current_storage_gb',
  'current_replicas',
  'status',
  'health_status',
  'version',
] as const;

export interface ProgressFields {
  progress?: number;
  message?: string;
  opsRequestName?: string | null;
  opsRequestUid?: string | null;
  opsRequestPhase?: string | null;
  step?: string;
  attempt?: number;
  appliedAt?: Date;
}

export interface NewOperation {
  database_id: string;
  type: OperationType;
  desired_state: DesiredState;
  created_by?: string;
  domain?: string;
  project?: string;
  max_retries?: number;
}

/**
 * A queued operation document as the platform's Python API writes it. `_id` and
 * `created_at` are fresh unless given (benchmarks and tests seed fixed ids in bulk).
 */
export function newOperationDocument(
  fields: NewOperation & { _id?: string; created_at?: Date },
): StoredDocument {
  return {
    _id: fields._id ?? `op-${randomBytes(6).toString('hex')}`,
    database_id: fields.database_id,
    type: fields.type,
    desired_state: fields.desired_state,
    status: 'queued',
    progress: 0,
    message: null,
    ops_request_name: null,
    ops_request_uid: null,
    ops_request_phase: null,
    created_at: fields.created_at ?? new Date(),
    started_at: null,
    completed_at: null,
    estimated_completion_at: null,
    error_message: null,
    retry_count: 0,
    max_retries: fields.max_retries ?? 3,
    created_by: fields.created_by ?? null,
    domain: fields.domain ?? null,
    project: fields.project ?? null,
  };
}

/** MongoDB error 28: a dotted $set below a field that is null (`worker_state: null`). */
const PATH_NOT_VIABLE = 28;

export class Store {
  private constructor(
    private readonly client: MongoClient,
    private readonly db: Db,
    private readonly logger?: Logger,
  ) {}

  static async connect(url: string, databaseName: string, logger?: Logger): Promise<Store> {
    const client = await MongoClient.connect(url, { serverSelectionTimeoutMS: 10_000 });
    return new Store(client, client.db(databaseName), logger);
  }

  private get operations(): Collection<StoredDocument> {
    return this.db.collection<StoredDocument>('operations');
  }

  private get databases(): Collection<StoredDocument> {
    return this.db.collection<StoredDocument>('databases');
  }

  private get providers(): Collection<StoredDocument> {
    return this.db.collection<StoredDocument>('providers');
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  async ping(): Promise<void> {
    await this.db.command({ ping: 1 });
  }

  /** Throws DocumentValidationError naming the field if the document breaks the contract. */
  async getOperation(id: string): Promise<Operation | null> {
    const raw = await this.operations.findOne({ _id: id });
    return raw ? parseOperation(raw) : null;
  }

  async getDatabase(id: string): Promise<Database | null> {
    const raw = await this.databases.findOne({ _id: id });
    return raw ? parseDatabase(raw) : null;
  }

  async getProvider(id: string): Promise<Provider | null> {
    const raw = await this.providers.findOne({ _id: id });
    return raw ? parseProvider(raw) : null;
  }

  /**
   * queued | in_progress -> in_progress, taking ownership with a new claim token (the only
   * write that does). started_at is set only the first time. Null if the operation is
   * missing, final or cancelled; then nothing changed.
   */
  async startOperation(
    id: string,
    token: string,
    fields: { workerId: string; restarts: number; estimatedCompletionAt: Date; message: string },
  ): Promise<Operation | null> {
    const now = new Date();
    const filter: Filter<StoredDocument> = { _id: id, status: { $in: ['queued', 'in_progress'] } };
    const set = {
      status: 'in_progress',
      estimated_completion_at: fields.estimatedCompletionAt,
      message: fields.message,
      'worker_state.claim_token': token,
      'worker_state.worker_id': fields.workerId,
      'worker_state.restarts': fields.restarts,
      'worker_state.updated_at': now,
    };
    let raw: StoredDocument | null;
    try {
      raw = await this.operations.findOneAndUpdate(
        filter,
        { $set: set },
        { returnDocument: 'after' },
      );
    } catch (error) {
      if (!(error instanceof MongoServerError && error.code === PATH_NOT_VIABLE)) throw error;
      await this.operations.updateOne(
        { ...filter, worker_state: null },
        {
          $set: { worker_state: {} },
        },
      );
      raw = await this.operations.findOneAndUpdate(
        filter,
        { $set: set },
        { returnDocument: 'after' },
      );
    }
    if (!raw) return null;

    if (raw.started_at === undefined || raw.started_at === null) {
      const first = await this.operations.updateOne(
        { _id: id, 'worker_state.claim_token': token, started_at: null },
        { $set: { started_at: now } },
      );
      if (first.modifiedCount === 1) raw.started_at = now;
    }
    return parseOperation(raw);
  }

  private ownedBy(id: string, token: string): Filter<StoredDocument> {
    return { _id: id, status: 'in_progress', 'worker_state.claim_token': token };
  }

  /**
   * Records how far the operation got, if the claim is still ours and it is in progress.
   * Progress only moves forward: a lower value is ignored together with its message (the
   * other fields are still written). A message given without a progress is always written.
   * False if the claim is stale or the operation is no longer in progress (cancelled, say).
   */
  async recordProgress(id: string, token: string, fields: ProgressFields): Promise<boolean> {
    const set: Record<string, unknown> = { 'worker_state.updated_at': new Date() };
    if (fields.opsRequestName !== undefined) set.ops_request_name = fields.opsRequestName;
    if (fields.opsRequestUid !== undefined) set.ops_request_uid = fields.opsRequestUid;
    if (fields.opsRequestPhase !== undefined) set.ops_request_phase = fields.opsRequestPhase;
    if (fields.step !== undefined) set['worker_state.step'] = fields.step;
    if (fields.attempt !== undefined) set['worker_state.attempt'] = fields.attempt;
    if (fields.appliedAt !== undefined) set['worker_state.applied_at'] = fields.appliedAt;
    const owned = this.ownedBy(id, token);

    if (fields.progress === undefined) {
      if (fields.message !== undefined) set.message = fields.message;
      return (await this.operations.updateOne(owned, { $set: set })).matchedCount === 1;
    }

    const progress = Math.max(0, Math.min(100, Math.round(fields.progress)));
    const forward = await this.operations.updateOne(
      // $not/$gt also matches a document without `progress`, which reads as 0.
      { ...owned, progress: { $not: { $gt: progress } } },
      {
        $set: {
          ...set,
          progress,
          ...(fields.message !== undefined && { message: fields.message }),
        },
      },
    );
    if (forward.matchedCount === 1) return true;
    return (await this.operations.updateOne(owned, { $set: set })).matchedCount === 1;
  }

  /**
   * in_progress -> completed | failed | timeout, if the claim is still ours. Sets
   * completed_at and message; error_message for failed and timeout; progress 100 when
   * completed. False if the claim is stale or the operation is no longer in progress.
   */
  async finishOperation(
    id: string,
    token: string,
    status: 'completed' | 'failed' | 'timeout',
    fields: { message: string; errorMessage?: string | null },
  ): Promise<boolean> {
    const now = new Date();
    const set: Record<string, unknown> = {
      status,
      completed_at: now,
      message: fields.message,
      'worker_state.updated_at': now,
    };
    if (status === 'completed') set.progress = 100;
    else
      set.error_message = fields.errorMessage !== undefined ? fields.errorMessage : fields.message;
    const result = await this.operations.updateOne(this.ownedBy(id, token), { $set: set });
    return result.matchedCount === 1;
  }

  /**
   * in_progress -> queued for a retry, if the claim is still ours. The claim token is
   * cleared so this claim can write nothing more; step and attempt stay as the checkpoint.
   */
  async scheduleRetry(
    id: string,
    token: string,
    fields: { retryCount: number; errorMessage: string; message: string },
  ): Promise<boolean> {
    const result = await this.operations.updateOne(this.ownedBy(id, token), {
      $set: {
        status: 'queued',
        retry_count: fields.retryCount,
        error_message: fields.errorMessage,
        message: fields.message,
        'worker_state.claim_token': null,
        'worker_state.updated_at': new Date(),
      },
    });
    return result.matchedCount === 1;
  }

  /**
   * Hand-back on shutdown: stays in_progress with its checkpoint (step, attempt), but the
   * claim token is cleared so the next claimer takes over. Conditional on the token.
   */
  async releaseOperation(id: string, token: string): Promise<boolean> {
    const result = await this.operations.updateOne(this.ownedBy(id, token), {
      $set: { 'worker_state.claim_token': null, 'worker_state.updated_at': new Date() },
    });
    return result.matchedCount === 1;
  }

  /**
   * Any status that is not final -> cancelled. Returns the status it had, or null if it was
   * already final or does not exist.
   */
  async cancelOperation(id: string, message: string): Promise<string | null> {
    const before = await this.operations.findOneAndUpdate(
      { _id: id, status: { $nin: [...FINAL_OPERATION_STATUSES] } },
      { $set: { status: 'cancelled', completed_at: new Date(), message } },
      { returnDocument: 'before' },
    );
    return before ? String(before.status) : null;
  }

  /**
   * The platform cancelled an operation by writing only its status: complete the record
   * (when, and what became of it) unless whoever cancelled it already did.
   */
  async noteCancelled(id: string, message: string): Promise<boolean> {
    const result = await this.operations.updateOne(
      { _id: id, status: 'cancelled', completed_at: null },
      { $set: { completed_at: new Date(), message } },
    );
    return result.matchedCount === 1;
  }

  /**
   * A queued or running operation whose document breaks the contract: failed, with the
   * validation error where the user looks. Writes raw fields only (the document cannot be
   * parsed). False if it was already final or does not exist.
   */
  async failInvalidOperation(id: string, errorMessage: string): Promise<boolean> {
    const now = new Date();
    const filter: Filter<StoredDocument> = { _id: id, status: { $in: ['queued', 'in_progress'] } };
    const set = {
      status: 'failed',
      completed_at: now,
      message: 'Operation failed',
      error_message: errorMessage,
    };
    try {
      const result = await this.operations.updateOne(filter, {
        $set: { ...set, 'worker_state.claim_token': null, 'worker_state.updated_at': now },
      });
      return result.matchedCount === 1;
    } catch (error) {
      // worker_state is null or not an object (it may be what is malformed): replace it.
      if (!(error instanceof MongoServerError && error.code === PATH_NOT_VIABLE)) throw error;
      const result = await this.operations.updateOne(filter, {
        $set: { ...set, worker_state: { claim_token: null, updated_at: now } },
      });
      return result.matchedCount === 1;
    }
  }

  /**
   * An operation's database_id and type as stored (each when it is a string), even when the
   * rest of the document breaks the contract; null when there is no such document.
   */
  async operationKeys(id: string): Promise<{ databaseId?: string; type?: string } | null> {
    const raw = await this.operations.findOne(
      { _id: id },
      { projection: { database_id: 1, type: 1 } },
    );
    if (!raw) return null;
    return {
      ...(typeof raw.database_id === 'string' && { databaseId: raw.database_id }),
      ...(typeof raw.type === 'string' && { type: raw.type }),
    };
  }

  /**
   * An operator retries a failed or timed-out operation: back to queued with a fresh set of
   * retries. The next attempt gets an OpsRequest of its own (attempt + 1, step cleared), so
   * the failed one is never adopted again. False if it is not failed/timeout.
   */
  async reopenOperation(id: string): Promise<boolean> {
    // A document that breaks the contract must be fixed first: say so, not "not failed".
    const current = await this.getOperation(id).catch((error: unknown) => {
      if (error instanceof DocumentValidationError) throw error;
      return null;
    });
    if (!current || (current.status !== 'failed' && current.status !== 'timeout')) return false;
    const result = await this.operations.updateOne(
      { _id: id, status: current.status },
      {
        $set: {
          status: 'queued',
          completed_at: null,
          retry_count: 0,
          message: 'Queued again by an operator',
          error_message: null,
          worker_state: {
            ...(current.worker_state ?? {}),
            claim_token: null,
            step: null,
            attempt: Math.max(1, current.worker_state?.attempt ?? 1) + 1,
            updated_at: new Date(),
          },
        },
      },
    );
    return result.matchedCount === 1;
  }

  /**
   * Writes only the observed fields the worker owns (and updated_at) with $set; the desired
   * fields the API writes at the same time are never touched.
   */
  async updateDatabase(id: string, fields: DatabaseObservedFields): Promise<void> {
    const set: Record<string, unknown> = {};
    for (const field of DATABASE_OWNED_FIELDS) {
      if (fields[field] !== undefined) set[field] = fields[field];
    }
    if (set.status !== undefined && !DATABASE_STATUSES.includes(set.status as never)) {
      throw new Error(`database status ${String(set.status)} is not one the platform knows`);
    }
    set.updated_at = new Date();
    await this.databases.updateOne({ _id: id }, { $set: set });
  }

  /** Inserts an operation as the platform's Python API does (used by `enqueue`, demo, tests). */
  async createOperation(fields: NewOperation): Promise<Operation> {
    const document = newOperationDocument(fields);
    await this.operations.insertOne(document);
    return parseOperation(document);
  }

  async insertDatabase(doc: Database): Promise<void> {
    await this.databases.insertOne({ ...doc });
  }

  async insertProvider(doc: Provider): Promise<void> {
    await this.providers.insertOne({ ...doc });
  }

  /**
   * Newest first. A document that breaks the contract is left out and logged
   * (`operation_document_invalid`) so one bad document cannot hide all the others.
   */
  async listOperations(
    filter: { status?: OperationStatus[]; ids?: string[] } = {},
    limit = 100,
  ): Promise<Operation[]> {
    const query: Filter<StoredDocument> = {};
    // One status is an equality: FerretDB pushes that down to its backend, not `$in`, which
    // reads the whole collection (250 ms at 5,000 operations against 5 ms).
    if (filter.status)
      query.status = filter.status.length === 1 ? filter.status[0] : { $in: filter.status };
    if (filter.ids) query._id = { $in: filter.ids };
    const raws = await this.operations
      .find(query)
      .sort({ created_at: -1, _id: 1 })
      .limit(limit)
      .toArray();
    const operations: Operation[] = [];
    for (const raw of raws) {
      try {
        operations.push(parseOperation(raw));
      } catch (error) {
        this.logger?.warn({ operationId: raw._id, err: error }, 'operation_document_invalid');
      }
    }
    return operations;
  }

  /** Every known status with its count (zero when none). */
  /**
   * Unfinished operations nobody has touched since `before`: queued ones created earlier,
   * and in-progress ones whose worker last wrote earlier (or never, e.g. left by the old
   * worker). The supervisor checks that the queue still holds each of them.
   */
  async idleUnfinishedOperations(before: Date, limit: number): Promise<string[]> {
    const documents = await this.operations
      .find(
        {
          $or: [
            { status: 'queued', created_at: { $lt: before } },
            {
              status: 'in_progress',
              $or: [
                { 'worker_state.updated_at': { $lt: before } },
                { 'worker_state.updated_at': null },
              ],
            },
          ],
        },
        { projection: { _id: 1 }, limit },
      )
      .toArray();
    return documents.map((document) => String(document._id));
  }

  /**
   * The id of an operation of one of `types` on this database, other than `exceptId`, whose
   * change was applied after `appliedAfter` and that records (completed) or will record
   * (in progress) its result: the cluster shows that result, not the one applied at
   * `appliedAfter`. Null if there is none.
   */
  async newerAppliedOperation(
    databaseId: string,
    types: OperationType[],
    appliedAfter: Date,
    exceptId: string,
  ): Promise<string | null> {
    const newer = await this.operations.findOne(
      {
        database_id: databaseId,
        type: { $in: types },
        // Not only completed ones: one still in progress may have recorded its result
        // already, and a SIGKILL before it completes must not let an older one write over it.
        status: { $in: ['in_progress', 'completed'] },
        'worker_state.applied_at': { $gt: appliedAfter },
        _id: { $ne: exceptId },
      },
      { projection: { _id: 1 } },
    );
    return newer ? String(newer._id) : null;
  }

  async countOperationsByStatus(): Promise<Record<string, number>> {
    const counts: Record<string, number> = Object.fromEntries(
      OPERATION_STATUSES.map((status) => [status, 0]),
    );
    const groups = await this.operations
      .aggregate<{ _id: unknown; count: number }>([
        { $group: { _id: '$status', count: { $sum: 1 } } },
      ])
      .toArray();
    for (const group of groups) counts[String(group._id)] = Number(group.count);
    return counts;
  }
}
