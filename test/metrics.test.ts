import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { MetricEvent } from '../src/shared/metric-events.js';
import type { QueueView } from '../src/supervisor/admin-backend.js';
import { createMetrics, type Metrics, type MetricsSources } from '../src/supervisor/metrics.js';

/** The old worker's series names, then what the new design adds. */
const METRIC_NAMES = [
  'dbaas_operation_total',
  'dbaas_operation_duration_seconds',
  'dbaas_operation_retry_total',
  'dbaas_queue_depth',
  'dbaas_queue_processing',
  'dbaas_worker_busy',
  'dbaas_worker_operations_processed_total',
  'dbaas_worker_errors_total',
  'dbaas_ops_request_created_total',
  'dbaas_ops_request_duration_seconds',
  'dbaas_ops_request_phase_total',
  'dbaas_queue_depth_by_state',
  'dbaas_actors_in_flight',
  'dbaas_worker_concurrency',
  'dbaas_thread_restarts_total',
  'dbaas_leases_recovered_total',
  'dbaas_dead_letters_total',
  'dbaas_queue_dropped_total',
  'dbaas_kube_api_requests_total',
  'dbaas_event_loop_lag_seconds',
];

const QUEUE: QueueView = { pending: 7, delayed: 3, processing: 2, leased: 4, dead: 1 };

const created: Metrics[] = [];

function metricsWith(sources: MetricsSources = {}): Metrics {
  const metrics = createMetrics({ workerId: 'w-1', ...sources });
  created.push(metrics);
  return metrics;
}

/** The value of one series, or undefined when it does not exist. */
async function sample(
  metrics: Metrics,
  name: string,
  labels: Record<string, string> = {},
  series = name,
): Promise<number | undefined> {
  const metric = metrics.registry.getSingleMetric(name);
  assert.ok(metric, `${name} is registered`);
  const { values } = await metric.get();
  const found = values.find(
    (value) =>
      ((value as { metricName?: string }).metricName ?? name) === series &&
      Object.entries(labels).every(([key, expected]) => String(value.labels[key]) === expected),
  );
  return found?.value;
}

afterEach(() => {
  for (const metrics of created.splice(0)) metrics.stop();
});

describe('metrics registry', () => {
  it('exposes every metric, old names and new, from the first scrape', async () => {
    const text = await metricsWith().text();
    for (const name of METRIC_NAMES) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
    }
    assert.match(text, /^dbaas_worker_operations_processed_total\{worker_id="w-1"\} 0$/m);
    assert.match(text, /^dbaas_worker_errors_total\{worker_id="w-1"\} 0$/m);
  });

  it("includes Node's default process metrics in the same registry", async () => {
    const text = await metricsWith().text();
    assert.match(text, /^process_cpu_user_seconds_total /m);
    assert.match(text, /^nodejs_heap_size_used_bytes /m);
    assert.match(text, /^nodejs_eventloop_lag_seconds /m);
  });

  it('leaves default metrics out when asked, for a second registry in one process', async () => {
    const text = await metricsWith({ defaultMetrics: false }).text();
    assert.doesNotMatch(text, /process_cpu_user_seconds_total/);
  });

  it('keeps each registry separate, so two instances never share counts', async () => {
    const first = metricsWith({ defaultMetrics: false });
    const second = metricsWith({ defaultMetrics: false });
    first.apply({ kind: 'operation_retry', type: 'expand_storage' });
    const retries = 'dbaas_operation_retry_total';
    assert.equal(await sample(first, retries, { type: 'expand_storage' }), 1);
    assert.equal(await sample(second, retries, { type: 'expand_storage' }), undefined);
  });
});

