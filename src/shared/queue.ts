// The operation queue: the platform's Redis keys (`operations:pending`, `:processing`,
// `:dedup:*`) made crash-safe with leases. Every transition is one Lua script in
// src/shared/lua/, named after it, so each is atomic; see docs/redis-keys.md for the keys.

import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { retryDelayMs } from './backoff.js';
import type { Logger } from './logger.js';
import { DEFAULT_PRIORITY, KEY_PREFIX, RETRY_PRIORITY, queueKeys } from './queue-keys.js';

/** One leased operation id. The token proves the lease is still ours in every transition. */
export interface Claim {
  operationId: string;
  token: string;
  /** How often this operation's lease expired before (its worker died) and was recovered. */
  restarts: number;
  /** The operation's own priority (not the boost it gets while waiting to be resumed). */
  priority: number;
  /** Redis server time of the claim, ms since the epoch. */
  claimedAt: number;
  /**
   * True when its last worker died (its lease expired) and no actor has read the operation
   * since: a claim that took over, or one that was handed that claim back unread.
   */
  recovered: boolean;
  /** True only for the claim that took over the expired lease (counted once). */
  takenOver: boolean;
}

export interface QueueDepths {
  pending: number;
  delayed: number;
  processing: number;
  leased: number;
  dead: number;
}

export interface QueueOptions {
  workerId: string;
  leaseMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  logger?: Logger;
  /** Most dead letters kept; the oldest go first. Default 10000. */
  deadLetterCap?: number;
}

export interface DeadLetter {
  operationId: string;
  reason: string;
  at: number;
}

export interface QueueStats {
  leasesRecovered: number;
  dropped: number;
  deadLettered: number;
}

const SCRIPTS = [
  'claim',
  'renew',
  'lock-database',
  'complete',
  'retry',
  'dead-letter',
  'defer',
  'release',
  'drop',
  'remove',
  'promote',
  'requeue-dead',
  'adopt',
] as const;
type ScriptName = (typeof SCRIPTS)[number];

/**
 * The Lua files ship as sources, not compiled output: found beside this module when run
 * from src/, or in src/shared/lua/ from dist/src/shared/. A container image must copy
 * src/shared/lua/ along with dist/.
 */
function luaDirectory(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, 'lua'), path.resolve(here, '../../../src/shared/lua')];
  const found = candidates.find((dir) => existsSync(path.join(dir, 'claim.lua')));
  if (!found) throw new Error(`queue Lua scripts not found in ${candidates.join(' or ')}`);
  return found;
}

let scriptSources: Map<ScriptName, string> | null = null;

/** Reads each script once per process, inlining `--@include NAME` lines. */
function loadScripts(): Map<ScriptName, string> {
  if (scriptSources) return scriptSources;
  const dir = luaDirectory();
  const include = (source: string): string =>
    source.replace(/^--@include ([\w-]+)\s*$/gm, (_line, name: string) =>
      readFileSync(path.join(dir, 'includes', `${name}.lua`), 'utf8'),
    );
  scriptSources = new Map(
    SCRIPTS.map((name) => [name, include(readFileSync(path.join(dir, `${name}.lua`), 'utf8'))]),
  );
  return scriptSources;
}

type ScriptArg = string | number | Buffer;
type ScriptRunner = (...args: ScriptArg[]) => Promise<unknown>;

/** A score as Redis writes it: `inf` and `-inf` are numbers too (Number() makes them NaN). */
function redisNumber(text: string): number {
  if (text === 'inf' || text === '+inf') return Infinity;
  if (text === '-inf') return -Infinity;
  return Number(text);
}

export class OperationQueue {
  private readonly redis: Redis;
  private readonly options: Required<Omit<QueueOptions, 'logger'>>;
  private readonly logger?: Logger;
  private readonly scripts = new Map<ScriptName, ScriptRunner>();
  private readonly claimBytes: ScriptRunner;
  /**
   * Claimed ids that are not valid UTF-8 (junk someone put in pending), by claim token: a
   * Claim carries the id decoded for people, and every transition sends these bytes instead,
   * or the lease would never be found, never end, and the junk would come back forever.
   */
  private readonly rawIds = new Map<string, Buffer>();
  private dropped = 0;

  constructor(redis: Redis, options: QueueOptions) {
    this.redis = redis;
    this.logger = options.logger;
    this.options = {
      workerId: options.workerId,
      leaseMs: options.leaseMs,
      retryBaseMs: options.retryBaseMs,
      retryMaxMs: options.retryMaxMs,
      deadLetterCap: options.deadLetterCap ?? 10_000,
    };
    for (const [name, lua] of loadScripts()) {
      // Namespaced so it cannot collide with commands others define on a shared connection.
      const command = `dbaasQueue_${name.replace(/-/g, '_')}`;
      if (!(command in redis)) redis.defineCommand(command, { numberOfKeys: 0, lua });
      const runner = (redis as unknown as Record<string, ScriptRunner>)[command]!;
      this.scripts.set(name, runner.bind(redis));
    }
    // ioredis defines a variant of each command that answers Buffers instead of strings.
    const claimBytes = (redis as unknown as Record<string, ScriptRunner>).dbaasQueue_claimBuffer!;
    this.claimBytes = claimBytes.bind(redis);
  }

