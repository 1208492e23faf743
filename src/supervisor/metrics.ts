// The supervisor's one Prometheus registry. Actors run in worker threads, where a prom-client
// registry would be a separate, never-scraped copy; they send MetricEvents instead and the
// supervisor applies them here. State the supervisor already knows (queue sizes, actors in
// flight) is read when scraped, through getters, so it cannot drift from the truth.
//
// Names keep the old Python worker's series: its client appended `_total` to counters, so
// `dbaas_worker_operations_processed` and `dbaas_worker_errors` are exposed with that suffix.
// docs/metrics.md describes every metric.

import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { MetricEvent } from '../shared/metric-events.js';
import type { QueueView } from './admin-backend.js';
import { withTimeout } from './with-timeout.js';

/** Seconds to hours: an operation waits on KubeDB for minutes, a storage expansion for hours. */
export const DURATION_BUCKETS = [
  1, 5, 10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800,
];

/** How often the event loop lag monitor checks in. */
const LAG_INTERVAL_MS = 10;

const QUEUE_STATES = ['pending', 'delayed', 'processing', 'leased', 'dead'] as const;

export interface MetricsSources {
  /** Value of the `worker_id` label. */
  workerId?: string;
  /** WORKER_CONCURRENCY, or a getter if it can change. */
  concurrency?: number | (() => number);
  /** Actors running now. */
  inFlight?: () => number;
  /** Queue sizes; read once per scrape, however many gauges show them. */
  queueDepths?: () => Promise<QueueView>;
  /** A scrape waits this long for queueDepths before showing the last known sizes. */
  queueTimeoutMs?: number;
  /** Called when queueDepths fails or times out; the scrape still answers. */
  onCollectError?: (error: unknown) => void;
  /** Node's process metrics (CPU, memory, GC, event loop); on unless false. */
  defaultMetrics?: boolean;
}

export interface Metrics {
  registry: Registry;
  operationTotal: Counter<'type' | 'status'>;
  operationDuration: Histogram<'type'>;
  operationRetries: Counter<'type'>;
  queueDepth: Gauge;
  queueDepthByState: Gauge<'state'>;
  queueProcessing: Gauge;
  workerBusy: Gauge<'worker_id'>;
  workerOperationsProcessed: Counter<'worker_id'>;
  workerErrors: Counter<'worker_id'>;
  opsRequestCreated: Counter<'engine' | 'type'>;
  opsRequestDuration: Histogram<'engine' | 'type'>;
  opsRequestPhase: Counter<'engine' | 'type' | 'phase'>;
  actorsInFlight: Gauge;
  workerConcurrency: Gauge;
  threadRestarts: Counter;
  leasesRecovered: Counter;
  deadLetters: Counter;
  queueDropped: Counter<'reason'>;
  kubeApiRequests: Counter<'verb' | 'code'>;
  eventLoopLag: Gauge;
  /**
   * Applies one event sent by an actor. Never throws: a malformed event from a buggy thread
   * is ignored (returns false) rather than taking the supervisor down.
   */
  apply(event: MetricEvent): boolean;
  /** Prometheus text exposition of the whole registry. */
  text(): Promise<string>;
  contentType: string;
  /** Stops the event loop delay sampler. */
  stop(): void;
}

function positive(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : null;
}

function times(count: unknown): number {
  return count === undefined ? 1 : (positive(count) ?? 0);
}

function label(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : 'unknown';
}

