// Every setting the worker reads, with its default and what it accepts, in one catalog.
// `loadConfig` validates them once at start-up; the README table is printed from this
// catalog by `dbaas-worker config --markdown`, so the two cannot drift apart.

import { isIP } from 'node:net';
import os from 'node:os';
import { ConfigError } from './errors.js';
import { OPERATION_TYPES, type OperationType } from './types.js';

export type ChangeMode = 'ops-request' | 'patch';

export interface Config {
  redisUrl: string;
  mongodbUrl: string;
  mongodbDatabase: string;
  kubeconfig: string | null;
  kubedbApiVersion: 'v1' | 'v1alpha2';
  workerId: string;
  concurrency: number;
  threads: number;
  leaseMs: number;
  leaseRenewMs: number;
  cancelSweepMs: number;
  claimPollMs: number;
  claimBatch: number;
  retryBaseMs: number;
  retryMaxMs: number;
  defaultMaxRetries: number;
  databaseBusyDelayMs: number;
  timeoutsMs: Record<OperationType, number>;
  horizontalScalingMode: ChangeMode;
  storageExpansionMode: ChangeMode;
  volumeExpansionMode: 'Online' | 'Offline';
  deleteFinishedOpsRequests: boolean;
  providerKubeconfigCommands: boolean;
  opsRequestWatchScope: 'namespace' | 'cluster';
  watchIdleMs: number;
  resyncMs: number;
  kubeRequestTimeoutMs: number;
  actorRestartLimit: number;
  reconcileMs: number;
  reconcileAfterMs: number;
  shutdownGraceMs: number;
  adminHost: string;
  adminPort: number;
  adminToken: string | null;
  logLevel: string;
}

type Env = Record<string, string | undefined>;

interface Setting {
  name: string;
  default: string;
  description: string;
}

