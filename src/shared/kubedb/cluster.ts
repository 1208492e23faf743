// One Kubernetes cluster as the worker uses it: read and patch KubeDB databases, create,
// read, list and delete OpsRequests, and follow them to a final phase through shared
// watches. Every change is sent with fieldValidation=Strict, so a field the CRD does not
// know fails loudly instead of being dropped. Transient failures (network, time limits,
// 429, 5xx, conflicts) are retried with backoff, honouring Retry-After; permanent ones
// (400, 401, 403, 404, 422) fail at once with the API server's message.

import type { KubeConfig } from '@kubernetes/client-node';
import pRetry from 'p-retry';
import type { Config } from '../config.js';
import { PermanentError, TransientError, isRetryable } from '../errors.js';
import type { Logger } from '../logger.js';
import { ENGINES, type Engine } from '../types.js';
import { kubeReason, kubeStatusCode, type KubeErrorDetails } from './api-errors.js';
import { LABELS, MANAGED_BY } from './ops-request-builder.js';
import {
  OpsRequestWatcher,
  type FeedSource,
  type OpsRequestStatus,
  type WatchTiming,
} from './ops-request-watch.js';
import type { MergePatch } from './patch.js';
import {
  databaseType,
  opsRequestType,
  resourcePath,
  type KubeObject,
  type ResourceType,
} from './resources.js';
import { KubeTransport, type KubeRequest, type KubeResponse } from './transport.js';

export interface RetryPolicy {
  /** Retries after the first try (429 answers do not use them up; maxRetryTimeMs bounds all). */
  retries: number;
  minTimeoutMs: number;
  maxTimeoutMs: number;
  maxRetryTimeMs: number;
  /** Longest Retry-After honoured; a server asking for more gets this. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  retries: 6,
  minTimeoutMs: 250,
  maxTimeoutMs: 8_000,
  maxRetryTimeMs: 60_000,
  maxRetryAfterMs: 30_000,
};

export interface KubeClusterOptions {
  config: Pick<Config, 'kubedbApiVersion' | 'kubeRequestTimeoutMs' | 'watchIdleMs' | 'resyncMs'> &
    Partial<Pick<Config, 'opsRequestWatchScope'>>;
  logger: Logger;
  retry?: Partial<RetryPolicy>;
  watch?: Partial<WatchTiming>;
}

export interface KubeClusterStats {
  /** Requests sent, watches included. */
  requests: number;
  byVerb: Record<string, number>;
  /** Shared OpsRequest feeds (kind + namespace), streams open now, followers waiting. */
  feeds: number;
  streams: number;
  followers: number;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });
}

export class KubeCluster {
  private readonly transport: KubeTransport;
  private readonly retry: RetryPolicy;
  private readonly watcher: OpsRequestWatcher;
  private readonly logger: Logger;
  private inFlight = 0;
  private retired = false;
  private closed = false;

  constructor(
    kubeConfig: KubeConfig,
    private readonly options: KubeClusterOptions,
  ) {
    const { config } = options;
    this.logger = options.logger;
    this.transport = new KubeTransport(kubeConfig, config.kubeRequestTimeoutMs);
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.watcher = new OpsRequestWatcher(
      (kind, namespace) => this.feedSource(kind, namespace),
      {
        idleMs: config.watchIdleMs,
        resyncMs: config.resyncMs,
        pollMs: Math.min(5_000, config.watchIdleMs),
        lingerMs: 5_000,
        confirmMs: 2_000,
        ...options.watch,
      },
      this.logger,
      config.opsRequestWatchScope,
    );
  }

  async getDatabase(
    engine: Engine,
    namespace: string,
    name: string,
    signal?: AbortSignal,
  ): Promise<KubeObject> {
    const type = this.databaseType(engine);
    const target = `${type.kind} ${namespace}/${name}`;
    const path = resourcePath(type, namespace, name);
    const { body } = await this.call({ verb: 'get', path, target }, signal);
    return body as KubeObject;
  }

  /** A JSON merge patch (RFC 7386) of the database resource; returns the patched resource. */
  async patchDatabase(
    engine: Engine,
    namespace: string,
    name: string,
    patch: MergePatch,
    signal?: AbortSignal,
  ): Promise<KubeObject> {
    const type = this.databaseType(engine);
    const { body } = await this.call(
      {
        verb: 'patch',
        path: resourcePath(type, namespace, name),
        target: `${type.kind} ${namespace}/${name}`,
        query: { fieldValidation: 'Strict' },
        body: patch,
        contentType: 'application/merge-patch+json',
      },
      signal,
    );
    return body as KubeObject;
  }