export function createMetrics(sources: MetricsSources = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  const workerId = sources.workerId ?? 'unknown';
  const inFlight = sources.inFlight ?? (() => 0);
  const concurrency = sources.concurrency ?? 0;
  const lag = lagMonitor(LAG_INTERVAL_MS);

  const queue = queueReader(sources);

  const operationTotal = new Counter({
    name: 'dbaas_operation_total',
    help: 'Operations that reached a final status, by type and status',
    labelNames: ['type', 'status'] as const,
    registers,
  });
  const operationDuration = new Histogram({
    name: 'dbaas_operation_duration_seconds',
    help: 'Time from start to final status of an operation, by type',
    labelNames: ['type'] as const,
    buckets: DURATION_BUCKETS,
    registers,
  });
  const operationRetries = new Counter({
    name: 'dbaas_operation_retry_total',
    help: 'Retries of operations after a transient failure, by type',
    labelNames: ['type'] as const,
    registers,
  });
  const queueDepth = new Gauge({
    name: 'dbaas_queue_depth',
    help: 'Operations ready to be claimed (operations:pending)',
    registers,
    collect: async () => {
      const view = await queue.read();
      if (view) queueDepth.set(view.pending);
    },
  });
  const queueDepthByState = new Gauge({
    name: 'dbaas_queue_depth_by_state',
    help: 'Operations in each part of the queue: pending, delayed, processing, leased, dead',
    labelNames: ['state'] as const,
    registers,
    collect: async () => {
      const view = await queue.read();
      if (view) for (const state of QUEUE_STATES) queueDepthByState.set({ state }, view[state]);
    },
  });
  const queueProcessing = new Gauge({
    name: 'dbaas_queue_processing',
    help: 'Operations in operations:processing, the set the platform counts as running',
    registers,
    collect: async () => {
      const view = await queue.read();
      if (view) queueProcessing.set(view.processing);
    },
  });
  const workerBusy = new Gauge({
    name: 'dbaas_worker_busy',
    help: '1 while this worker runs at least one operation, else 0',
    labelNames: ['worker_id'] as const,
    registers,
    collect: () => {
      workerBusy.set({ worker_id: workerId }, inFlight() > 0 ? 1 : 0);
    },
  });
  const workerOperationsProcessed = new Counter({
    name: 'dbaas_worker_operations_processed_total',
    help: 'Operations this worker brought to a final status',
    labelNames: ['worker_id'] as const,
    registers,
  });
  const workerErrors = new Counter({
    name: 'dbaas_worker_errors_total',
    help: 'Attempts at an operation on this worker that ended in an error',
    labelNames: ['worker_id'] as const,
    registers,
  });
  const opsRequestCreated = new Counter({
    name: 'dbaas_ops_request_created_total',
    help: 'OpsRequests created, by engine and OpsRequest type',
    labelNames: ['engine', 'type'] as const,
    registers,
  });
  const opsRequestDuration = new Histogram({
    name: 'dbaas_ops_request_duration_seconds',
    help: 'Time from creation to final phase of an OpsRequest, by engine and type',
    labelNames: ['engine', 'type'] as const,
    buckets: DURATION_BUCKETS,
    registers,
  });
  const opsRequestPhase = new Counter({
    name: 'dbaas_ops_request_phase_total',
    help: 'OpsRequest phase transitions observed, by engine, type and phase entered',
    labelNames: ['engine', 'type', 'phase'] as const,
    registers,
  });
  const actorsInFlight = new Gauge({
    name: 'dbaas_actors_in_flight',
    help: 'Actors running an operation in this worker now',
    registers,
    collect: () => {
      actorsInFlight.set(inFlight());
    },
  });
  const workerConcurrency = new Gauge({
    name: 'dbaas_worker_concurrency',
    help: 'Operations this worker may run at once (WORKER_CONCURRENCY)',
    registers,
    collect: () => {
      workerConcurrency.set(typeof concurrency === 'function' ? concurrency() : concurrency);
    },
  });
  const threadRestarts = new Counter({
    name: 'dbaas_thread_restarts_total',
    help: 'Pool threads that died and whose actors were restarted',
    registers,
  });
  const leasesRecovered = new Counter({
    name: 'dbaas_leases_recovered_total',
    help: 'Operations taken over after the lease of a dead worker expired',
    registers,
  });
  const deadLetters = new Counter({
    name: 'dbaas_dead_letters_total',
    help: 'Operations moved to the dead-letter set',
    registers,
  });
  const queueDropped = new Counter({
    name: 'dbaas_queue_dropped_total',
    help: 'Queued ids dropped without running, by reason (not_found, final, invalid)',
    labelNames: ['reason'] as const,
    registers,
  });
  const kubeApiRequests = new Counter({
    name: 'dbaas_kube_api_requests_total',
    help: 'Kubernetes API requests, by verb and HTTP status code (0: no response)',
    labelNames: ['verb', 'code'] as const,
    registers,
  });
  const eventLoopLag = new Gauge({
    name: 'dbaas_event_loop_lag_seconds',
    help: "Longest delay of the supervisor's event loop since the previous scrape",
    registers,
    collect: () => {
      eventLoopLag.set(lag.takeWorst() / 1000);
    },
  });

  // Series that exist from the first scrape, so rate() and absent() work before any event.
  workerOperationsProcessed.inc({ worker_id: workerId }, 0);
  workerErrors.inc({ worker_id: workerId }, 0);

  if (sources.defaultMetrics !== false) collectDefaultMetrics({ register: registry });

  function applyUnsafe(event: MetricEvent): void {
    switch (event.kind) {
      case 'operation_finished': {
        operationTotal.inc({ type: label(event.type), status: label(event.status) });
        const seconds = positive(event.durationSeconds);
        if (seconds !== null) operationDuration.observe({ type: label(event.type) }, seconds);
        workerOperationsProcessed.inc({ worker_id: workerId });
        return;
      }
      case 'operation_retry':
        operationRetries.inc({ type: label(event.type) });
        return;
      case 'worker_error':
        workerErrors.inc({ worker_id: workerId });
        return;
      case 'ops_request_created':
        opsRequestCreated.inc({ engine: label(event.engine), type: label(event.opsType) });
        return;
      case 'ops_request_phase':
        opsRequestPhase.inc({
          engine: label(event.engine),
          type: label(event.opsType),
          phase: label(event.phase),
        });
        return;
      case 'ops_request_finished': {
        const seconds = positive(event.durationSeconds);
        const labels = { engine: label(event.engine), type: label(event.opsType) };
        if (seconds !== null) opsRequestDuration.observe(labels, seconds);
        return;
      }
      case 'kube_api_call':
        kubeApiRequests.inc(
          { verb: label(event.verb), code: label(event.code) },
          times(event.count),
        );
        return;
      case 'thread_restarted':
        threadRestarts.inc(times(event.count));
        return;
      case 'leases_recovered':
        leasesRecovered.inc(positive(event.count) ?? 0);
        return;
      case 'dead_lettered':
        deadLetters.inc(times(event.count));
        return;
      case 'queue_dropped':
        queueDropped.inc({ reason: label(event.reason) }, times(event.count));
        return;
      default:
        throw new Error(`unknown metric event ${(event as { kind?: unknown }).kind}`);
    }
  }

  return {
    registry,
    operationTotal,
    operationDuration,
    operationRetries,
    queueDepth,
    queueDepthByState,
    queueProcessing,
    workerBusy,
    workerOperationsProcessed,
    workerErrors,
    opsRequestCreated,
    opsRequestDuration,
    opsRequestPhase,
    actorsInFlight,
    workerConcurrency,
    threadRestarts,
    leasesRecovered,
    deadLetters,
    queueDropped,
    kubeApiRequests,
    eventLoopLag,
    apply(event) {
      try {
        applyUnsafe(event);
        return true;
      } catch {
        return false;
      }
    },
    text: () => registry.metrics(),
    contentType: registry.contentType,
    stop: () => lag.stop(),
  };
}

