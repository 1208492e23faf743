// Follows OpsRequests to their final phase with one shared watch per OpsRequest kind and
// namespace, however many operations wait on them: API load grows with the number of
// kinds and namespaces in use, not with the number of OpsRequests followed.
//
// Each feed LISTs once, then WATCHes from the list's resourceVersion and keeps the status
// of every OpsRequest of its kind in the namespace, so a follower that arrives later is
// answered from memory. A cut stream resumes from the last resourceVersion seen; 410 Gone,
// a silent stream (no event or bookmark for watchIdleMs; load balancers drop connections
// without a word) and the periodic resync relist first. While watches keep failing the
// feed falls back to one LIST per pollMs. A feed stops once no one follows it for lingerMs.

import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { PermanentError, TransientError, WorkerError, errorMessage } from '../errors.js';
import { asStatus, kubeStatusCode } from './api-errors.js';
import type { KubeObject } from './resources.js';

export interface OpsRequestCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface OpsRequestStatus {
  name: string;
  uid?: string;
  /** Pending, Progressing, Successful, WaitingForApproval, Failed, Approved, Denied, Skipped */
  phase: string | null;
  /**
   * Why it ended, for Failed, Denied and Skipped (from status.conditions); otherwise the
   * latest condition's message, which says what KubeDB is doing.
   */
  reason?: string;
  conditions: OpsRequestCondition[];
}

export const FINAL_PHASES: readonly string[] = ['Successful', 'Failed', 'Denied', 'Skipped'];