/** The catalog: what the README documents. Defaults are strings as they would be set. */
export const SETTINGS: readonly Setting[] = [
  {
    name: 'REDIS_URL',
    default: 'redis://127.0.0.1:6379/0',
    description: 'Redis holding the queue',
  },
  {
    name: 'MONGODB_URL',
    default: 'mongodb://127.0.0.1:27017/kubedb_dbaas',
    description: "MongoDB holding the platform's documents",
  },
  {
    name: 'MONGODB_DATABASE',
    default: "(path of MONGODB_URL, else 'kubedb_dbaas')",
    description: 'MongoDB database name',
  },
  {
    name: 'KUBECONFIG',
    default: '(in-cluster credentials)',
    description: 'kubeconfig file for databases without a provider',
  },
  {
    name: 'KUBEDB_API_VERSION',
    default: 'v1',
    description: 'version of kubedb.com database resources: v1 or v1alpha2 (older clusters)',
  },
  {
    name: 'WORKER_ID',
    default: '(hostname-pid)',
    description: 'name of this worker in leases and logs',
  },
  {
    name: 'WORKER_CONCURRENCY',
    default: '64',
    description: 'operations this container runs at once (1-20000)',
  },
  {
    name: 'WORKER_THREADS',
    default: '(CPU count, at most 8)',
    description: 'threads in the actor pool (1-64)',
  },
  { name: 'LEASE_TTL_MS', default: '30000', description: 'how long a claim lives without renewal' },
  { name: 'LEASE_RENEW_MS', default: '10000', description: 'how often leases are renewed' },
  {
    name: 'CANCEL_SWEEP_MS',
    default: '2000',
    description:
      'how often operations in flight are checked for a cancel written in MongoDB (one ' +
      'query per 500 operations)',
  },
  {
    name: 'CLAIM_POLL_MS',
    default: '100',
    description: 'pause between claim attempts while the queue is empty',
  },
  { name: 'CLAIM_BATCH', default: '32', description: 'ids claimed per Redis round trip at most' },
  { name: 'RETRY_BASE_MS', default: '2000', description: 'first retry delay; doubles per retry' },
  { name: 'RETRY_MAX_MS', default: '300000', description: 'longest retry delay' },
  {
    name: 'WORKER_RETRY_MAX',
    default: '3',
    description: 'max_retries for operations that do not set it',
  },
  {
    name: 'DATABASE_BUSY_DELAY_MS',
    default: '5000',
    description: 'wait before claiming again an operation whose database is busy',
  },
  {
    name: 'WORKER_TIMEOUT',
    default: '1800',
    description: 'seconds an operation may run before it ends in `timeout`',
  },
  {
    name: 'WORKER_TIMEOUT_<TYPE>',
    default: '(WORKER_TIMEOUT)',
    description: 'per-type limit in seconds, e.g. WORKER_TIMEOUT_EXPAND_STORAGE=3600',
  },
  {
    name: 'HORIZONTAL_SCALING_MODE',
    default: 'ops-request',
    description: 'ops-request (HorizontalScaling OpsRequest) or patch (spec.replicas)',
  },
  {
    name: 'STORAGE_EXPANSION_MODE',
    default: 'ops-request',
    description: 'ops-request (VolumeExpansion OpsRequest) or patch (spec.storage)',
  },
  {
    name: 'VOLUME_EXPANSION_MODE',
    default: 'Online',
    description: 'Online or Offline, for VolumeExpansion OpsRequests',
  },
  {
    name: 'DELETE_FINISHED_OPS_REQUESTS',
    default: 'true',
    description: 'delete an OpsRequest once its operation is recorded',
  },
  {
    name: 'PROVIDER_KUBECONFIG_COMMANDS',
    default: 'deny',
    description: 'allow: provider kubeconfigs may run exec/auth-provider commands (deny: refused)',
  },
  {
    name: 'OPS_REQUEST_WATCH_SCOPE',
    default: 'namespace',
    description:
      'namespace: one OpsRequest watch per kind and namespace; cluster: one per kind ' +
      '(needs cluster-wide list/watch; flat however many namespaces are busy)',
  },
  {
    name: 'WATCH_IDLE_MS',
    default: '60000',
    description: 'a watch silent this long is dropped, relisted and restarted',
  },
  {
    name: 'RESYNC_MS',
    default: '300000',
    description: 'relist of followed OpsRequests even when watches look healthy',
  },
  {
    name: 'KUBE_REQUEST_TIMEOUT_MS',
    default: '15000',
    description: 'time limit of one Kubernetes API request',
  },
  {
    name: 'ACTOR_RESTART_LIMIT',
    default: '5',
    description: 'thread crashes an operation survives before it fails',
  },
  {
    name: 'RECONCILE_MS',
    default: '60000',
    description: 'how often unfinished operations in MongoDB are checked against the queue',
  },
  {
    name: 'RECONCILE_AFTER_MS',
    default: '120000',
    description: 'idle time after which an unfinished operation the queue lost is queued again',
  },
  {
    name: 'SHUTDOWN_GRACE_MS',
    default: '10000',
    description: 'on SIGTERM, time for running steps to finish before hand-back',
  },
  { name: 'ADMIN_HOST', default: '127.0.0.1', description: 'admin API and metrics address' },
  { name: 'ADMIN_PORT', default: '8080', description: 'admin API and metrics port (0: any free)' },
  {
    name: 'ADMIN_TOKEN',
    default: '(unset: routes that change anything are disabled)',
    description: 'bearer token for admin routes that change anything (16+ characters)',
  },
  { name: 'LOG_LEVEL', default: 'info', description: 'fatal, error, warn, info, debug or trace' },
];

function read(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!/^-?\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(name, raw, `a whole number from ${min} to ${max}`);
  }
  return Number(raw);
}

