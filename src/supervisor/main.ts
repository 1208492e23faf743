// Starts a worker: connects to Redis and MongoDB, starts the actor pool, the supervisor and
// the admin server, and wires SIGTERM/SIGINT to a graceful shutdown (a second signal exits
// at once; leases then expire and other workers resume the operations).

import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import type { ThreadMessage } from '../actors/messages.js';
import { redactUrl, type Config } from '../shared/config.js';
import { ConfigError, TransientError, errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { OperationQueue } from '../shared/queue.js';
import { Store } from '../shared/store.js';
import { createActorPool } from './actor-pool.js';
import { buildAdminServer } from './admin-api.js';
import { createMetrics } from './metrics.js';
import { Supervisor } from './supervisor.js';

export interface RunningWorker {
  supervisor: Supervisor;
  /** Where the admin API listens, e.g. http://127.0.0.1:8080. */
  adminUrl: string;
  /** Graceful shutdown: hand back, then close everything. */
  stop(graceMs?: number): Promise<void>;
}

export async function startWorker(config: Config, logger: Logger): Promise<RunningWorker> {
  if (config.kubeconfig && !existsSync(config.kubeconfig)) {
    throw new ConfigError(
      'KUBECONFIG',
      config.kubeconfig,
      'the path of a readable kubeconfig file',
    );
  }
  logger.info(
    {
      redis: redactUrl(config.redisUrl),
      mongodb: redactUrl(config.mongodbUrl),
      database: config.mongodbDatabase,
      concurrency: config.concurrency,
      threads: config.threads,
    },
    'worker_starting',
  );

  const redis = new Redis(config.redisUrl, {
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    lazyConnect: false,
  });
  redis.on('error', (error) => logger.warn({ error: errorMessage(error) }, 'redis_error'));
  const store = await Store.connect(config.mongodbUrl, config.mongodbDatabase, logger).catch(
    (error: unknown) => {
      redis.disconnect();
      throw new TransientError(
        'STORE_TRANSIENT',
        `MongoDB at ${redactUrl(config.mongodbUrl)} cannot be reached: ${errorMessage(error)}`,
        { hint: 'Check MONGODB_URL and that MongoDB is up; the worker exits, to be restarted' },
      );
    },
  );
  const queue = new OperationQueue(redis, {
    workerId: config.workerId,
    leaseMs: config.leaseMs,
    retryBaseMs: config.retryBaseMs,
    retryMaxMs: config.retryMaxMs,
    logger,
  });
  const pool = createActorPool(config);
  pool.on('error', (error: unknown) =>
    logger.error({ error: errorMessage(error) }, 'actor_pool_error'),
  );

  let supervisor: Supervisor | null = null;
  const metrics = createMetrics({
    workerId: config.workerId,
    concurrency: config.concurrency,
    inFlight: () => supervisor?.inFlight ?? 0,
    queueDepths: () => queue.depths(),
    onCollectError: (error) =>
      logger.warn({ error: errorMessage(error) }, 'metrics_collect_failed'),
  });
  pool.on('message', (message: ThreadMessage) => {
    if (message?.type === 'metrics' && Array.isArray(message.events)) {
      for (const event of message.events) metrics.apply(event);
    }
  });
  supervisor = new Supervisor({ config, queue, store, redis, pool, metrics, logger });
  const admin = await buildAdminServer({
    backend: supervisor,
    metrics,
    adminToken: config.adminToken,
    logger,
  });
  await admin.listen({ host: config.adminHost, port: config.adminPort }).catch((error: unknown) => {
    throw listenError(error, config);
  });
  const address = admin.server.address();
  const port = typeof address === 'object' && address ? address.port : config.adminPort;
  const adminUrl = `http://${config.adminHost}:${port}`;
  supervisor.start();
  logger.info({ adminUrl, writeRoutes: config.adminToken !== null }, 'worker_started');

  let stopped: Promise<void> | null = null;
  const running = supervisor;
  return {
    supervisor: running,
    adminUrl,
    stop(graceMs?: number) {
      stopped ??= (async () => {
        await running.shutdown(graceMs);
        await admin.close();
        await pool.destroy();
        metrics.stop();
        await store.close();
        redis.disconnect();
        logger.info({}, 'worker_stopped');
      })();
      return stopped;
    },
  };
}

/** Why the admin server cannot listen, as the setting to change. */
function listenError(error: unknown, config: Config): unknown {
  const code = (error as { code?: string } | null)?.code;
  const where = `${config.adminHost}:${config.adminPort}`;
  switch (code) {
    case 'EADDRINUSE':
      return new ConfigError(
        'ADMIN_PORT',
        String(config.adminPort),
        `a free port; ${where} is already in use (EADDRINUSE)`,
      );
    case 'EACCES':
      return new ConfigError(
        'ADMIN_PORT',
        String(config.adminPort),
        `a port this user may listen on (EACCES; ports below 1024 need privileges)`,
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EADDRNOTAVAIL':
      return new ConfigError(
        'ADMIN_HOST',
        config.adminHost,
        `an address of this machine to listen on (${code}), e.g. 127.0.0.1 or 0.0.0.0`,
      );
    default:
      return error;
  }
}

/** Runs a worker until SIGTERM/SIGINT; the process exits when shutdown completes. */
export async function runWorkerProcess(config: Config, logger: Logger): Promise<void> {
  // Handlers go in before start-up, so a SIGTERM while connecting is a clean stop too.
  let worker: RunningWorker | null = null;
  let signals = 0;
  const stop = () =>
    worker!.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ error: errorMessage(error) }, 'shutdown_failed');
        process.exit(1);
      },
    );
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      logger.warn({ signal }, 'shutdown_forced');
      process.exit(130);
    }
    logger.info({ signal }, 'shutdown_requested');
    if (worker) void stop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  worker = await startWorker(config, logger);
  if (signals > 0) void stop();
}
