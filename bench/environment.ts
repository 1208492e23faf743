// What the end-to-end benchmarks run against: their own Redis and FerretDB (startStack),
// FerretDB on PostgreSQL unless `--store sqlite` (on SQLite every update scans its whole
// collection and writes are serialized, so the figures would measure FerretDB, not the
// worker), their own KubeDB simulator, all on 127.0.0.1, and platform documents seeded in bulk the
// way the platform's API writes them (one database per operation, so no operation waits
// for another's database lock).

import { randomBytes } from 'node:crypto';
import { MongoClient, type Db } from 'mongodb';
import { Redis } from 'ioredis';
import { startStack, type MongoStore, type Stack } from '../src/devstack/services.js';
import { loadConfig, type Config } from '../src/shared/config.js';
import { queueKeys } from '../src/shared/queue-keys.js';
import { newOperationDocument } from '../src/shared/store.js';
import { startSimulator, type Simulator, type SimulatorTimings } from '../src/sim/server.js';
import type { Faults } from '../src/sim/faults.js';
import { choiceFlag } from './flags.js';
import { onInterrupt } from './interrupt.js';

export const NAMESPACE = 'bench';
export const DATABASE_NAME = 'dbaas_bench';

export interface BenchEnvironment {
  stack: Stack;
  /** Where FerretDB keeps the documents. */
  store: MongoStore;
  sim: Simulator;
  mongo: MongoClient;
  db: Db;
  /** A control connection for the benchmark's own ZADDs and reads. */
  redis: Redis;
  redisUrl: string;
  mongodbUrl: string;
  /** Environment variables a worker needs to reach all of the above. */
  workerEnv(overrides?: Record<string, string>): Record<string, string>;
  workerConfig(overrides?: Record<string, string>): Config;
  destroy(): Promise<void>;
}

export async function startEnvironment(
  options: {
    timings?: Partial<SimulatorTimings>;
    faults?: Partial<Faults>;
    /** Defaults to the `--store` flag, itself postgresql by default. */
    store?: MongoStore;
  } = {},
): Promise<BenchEnvironment> {
  const store = options.store ?? choiceFlag('store');
  const stack = await startStack({ store });
  const sim = await startSimulator({ timings: options.timings, faults: options.faults });
  const mongodbUrl = `${stack.mongo.url}/${DATABASE_NAME}`;
  const mongo = await MongoClient.connect(mongodbUrl);
  const redis = new Redis(stack.redis.url);
  console.log(`environment: FerretDB on ${store} (--store postgresql|sqlite)`);
  const destroy = async () => {
    forget();
    redis.disconnect();
    await mongo.close();
    await sim.stop();
    await stack.destroy();
  };
  const forget = onInterrupt(destroy);
  const workerEnv = (overrides: Record<string, string> = {}) => ({
    REDIS_URL: stack.redis.url,
    MONGODB_URL: mongodbUrl,
    KUBECONFIG: sim.kubeconfigPath,
    ADMIN_PORT: '0',
    LOG_LEVEL: 'warn',
    ...overrides,
  });
  return {
    stack,
    store,
    sim,
    mongo,
    db: mongo.db(DATABASE_NAME),
    redis,
    redisUrl: stack.redis.url,
    mongodbUrl,
    workerEnv,
    workerConfig: (overrides) => loadConfig(workerEnv(overrides)),
    destroy,
  };
}

/**
 * Seeds `count` Postgres databases (in the simulator and in MongoDB) and one queued
 * scale_vertical operation for each (db.t3.small -> db.t3.medium). Returns the operation
 * ids; nothing is enqueued.
 */
export async function seedOperations(env: BenchEnvironment, count: number): Promise<string[]> {
  const run = randomBytes(3).toString('hex');
  const hex = (i: number) => `${run}${i.toString(16).padStart(6, '0')}`;
  const now = new Date();
  const databases = [];
  const operations = [];
  for (let i = 0; i < count; i++) {
    const name = `pg-${hex(i)}`;
    databases.push({
      _id: `db-${hex(i)}`,
      name,
      domain: 'bench',
      project: 'bench',
      engine: 'postgres',
      version: null,
      size: 'db.t3.medium',
      storage_gb: 10,
      replicas: 1,
      current_size: 'db.t3.small',
      current_storage_gb: 10,
      current_replicas: 1,
      status: 'running',
      health_status: 'healthy',
      kubedb_resource_name: name,
      namespace: NAMESPACE,
      provider_id: null,
      created_at: now,
    });
    operations.push(
      newOperationDocument({
        _id: `op-${hex(i)}`,
        database_id: `db-${hex(i)}`,
        type: 'scale_vertical',
        desired_state: { size: 'db.t3.medium' },
        created_at: now,
        max_retries: 3,
        created_by: 'bench',
        domain: 'bench',
        project: 'bench',
      }),
    );
  }
  env.sim.seed(
    databases.map((d) => ({ engine: 'postgres' as const, namespace: NAMESPACE, name: d.name })),
  );
  for (let i = 0; i < count; i += 1000) {
    await env.db.collection('databases').insertMany(databases.slice(i, i + 1000) as never[]);
    await env.db.collection('operations').insertMany(operations.slice(i, i + 1000) as never[]);
  }
  return operations.map((o) => o._id);
}

/** What the platform's API does to queue operations, many per round trip. */
export async function enqueueAll(redis: Redis, ids: readonly string[], priority = 5) {
  for (let i = 0; i < ids.length; i += 1000) {
    const members = ids.slice(i, i + 1000).flatMap((id) => [priority, id]);
    await redis.zadd(queueKeys.pending, ...members);
  }
}

/** Operations by status, from MongoDB. */
export async function statusCounts(env: BenchEnvironment): Promise<Record<string, number>> {
  const groups = await env.db
    .collection('operations')
    .aggregate<{ _id: string; count: number }>([{ $group: { _id: '$status', count: { $sum: 1 } } }])
    .toArray();
  return Object.fromEntries(groups.map((g) => [g._id, g.count]));
}
