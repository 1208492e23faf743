// runChaos: the chaos run. Starts its own Redis (append-only, as production runs it),
// FerretDB and KubeDB simulator on 127.0.0.1; seeds databases of every engine and topology;
// queues operations the way the platform's API does (document, dedup key, ZADD) while the
// real worker runs as a child process; makes the Kubernetes API fail a share of requests and
// cuts its watches; SIGKILLs the worker at random moments (starting it again each time),
// restarts Redis and FerretDB; then checks everything (see chaos-verify.ts) and reports.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MongoClient, type Db } from 'mongodb';
import { Redis } from 'ioredis';
import {
  ensureInstalled,
  startFerretDB,
  startRedis,
  type LocalServer,
  type MongoStore,
} from '../src/devstack/services.js';
import { OperationQueue } from '../src/shared/queue.js';
import { queueKeys } from '../src/shared/queue-keys.js';
import { newOperationDocument } from '../src/shared/store.js';
import type { Operation } from '../src/shared/types.js';
import { startSimulator, type Simulator } from '../src/sim/server.js';
import { observeDatabase, observeOpsRequests } from './chaos-observe.js';
import { between, buildPlan, seededRandom, type ChaosPlan } from './chaos-plan.js';
import { ChaosWorker } from './chaos-worker.js';
import {
  verify,
  type Check,
  type DisruptionCounts,
  type FinalState,
  type RedisLeftovers,
  type StoredDatabase,
} from './chaos-verify.js';

export interface ChaosOptions {
  operations: number;
  /** SIGKILLs of the worker, each followed by a fresh start. */
  kills: number;
  /** Seeds the plan and the disruption schedule (the simulator's fault draws are not). */
  seed: number;
  /** The whole run, setup to verdict, ends by then; what is unfinished then fails checks. */
  timeoutS: number;
  /** Databases to spread the operations over (default: one per 5 operations). */
  databases?: number;
  /** See PlanOptions.consistentTargets. */
  consistentTargets: boolean;
  /** Problems of known, reported bugs are listed but do not fail their check. */
  tolerateKnown: boolean;
  concurrency: number;
  threads: number;
  leaseMs: number;
  /** Time between one disruption and the next is drawn from this range. */
  killGapMs: [number, number];
  /** Operations arrive spread over this long, as the platform's users would send them. */
  arrivalMs: number;
  /** Share of Kubernetes API requests the simulator fails (500, 503, 429, reset). */
  errorRate: number;
  watchCutEveryMs: number;
  pendingMs: number;
  progressingMs: number;
  /** How long Redis and FerretDB stay down when they are restarted. */
  outageMs: number;
  redisRestarts: number;
  ferretdbRestarts: number;
  /** max_retries written on each operation document. */
  maxRetries: number;
  /** Keep the folder with the worker's logs even when every check passes. */
  keepLogs: boolean;
  /** Progress lines while it runs. */
  log: (line: string) => void;
  /** FerretDB's storage: sqlite (the devstack default) or postgresql (indexed, faster). */
  store: MongoStore;
  /** Aborting ends the run early (disruptions stop, the worker is stopped, then the verdict). */
  signal?: AbortSignal;
}

export const DEFAULT_CHAOS_OPTIONS: ChaosOptions = {
  operations: 2000,
  kills: 10,
  seed: 1,
  timeoutS: 3600,
  concurrency: 200,
  threads: 2,
  leaseMs: 3000,
  killGapMs: [3000, 8000],
  arrivalMs: 30_000,
  errorRate: 0.1,
  watchCutEveryMs: 4000,
  pendingMs: 100,
  progressingMs: 600,
  outageMs: 1500,
  redisRestarts: 1,
  ferretdbRestarts: 1,
  maxRetries: 10,
  consistentTargets: false,
  tolerateKnown: false,
  keepLogs: false,
  log: (line) => console.log(line),
  store: 'postgresql',
};