export function isFinalPhase(phase: string | null | undefined): boolean {
  return phase !== null && phase !== undefined && FINAL_PHASES.includes(phase);
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The status of an OpsRequest object as followers see it. */
export function opsRequestStatus(object: KubeObject): OpsRequestStatus {
  const status = (object.status ?? {}) as { phase?: unknown; conditions?: unknown };
  const conditions: OpsRequestCondition[] = Array.isArray(status.conditions)
    ? status.conditions
        .filter((c): c is Record<string, unknown> => typeof c === 'object' && c !== null)
        .map((c) => ({
          type: String(c.type ?? ''),
          status: String(c.status ?? ''),
          reason: text(c.reason),
          message: text(c.message),
          lastTransitionTime: text(c.lastTransitionTime),
        }))
    : [];
  const phase = text(status.phase) ?? null;
  return {
    name: object.metadata?.name ?? '',
    uid: object.metadata?.uid,
    phase,
    reason: reasonOf(phase, conditions),
    conditions,
  };
}

/**
 * When KubeDB finished the OpsRequest, by the cluster's clock: the Successful (or final phase)
 * condition's lastTransitionTime, else the latest condition's. Null when no condition carries
 * a valid time. Kubernetes keeps these to the second.
 */
export function finishedAt(status: OpsRequestStatus): Date | null {
  const times = (conditions: OpsRequestCondition[]) =>
    conditions
      .map((c) => (c.lastTransitionTime ? Date.parse(c.lastTransitionTime) : NaN))
      .filter((time) => Number.isFinite(time));
  const own = times(status.conditions.filter((c) => c.type === status.phase));
  const all = own.length > 0 ? own : times(status.conditions);
  return all.length > 0 ? new Date(Math.max(...all)) : null;
}

function reasonOf(phase: string | null, conditions: OpsRequestCondition[]): string | undefined {
  const explain = (c: OpsRequestCondition | undefined) =>
    c ? (c.message ?? c.reason ?? c.type) : undefined;
  if (phase === 'Failed' || phase === 'Denied' || phase === 'Skipped') {
    // KubeDB marks the step that failed with status False, and may add a condition named
    // after the phase; the latest of either says why.
    const failed = [...conditions]
      .reverse()
      .find((c) => c.status === 'False' || c.type === phase || c.reason === phase);
    return explain(failed ?? conditions.at(-1));
  }
  return explain(conditions.at(-1));
}

/** How a feed reads its OpsRequests; implemented by KubeCluster for one kind and namespace. */
export interface FeedSource {
  /** Names the feed in errors and logs, e.g. "MongoDBOpsRequest in demo". */
  describe: string;
  /** True when the feed reads every namespace: objects are then told apart as ns/name. */
  allNamespaces?: boolean;
  list(signal: AbortSignal): Promise<{ items: KubeObject[]; resourceVersion: string }>;
  watch(resourceVersion: string, signal: AbortSignal): Promise<IncomingMessage>;
}

export interface WatchTiming {
  /** A stream without any event or bookmark for this long is dropped and relisted. */
  idleMs: number;
  /** Relist this often even when the watch looks healthy. */
  resyncMs: number;
  /** While watches fail: one LIST this often. */
  pollMs: number;
  /** A feed nobody follows stops after this long. */
  lingerMs: number;
  /** A followed name not yet seen is looked for by a relist after this long. */
  confirmMs: number;
}

interface Follower {
  name: string;
  onUpdate: (status: OpsRequestStatus) => void;
  settle: (outcome: { status: OpsRequestStatus } | { error: unknown }) => void;
  lastSeen: string | null;
  /** Lists started before this follower arrived; a later list not showing it means gone. */
  listsBefore: number;
}

type Cut = 'stopped' | 'idle' | 'resync' | 'confirm' | 'gone';
type Outcome = Cut | 'closed' | 'failed';

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** One shared LIST+WATCH of one OpsRequest kind in one namespace. */
class OpsRequestFeed {
  private readonly statuses = new Map<string, OpsRequestStatus>();
  private readonly followers = new Map<string, Set<Follower>>();
  private followerCount = 0;
  private resourceVersion: string | null = null;
  private listsStarted = 0;
  private listed = false;
  private lastListAt = 0;
  private readonly stop = new AbortController();
  private stream: { controller: AbortController; cut: Cut | null } | null = null;
  private lingerTimer: NodeJS.Timeout | null = null;
  private confirmTimer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(
    private readonly source: FeedSource,
    private readonly timing: WatchTiming,
    private readonly logger: Logger,
    private readonly onStopped: () => void,
  ) {}

  get streaming(): boolean {
    return this.stream !== null;
  }

  /** How this feed names an object: its name, or namespace/name across namespaces. */
  private keyOf(object: KubeObject): string | undefined {
    const name = object.metadata?.name;
    if (!name || !this.source.allNamespaces) return name;
    return `${object.metadata?.namespace ?? ''}/${name}`;
  }

  get size(): number {
    return this.followerCount;
  }

  follow(
    name: string,
    onUpdate: (status: OpsRequestStatus) => void,
    signal?: AbortSignal,
  ): Promise<OpsRequestStatus> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<OpsRequestStatus>((resolve, reject) => {
      const onAbort = () => follower.settle({ error: signal?.reason });
      const follower: Follower = {
        name,
        onUpdate,
        lastSeen: null,
        listsBefore: this.listsStarted,
        settle: (outcome) => {
          if (!this.remove(follower)) return;
          signal?.removeEventListener('abort', onAbort);
          if ('status' in outcome) resolve(outcome.status);
          else reject(outcome.error);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.add(follower);

      const known = this.statuses.get(name);
      // Delivered on a later tick so the caller's own setup after follow() has run.
      if (known) queueMicrotask(() => this.deliverTo(follower, known));
      else if (this.listed) this.scheduleConfirm();
      if (!this.running) void this.run();
    });
  }

  private add(follower: Follower) {
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = null;
    let set = this.followers.get(follower.name);
    if (!set) this.followers.set(follower.name, (set = new Set()));
    set.add(follower);
    this.followerCount += 1;
  }

  /** False when the follower had already left. */
  private remove(follower: Follower): boolean {
    const set = this.followers.get(follower.name);
    if (!set?.delete(follower)) return false;
    if (set.size === 0) this.followers.delete(follower.name);
    this.followerCount -= 1;
    if (this.followerCount === 0) {
      this.lingerTimer = setTimeout(() => this.shutdown(), this.timing.lingerMs);
      this.lingerTimer.unref();
    }
    return true;
  }

  shutdown() {
    if (this.followerCount > 0 && !this.stop.signal.aborted) {
      for (const set of [...this.followers.values()]) {
        for (const follower of [...set]) {
          follower.settle({
            error: new TransientError(
              'KUBE_TRANSIENT',
              `the watch of ${this.source.describe} was closed before ${follower.name} finished`,
              { hint: 'Follow it again; the OpsRequest itself is not affected' },
            ),
          });
        }
      }
    }
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    if (this.confirmTimer) clearTimeout(this.confirmTimer);
    if (!this.stop.signal.aborted) {
      this.stop.abort();
      this.onStopped();
    }
  }

  private async run() {
    this.running = true;
    const stop = this.stop.signal;
    let failures = 0;
    this.logger.debug({ feed: this.source.describe }, 'ops_request_watch_started');
    while (!stop.aborted) {
      if (this.resourceVersion === null) {
        try {
          await this.relist(stop);
        } catch (error) {
          if (stop.aborted) break;
          if (error instanceof WorkerError && !error.retryable) {
            this.failAll(error);
            break;
          }
          this.logger.warn(
            { feed: this.source.describe, error: errorMessage(error) },
            'ops_request_list_failed',
          );
          await sleep(this.timing.pollMs, stop);
          continue;
        }
      }

      const outcome = await this.watchOnce(stop);
      this.logger.debug({ feed: this.source.describe, outcome }, 'ops_request_watch_ended');
      if (outcome === 'stopped') break;
      if (outcome === 'closed') {
        failures = 0;
        continue;
      }
      if (outcome === 'failed') {
        failures += 1;
        // One broken stream is resumed at once; after that, poll while watches fail.
        if (failures > 1) {
          await sleep(this.timing.pollMs, stop);
          this.resourceVersion = null;
        }
        continue;
      }
      if (outcome === 'idle') {
        this.logger.warn(
          { feed: this.source.describe, idleMs: this.timing.idleMs },
          'ops_request_watch_idle',
        );
      }
      // idle, resync, confirm, gone: relist, then watch from the new resourceVersion.
      this.resourceVersion = null;
    }
    this.running = false;
    this.logger.debug({ feed: this.source.describe }, 'ops_request_watch_stopped');
  }

  // Known shortcoming: the LIST reads every OpsRequest of the kind in the namespace in one
  // page, not only the worker's (followed OpsRequests made by the old worker carry none of
  // our labels). A namespace holding thousands of finished OpsRequests makes each relist
  // that much bigger; DELETE_FINISHED_OPS_REQUESTS keeps the worker's own share small.
  private async relist(stop: AbortSignal) {
    const listNumber = ++this.listsStarted;
    this.logger.debug({ feed: this.source.describe, list: listNumber }, 'ops_request_list');
    this.lastListAt = Date.now();
    const { items, resourceVersion } = await this.source.list(stop);
    const present = new Set<string>();
    for (const item of items) {
      const name = this.keyOf(item);
      if (!name) continue;
      present.add(name);
      this.update(item);
    }
    for (const name of [...this.statuses.keys()]) {
      if (!present.has(name)) this.statuses.delete(name);
    }
    for (const set of [...this.followers.values()]) {
      for (const follower of [...set]) {
        if (present.has(follower.name)) continue;
        if (follower.listsBefore < listNumber) follower.settle({ error: this.gone(follower) });
      }
    }
    this.resourceVersion = resourceVersion;
    this.listed = true;
    if (this.followers.size > 0 && [...this.followers.keys()].some((n) => !present.has(n))) {
      this.scheduleConfirm();
    }
  }

  private watchOnce(stop: AbortSignal): Promise<Outcome> {
    const controller = new AbortController();
    const stream: { controller: AbortController; cut: Cut | null } = { controller, cut: null };
    const cut = (reason: Cut) => {
      stream.cut ??= reason;
      controller.abort();
    };
    const onStop = () => cut('stopped');
    stop.addEventListener('abort', onStop, { once: true });
    this.stream = stream;

    let idleTimer: NodeJS.Timeout | undefined;
    const touch = () => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => cut('idle'), this.timing.idleMs);
    };
    const resyncIn = Math.max(0, this.lastListAt + this.timing.resyncMs - Date.now());
    const resyncTimer = setTimeout(() => cut('resync'), resyncIn);
    let received = 0;

    const finish = (outcome: Outcome): Outcome => {
      clearTimeout(idleTimer);
      clearTimeout(resyncTimer);
      stop.removeEventListener('abort', onStop);
      if (this.stream === stream) this.stream = null;
      return stream.cut ?? (outcome === 'closed' && received === 0 ? 'failed' : outcome);
    };

    return (async (): Promise<Outcome> => {
      let response: IncomingMessage;
      touch();
      try {
        response = await this.source.watch(this.resourceVersion ?? '0', controller.signal);
      } catch (error) {
        if (kubeStatusCode(error) === 410) return finish('gone');
        if (!stream.cut) {
          this.logger.warn(
            { feed: this.source.describe, error: errorMessage(error) },
            'ops_request_watch_failed',
          );
        }
        return finish('failed');
      }
      return new Promise<Outcome>((resolve) => {
        let buffer = '';
        let settled = false;
        const end = (outcome: Outcome) => {
          if (settled) return;
          settled = true;
          response.destroy();
          resolve(finish(outcome));
        };
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          touch();
          buffer += chunk;
          let newline: number;
          while ((newline = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, newline).trim();
            buffer = buffer.slice(newline + 1);
            if (!line) continue;
            received += 1;
            if (this.onEvent(line) === 'gone') cut('gone');
          }
        });
        response.on('end', () => end('closed'));
        response.on('close', () => end('closed'));
        response.on('error', () => end('closed'));
      });
    })();
  }

  private onEvent(line: string): 'gone' | void {
    let event: { type?: string; object?: KubeObject };
    try {
      event = JSON.parse(line) as { type?: string; object?: KubeObject };
    } catch {
      this.logger.warn({ feed: this.source.describe }, 'ops_request_watch_unreadable_event');
      return;
    }
    const object = event.object ?? {};
    if (event.type === 'ERROR') {
      const status = asStatus(object);
      this.logger.info(
        { feed: this.source.describe, code: status?.code, reason: status?.reason },
        'ops_request_watch_error_event',
      );
      return 'gone';
    }
    const resourceVersion = object.metadata?.resourceVersion;
    if (resourceVersion) this.resourceVersion = resourceVersion;
    const name = this.keyOf(object);
    if (event.type === 'BOOKMARK' || !name) return;
    if (event.type === 'DELETED') {
      this.statuses.delete(name);
      for (const follower of [...(this.followers.get(name) ?? [])]) {
        follower.settle({ error: this.gone(follower, true) });
      }
      return;
    }
    this.update(object);
  }

  private update(object: KubeObject) {
    const status = opsRequestStatus(object);
    const key = this.keyOf(object) ?? status.name;
    this.statuses.set(key, status);
    for (const follower of [...(this.followers.get(key) ?? [])]) {
      this.deliverTo(follower, status);
    }
  }

  private deliverTo(follower: Follower, status: OpsRequestStatus) {
    const seen = JSON.stringify([status.phase, status.reason, status.conditions.length]);
    if (seen !== follower.lastSeen) {
      follower.lastSeen = seen;
      try {
        follower.onUpdate(status);
      } catch (error) {
        // A follower's callback must not break the feed every other follower relies on.
        this.logger.warn({ error: errorMessage(error) }, 'ops_request_follower_failed');
      }
    }
    if (isFinalPhase(status.phase)) follower.settle({ status });
  }

  /** A relist soon, for followed names the feed has not seen: created since, or gone. */
  private scheduleConfirm() {
    if (this.confirmTimer) return;
    this.confirmTimer = setTimeout(() => {
      this.confirmTimer = null;
      const unseen = [...this.followers.keys()].some((name) => !this.statuses.has(name));
      if (!unseen) return;
      if (this.stream) {
        this.stream.cut ??= 'confirm';
        this.stream.controller.abort();
      } else {
        this.resourceVersion = null;
      }
    }, this.timing.confirmMs);
    this.confirmTimer.unref();
  }

  private gone(follower: Follower, deleted = false): PermanentError {
    const what = `${this.source.describe.split(' ')[0]} ${follower.name}`;
    return new PermanentError(
      'KUBE_REJECTED',
      deleted
        ? `${what} was deleted before it reached a final phase`
        : `${what} does not exist in ${this.source.describe.split(' in ').at(-1)}`,
      {
        hint: 'Someone removed it, or it was never created; a new attempt creates a new one',
        details: { reason: 'NotFound', statusCode: 404, name: follower.name, deleted },
      },
    );
  }

  private failAll(error: unknown) {
    for (const set of [...this.followers.values()]) {
      for (const follower of [...set]) follower.settle({ error });
    }
  }
}

