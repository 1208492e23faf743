// Every Redis key the queue reads or writes. The first three are the platform's and keep the
// exact shape its API uses; the rest are the worker's own, all under the same `operations:`
// prefix (see docs/redis-keys.md). Lua scripts derive the per-id and per-database keys from
// `KEY_PREFIX` themselves, so the names here and in src/shared/lua/ must change together.

export const KEY_PREFIX = 'operations:';

/**
 * Priority given to work handed back by a dead or departing worker. The platform enqueues at
 * about 1-10 (retries at 10), so anything at or above this goes first; the operation's own
 * priority is added on top so resumed work keeps its relative order.
 */
export const RESUME_PRIORITY = 1000;

/** Priority a retried operation returns to pending with (the platform's convention). */
export const RETRY_PRIORITY = 10;

/** Priority the platform's API enqueues with when it does not say otherwise. */
export const DEFAULT_PRIORITY = 5;

export const queueKeys = {
  /** Platform: zset, member = operation id, score = priority, highest first. */
  pending: `${KEY_PREFIX}pending`,
  /** Platform: set of ids being worked on (the API counts it). */
  processing: `${KEY_PREFIX}processing`,
  /** Platform: string holding the operation id, with a TTL set by the API. */
  dedup: (databaseId: string, type: string) => `${KEY_PREFIX}dedup:${databaseId}:${type}`,

  /** zset, member = id, score = lease expiry (Redis server time, ms). */
  leases: `${KEY_PREFIX}leases`,
  /** hash per leased id: token, worker, priority, restarts, claimed_at, database. */
  lease: (operationId: string) => `${KEY_PREFIX}lease:${operationId}`,
  /** zset, member = id, score = when it is due back in pending (server time, ms). */
  delayed: `${KEY_PREFIX}delayed`,
  /** hash, id -> priority the delayed id returns to pending with. */
  delayedPriority: `${KEY_PREFIX}delayed-priority`,
  /** hash, id -> the operation's own priority while it waits at RESUME_PRIORITY. */
  resumePriority: `${KEY_PREFIX}resume-priority`,
  /** hash, id -> how often its lease expired (worker died) and it was recovered. */
  restarts: `${KEY_PREFIX}restarts`,
  /**
   * hash, id -> 1 while it waits in pending after its lease expired, 2 after the claim that
   * took it over handed it back unread; read (and cleared) by the next claim.
   */
  recovered: `${KEY_PREFIX}recovered`,
  /** zset, member = id, score = when it was dead-lettered (server time, ms). */
  dead: `${KEY_PREFIX}dead`,
  /** hash, id -> why it was dead-lettered. */
  deadReasons: `${KEY_PREFIX}dead-reasons`,
  /** string per database: the id of the one operation allowed to run on it; TTL = lease. */
  databaseLock: (databaseId: string) => `${KEY_PREFIX}dblock:${databaseId}`,
  /** hash of counters shared by all workers: leases_recovered, dropped, dead_lettered. */
  stats: `${KEY_PREFIX}stats`,
} as const;
