// `npm run demo`: a self-contained run of the real worker. Starts throwaway Redis, FerretDB
// and the KubeDB simulator, seeds databases of all six engines (some behind a provider, some
// on the worker's own cluster), queues operations of every type the way the platform does,
// runs `dbaas-worker start` as a child process, shows live progress, prints a summary and
// exits 0 only if every operation ended as expected and every database record is true.

import { spawn } from 'node:child_process';
import { copyFileSync, openSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { OperationQueue } from '../shared/queue.js';
import { queueKeys } from '../shared/queue-keys.js';
import { Store } from '../shared/store.js';
import type { Database, DesiredState, Operation, OperationType } from '../shared/types.js';
import { FINAL_OPERATION_STATUSES, SIZES } from '../shared/types.js';
import { startSimulator, type SeedDatabase } from '../sim/server.js';
import { startStack } from './services.js';

interface DemoDatabase {
  seed: SeedDatabase;
  providerId: string | null;
}

interface PlannedOperation {
  database: number;
  type: OperationType;
  desired: DesiredState;
  expect: 'completed' | 'failed';
  priority?: number;
}

const DATABASES: DemoDatabase[] = [
  {
    seed: {
      engine: 'postgres',
      namespace: 'team-a',
      name: 'orders-pg',
      topology: 'standalone',
      replicas: 1,
      storageGb: 10,
      size: 'db.t3.small',
      version: '16.4',
    },
    providerId: 'prov-demo-east',
  },
  {
    seed: {
      engine: 'postgres',
      namespace: 'team-a',
      name: 'billing-pg',
      topology: 'cluster',
      replicas: 3,
      storageGb: 20,
      size: 'db.t3.medium',
      version: '15.8',
    },
    providerId: null,
  },
  {
    seed: {
      engine: 'mysql',
      namespace: 'team-b',
      name: 'shop-mysql',
      topology: 'standalone',
      replicas: 1,
      storageGb: 10,
      size: 'db.t3.small',
      version: '8.0.35',
    },
    providerId: 'prov-demo-east',
  },
  {
    seed: {
      engine: 'mysql',
      namespace: 'team-b',
      name: 'cms-mysql',
      topology: 'group-replication',
      replicas: 3,
      storageGb: 20,
      size: 'db.t3.medium',
      version: '8.0.35',
    },
    providerId: null,
  },
  {
    seed: {
      engine: 'mariadb',
      namespace: 'team-b',
      name: 'wiki-mariadb',
      topology: 'galera',
      replicas: 3,
      storageGb: 10,
      size: 'db.t3.small',
      version: '10.11.2',
    },
    providerId: 'prov-demo-east',
  },
  {
    seed: {
      engine: 'mongodb',
      namespace: 'team-c',
      name: 'events-mongo',
      topology: 'standalone',
      replicas: 1,
      storageGb: 10,
      size: 'db.t3.small',
      version: '6.0.12',
    },
    providerId: null,
  },
  {
    seed: {
      engine: 'mongodb',
      namespace: 'team-c',
      name: 'users-mongo',
      topology: 'replicaset',
      replicas: 3,
      storageGb: 20,
      size: 'db.t3.medium',
      version: '7.0.5',
    },
    providerId: 'prov-demo-east',
  },
  {
    seed: {
      engine: 'mongodb',
      namespace: 'team-c',
      name: 'logs-mongo',
      topology: 'sharded',
      replicas: 3,
      storageGb: 40,
      size: 'db.t3.large',
      version: '7.0.5',
    },
    providerId: null,
  },
  {
    seed: {
      engine: 'redis',
      namespace: 'team-d',
      name: 'cache-redis',
      topology: 'standalone',
      replicas: 1,
      storageGb: 5,
      size: 'db.t3.micro',
      version: '7.2.4',
    },
    providerId: 'prov-demo-east',
  },
  {
    seed: {
      engine: 'redis',
      namespace: 'team-d',
      name: 'session-redis',
      topology: 'cluster',
      replicas: 3,
      storageGb: 5,
      size: 'db.t3.small',
      version: '7.2.4',
    },
    providerId: null,
  },
  {
    seed: {
      engine: 'elasticsearch',
      namespace: 'team-e',
      name: 'search-es',
      topology: 'combined',
      replicas: 3,
      storageGb: 30,
      size: 'db.t3.large',
      version: 'xpack-8.11.1',
    },
    providerId: 'prov-demo-east',
  },
  {
    seed: {
      engine: 'elasticsearch',
      namespace: 'team-e',
      name: 'metrics-es',
      topology: 'dedicated',
      replicas: 3,
      storageGb: 50,
      size: 'db.t3.xlarge',
      version: 'xpack-8.11.1',
    },
    providerId: null,
  },
];

/** Operations per database, in the order they run (one at a time per database). */
function plan(): PlannedOperation[] {
  const planned: PlannedOperation[] = [];
  DATABASES.forEach((db, index) => {
    const bigger = nextSize(db.seed.size ?? 'db.t3.small');
    planned.push({
      database: index,
      type: 'scale_vertical',
      desired: { size: bigger },
      expect: 'completed',
      priority: 9,
    });
    planned.push({
      database: index,
      type: 'expand_storage',
      desired: { storage_gb: (db.seed.storageGb ?? 10) * 2 },
      expect: 'completed',
      priority: 8,
    });
    if ((db.seed.replicas ?? 1) > 1) {
      planned.push({
        database: index,
        type: 'scale_horizontal',
        desired: { replicas: (db.seed.replicas ?? 1) + 2 },
        expect: 'completed',
        priority: 7,
      });
    }
    planned.push({
      database: index,
      type: 'restart',
      desired: {},
      expect: 'completed',
      priority: 6,
    });
  });
  planned.push({
    database: 0,
    type: 'upgrade_version',
    desired: { target_version: '16.6' },
    expect: 'completed',
    priority: 5,
  });
  planned.push({
    database: 6,
    type: 'upgrade_version',
    desired: { target_version: '7.0.12' },
    expect: 'completed',
    priority: 5,
  });
  planned.push({ database: 5, type: 'pause', desired: {}, expect: 'completed', priority: 4 });
  planned.push({ database: 5, type: 'resume', desired: {}, expect: 'completed', priority: 3 });
  // What the platform sometimes sends and the worker must refuse clearly:
  planned.push({
    database: 2,
    type: 'expand_storage',
    desired: { storage_gb: 1 },
    expect: 'failed',
    priority: 2,
  });
  planned.push({
    database: 3,
    type: 'scale_vertical',
    desired: { size: 'db.t3.huge' },
    expect: 'failed',
    priority: 2,
  });
  planned.push({ database: 8, type: 'backup', desired: {}, expect: 'failed', priority: 2 });
  return planned;
}

function nextSize(size: string): string {
  const names = Object.keys(SIZES);
  return names[Math.min(names.indexOf(size) + 1, names.length - 1)] ?? 'db.t3.medium';
}

function databaseId(index: number): string {
  return `db-demo${index.toString(16).padStart(8, '0')}`;
}

export async function runDemo(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      concurrency: { type: 'string', default: '16' },
      'timeout-s': { type: 'string', default: '180' },
      'progressing-ms': { type: 'string', default: '1500' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log('usage: dbaas-worker demo [--concurrency N] [--timeout-s S] [--progressing-ms MS]');
    return 0;
  }

  const out = (line: string) => process.stdout.write(`${line}\n`);
  out('demo: starting Redis, FerretDB and the KubeDB simulator on 127.0.0.1 ...');
  const stack = await startStack();
  const sim = await startSimulator({
    timings: { pendingMs: 300, progressingMs: Number(values['progressing-ms']) },
    seed: DATABASES.map((db) => db.seed),
  });
  const mongodbDatabase = 'kubedb_dbaas_demo';
  const redis = new Redis(stack.redis.url);
  const store = await Store.connect(stack.mongo.url, mongodbDatabase);
  const queue = new OperationQueue(redis, {
    workerId: 'demo',
    leaseMs: 30_000,
    retryBaseMs: 1_000,
    retryMaxMs: 10_000,
  });
  let worker: ReturnType<typeof spawn> | null = null;

  try {
    await store.insertProvider({
      _id: 'prov-demo-east',
      name: 'demo-east',
      kubeconfig_content: sim.kubeconfig,
      kubeconfig_path: null,
      api_endpoint: sim.url,
      verify_ssl: true,
      is_active: true,
      is_maintenance: false,
    });
    for (const [index, db] of DATABASES.entries()) {
      const document: Database = {
        _id: databaseId(index),
        name: db.seed.name,
        domain: 'demo',
        project: db.seed.namespace,
        engine: db.seed.engine,
        version: db.seed.version ?? null,
        size: db.seed.size ?? null,
        storage_gb: db.seed.storageGb ?? null,
        replicas: db.seed.replicas ?? null,
        current_size: db.seed.size ?? null,
        current_storage_gb: db.seed.storageGb ?? null,
        current_replicas: db.seed.replicas ?? null,
        status: 'running',
        health_status: 'healthy',
        kubedb_resource_name: db.seed.name,
        namespace: db.seed.namespace,
        provider_id: db.providerId,
      };
      await store.insertDatabase(document);
    }

    const planned = plan();
    const operations: Array<{ operation: Operation; planned: PlannedOperation }> = [];
    for (const item of planned) {
      const dbId = databaseId(item.database);
      const operation = await store.createOperation({
        database_id: dbId,
        type: item.type,
        desired_state: item.desired,
        created_by: 'demo',
        domain: 'demo',
        project: DATABASES[item.database]?.seed.namespace,
      });
      await redis.set(queueKeys.dedup(dbId, item.type), operation._id, 'EX', 3600);
      await queue.enqueue(operation._id, item.priority ?? 5);
      operations.push({ operation, planned: item });
    }
    out(
      `demo: seeded ${DATABASES.length} databases over 6 engines and queued ${operations.length} operations`,
    );

    const logPath = path.join(stack.redis.dir, 'worker.log');
    const log = openSync(logPath, 'a');
    worker = spawn(process.execPath, [new URL('../cli.js', import.meta.url).pathname, 'start'], {
      stdio: ['ignore', log, log],
      env: {
        ...process.env,
        REDIS_URL: stack.redis.url,
        MONGODB_URL: `${stack.mongo.url}/${mongodbDatabase}`,
        KUBECONFIG: sim.kubeconfigPath,
        WORKER_CONCURRENCY: values.concurrency,
        WORKER_THREADS: '2',
        ADMIN_PORT: '0',
        RETRY_BASE_MS: '500',
        LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
      },
    });
    out(`demo: worker started (pid ${worker.pid}, WORKER_CONCURRENCY=${values.concurrency})`);

    const ids = operations.map((entry) => entry.operation._id);
    const deadline = Date.now() + Number(values['timeout-s']) * 1000;
    let final: Operation[] = [];
    while (Date.now() < deadline) {
      final = await store.listOperations({ ids }, ids.length);
      const counts: Record<string, number> = {};
      for (const op of final) counts[op.status] = (counts[op.status] ?? 0) + 1;
      const done = final.filter((op) => FINAL_OPERATION_STATUSES.includes(op.status)).length;
      const bar = '#'.repeat(Math.round((done / ids.length) * 30)).padEnd(30, '.');
      out(
        `  [${bar}] ${done}/${ids.length}  ${Object.entries(counts)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')}`,
      );
      if (done === ids.length) break;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }

    worker.kill('SIGTERM');
    await new Promise((resolve) => worker?.once('exit', resolve));
    worker = null;

    const kept = path.join(os.tmpdir(), `dbaas-worker-demo-${process.pid}.log`);
    copyFileSync(logPath, kept);
    out(`demo: worker log: ${kept}`);
    return await summarize(operations, final, store, out);
  } finally {
    if (worker) worker.kill('SIGKILL');
    await store.close();
    redis.disconnect();
    await sim.stop();
    await stack.destroy();
  }
}

async function summarize(
  operations: Array<{ operation: Operation; planned: PlannedOperation }>,
  final: Operation[],
  store: Store,
  out: (line: string) => void,
): Promise<number> {
  const byId = new Map(final.map((op) => [op._id, op]));
  let wrong = 0;
  out('');
  out(
    `${'operation'.padEnd(16)} ${'database'.padEnd(16)} ${'type'.padEnd(17)} ${'status'.padEnd(10)} ${'expect'.padEnd(10)} note`,
  );
  for (const { operation, planned } of operations) {
    const now = byId.get(operation._id);
    const status = now?.status ?? 'missing';
    let ok = status === planned.expect;
    let note =
      status === 'completed' ? (now?.message ?? '') : (now?.error_message ?? now?.message ?? '');
    if (ok && status === 'completed') {
      const problem = await recordProblem(store, now!);
      if (problem) {
        ok = false;
        note = problem;
      }
    }
    if (!ok) wrong += 1;
    const name = DATABASES[planned.database]?.seed.name ?? '?';
    out(
      `${operation._id.padEnd(16)} ${name.padEnd(16)} ${planned.type.padEnd(17)} ${status.padEnd(10)} ${planned.expect.padEnd(10)} ${ok ? '' : 'UNEXPECTED '}${note.slice(0, 200)}`,
    );
  }
  out('');
  out(
    wrong === 0
      ? `demo: all ${operations.length} operations ended as expected`
      : `demo: ${wrong} operations did not end as expected`,
  );
  return wrong === 0 ? 0 : 1;
}

/** A completed operation must have left its database's observed fields in step. */
async function recordProblem(store: Store, operation: Operation): Promise<string | null> {
  const database = await store.getDatabase(operation.database_id);
  if (!database) return 'database record missing';
  const desired = operation.desired_state;
  if (operation.type === 'scale_vertical' && database.current_size !== desired.size)
    return `current_size is ${database.current_size}`;
  if (operation.type === 'expand_storage' && database.current_storage_gb !== desired.storage_gb)
    return `current_storage_gb is ${database.current_storage_gb}`;
  if (operation.type === 'scale_horizontal' && database.current_replicas !== desired.replicas)
    return `current_replicas is ${database.current_replicas}`;
  return null;
}
