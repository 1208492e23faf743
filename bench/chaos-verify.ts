// The chaos run's verdict: after the worker has been killed, Redis and FerretDB restarted and
// the Kubernetes API made flaky, every claim the product makes is checked against the
// documents, the queue and the simulated cluster. Each check lists its first problems so a
// failed run says what to look at.

import type { Operation } from '../src/shared/types.js';
import type { ObservedDatabase, ObservedOpsRequest } from './chaos-observe.js';
import type { ChaosPlan } from './chaos-plan.js';

export interface Check {
  name: string;
  ok: boolean;
  summary: string;
  /** The first problems found (all of them are counted in problemCount). */
  problems: string[];
  problemCount: number;
  /** Problems of a known, reported bug (docs/RELIABILITY.md): they fail unless tolerated. */
  known: string[];
  knownCount: number;
}

/** Operation and database documents as stored (read raw, so a malformed one is seen too). */
export type StoredOperation = Operation;
export type StoredDatabase = Record<string, unknown> & { _id: string };

export interface RedisLeftovers {
  pending: number;
  delayed: number;
  processing: number;
  leases: number;
  leaseKeys: string[];
  dedupKeys: string[];
  databaseLocks: string[];
}

export interface FinalState {
  /** Operation id of each planned operation, in plan order. */
  ids: string[];
  operations: Map<string, StoredOperation>;
  databases: Map<string, StoredDatabase>;
  observed: Map<string, ObservedDatabase | null>;
  opsRequests: ObservedOpsRequest[];
  redis: RedisLeftovers;
  deadLetters: Set<string>;
  /** Ids a worker dropped from the queue because MongoDB already had them failed or timed out. */
  droppedAsFailed: Set<string>;
}

export interface VerifyOptions {
  /** Known bugs whose problems are listed but do not fail their check. */
  tolerateKnown: boolean;
}

export interface DisruptionCounts {
  kills: number;
  /** Kills that hit the worker while some operation was not final yet. */
  killsWithWorkInFlight: number;
  killsWanted: number;
  redisRestarts: number;
  redisRestartsWanted: number;
  ferretdbRestarts: number;
  ferretdbRestartsWanted: number;
  unexpectedExits: string[];
  /** Exit code of the final SIGTERM, or a description of how it failed. */
  finalExit: number | string | null;
}

const MAX_PROBLEMS = 25;

function check(name: string, problems: string[], summary: string, known: string[] = []): Check {
  return {
    name,
    ok: problems.length === 0 && known.length === 0,
    summary,
    problems: problems.slice(0, MAX_PROBLEMS),
    problemCount: problems.length,
    known: known.slice(0, MAX_PROBLEMS),
    knownCount: known.length,
  };
}

const OPS_REQUEST_TYPES: Record<string, string> = {
  scale_vertical: 'VerticalScaling',
  scale_horizontal: 'HorizontalScaling',
  expand_storage: 'VolumeExpansion',
  upgrade_version: 'UpdateVersion',
  restart: 'Restart',
};

export function verify(
  plan: ChaosPlan,
  state: FinalState,
  disruptions: DisruptionCounts,
  options: VerifyOptions = { tolerateKnown: false },
): Check[] {
  const checks = [
    noneLost(state),
    allFinal(state),
    expectedOutcomes(plan, state),
    recordsTrue(plan, state),
    appliedAsRecorded(plan, state),
    noDuplicateOpsRequests(state),
    deadLettersMatch(state),
    redisClean(state),
    disruptionsDone(disruptions),
    workerExits(disruptions),
  ];
  if (!options.tolerateKnown) return checks;
  return checks.map((c) => ({ ...c, ok: c.problems.length === 0 }));
}

function noneLost(state: FinalState): Check {
  const missing = state.ids.filter((id) => !state.operations.has(id));
  return check(
    'none_lost',
    missing.map((id) => `${id}: no operation document`),
    `${state.operations.size} of ${state.ids.length} operation documents present`,
  );
}

function describe(operation: StoredOperation): string {
  const ws = operation.worker_state;
  return (
    `${operation._id} ${operation.type} status=${operation.status} step=${ws?.step ?? '-'} ` +
    `attempt=${ws?.attempt ?? '-'} retries=${operation.retry_count} ` +
    `restarts=${ws?.restarts ?? 0} error=${JSON.stringify(operation.error_message ?? null)}`
  );
}

function allFinal(state: FinalState): Check {
  const open = [...state.operations.values()].filter(
    (op) => op.status === 'queued' || op.status === 'in_progress',
  );
  return check(
    'all_final',
    open.map(describe),
    `${state.operations.size - open.length} of ${state.operations.size} in a final state`,
  );
}