/**
 * All OpsRequest feeds of one cluster: one per kind and namespace, or, with scope
 * `cluster`, one per kind across all namespaces (needs cluster-wide list/watch rights; the
 * number of watches then stays flat however many namespaces hold operations).
 */
export class OpsRequestWatcher {
  private readonly feeds = new Map<string, OpsRequestFeed>();

  constructor(
    private readonly sourceFor: (kind: string, namespace: string | null) => FeedSource,
    private readonly timing: WatchTiming,
    private readonly logger: Logger,
    private readonly scope: 'namespace' | 'cluster' = 'namespace',
  ) {}

  follow(
    kind: string,
    namespace: string,
    name: string,
    onUpdate: (status: OpsRequestStatus) => void,
    signal?: AbortSignal,
  ): Promise<OpsRequestStatus> {
    const wide = this.scope === 'cluster';
    const key = wide ? kind : `${kind}/${namespace}`;
    let feed = this.feeds.get(key);
    if (!feed) {
      const created: OpsRequestFeed = new OpsRequestFeed(
        this.sourceFor(kind, wide ? null : namespace),
        this.timing,
        this.logger,
        () => {
          if (this.feeds.get(key) === created) this.feeds.delete(key);
        },
      );
      this.feeds.set(key, created);
      feed = created;
    }
    return feed.follow(wide ? `${namespace}/${name}` : name, onUpdate, signal);
  }

  stats(): { feeds: number; streams: number; followers: number } {
    const feeds = [...this.feeds.values()];
    return {
      feeds: feeds.length,
      streams: feeds.filter((feed) => feed.streaming).length,
      followers: feeds.reduce((sum, feed) => sum + feed.size, 0),
    };
  }

  close() {
    for (const feed of [...this.feeds.values()]) feed.shutdown();
    this.feeds.clear();
  }
}
