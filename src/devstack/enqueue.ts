// `dbaas-worker enqueue`: does what the platform's API does when a user asks for a change:
// writes the operation document (status queued), sets the dedup key, and adds the id to
// `operations:pending`. Or, with --id, queues an existing operation again.

import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { loadConfig } from '../shared/config.js';
import { OperationQueue } from '../shared/queue.js';
import { queueKeys } from '../shared/queue-keys.js';
import { Store } from '../shared/store.js';
import { CHANGE_PLANS } from '../actors/plans/index.js';
import {
  OPERATION_TYPES,
  type DesiredState,
  type Operation,
  type OperationType,
} from '../shared/types.js';

const HELP = `usage:
  dbaas-worker enqueue --database DB_ID --type TYPE [--size S] [--replicas N]
                       [--storage-gb N] [--version V] [--priority P]
  dbaas-worker enqueue --id OP_ID [--priority P]

Uses REDIS_URL, MONGODB_URL and MONGODB_DATABASE like the worker.
TYPE is one of: ${OPERATION_TYPES.join(', ')}`;

/** The desired_state field each type needs, and the flag that sets it. */
const REQUIRED_FLAG: Partial<Record<OperationType, { field: string; flag: string }>> = {
  scale_vertical: { field: 'size', flag: '--size' },
  scale_horizontal: { field: 'replicas', flag: '--replicas' },
  expand_storage: { field: 'storage_gb', flag: '--storage-gb' },
  upgrade_version: { field: 'target_version', flag: '--version' },
};

function wholeNumber(flag: string, value: string): number {
  if (!/^\d+$/.test(value))
    throw new Error(`${flag} must be a whole number, not ${JSON.stringify(value)}`);
  return Number(value);
}

/** How long the platform's dedup key lives; cleared earlier when the operation ends. */
const DEDUP_TTL_SECONDS = 3600;

export async function runEnqueueCli(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      id: { type: 'string' },
      database: { type: 'string' },
      type: { type: 'string' },
      size: { type: 'string' },
      replicas: { type: 'string' },
      'storage-gb': { type: 'string' },
      version: { type: 'string' },
      priority: { type: 'string', default: '5' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const priority = Number(values.priority);
  if (!Number.isFinite(priority)) throw new Error(`--priority must be a number\n\n${HELP}`);

  const config = loadConfig();
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 2 });
  const store = await Store.connect(config.mongodbUrl, config.mongodbDatabase);
  const queue = new OperationQueue(redis, {
    workerId: 'enqueue-cli',
    leaseMs: config.leaseMs,
    retryBaseMs: config.retryBaseMs,
    retryMaxMs: config.retryMaxMs,
  });
  try {
    if (values.id) {
      const operation = await store.getOperation(values.id);
      if (!operation) throw new Error(`operation ${values.id} does not exist`);
      await queue.enqueue(operation._id, priority);
      console.log(JSON.stringify({ queued: operation._id, status: operation.status }));
      return 0;
    }

    if (!values.database || !values.type)
      throw new Error(`--database and --type are required\n\n${HELP}`);
    if (!OPERATION_TYPES.includes(values.type as OperationType)) {
      throw new Error(`--type ${values.type} is not one of ${OPERATION_TYPES.join(', ')}`);
    }
    const database = await store.getDatabase(values.database);
    if (!database) throw new Error(`database ${values.database} does not exist`);
    const type = values.type as OperationType;
    const desired: DesiredState = {};
    if (values.size !== undefined) desired.size = values.size;
    if (values.replicas !== undefined)
      desired.replicas = wholeNumber('--replicas', values.replicas);
    if (values['storage-gb'] !== undefined) {
      desired.storage_gb = wholeNumber('--storage-gb', values['storage-gb']);
    }
    if (values.version !== undefined) desired.target_version = values.version;
    const required = REQUIRED_FLAG[type];
    if (required && desired[required.field] === undefined) {
      throw new Error(`--type ${type} needs ${required.flag}\n\n${HELP}`);
    }
    // Refuse here what the worker would refuse, with the same words.
    CHANGE_PLANS[type].validate({ type, desired_state: desired } as Operation, database);

    const dedupKey = queueKeys.dedup(database._id, type);
    const holder = await redis.get(dedupKey);
    if (holder) {
      throw new Error(
        `database ${database._id} already has a ${type} operation queued or running: ${holder}`,
      );
    }
    const operation = await store.createOperation({
      database_id: database._id,
      type,
      desired_state: desired,
      created_by: 'dbaas-worker-cli',
      domain: database.domain ?? undefined,
      project: database.project ?? undefined,
    });
    await redis.set(dedupKey, operation._id, 'EX', DEDUP_TTL_SECONDS);
    await queue.enqueue(operation._id, priority);
    console.log(JSON.stringify({ queued: operation._id, type, desired_state: desired }));
    return 0;
  } finally {
    await store.close();
    redis.disconnect();
  }
}