  private run(name: ScriptName, ...args: ScriptArg[]): Promise<unknown> {
    return this.scripts.get(name)!(KEY_PREFIX, ...args);
  }

  /** The id as stored in Redis: its bytes when it is not valid UTF-8. */
  private idOf(claim: Claim): string | Buffer {
    return this.rawIds.get(claim.token) ?? claim.operationId;
  }

  /** The lease of this claim ended (or was never ours): its bytes are not needed any more. */
  private ended<T>(claim: Claim, result: T): T {
    this.rawIds.delete(claim.token);
    return result;
  }

  /** What the platform's API does: ZADD operations:pending priority id. */
  async enqueue(operationId: string, priority: number = DEFAULT_PRIORITY): Promise<void> {
    await this.redis.zadd(queueKeys.pending, priority, operationId);
  }

  /**
   * Atomically: expired leases go back to pending ahead of new work (restarts + 1), due
   * delayed ids move to pending, then up to `max` highest-priority ids are leased with fresh
   * tokens and added to `operations:processing`.
   */
  async claim(max: number): Promise<Claim[]> {
    if (max <= 0) return [];
    const tokens = Array.from({ length: max }, () => randomUUID());
    const { workerId, leaseMs } = this.options;
    const reply = (await this.claimBytes(KEY_PREFIX, max, leaseMs, workerId, ...tokens)) as (
      Buffer | number
    )[];
    const claims: Claim[] = [];
    for (let i = 0; i < reply.length; i += 6) {
      const id = reply[i] as Buffer;
      const claim: Claim = {
        operationId: id.toString('utf8'),
        token: String(reply[i + 1]),
        restarts: Number(reply[i + 2]),
        priority: redisNumber(String(reply[i + 3])),
        claimedAt: Number(reply[i + 4]),
        recovered: Number(reply[i + 5]) > 0,
        takenOver: Number(reply[i + 5]) === 1,
      };
      if (!isUtf8(id)) this.rawIds.set(claim.token, id);
      claims.push(claim);
    }
    return claims;
  }

  /**
   * Extends many leases (and the database locks they hold) in one round trip. Returns the
   * ids whose lease is no longer ours: the worker must stop working on them.
   */
  async renew(claims: Claim[]): Promise<string[]> {
    if (claims.length === 0) return [];
    const pairs = claims.flatMap((claim) => [this.idOf(claim), claim.token]);
    const lost = (await this.run('renew', this.options.leaseMs, ...pairs)) as string[];
    for (const operationId of lost) this.logger?.warn({ operationId }, 'lease_lost');
    return lost;
  }

  /**
   * At most one operation per database: takes `operations:dblock:{databaseId}` for this
   * claim, with the lease's TTL and renewed with it. True if the lock is ours (re-entrant for
   * the same operation); false if another operation holds it or the claim is stale.
   */
  async lockDatabase(claim: Claim, databaseId: string): Promise<boolean> {
    const result = await this.run(
      'lock-database',
      this.idOf(claim),
      claim.token,
      databaseId,
      this.options.leaseMs,
    );
    return result === 1;
  }

  /**
   * A final state was reached: ends the lease, processing membership and database lock, and
   * clears `operations:dedup:{databaseId}:{type}` if it still holds this id. False (and
   * nothing changed) if the claim was stale.
   */
  async complete(claim: Claim, databaseId: string, type: string): Promise<boolean> {
    const result = await this.run('complete', this.idOf(claim), claim.token, databaseId, type);
    return this.ended(claim, result === 1);
  }

  /**
   * A retryable failure with retries left: waits in `operations:delayed` for an
   * exponentially growing, jittered delay (capped at retryMaxMs), then returns to pending at
   * priority 10. `retryNumber` is 1 for the first retry. `ok` is false if the claim was
   * stale (then nothing changed).
   */
  async retry(
    claim: Claim,
    retryNumber: number,
    reason: string,
  ): Promise<{ delayMs: number; ok: boolean }> {
    const { retryBaseMs, retryMaxMs } = this.options;
    const delayMs = retryDelayMs(retryNumber, retryBaseMs, retryMaxMs);
    const ok = this.ended(
      claim,
      (await this.run('retry', this.idOf(claim), claim.token, delayMs)) === 1,
    );
    this.logger?.info(
      { operationId: claim.operationId, retryNumber, delayMs, reason, ok },
      'operation_retry_scheduled',
    );
    return { delayMs, ok };
  }

  /**
   * Out of retries or failed for good: recorded in the dead-letter set with its reason and
   * time; lease, processing, database lock and dedup key cleared as complete() does.
   */
  async deadLetter(
    claim: Claim,
    databaseId: string,
    type: string,
    reason: string,
  ): Promise<boolean> {
    const ok =
      (await this.run(
        'dead-letter',
        this.idOf(claim),
        claim.token,
        databaseId,
        type,
        reason,
        this.options.deadLetterCap,
      )) === 1;
    this.ended(claim, ok);
    if (ok)
      this.logger?.warn({ operationId: claim.operationId, reason }, 'operation_dead_lettered');
    return ok;
  }