function expectedOutcomes(plan: ChaosPlan, state: FinalState): Check {
  const problems: string[] = [];
  let exhausted = 0;
  plan.operations.forEach((planned, index) => {
    const operation = state.operations.get(state.ids[index]!);
    if (!operation) return;
    if (operation.status !== planned.expect) {
      if (/gave up after/.test(operation.error_message ?? '')) exhausted += 1;
      problems.push(`expected ${planned.expect}: ${describe(operation)}`);
      return;
    }
    if (planned.expect === 'failed') {
      if (planned.error && !planned.error.test(operation.error_message ?? '')) {
        problems.push(
          `failed for the wrong reason (want ${planned.error}): ${describe(operation)}`,
        );
      }
      // Retries are allowed: a transient fault (FerretDB busy, say) may come before the
      // request is validated. Giving up after retries is not a valid reason to fail.
      if (/gave up after/.test(operation.error_message ?? '')) {
        problems.push(`an invalid request was retried until it gave up: ${describe(operation)}`);
      }
    }
  });
  const valid = plan.operations.filter((p) => p.expect === 'completed').length;
  return check(
    'expected_outcomes',
    problems,
    `${valid} valid operations must complete and ${plan.operations.length - valid} invalid ` +
      `ones fail with their reason; a valid one failed after running out of ` +
      `retries counts as a problem (${exhausted} did)`,
  );
}

function recordsTrue(plan: ChaosPlan, state: FinalState): Check {
  const problems: string[] = [];
  for (const planned of plan.databases) {
    const record = state.databases.get(planned.id);
    const observed = state.observed.get(planned.id);
    const where = `${planned.id} (${planned.seed.engine} ${planned.seed.topology} ${planned.seed.name})`;
    if (!record || !observed) {
      problems.push(`${where}: ${record ? 'no resource in the cluster' : 'no database document'}`);
      continue;
    }
    const compare = (field: string, recorded: unknown, actual: unknown) => {
      if (recorded !== actual) {
        problems.push(
          `${where}: ${field} is ${JSON.stringify(recorded)} but the cluster has ` +
            JSON.stringify(actual),
        );
      }
    };
    compare('current_size', record.current_size, observed.size ?? observed.sizes.join(' '));
    compare('current_storage_gb', record.current_storage_gb, observed.storageGb);
    if (observed.replicas !== null) {
      compare('current_replicas', record.current_replicas, observed.replicas);
    }
    compare('version', record.version, observed.version);
    const status = planned.role === 'pause' && observed.halted ? 'paused' : 'running';
    compare('status', record.status, status);
  }
  return check(
    'database_records_true',
    problems,
    `${plan.databases.length} database documents compared with the simulator's resources ` +
      '(size, storage, replicas, version, status)',
  );
}

function appliedAsRecorded(plan: ChaosPlan, state: FinalState): Check {
  const problems: string[] = [];
  const byName = new Map(state.opsRequests.map((o) => [`${o.namespace}/${o.name}`, o]));
  let checked = 0;

  plan.operations.forEach((planned, index) => {
    const operation = state.operations.get(state.ids[index]!);
    const opsType = OPS_REQUEST_TYPES[planned.type];
    if (!operation || operation.status !== 'completed' || !opsType) return;
    checked += 1;
    const database = plan.databases[planned.database]!;
    const observed = state.observed.get(database.id);
    const name = operation.ops_request_name;
    const opsRequest = name ? byName.get(`${database.seed.namespace}/${name}`) : undefined;
    const successful =
      opsRequest?.phase === 'Successful' &&
      opsRequest.operationId === operation._id &&
      opsRequest.type === opsType;
    if (successful) return;
    // A storage expansion finds the volume already at its size (another operation of the
    // same target got there first) and completes without an OpsRequest of its own.
    const alreadyThere =
      planned.type === 'expand_storage' &&
      observed?.storageGb === planned.desired.storage_gb &&
      operation.ops_request_phase !== 'Successful';
    if (alreadyThere) return;
    problems.push(
      `completed without a Successful ${opsType} OpsRequest of its own: ${describe(operation)} ` +
        `ops_request=${name ?? '-'} phase=${opsRequest?.phase ?? 'missing'}`,
    );
  });

  // The last change KubeDB applied to each database is the one its resource shows.
  const idIndex = new Map(state.ids.map((id, index) => [id, index]));
  const last = new Map<string, ObservedOpsRequest>();
  for (const opsRequest of state.opsRequests) {
    if (opsRequest.phase !== 'Successful') continue;
    const index = idIndex.get(opsRequest.operationId ?? '');
    if (index === undefined) continue;
    const key = `${plan.operations[index]!.database}/${opsRequest.type}`;
    const previous = last.get(key);
    if (!previous || previous.resourceVersion < opsRequest.resourceVersion) {
      last.set(key, opsRequest);
    }
  }
  for (const [key, opsRequest] of last) {
    const planned = plan.operations[idIndex.get(opsRequest.operationId!)!]!;
    const database = plan.databases[Number(key.split('/')[0])]!;
    const observed = state.observed.get(database.id);
    if (!observed) continue;
    const expected: Record<string, [unknown, unknown]> = {
      VerticalScaling: [planned.desired.size, observed.size],
      HorizontalScaling: [planned.desired.replicas, observed.replicas],
      UpdateVersion: [planned.desired.target_version, observed.version],
    };
    const pair = expected[opsRequest.type];
    if (pair && pair[0] !== pair[1]) {
      problems.push(
        `${database.id}: the last Successful ${opsRequest.type} (${opsRequest.name}) asked for ` +
          `${JSON.stringify(pair[0])} but the resource has ${JSON.stringify(pair[1])}`,
      );
    }
  }
  return check(
    'completed_operations_applied',
    problems,
    `${checked} completed operations each have a Successful OpsRequest of their own ` +
      `(or found their storage already there); the last one applied per database and kind ` +
      'matches the resource',
  );
}