describe('events from actors', () => {
  it('operation_finished counts the operation by type and status and times it', async () => {
    const metrics = metricsWith({ defaultMetrics: false });
    const finished: MetricEvent = {
      kind: 'operation_finished',
      type: 'scale_vertical',
      status: 'completed',
      durationSeconds: 95,
    };
    assert.equal(metrics.apply(finished), true);
    metrics.apply(finished);
    metrics.apply({ ...finished, status: 'failed', durationSeconds: 3 });

    const labels = { type: 'scale_vertical', status: 'completed' };
    assert.equal(await sample(metrics, 'dbaas_operation_total', labels), 2);
    const duration = 'dbaas_operation_duration_seconds';
    const type = { type: 'scale_vertical' };
    assert.equal(await sample(metrics, duration, type, `${duration}_count`), 3);
    assert.equal(await sample(metrics, duration, type, `${duration}_sum`), 193);
    assert.equal(await sample(metrics, duration, { ...type, le: '60' }, `${duration}_bucket`), 1);
    assert.equal(await sample(metrics, duration, { ...type, le: '120' }, `${duration}_bucket`), 3);
    const processed = 'dbaas_worker_operations_processed_total';
    assert.equal(await sample(metrics, processed, { worker_id: 'w-1' }), 3);
  });

  it('operation_retry and worker_error count retries by type and errors by worker', async () => {
    const metrics = metricsWith({ defaultMetrics: false });
    metrics.apply({ kind: 'operation_retry', type: 'upgrade_version' });
    metrics.apply({ kind: 'worker_error', code: 'KUBE_TRANSIENT' });
    metrics.apply({ kind: 'worker_error' });
    const retries = await sample(metrics, 'dbaas_operation_retry_total', {
      type: 'upgrade_version',
    });
    assert.equal(retries, 1);
    assert.equal(await sample(metrics, 'dbaas_worker_errors_total', { worker_id: 'w-1' }), 2);
  });

  it('ops_request events count creations and phases and time OpsRequests', async () => {
    const metrics = metricsWith({ defaultMetrics: false });
    const ops = { engine: 'postgres', opsType: 'VerticalScaling' };
    metrics.apply({ kind: 'ops_request_created', ...ops });
    metrics.apply({ kind: 'ops_request_phase', ...ops, phase: 'Progressing' });
    metrics.apply({ kind: 'ops_request_phase', ...ops, phase: 'Successful' });
    metrics.apply({
      kind: 'ops_request_finished',
      ...ops,
      phase: 'Successful',
      durationSeconds: 240,
    });

    const labels = { engine: 'postgres', type: 'VerticalScaling' };
    assert.equal(await sample(metrics, 'dbaas_ops_request_created_total', labels), 1);
    const phase = 'dbaas_ops_request_phase_total';
    assert.equal(await sample(metrics, phase, { ...labels, phase: 'Progressing' }), 1);
    assert.equal(await sample(metrics, phase, { ...labels, phase: 'Successful' }), 1);
    const duration = 'dbaas_ops_request_duration_seconds';
    assert.equal(await sample(metrics, duration, labels, `${duration}_sum`), 240);
  });

  it('kube_api_call counts requests by verb and code, batched or one by one', async () => {
    const metrics = metricsWith({ defaultMetrics: false });
    metrics.apply({ kind: 'kube_api_call', verb: 'create', code: 201 });
    metrics.apply({ kind: 'kube_api_call', verb: 'get', code: 200, count: 12 });
    metrics.apply({ kind: 'kube_api_call', verb: 'get', code: 200 });
    const calls = 'dbaas_kube_api_requests_total';
    assert.equal(await sample(metrics, calls, { verb: 'create', code: '201' }), 1);
    assert.equal(await sample(metrics, calls, { verb: 'get', code: '200' }), 13);
  });

  it('supervisor events count restarts, recovered leases, dead letters and drops', async () => {
    const metrics = metricsWith({ defaultMetrics: false });
    metrics.apply({ kind: 'thread_restarted' });
    metrics.apply({ kind: 'leases_recovered', count: 4 });
    metrics.apply({ kind: 'dead_lettered' });
    metrics.apply({ kind: 'queue_dropped', reason: 'not_found', count: 2 });
    assert.equal(await sample(metrics, 'dbaas_thread_restarts_total'), 1);
    assert.equal(await sample(metrics, 'dbaas_leases_recovered_total'), 4);
    assert.equal(await sample(metrics, 'dbaas_dead_letters_total'), 1);
    assert.equal(await sample(metrics, 'dbaas_queue_dropped_total', { reason: 'not_found' }), 2);
  });

  it('ignores malformed events rather than throwing; never records bad durations', async () => {
    const metrics = metricsWith({ defaultMetrics: false });
    assert.equal(metrics.apply({ kind: 'no_such_event' } as unknown as MetricEvent), false);
    assert.equal(metrics.apply(null as unknown as MetricEvent), false);
    metrics.apply({
      kind: 'operation_finished',
      type: 'restart',
      status: 'completed',
      durationSeconds: Number.NaN,
    });
    metrics.apply({ kind: 'leases_recovered', count: -3 });
    metrics.apply({ kind: 'kube_api_call', verb: { evil: true }, code: 500 } as never);

    const total = await sample(metrics, 'dbaas_operation_total', {
      type: 'restart',
      status: 'completed',
    });
    assert.equal(total, 1);
    const duration = 'dbaas_operation_duration_seconds';
    const observed = await sample(metrics, duration, { type: 'restart' }, `${duration}_count`);
    assert.equal(observed ?? 0, 0);
    assert.equal(await sample(metrics, 'dbaas_leases_recovered_total'), 0);
    const kube = 'dbaas_kube_api_requests_total';
    assert.equal(await sample(metrics, kube, { verb: 'unknown', code: '500' }), 1);
  });

  it('events survive structured cloning, as they cross from a worker thread', async () => {
    const metrics = metricsWith({ defaultMetrics: false });
    const sent: MetricEvent = { kind: 'ops_request_created', engine: 'redis', opsType: 'Restart' };
    metrics.apply(structuredClone(sent));
    const labels = { engine: 'redis', type: 'Restart' };
    assert.equal(await sample(metrics, 'dbaas_ops_request_created_total', labels), 1);
  });
});