function choice<T extends string>(env: Env, name: string, fallback: T, options: readonly T[]): T {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!options.includes(raw as T)) throw new ConfigError(name, raw, `one of ${options.join(', ')}`);
  return raw as T;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (['true', '1', 'yes'].includes(raw.toLowerCase())) return true;
  if (['false', '0', 'no'].includes(raw.toLowerCase())) return false;
  throw new ConfigError(name, raw, 'true or false');
}

function url(env: Env, name: string, fallback: string, protocols: string[]): string {
  const raw = read(env, name) ?? fallback;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, redactUrl(raw), `a URL starting with ${protocols.join(' or ')}`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, redactUrl(raw), `a URL starting with ${protocols.join(' or ')}`);
  }
  return raw;
}

/** The URL with any password replaced, safe for logs and error messages. */
export function redactUrl(raw: string): string {
  try {
    const parsed = new URL(raw);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return raw.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
  }
}

/** The database named by MONGODB_DATABASE, else by MONGODB_URL's path, else kubedb_dbaas. */
export function mongodbDatabaseName(mongodbUrl: string, explicit?: string): string {
  if (explicit) return explicit;
  const path = new URL(mongodbUrl).pathname.replace(/^\//, '');
  return decodeURIComponent(path) || 'kubedb_dbaas';
}

/** MongoDB refuses these in a database name (and names of 64 bytes or more). */
const MONGODB_NAME_FORBIDDEN = /[/\\. "$*<>:|?\0]/;

/** The database name, checked here so a bad one stops the start instead of every operation. */
function mongodbDatabase(env: Env, mongodbUrl: string): string {
  const explicit = read(env, 'MONGODB_DATABASE');
  const name = mongodbDatabaseName(mongodbUrl, explicit);
  if (MONGODB_NAME_FORBIDDEN.test(name) || Buffer.byteLength(name) >= 64) {
    const accepted =
      'a MongoDB database name: under 64 bytes, without / \\ . space " $ * < > : | ?';
    if (explicit !== undefined) throw new ConfigError('MONGODB_DATABASE', name, accepted);
    throw new ConfigError('MONGODB_URL', redactUrl(mongodbUrl), `a path naming ${accepted}`);
  }
  return name;
}

const HOST_LABEL = '[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const HOST_NAME = new RegExp(`^(?=.{1,253}$)${HOST_LABEL}(\\.${HOST_LABEL})*$`);

/** An IP address or a host name; anything else could never be listened on. */
function host(env: Env, name: string, fallback: string): string {
  const raw = read(env, name) ?? fallback;
  if (isIP(raw) === 0 && !HOST_NAME.test(raw)) {
    throw new ConfigError(name, raw, 'an IP address (127.0.0.1, 0.0.0.0, ::) or a host name');
  }
  return raw;
}

export function loadConfig(env: Env = process.env): Config {
  const mongodbUrl = url(env, 'MONGODB_URL', 'mongodb://127.0.0.1:27017/kubedb_dbaas', [
    'mongodb:',
    'mongodb+srv:',
  ]);
  const defaultTimeoutS = integer(env, 'WORKER_TIMEOUT', 1800, 1, 7 * 24 * 3600);
  const timeoutsMs = Object.fromEntries(
    OPERATION_TYPES.map((type) => {
      const name = `WORKER_TIMEOUT_${type.toUpperCase()}`;
      return [type, integer(env, name, defaultTimeoutS, 1, 7 * 24 * 3600) * 1000];
    }),
  ) as Record<OperationType, number>;

  const adminToken = read(env, 'ADMIN_TOKEN') ?? null;
  if (adminToken !== null && adminToken.length < 16) {
    throw new ConfigError('ADMIN_TOKEN', '(hidden)', 'at least 16 characters');
  }

  const leaseMs = integer(env, 'LEASE_TTL_MS', 30_000, 1_000, 3_600_000);
  const leaseRenewMs = integer(env, 'LEASE_RENEW_MS', Math.min(10_000, leaseMs / 3), 100, leaseMs);
  if (leaseRenewMs * 2 > leaseMs) {
    throw new ConfigError('LEASE_RENEW_MS', String(leaseRenewMs), `at most half of LEASE_TTL_MS`);
  }

  return {
    redisUrl: url(env, 'REDIS_URL', 'redis://127.0.0.1:6379/0', ['redis:', 'rediss:']),
    mongodbUrl,
    mongodbDatabase: mongodbDatabase(env, mongodbUrl),
    kubeconfig: read(env, 'KUBECONFIG') ?? null,
    kubedbApiVersion: choice(env, 'KUBEDB_API_VERSION', 'v1', ['v1', 'v1alpha2'] as const),
    workerId: read(env, 'WORKER_ID') ?? `${os.hostname()}-${process.pid}`,
    concurrency: integer(env, 'WORKER_CONCURRENCY', 64, 1, 20_000),
    threads: integer(env, 'WORKER_THREADS', Math.min(8, os.availableParallelism()), 1, 64),
    leaseMs,
    leaseRenewMs,
    cancelSweepMs: integer(env, 'CANCEL_SWEEP_MS', 2_000, 100, 3_600_000),
    claimPollMs: integer(env, 'CLAIM_POLL_MS', 100, 5, 60_000),
    claimBatch: integer(env, 'CLAIM_BATCH', 32, 1, 1000),
    retryBaseMs: integer(env, 'RETRY_BASE_MS', 2_000, 1, 3_600_000),
    retryMaxMs: integer(env, 'RETRY_MAX_MS', 300_000, 1, 86_400_000),
    defaultMaxRetries: integer(env, 'WORKER_RETRY_MAX', 3, 0, 100),
    databaseBusyDelayMs: integer(env, 'DATABASE_BUSY_DELAY_MS', 5_000, 10, 3_600_000),
    timeoutsMs,
    horizontalScalingMode: choice(env, 'HORIZONTAL_SCALING_MODE', 'ops-request', [
      'ops-request',
      'patch',
    ] as const),
    storageExpansionMode: choice(env, 'STORAGE_EXPANSION_MODE', 'ops-request', [
      'ops-request',
      'patch',
    ] as const),
    volumeExpansionMode: choice(env, 'VOLUME_EXPANSION_MODE', 'Online', [
      'Online',
      'Offline',
    ] as const),
    deleteFinishedOpsRequests: boolean(env, 'DELETE_FINISHED_OPS_REQUESTS', true),
    providerKubeconfigCommands:
      choice(env, 'PROVIDER_KUBECONFIG_COMMANDS', 'deny', ['deny', 'allow'] as const) === 'allow',
    opsRequestWatchScope: choice(env, 'OPS_REQUEST_WATCH_SCOPE', 'namespace', [
      'namespace',
      'cluster',
    ] as const),
    watchIdleMs: integer(env, 'WATCH_IDLE_MS', 60_000, 100, 3_600_000),
    resyncMs: integer(env, 'RESYNC_MS', 300_000, 100, 86_400_000),
    kubeRequestTimeoutMs: integer(env, 'KUBE_REQUEST_TIMEOUT_MS', 15_000, 100, 600_000),
    actorRestartLimit: integer(env, 'ACTOR_RESTART_LIMIT', 5, 0, 1000),
    reconcileMs: integer(env, 'RECONCILE_MS', 60_000, 100, 86_400_000),
    reconcileAfterMs: integer(env, 'RECONCILE_AFTER_MS', 120_000, 100, 86_400_000),
    shutdownGraceMs: integer(env, 'SHUTDOWN_GRACE_MS', 10_000, 0, 3_600_000),
    adminHost: host(env, 'ADMIN_HOST', '127.0.0.1'),
    adminPort: integer(env, 'ADMIN_PORT', 8080, 0, 65535),
    adminToken,
    logLevel: choice(env, 'LOG_LEVEL', 'info', [
      'fatal',
      'error',
      'warn',
      'info',
      'debug',
      'trace',
      'silent',
    ] as const),
  };
}