  /**
   * Creates the OpsRequest, or adopts the one of the same name left by an earlier try of
   * the same operation attempt (a crash, a lost response). One of the same name made for
   * another operation is a permanent error: its name cannot be taken over.
   */
  async createOpsRequest(engine: Engine, body: KubeObject, signal?: AbortSignal) {
    const type = opsRequestType(engine);
    const name = body.metadata?.name;
    const namespace = body.metadata?.namespace;
    if (!name || !namespace || body.kind !== type.kind) {
      throw new PermanentError(
        'REQUEST_INVALID',
        `an OpsRequest for ${engine} needs kind ${type.kind}, a name and a namespace`,
        { hint: 'Build it with buildOpsRequest' },
      );
    }
    const target = `${type.kind} ${namespace}/${name}`;
    for (let round = 0; round < 3; round += 1) {
      try {
        const created = await this.call(
          {
            verb: 'create',
            path: resourcePath(type, namespace),
            target,
            query: { fieldValidation: 'Strict' },
            body,
          },
          signal,
        );
        return created.body as KubeObject;
      } catch (error) {
        if (kubeReason(error) !== 'AlreadyExists') throw error;
      }
      const existing = await this.getOpsRequest(engine, namespace, name, signal);
      // Deleted between our create and our read: create it again.
      if (!existing) continue;
      if (sameAttempt(existing, body)) {
        this.logger.info({ opsRequest: name, namespace }, 'ops_request_adopted');
        return existing;
      }
      const owner = existing.metadata?.labels?.[LABELS.operationId] ?? 'no operation';
      throw new PermanentError(
        'KUBE_REJECTED',
        `${target} already exists and belongs to ${owner}, not to this operation`,
        {
          hint: 'Delete or rename that OpsRequest, then queue the operation again',
          details: { reason: 'AlreadyExists', statusCode: 409, verb: 'create', target },
        },
      );
    }
    throw new TransientError('KUBE_TRANSIENT', `${target} kept disappearing while created`);
  }

  /** The OpsRequest, or null when there is none of that name. */
  async getOpsRequest(
    engine: Engine,
    namespace: string,
    name: string,
    signal?: AbortSignal,
  ): Promise<KubeObject | null> {
    const type = opsRequestType(engine);
    const { statusCode, body } = await this.call(
      {
        verb: 'get',
        path: resourcePath(type, namespace, name),
        target: `${type.kind} ${namespace}/${name}`,
        accept: [404],
      },
      signal,
    );
    return statusCode === 404 ? null : (body as KubeObject);
  }

  /** Deletes the OpsRequest; one that is already gone is fine. */
  async deleteOpsRequest(
    engine: Engine,
    namespace: string,
    name: string,
    signal?: AbortSignal,
  ): Promise<void> {
    const type = opsRequestType(engine);
    await this.call(
      {
        verb: 'delete',
        path: resourcePath(type, namespace, name),
        target: `${type.kind} ${namespace}/${name}`,
        accept: [404],
      },
      signal,
    );
  }

  async listOpsRequests(
    engine: Engine,
    namespace: string,
    labelSelector?: string,
    signal?: AbortSignal,
  ): Promise<KubeObject[]> {
    const type = opsRequestType(engine);
    const { body } = await this.call(
      {
        verb: 'list',
        path: resourcePath(type, namespace),
        target: `${type.kind} in ${namespace}`,
        query: { labelSelector },
      },
      signal,
    );
    return (body as { items?: KubeObject[] }).items ?? [];
  }

  /**
   * Resolves with the OpsRequest's status once its phase is final (Successful, Failed,
   * Denied, Skipped); `onUpdate` hears every change of phase or conditions on the way.
   * Rejects with a PermanentError (details.reason NotFound) if it does not exist or is
   * deleted first, and with the signal's reason when the signal aborts.
   */
  async follow(
    engine: Engine,
    namespace: string,
    name: string,
    onUpdate: (status: OpsRequestStatus) => void,
    signal?: AbortSignal,
  ): Promise<OpsRequestStatus> {
    const kind = opsRequestType(engine).kind;
    try {
      return await this.watcher.follow(kind, namespace, name, onUpdate, signal);
    } finally {
      this.closeIfRetiredAndIdle();
    }
  }