  /**
   * Not a failure (the database is busy, say): back to the delayed set for `delayMs`,
   * keeping the claim's own priority; not counted as a retry. False if the claim was stale.
   */
  async defer(claim: Claim, delayMs: number, reason: string): Promise<boolean> {
    const { operationId, token, priority } = claim;
    const id = this.idOf(claim);
    const ok = this.ended(
      claim,
      (await this.run('defer', id, token, Math.max(0, delayMs), priority, carry(claim))) === 1,
    );
    this.logger?.debug({ operationId, delayMs, reason, ok }, 'operation_deferred');
    return ok;
  }

  /**
   * Graceful shutdown: straight back to pending ahead of new work, lease, processing and
   * database lock released; not counted as a retry. False if the claim was stale.
   */
  async release(claim: Claim): Promise<boolean> {
    const { operationId, token, priority } = claim;
    const ok = this.ended(
      claim,
      (await this.run('release', this.idOf(claim), token, priority, carry(claim))) === 1,
    );
    this.logger?.info({ operationId, ok }, 'operation_released');
    return ok;
  }

  /**
   * Forgets an id that must never run (operation missing, already final, cancelled, or not
   * an operation id): lease, processing, pending and delayed. Logged and counted.
   */
  async drop(claim: Claim, reason: string): Promise<boolean> {
    const ok = this.ended(claim, (await this.run('drop', this.idOf(claim), claim.token)) === 1);
    if (ok) {
      this.dropped += 1;
      this.logger?.warn({ operationId: claim.operationId, reason }, 'queue_member_dropped');
    }
    return ok;
  }

  /** Ids this queue object dropped (stats() has the count across all workers). */
  droppedCount(): number {
    return this.dropped;
  }

  /**
   * Takes a waiting id out of pending and delayed (it was cancelled). With the operation's
   * database and type, also clears the platform's dedup key while it names this id.
   * True if the id was waiting.
   */
  async remove(
    operationId: string,
    dedup?: { databaseId: string; type: string },
  ): Promise<boolean> {
    const args = dedup ? [operationId, dedup.databaseId, dedup.type] : [operationId];
    return (await this.run('remove', ...args)) === 1;
  }

  /**
   * Puts back into pending (at `priority`) every id no queue structure holds: pending,
   * delayed, leased or dead. For ids MongoDB says are unfinished; returns the ones put back.
   */
  async adopt(operationIds: string[], priority: number = DEFAULT_PRIORITY): Promise<string[]> {
    if (operationIds.length === 0) return [];
    return (await this.run('adopt', priority, ...operationIds)) as string[];
  }

  /** Recovers expired leases and promotes due delayed ids without claiming anything. */
  async promote(): Promise<{ recovered: number; promoted: number }> {
    const [recovered, promoted] = (await this.run('promote')) as [number, number];
    return { recovered, promoted };
  }

  /** Dead letters, newest first. */
  async deadLetters(limit = 100): Promise<DeadLetter[]> {
    if (limit <= 0) return [];
    const entries = await this.redis.zrevrange(queueKeys.dead, 0, limit - 1, 'WITHSCORES');
    const ids = entries.filter((_, index) => index % 2 === 0);
    if (ids.length === 0) return [];
    const reasons = await this.redis.hmget(queueKeys.deadReasons, ...ids);
    return ids.map((operationId, index) => ({
      operationId,
      reason: reasons[index] ?? '',
      at: Number(entries[index * 2 + 1]),
    }));
  }

  /** Admin retry of a dead letter: back to pending (default priority 10). */
  async requeueDead(operationId: string, priority: number = RETRY_PRIORITY): Promise<boolean> {
    return (await this.run('requeue-dead', operationId, priority)) === 1;
  }

  async depths(): Promise<QueueDepths> {
    const results = await this.redis
      .multi()
      .zcard(queueKeys.pending)
      .zcard(queueKeys.delayed)
      .scard(queueKeys.processing)
      .zcard(queueKeys.leases)
      .zcard(queueKeys.dead)
      .exec();
    const [pending, delayed, processing, leased, dead] = (results ?? []).map(([error, value]) => {
      if (error) throw error;
      return Number(value);
    });
    return {
      pending: pending ?? 0,
      delayed: delayed ?? 0,
      processing: processing ?? 0,
      leased: leased ?? 0,
      dead: dead ?? 0,
    };
  }

  /** Counters kept in Redis, shared by every worker. */
  async stats(): Promise<QueueStats> {
    const [recovered, dropped, dead] = await this.redis.hmget(
      queueKeys.stats,
      'leases_recovered',
      'dropped',
      'dead_lettered',
    );
    return {
      leasesRecovered: Number(recovered ?? 0),
      dropped: Number(dropped ?? 0),
      deadLettered: Number(dead ?? 0),
    };
  }
}

/** Whether a hand-back keeps the claim's recovered mark for the next claim (see Claim). */
function carry(claim: Claim): string {
  return claim.recovered ? '1' : '0';
}