/**
 * The longest event loop stall since the last look. A stall is one long gap between two
 * ticks, so a percentile over many ticks would hide it; the maximum shows it. perf_hooks'
 * monitorEventLoopDelay was tried: its reset also drops the first gap after each scrape, which
 * hid a stall right after one. Ticking every 10 ms costs about 100 callbacks a second.
 */
function lagMonitor(intervalMs: number): { takeWorst(): number; stop(): void } {
  let previous = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - previous - intervalMs);
    previous = now;
  }, intervalMs);
  timer.unref();

  return {
    takeWorst() {
      const result = Math.max(worst, 0);
      worst = 0;
      return result;
    },
    stop: () => clearInterval(timer),
  };
}

/**
 * Reads the queue sizes once per scrape: the three queue gauges collect in parallel and share
 * one call. A failed or slow read keeps the last known sizes, because a scrape that fails
 * would drop every other series with it.
 */
function queueReader(sources: MetricsSources): { read(): Promise<QueueView | null> } {
  const timeoutMs = sources.queueTimeoutMs ?? 2_000;
  let last: QueueView | null = null;
  let inflight: Promise<QueueView | null> | null = null;

  async function readNow(): Promise<QueueView | null> {
    if (!sources.queueDepths) return null;
    try {
      last = await withTimeout(sources.queueDepths(), timeoutMs, 'queue depth read');
    } catch (error) {
      sources.onCollectError?.(error);
    }
    return last;
  }

  return {
    read() {
      inflight ??= readNow().finally(() => {
        inflight = null;
      });
      return inflight;
    },
  };
}