export interface ChaosFigures {
  operations: number;
  databases: number;
  byStatus: Record<string, number>;
  /** Sum of retry_count over all operations. */
  retries: number;
  operationsRetried: number;
  maxRetryCount: number;
  /** Sum of worker_state.restarts: how often operations were resumed by another worker. */
  resumes: number;
  kills: number;
  killsWithWorkInFlight: number;
  workerStarts: number;
  unexpectedExits: number;
  leasesRecovered: number;
  deadLetters: number;
  dropped: number;
  redisRestarts: number;
  ferretdbRestarts: number;
  apiRequests: number;
  faultsInjected: Record<string, number>;
  watchesOpened: number;
  opsRequests: number;
  wallSeconds: number;
  /** created_at to completed_at of completed operations, in seconds. */
  timeToComplete: { p50: number; p95: number; max: number };
  /** From the last disruption to every operation final. */
  drainSeconds: number | null;
  /** Log events of the worker processes (warn and above, and a few info ones), by name. */
  logEvents: Record<string, number>;
}

export interface ChaosReport {
  ok: boolean;
  options: Omit<ChaosOptions, 'log' | 'signal'>;
  checks: Check[];
  figures: ChaosFigures;
  /** Folder with the worker's log, kept when a check failed or keepLogs is set. */
  logDir: string | null;
}

const DATABASE_NAME = 'dbaas_chaos';

export async function runChaos(overrides: Partial<ChaosOptions> = {}): Promise<ChaosReport> {
  const options: ChaosOptions = { ...DEFAULT_CHAOS_OPTIONS, ...overrides };
  const { log } = options;
  const startedAt = Date.now();
  const deadline = new Deadline(startedAt + options.timeoutS * 1000, options.signal);
  const plan = buildPlan({
    operations: options.operations,
    seed: options.seed,
    databases: options.databases,
    consistentTargets: options.consistentTargets,
  });
  const random = seededRandom(options.seed ^ 0x5eed);
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'dbaas-chaos-'));

  ensureInstalled({ postgres: options.store === 'postgresql' });
  const redisServer = await startRedis({ appendOnly: true, databases: 16 });
  const cleanup: Array<() => Promise<unknown>> = [() => redisServer.destroy()];
  let worker: ChaosWorker | null = null;
  let keepLogs = true;
  try {
    const mongoServer = await startFerretDB({ store: options.store });
    cleanup.push(() => mongoServer.destroy());
    const sim = await startSimulator({
      timings: { pendingMs: options.pendingMs, progressingMs: options.progressingMs },
      seed: plan.databases.map((db) => db.seed),
    });
    cleanup.push(() => sim.stop());
    const mongo = await MongoClient.connect(`${mongoServer.url}/${DATABASE_NAME}`, {
      serverSelectionTimeoutMS: 30_000,
      // A stalled server fails the driver's reads instead of hanging the run.
      socketTimeoutMS: 60_000,
    });
    cleanup.push(() => mongo.close());
    const db = mongo.db(DATABASE_NAME);
    const redis = new Redis(redisServer.url, { maxRetriesPerRequest: null });
    redis.on('error', () => undefined);
    cleanup.push(async () => redis.disconnect());
    const queue = new OperationQueue(redis, {
      workerId: 'chaos-driver',
      leaseMs: options.leaseMs,
      retryBaseMs: 100,
      retryMaxMs: 1000,
    });

    await insertDatabases(db, plan, sim);
    const ids = operationIds(plan, options.seed);
    log(
      `chaos: ${plan.operations.length} operations over ${plan.databases.length} databases, ` +
        `seed ${options.seed}, logs in ${logDir}`,
    );

    worker = new ChaosWorker(
      workerEnv(options, redisServer, mongoServer, sim),
      path.join(logDir, 'worker.log'),
      startedAt,
    );
    sim.setFaults({
      errorRate: options.errorRate,
      errorKinds: [500, 503, 429, 'reset'],
      retryAfterSeconds: 1,
      watchCutEveryMs: options.watchCutEveryMs,
    });
    worker.start();

    const progress = new Progress(db, options.operations);
    const arrivals = queueOperations(db, redis, plan, ids, options, deadline);
    const disruptions = disrupt({
      options,
      random,
      deadline,
      worker,
      redisServer,
      mongoServer,
      progress,
      log,
      startedAt,
    });
    const reporter = setInterval(() => {
      const s = progress.last;
      log(
        `t=${((Date.now() - startedAt) / 1000).toFixed(0)}s queued=${s.queued} ` +
          `in_progress=${s.in_progress} completed=${s.completed} failed=${s.failed} ` +
          `kills=${disruptions.counts.kills}`,
      );
    }, 5_000);
    let drainSeconds: number | null = null;
    try {
      await arrivals;
      await disruptions.done;
      const calmAt = Date.now();
      const drained = await progress.waitUntilFinal(deadline);
      if (drained) drainSeconds = (Date.now() - calmAt) / 1000;
      await waitFor(deadline.min(Date.now() + 15_000), async () => {
        const [processing, leases] = await Promise.all([
          redis.scard(queueKeys.processing),
          redis.zcard(queueKeys.leases),
        ]);
        return processing === 0 && leases === 0;
      });
    } finally {
      clearInterval(reporter);
      sim.setFaults({ errorRate: 0, watchCutEveryMs: 0 });
    }

    const finalExit = await worker.stop(30_000);
    const counts: DisruptionCounts = {
      ...disruptions.counts,
      killsWanted: options.kills,
      redisRestartsWanted: options.redisRestarts,
      ferretdbRestartsWanted: options.ferretdbRestarts,
      unexpectedExits: worker.unexpectedExits,
      finalExit,
    };
    const logFile = path.join(logDir, 'worker.log');
    const state = await collect(db, redis, sim, plan, ids, droppedAsFailed(logFile));
    const checks = verify(plan, state, counts, { tolerateKnown: options.tolerateKnown });
    const stats = await queue.stats();
    const figures = summarize(plan, state, counts, stats, sim, {
      workerStarts: worker.starts,
      wallSeconds: (Date.now() - startedAt) / 1000,
      drainSeconds,
      logEvents: countLogEvents(logFile),
    });
    const ok = checks.every((c) => c.ok);
    keepLogs = !ok || options.keepLogs;
    const { log: _log, signal: _signal, ...shown } = options;
    return { ok, options: shown, checks, figures, logDir: keepLogs ? logDir : null };
  } finally {
    await worker?.destroy();
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
    // A failed (or crashed) run keeps the worker's log; the report says where.
    if (!keepLogs) rmSync(logDir, { recursive: true, force: true });
  }
}