describe('gauges read from the supervisor at scrape time', () => {
  it('shows queue sizes: dbaas_queue_depth counts pending, by_state all five', async () => {
    const metrics = metricsWith({ defaultMetrics: false, queueDepths: async () => QUEUE });
    const text = await metrics.text();
    assert.match(text, /^dbaas_queue_depth 7$/m);
    assert.match(text, /^dbaas_queue_processing 2$/m);
    for (const [state, count] of Object.entries(QUEUE)) {
      assert.match(
        text,
        new RegExp(`^dbaas_queue_depth_by_state\\{state="${state}"\\} ${count}$`, 'm'),
      );
    }
  });

  it('reads the queue once per scrape however many gauges show it', async () => {
    let reads = 0;
    const metrics = metricsWith({
      defaultMetrics: false,
      queueDepths: async () => {
        reads += 1;
        return QUEUE;
      },
    });
    await metrics.text();
    assert.equal(reads, 1);
    await metrics.text();
    assert.equal(reads, 2);
  });

  it('still answers when the queue read fails or hangs, with the last known sizes', async () => {
    const errors: unknown[] = [];
    let mode: 'ok' | 'fail' | 'hang' = 'ok';
    const metrics = metricsWith({
      defaultMetrics: false,
      queueTimeoutMs: 30,
      onCollectError: (error) => errors.push(error),
      queueDepths: () => {
        if (mode === 'fail') return Promise.reject(new Error('redis down'));
        if (mode === 'hang') return new Promise<QueueView>(() => {});
        return Promise.resolve(QUEUE);
      },
    });
    await metrics.text();

    mode = 'fail';
    assert.match(await metrics.text(), /^dbaas_queue_depth 7$/m);
    mode = 'hang';
    assert.match(await metrics.text(), /^dbaas_queue_depth 7$/m);
    assert.equal(errors.length, 2);
    assert.match(String(errors[1]), /did not answer within 30 ms/);
  });

  it('shows actors in flight, concurrency, and busy as 1 only while an actor runs', async () => {
    let inFlight = 0;
    const metrics = metricsWith({
      defaultMetrics: false,
      concurrency: 256,
      inFlight: () => inFlight,
    });
    assert.equal(await sample(metrics, 'dbaas_worker_busy', { worker_id: 'w-1' }), 0);
    inFlight = 17;
    assert.equal(await sample(metrics, 'dbaas_actors_in_flight'), 17);
    assert.equal(await sample(metrics, 'dbaas_worker_concurrency'), 256);
    assert.equal(await sample(metrics, 'dbaas_worker_busy', { worker_id: 'w-1' }), 1);
  });

  it('shows the longest event loop stall since the previous scrape, in seconds', async () => {
    const metrics = metricsWith({ defaultMetrics: false });
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.ok((await sample(metrics, 'dbaas_event_loop_lag_seconds'))! < 0.03, 'idle loop');
    const start = Date.now();
    while (Date.now() - start < 60) {
      // A stall: the loop runs nothing else for 60 ms.
    }
    await new Promise((resolve) => setTimeout(resolve, 30));
    const lag = await sample(metrics, 'dbaas_event_loop_lag_seconds');
    assert.ok(lag !== undefined && lag >= 0.03 && lag < 5, `lag ${lag}`);

    await new Promise((resolve) => setTimeout(resolve, 30));
    const next = await sample(metrics, 'dbaas_event_loop_lag_seconds');
    assert.ok(next! < 0.03, `the next scrape starts a new window, got ${next}`);
  });
});
