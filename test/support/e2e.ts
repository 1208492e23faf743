// A whole platform around the real worker for end-to-end tests: this test file's own Redis
// database and MongoDB database (from test/run.ts), a KubeDB simulator, seeded databases,
// operations queued the way the platform's API queues them, and the worker run as a real
// child process (`node dist/src/cli.js start`) reaching the simulator through a kubeconfig.

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import { OperationQueue } from '../../src/shared/queue.js';
import { queueKeys } from '../../src/shared/queue-keys.js';
import { Store } from '../../src/shared/store.js';
import type { Database, DesiredState, Operation, OperationType } from '../../src/shared/types.js';
import { FINAL_OPERATION_STATUSES } from '../../src/shared/types.js';
import {
  startSimulator,
  type SeedDatabase,
  type Simulator,
  type SimulatorOptions,
} from '../../src/sim/server.js';
import { testServices } from './services.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

export interface Platform {
  sim: Simulator;
  store: Store;
  redis: Redis;
  queue: OperationQueue;
  env: Record<string, string>;
  /** Seeds the simulator and the `databases` collection with one database. */
  addDatabase(seed: SeedDatabase, fields?: Partial<Database>): Promise<Database>;
  /** What the platform's API does: document, dedup key, pending. */
  queueOperation(databaseId: string, type: OperationType, desired: DesiredState): Promise<string>;
  /** What the platform's API does to a document: a raw `$set`, no checks. */
  platformSet(
    collection: 'operations' | 'databases' | 'providers',
    id: string,
    fields: Record<string, unknown>,
  ): Promise<void>;
  startWorker(env?: Record<string, string>): WorkerProcess;
  /** Kills every worker still running (for afterEach: a failed test leaves none behind). */
  stopWorkers(): Promise<void>;
  waitForFinal(ids: string[], timeoutMs?: number): Promise<Operation[]>;
  waitFor<T>(
    what: string,
    check: () => Promise<T | null | undefined | false>,
    timeoutMs?: number,
  ): Promise<T>;
  close(): Promise<void>;
}

export interface WorkerProcess {
  child: ChildProcess;
  output(): string;
  /** The admin API's base URL, read from the worker's `worker_started` log event. */
  adminUrl(): Promise<string>;
  /** Sends the signal and waits for the process to exit; returns its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

let databaseCounter = 0;

export async function startPlatform(
  moduleUrl: string,
  simOptions: SimulatorOptions = {},
): Promise<Platform> {
  const services = testServices(moduleUrl);
  const sim = await startSimulator({
    timings: { pendingMs: 20, progressingMs: 100 },
    ...simOptions,
  });
  const redis = new Redis(services.redisUrl);
  await redis.flushdb();
  const store = await Store.connect(services.mongodbUrl, services.mongodbDatabase);
  const raw = await MongoClient.connect(services.mongodbUrl);
  const queue = new OperationQueue(redis, {
    workerId: 'test-platform',
    leaseMs: 30_000,
    retryBaseMs: 100,
    retryMaxMs: 1_000,
  });
  const workers: WorkerProcess[] = [];
  const env: Record<string, string> = {
    REDIS_URL: services.redisUrl,
    MONGODB_URL: services.mongodbUrl,
    MONGODB_DATABASE: services.mongodbDatabase,
    KUBECONFIG: sim.kubeconfigPath,
    WORKER_THREADS: '2',
    WORKER_CONCURRENCY: '32',
    ADMIN_PORT: '0',
    LEASE_TTL_MS: '3000',
    LEASE_RENEW_MS: '1000',
    CLAIM_POLL_MS: '50',
    RETRY_BASE_MS: '100',
    RETRY_MAX_MS: '1000',
    DATABASE_BUSY_DELAY_MS: '100',
    SHUTDOWN_GRACE_MS: '2000',
    WATCH_IDLE_MS: '5000',
    RESYNC_MS: '5000',
    LOG_LEVEL: 'warn',
  };

  const platform: Platform = {
    sim,
    store,
    redis,
    queue,
    env,
    async addDatabase(seed, fields = {}) {
      sim.seed([seed]);
      databaseCounter += 1;
      const id = `db-${(process.pid * 1000 + databaseCounter).toString(16).padStart(12, '0').slice(-12)}`;
      const document: Database = {
        _id: id,
        name: seed.name,
        domain: 'test',
        project: seed.namespace,
        engine: seed.engine,
        version: seed.version ?? null,
        size: seed.size ?? 'db.t3.small',
        storage_gb: seed.storageGb ?? 10,
        replicas: seed.replicas ?? 1,
        current_size: seed.size ?? 'db.t3.small',
        current_storage_gb: seed.storageGb ?? 10,
        current_replicas: seed.replicas ?? 1,
        status: 'running',
        health_status: 'healthy',
        kubedb_resource_name: seed.name,
        namespace: seed.namespace,
        provider_id: null,
        ...fields,
      };
      await store.insertDatabase(document);
      return document;
    },
    async queueOperation(databaseId, type, desired) {
      const operation = await store.createOperation({
        database_id: databaseId,
        type,
        desired_state: desired,
        created_by: 'test',
      });
      await redis.set(queueKeys.dedup(databaseId, type), operation._id, 'EX', 3600);
      await queue.enqueue(operation._id, 5);
      return operation._id;
    },
    async platformSet(collection, id, fields) {
      await raw
        .db(services.mongodbDatabase)
        .collection<{ _id: string }>(collection)
        .updateOne({ _id: id }, { $set: fields });
    },
    startWorker(extra = {}) {
      let output = '';
      const child = spawn(process.execPath, [CLI, 'start'], {
        env: { ...process.env, ...env, ...extra },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const worker: WorkerProcess = {
        child,
        output: () => output,
        adminUrl: () =>
          platform.waitFor('the worker_started log event', async () => {
            const line = output.split('\n').find((l) => l.includes('"worker_started"'));
            return line ? (JSON.parse(line) as { adminUrl: string }).adminUrl : null;
          }),
        stop(signal = 'SIGTERM') {
          return new Promise((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null)
              return resolve(child.exitCode);
            child.once('exit', (code) => resolve(code));
            child.kill(signal);
          });
        },
      };
      workers.push(worker);
      return worker;
    },
    async stopWorkers() {
      await Promise.all(workers.map((worker) => worker.stop('SIGKILL')));
    },
    async waitForFinal(ids, timeoutMs = 60_000) {
      return platform.waitFor(
        `operations ${ids.length} final`,
        async () => {
          const operations = await store.listOperations({ ids }, ids.length);
          const final = operations.filter((op) => FINAL_OPERATION_STATUSES.includes(op.status));
          return final.length === ids.length ? operations : null;
        },
        timeoutMs,
      );
    },
    async waitFor(what, check, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const value = await check();
        if (value) return value;
        if (Date.now() > deadline) {
          const logs = workers.map((w) => w.output().slice(-4000)).join('\n---\n');
          throw new Error(`timed out waiting for ${what}\nworker output:\n${logs}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    async close() {
      await Promise.all(workers.map((worker) => worker.stop('SIGKILL')));
      await store.close();
      await raw.close();
      redis.disconnect();
      await sim.stop();
    },
  };
  return platform;
}