function workerEnv(
  options: ChaosOptions,
  redis: LocalServer,
  mongo: LocalServer,
  sim: Simulator,
): Record<string, string> {
  return {
    REDIS_URL: `${redis.url}/0`,
    MONGODB_URL: `${mongo.url}/${DATABASE_NAME}`,
    KUBECONFIG: sim.kubeconfigPath,
    WORKER_CONCURRENCY: String(options.concurrency),
    WORKER_THREADS: String(options.threads),
    LEASE_TTL_MS: String(options.leaseMs),
    LEASE_RENEW_MS: String(Math.floor(options.leaseMs / 3)),
    CLAIM_POLL_MS: '100',
    RETRY_BASE_MS: '250',
    RETRY_MAX_MS: '2000',
    DATABASE_BUSY_DELAY_MS: '1000',
    WATCH_IDLE_MS: '5000',
    RESYNC_MS: '15000',
    KUBE_REQUEST_TIMEOUT_MS: '5000',
    DELETE_FINISHED_OPS_REQUESTS: 'false',
    SHUTDOWN_GRACE_MS: '5000',
    ADMIN_PORT: '0',
    LOG_LEVEL: 'info',
  };
}

/** The platform's database documents, with observed fields read from the seeded cluster. */
async function insertDatabases(db: Db, plan: ChaosPlan, sim: Simulator): Promise<void> {
  const documents = plan.databases.map((planned) => {
    const { seed } = planned;
    const observed = observeDatabase(sim, seed.engine, seed.namespace, seed.name);
    if (!observed) throw new Error(`the simulator has no ${seed.engine} ${seed.name}`);
    return {
      _id: planned.id,
      name: seed.name,
      domain: 'chaos',
      project: seed.namespace,
      engine: seed.engine,
      version: observed.version,
      size: seed.size,
      storage_gb: seed.storageGb,
      replicas: observed.replicas ?? 1,
      current_size: observed.size,
      current_storage_gb: observed.storageGb,
      current_replicas: observed.replicas ?? 1,
      status: 'running',
      health_status: 'healthy',
      kubedb_resource_name: seed.name,
      namespace: seed.namespace,
      provider_id: null,
    };
  });
  await db.collection<{ _id: string }>('databases').insertMany(documents);
}