function noDuplicateOpsRequests(state: FinalState): Check {
  const known = new Set(state.ids);
  const seen = new Map<string, string[]>();
  const problems: string[] = [];
  for (const opsRequest of state.opsRequests) {
    if (!opsRequest.operationId || !known.has(opsRequest.operationId) || !opsRequest.attempt) {
      problems.push(`${opsRequest.namespace}/${opsRequest.name}: labels name no planned operation`);
      continue;
    }
    const key = `${opsRequest.operationId}/${opsRequest.attempt}`;
    seen.set(key, [...(seen.get(key) ?? []), opsRequest.name]);
  }
  for (const [key, names] of seen) {
    if (names.length > 1)
      problems.push(`${key}: ${names.length} OpsRequests (${names.join(', ')})`);
  }
  return check(
    'no_duplicate_ops_requests',
    problems,
    `${state.opsRequests.length} OpsRequests for ${seen.size} (operation, attempt) pairs`,
  );
}

function deadLettersMatch(state: FinalState): Check {
  const problems: string[] = [];
  const known: string[] = [];
  for (const operation of state.operations.values()) {
    const dead = state.deadLetters.has(operation._id);
    const failed = operation.status === 'failed' || operation.status === 'timeout';
    if (failed && !dead && state.droppedAsFailed.has(operation._id)) {
      // Known bug: its worker died after MongoDB's final write and before the dead letter;
      // the next claim found it failed and dropped it instead of dead-lettering it.
      known.push(`${operation._id} ${operation.status}: dropped on a later claim, no dead letter`);
    } else if (failed && !dead) {
      problems.push(`${operation._id} ${operation.status} but not dead-lettered`);
    }
    if (!failed && dead) problems.push(`${operation._id} ${operation.status} but dead-lettered`);
  }
  return check(
    'dead_letters_match',
    problems,
    `${state.deadLetters.size} dead letters, one per failed operation`,
    known,
  );
}

function redisClean(state: FinalState): Check {
  const r = state.redis;
  const problems: string[] = [];
  const counts: Array<[string, number]> = [
    ['operations:pending', r.pending],
    ['operations:delayed', r.delayed],
    ['operations:processing', r.processing],
    ['operations:leases', r.leases],
  ];
  for (const [key, count] of counts) if (count > 0) problems.push(`${key} holds ${count}`);
  for (const key of [...r.leaseKeys, ...r.dedupKeys, ...r.databaseLocks]) {
    problems.push(`${key} left behind`);
  }
  return check(
    'redis_clean',
    problems,
    'no pending, delayed, processing or leased ids, lease, dedup or database-lock keys left',
  );
}

function disruptionsDone(d: DisruptionCounts): Check {
  const problems: string[] = [];
  if (d.killsWithWorkInFlight < d.killsWanted) {
    problems.push(
      `${d.killsWithWorkInFlight} SIGKILLs with work in flight (${d.kills} in all), ` +
        `${d.killsWanted} wanted`,
    );
  }
  if (d.redisRestarts < d.redisRestartsWanted) problems.push('Redis was not restarted');
  if (d.ferretdbRestarts < d.ferretdbRestartsWanted) problems.push('FerretDB was not restarted');
  return check(
    'disruptions_done',
    problems,
    `${d.kills} SIGKILLs (${d.killsWithWorkInFlight} with work in flight), ` +
      `${d.redisRestarts} Redis and ${d.ferretdbRestarts} FerretDB restarts`,
  );
}

function workerExits(d: DisruptionCounts): Check {
  const problems = [...d.unexpectedExits];
  if (d.finalExit !== 0) problems.push(`final SIGTERM: ${String(d.finalExit)}`);
  return check(
    'worker_exits',
    problems,
    'the worker never exited unasked and left with code 0 on the final SIGTERM',
  );
}
