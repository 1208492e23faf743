// The piscina entry point: every task is one actor. A thread hosts many actors at once
// (concurrentTasksPerWorker), which share the thread's MongoDB connection, Kubernetes
// clients and OpsRequest watches. The pool runs with Atomics disabled, so a thread's event
// loop keeps turning between tasks and its watches and timers never stall (DESIGN.md).

import { BroadcastChannel, parentPort, threadId, workerData } from 'node:worker_threads';
import { TransientError, errorMessage } from '../shared/errors.js';
import { isStoreOutage } from '../shared/store-outage.js';
import type { Config } from '../shared/config.js';
import { KubeClients, drainApiCalls } from '../shared/kubedb/index.js';
import { createLogger } from '../shared/logger.js';
import { Store } from '../shared/store.js';
import type {
  ActorMessage,
  ActorOutcome,
  ActorTask,
  SupervisorEnvelope,
  SupervisorMessage,
  ThreadMessage,
} from './messages.js';
import { runActor, type StopReason } from './operation-actor.js';
import { Outbox } from './outbox.js';

interface ThreadData {
  config: Config;
}

const { config } = workerData as ThreadData;
const logger = createLogger(config.logLevel, { workerId: config.workerId, thread: threadId });

let resources: Promise<{ store: Store; kube: KubeClients }> | null = null;

/** Kubernetes API calls go to the supervisor's metrics in batches, not one message each. */
const API_CALL_FLUSH_MS = 2_000;
setInterval(() => {
  const calls = drainApiCalls();
  if (calls.length === 0) return;
  const message: ThreadMessage = {
    type: 'metrics',
    events: calls.map(({ verb, code, count }) => ({ kind: 'kube_api_call', verb, code, count })),
  };
  parentPort?.postMessage(message);
}, API_CALL_FLUSH_MS).unref();

const outbox = new Outbox((message) => parentPort?.postMessage(message));

/** The actors running on this thread, by run id: what to do with a supervisor message. */
const inbox = new Map<number, (message: SupervisorMessage) => void>();
/** The supervisor's channel to its actors, opened by the first task that names it. */
let channel: BroadcastChannel | null = null;

function listen(name: string) {
  if (channel && channel.name === name) return;
  channel?.close();
  channel = new BroadcastChannel(name);
  // The pool keeps the thread alive; the channel must not keep it from ending.
  channel.unref();
  channel.onmessage = (event) => {
    const { runId, message } = (event as { data: SupervisorEnvelope }).data;
    inbox.get(runId)?.(message);
  };
}

function threadResources() {
  resources ??= (async () => {
    const store = await Store.connect(config.mongodbUrl, config.mongodbDatabase, logger);
    const kube = new KubeClients({ config, logger });
    return { store, kube };
  })().catch((error: unknown) => {
    resources = null;
    throw error;
  });
  return resources;
}

/** A failure of the infrastructure rather than of the operation or of our code. */
function isOutage(error: unknown): boolean {
  return error instanceof TransientError || isStoreOutage(error);
}

export default async function actor(task: ActorTask): Promise<ActorOutcome> {
  const post = (message: ActorMessage) => outbox.post(task.runId, message);
  const stop = new AbortController();
  let stopReason: StopReason | null = null;
  let lockRequests = 0;
  const pendingLocks = new Map<number, (result: SupervisorMessage) => void>();

  listen(task.channel);
  inbox.set(task.runId, (message: SupervisorMessage) => {
    if (message.type === 'stop') {
      stopReason ??= message.reason;
      stop.abort();
    } else if (message.type === 'lock_database_result') {
      pendingLocks.get(message.requestId)?.(message);
      pendingLocks.delete(message.requestId);
    }
  });

  try {
    // The supervisor holds stop requests back until it has heard this, so none is missed.
    post({ type: 'started', threadId });
    const { store, kube } = await threadResources();
    return await runActor(
      { operationId: task.operationId, claimToken: task.claimToken, restarts: task.restarts },
      {
        config,
        store,
        kube,
        logger,
        workerId: task.workerId,
        progress: (update) => post({ type: 'progress', ...update }),
        metric: (event) => post({ type: 'metric', event }),
        lockDatabase: (databaseId) =>
          new Promise<boolean>((resolve, reject) => {
            const requestId = ++lockRequests;
            pendingLocks.set(requestId, (result) => {
              if (result.type !== 'lock_database_result') return;
              // Redis failing (restarting, failing over) is an outage like MongoDB's: the
              // operation waits, uncounted, instead of crashing toward ACTOR_RESTART_LIMIT.
              if (result.error) {
                reject(
                  new TransientError(
                    'STORE_TRANSIENT',
                    `Redis could not take the database lock: ${result.error}`,
                  ),
                );
              } else resolve(result.locked);
            });
            post({ type: 'lock_database', requestId, databaseId });
          }),
        stopSignal: stop.signal,
        stopReason: () => stopReason,
      },
    );
  } catch (error) {
    if (!isOutage(error)) throw error;
    // MongoDB is away: nothing could be recorded, so the claim goes back to wait, uncounted.
    logger.warn({ operationId: task.operationId, error: errorMessage(error) }, 'actor_deferred');
    return { kind: 'deferred', reason: `storage unavailable: ${errorMessage(error)}` };
  } finally {
    inbox.delete(task.runId);
  }
}