/** Ids fixed up front, so an insert retried after a lost reply cannot make a second one. */
function operationIds(plan: ChaosPlan, seed: number): string[] {
  const random = seededRandom(seed ^ 0x0b5);
  const hex = () =>
    Math.floor(random() * 0x1000000)
      .toString(16)
      .padStart(6, '0');
  const ids = new Set<string>();
  while (ids.size < plan.operations.length) ids.add(`op-${hex()}${hex()}`);
  return [...ids];
}

/** What the platform's API does for each operation: document, dedup key, ZADD. */
async function queueOperations(
  db: Db,
  redis: Redis,
  plan: ChaosPlan,
  ids: string[],
  options: ChaosOptions,
  deadline: Deadline,
): Promise<void> {
  const operations = db.collection<{ _id: string }>('operations');
  const started = Date.now();
  const batches = Math.max(1, Math.ceil(options.arrivalMs / 250));
  const perBatch = Math.ceil(plan.operations.length / batches);
  for (let first = 0; first < plan.operations.length; first += perBatch) {
    const due = started + (first / plan.operations.length) * options.arrivalMs;
    await sleep(due - Date.now());
    if (deadline.passed()) return;
    const batch = plan.operations.slice(first, first + perBatch);
    await Promise.all(
      batch.map(async (planned, offset) => {
        const id = ids[first + offset]!;
        const database = plan.databases[planned.database]!;
        await persist(deadline, async () => {
          try {
            await operations.insertOne(operationDocument(id, database.id, planned, options));
          } catch (error) {
            if ((error as { code?: number }).code !== 11000) throw error;
          }
        });
        await persist(deadline, () =>
          redis.set(queueKeys.dedup(database.id, planned.type), id, 'EX', 3600),
        );
        await persist(deadline, () => redis.zadd(queueKeys.pending, planned.priority, id));
      }),
    );
  }
}

function operationDocument(
  id: string,
  databaseId: string,
  planned: ChaosPlan['operations'][number],
  options: ChaosOptions,
) {
  return newOperationDocument({
    _id: id,
    database_id: databaseId,
    type: planned.type,
    desired_state: planned.desired,
    max_retries: options.maxRetries,
    created_by: 'chaos',
    domain: 'chaos',
    project: 'chaos',
  });
}

/** Retries a write of the driver (the platform's side) while Redis or FerretDB is away. */
async function persist<T>(deadline: Deadline, write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      if (deadline.passed()) throw error;
      await sleep(Math.min(2_000, 50 * 2 ** attempt));
    }
  }
}

type StatusCounts = Record<'queued' | 'in_progress' | 'completed' | 'failed' | 'other', number>;

/** Counts operations by status every second (the last good count when FerretDB is away). */
class Progress {
  last: StatusCounts = { queued: 0, in_progress: 0, completed: 0, failed: 0, other: 0 };

  constructor(
    private readonly db: Db,
    private readonly total: number,
  ) {}

  async refresh(): Promise<StatusCounts> {
    try {
      const groups = await withTimeout(
        10_000,
        this.db
          .collection('operations')
          .aggregate<{ _id: string; count: number }>([
            { $group: { _id: '$status', count: { $sum: 1 } } },
          ])
          .toArray(),
      );
      const counts: StatusCounts = { queued: 0, in_progress: 0, completed: 0, failed: 0, other: 0 };
      for (const group of groups) {
        const key = group._id in counts ? (group._id as keyof StatusCounts) : 'other';
        counts[key] += group.count;
      }
      this.last = counts;
    } catch {
      // FerretDB is restarting or slow: keep the last count.
    }
    return this.last;
  }

  /** Work is in flight: some operation exists that is not final. */
  async busy(): Promise<boolean> {
    const counts = await this.refresh();
    const final = counts.completed + counts.failed + counts.other;
    return counts.queued + counts.in_progress > 0 || final < this.total;
  }