  stats(): KubeClusterStats {
    const byVerb = this.transport.requestCounts();
    const requests = Object.values(byVerb).reduce((sum, n) => sum + n, 0);
    return { requests, byVerb, ...this.watcher.stats() };
  }

  /** Closes once nothing runs on this cluster any more; used when its kubeconfig changed. */
  retire(): void {
    this.retired = true;
    this.closeIfRetiredAndIdle();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watcher.close();
    this.transport.close();
  }

  private closeIfRetiredAndIdle() {
    if (this.retired && this.inFlight === 0 && this.watcher.stats().followers === 0) this.close();
  }

  private databaseType(engine: Engine): ResourceType {
    return databaseType(engine, this.options.config.kubedbApiVersion);
  }

  /**
   * A feed of one kind in one namespace, or (namespace null) in every namespace. The
   * cluster-wide one reads only this worker's OpsRequests (by label): a cluster holds far
   * more OpsRequests than one namespace, and only ours are ever followed then.
   */
  private feedSource(kind: string, namespace: string | null): FeedSource {
    const type = ENGINES.map((engine) => opsRequestType(engine)).find((t) => t.kind === kind);
    if (!type) throw new Error(`${kind} is not a KubeDB OpsRequest kind`);
    const path =
      namespace === null
        ? `/apis/${type.group}/${type.version}/${type.plural}`
        : resourcePath(type, namespace);
    const describe = namespace === null ? `${kind} in all namespaces` : `${kind} in ${namespace}`;
    const labelSelector = namespace === null ? `${LABELS.managedBy}=${MANAGED_BY}` : undefined;
    return {
      describe,
      allNamespaces: namespace === null,
      list: async (signal) => {
        const { body } = await this.transport.request({
          verb: 'list',
          path,
          target: describe,
          query: { labelSelector },
          signal,
        });
        const list = body as { items?: KubeObject[]; metadata?: { resourceVersion?: string } };
        return { items: list.items ?? [], resourceVersion: list.metadata?.resourceVersion ?? '0' };
      },
      watch: (resourceVersion, signal) =>
        this.transport.stream({
          verb: 'watch',
          path,
          target: describe,
          query: { watch: '1', resourceVersion, allowWatchBookmarks: 'true', labelSelector },
          signal,
        }),
    };
  }

  /** One API call with retries of transient failures. */
  private async call(request: KubeRequest, signal?: AbortSignal): Promise<KubeResponse> {
    this.inFlight += 1;
    try {
      return await pRetry(() => this.transport.request({ ...request, signal }), {
        retries: this.retry.retries,
        factor: 2,
        minTimeout: this.retry.minTimeoutMs,
        maxTimeout: this.retry.maxTimeoutMs,
        maxRetryTime: this.retry.maxRetryTimeMs,
        randomize: true,
        signal,
        shouldRetry: ({ error }) => isRetryable(error) && !signal?.aborted,
        // Throttling is the server asking for patience, not a fault: it costs no retry.
        shouldConsumeRetry: ({ error }) => kubeStatusCode(error) !== 429,
        onFailedAttempt: async ({ error, attemptNumber }) => {
          if (!isRetryable(error)) return;
          const details = (error as { details?: KubeErrorDetails }).details;
          const retryAfter = Math.min(details?.retryAfterMs ?? 0, this.retry.maxRetryAfterMs);
          this.logger.debug(
            {
              verb: request.verb,
              target: request.target,
              attempt: attemptNumber,
              statusCode: details?.statusCode,
              retryAfterMs: retryAfter || undefined,
            },
            'kube_request_retry',
          );
          if (retryAfter > 0) await sleep(retryAfter, signal);
        },
      });
    } finally {
      this.inFlight -= 1;
      this.closeIfRetiredAndIdle();
    }
  }
}

function sameAttempt(existing: KubeObject, body: KubeObject): boolean {
  const mine = body.metadata?.labels ?? {};
  const theirs = existing.metadata?.labels ?? {};
  return (
    theirs[LABELS.operationId] !== undefined &&
    theirs[LABELS.operationId] === mine[LABELS.operationId] &&
    theirs[LABELS.attempt] === mine[LABELS.attempt]
  );
}