  async waitUntilFinal(deadline: Deadline): Promise<boolean> {
    while (!deadline.passed()) {
      if (!(await this.busy())) return true;
      await sleep(1_000);
    }
    return false;
  }
}

interface DisruptionInput {
  options: ChaosOptions;
  random: () => number;
  deadline: Deadline;
  worker: ChaosWorker;
  redisServer: LocalServer;
  mongoServer: LocalServer;
  progress: Progress;
  log: (line: string) => void;
  startedAt: number;
}

type Disruption = 'kill' | 'redis' | 'ferretdb';

/**
 * The schedule: `kills` SIGKILLs a random gap apart, with the Redis and FerretDB restarts
 * slotted in after a third and two thirds of them; the gaps are drawn from the seed.
 */
function schedule(options: ChaosOptions): Disruption[] {
  const events: Disruption[] = Array.from({ length: options.kills }, () => 'kill' as const);
  const slot = (share: number) => Math.max(1, Math.round(options.kills * share));
  for (let i = 0; i < options.ferretdbRestarts; i++) events.splice(slot(2 / 3) + i, 0, 'ferretdb');
  for (let i = 0; i < options.redisRestarts; i++) events.splice(slot(1 / 3) + i, 0, 'redis');
  return events;
}

function disrupt(input: DisruptionInput) {
  const { options, random, deadline, worker, progress, log, startedAt } = input;
  const counts = {
    kills: 0,
    killsWithWorkInFlight: 0,
    redisRestarts: 0,
    ferretdbRestarts: 0,
  };
  const at = () => `${((Date.now() - startedAt) / 1000).toFixed(1)}s`;
  const restart = async (server: LocalServer, name: string) => {
    log(`${at()} ${name} down for ${options.outageMs} ms`);
    await server.stop();
    await sleep(options.outageMs);
    await server.restart();
    log(`${at()} ${name} back`);
  };

  const done = (async () => {
    for (const event of schedule(options)) {
      const [low, high] = options.killGapMs;
      await sleep(between(random, low, high));
      if (deadline.passed()) break;
      if (event === 'kill') {
        const busy = await progress.busy();
        if (await worker.kill()) {
          counts.kills += 1;
          if (busy) counts.killsWithWorkInFlight += 1;
          log(`${at()} SIGKILL ${counts.kills}${busy ? '' : ' (nothing in flight)'}`);
        }
        worker.start();
      } else if (event === 'redis') {
        await restart(input.redisServer, 'Redis');
        counts.redisRestarts += 1;
      } else {
        await restart(input.mongoServer, 'FerretDB');
        counts.ferretdbRestarts += 1;
      }
    }
  })();
  return { counts, done };
}

async function collect(
  db: Db,
  redis: Redis,
  sim: Simulator,
  plan: ChaosPlan,
  ids: string[],
  droppedAsFailed: Set<string>,
): Promise<FinalState> {
  const operations = new Map<string, Operation>();
  for (const raw of await db.collection<{ _id: string }>('operations').find({}).toArray()) {
    operations.set(raw._id, raw as unknown as Operation);
  }
  const databases = new Map<string, StoredDatabase>();
  for (const raw of await db.collection<{ _id: string }>('databases').find({}).toArray()) {
    databases.set(raw._id, raw as StoredDatabase);
  }
  const observed = new Map(
    plan.databases.map((planned) => [
      planned.id,
      observeDatabase(sim, planned.seed.engine, planned.seed.namespace, planned.seed.name),
    ]),
  );
  const leftovers: RedisLeftovers = {
    pending: await redis.zcard(queueKeys.pending),
    delayed: await redis.zcard(queueKeys.delayed),
    processing: await redis.scard(queueKeys.processing),
    leases: await redis.zcard(queueKeys.leases),
    leaseKeys: await scan(redis, 'operations:lease:*'),
    dedupKeys: await scan(redis, 'operations:dedup:*'),
    databaseLocks: await scan(redis, 'operations:dblock:*'),
  };
  const deadLetters = new Set(await redis.zrange(queueKeys.dead, 0, -1));
  return {
    ids,
    operations,
    databases,
    observed,
    opsRequests: observeOpsRequests(sim),
    redis: leftovers,
    deadLetters,
    droppedAsFailed,
  };
}

async function scan(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys.sort();
}

function summarize(
  plan: ChaosPlan,
  state: FinalState,
  counts: DisruptionCounts,
  stats: { leasesRecovered: number; dropped: number },
  sim: Simulator,
  extra: Pick<ChaosFigures, 'workerStarts' | 'wallSeconds' | 'drainSeconds' | 'logEvents'>,
): ChaosFigures {
  const operations = [...state.operations.values()];
  const byStatus: Record<string, number> = {};
  for (const op of operations) byStatus[op.status] = (byStatus[op.status] ?? 0) + 1;
  const simStats = sim.stats();
  const took = operations
    .filter((op) => op.status === 'completed' && op.completed_at)
    .map((op) => (op.completed_at!.getTime() - op.created_at.getTime()) / 1000)
    .sort((a, b) => a - b);
  const quantile = (q: number) => took[Math.min(took.length - 1, Math.floor(q * took.length))] ?? 0;
  return {
    operations: operations.length,
    databases: plan.databases.length,
    byStatus,
    retries: operations.reduce((sum, op) => sum + (op.retry_count ?? 0), 0),
    operationsRetried: operations.filter((op) => (op.retry_count ?? 0) > 0).length,
    maxRetryCount: Math.max(0, ...operations.map((op) => op.retry_count ?? 0)),
    resumes: operations.reduce((sum, op) => sum + (op.worker_state?.restarts ?? 0), 0),
    kills: counts.kills,
    killsWithWorkInFlight: counts.killsWithWorkInFlight,
    workerStarts: extra.workerStarts,
    unexpectedExits: counts.unexpectedExits.length,
    leasesRecovered: stats.leasesRecovered,
    deadLetters: state.deadLetters.size,
    dropped: stats.dropped,
    redisRestarts: counts.redisRestarts,
    ferretdbRestarts: counts.ferretdbRestarts,
    apiRequests: simStats.total,
    faultsInjected: simStats.faults,
    watchesOpened: simStats.watchesOpened,
    opsRequests: state.opsRequests.length,
    wallSeconds: extra.wallSeconds,
    timeToComplete: { p50: quantile(0.5), p95: quantile(0.95), max: took.at(-1) ?? 0 },
    drainSeconds: extra.drainSeconds,
    logEvents: extra.logEvents,
  };
}

const INFO_EVENTS = new Set([
  'operation_resumed',
  'operation_retry_scheduled',
  'change_already_applied',
  'operation_released',
]);

function readLog(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n');
  } catch {
    return [];
  }
}

/** Ids the worker's log says were dropped because MongoDB had them failed or timed out. */
function droppedAsFailed(file: string): Set<string> {
  const ids = new Set<string>();
  for (const line of readLog(file)) {
    if (!line.includes('"queue_member_dropped"')) continue;
    let entry: { operationId?: string; reason?: string };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue; // a line cut short when the worker was killed
    }
    if (entry.operationId && /^operation_(failed|timeout)$/.test(entry.reason ?? '')) {
      ids.add(entry.operationId);
    }
  }
  return ids;
}

function countLogEvents(file: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of readLog(file)) {
    const match = /"level":(\d+).*?"msg":"([a-z_]+)"/.exec(line);
    if (!match) continue;
    const [, level, event] = match;
    if (Number(level) >= 40 || INFO_EVENTS.has(event!)) counts[event!] = (counts[event!] ?? 0) + 1;
  }
  return counts;
}

async function waitFor(deadline: Deadline, ready: () => Promise<boolean>) {
  while (!deadline.passed()) {
    if (await ready().catch(() => false)) return true;
    await sleep(250);
  }
  return false;
}

/** The run's time limit, which an abort signal brings forward to now. */
class Deadline {
  constructor(
    readonly at: number,
    private readonly signal?: AbortSignal,
  ) {}

  passed(): boolean {
    return Date.now() > this.at || this.signal?.aborted === true;
  }

  /** The same limit, or `at` if that comes first. */
  min(at: number): Deadline {
    return new Deadline(Math.min(this.at, at), this.signal);
  }
}

function withTimeout<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
