// Scale: one worker process (`node dist/src/cli.js start`, a child of this one) holding N
// operations in flight while the simulator keeps their OpsRequests Progressing. Reports
// how long it took to get them all in flight, the worker's RSS (VmRSS, and VmHWM = peak)
// from /proc, Kubernetes API requests per minute per 100 operations in steady state (the
// simulator's counters), then lets them finish and reports the drain time.
//
//   npm run bench:scale -- --inflight 5000 --steadySeconds 120
//   npm run bench:scale -- --inflight 0 --table 1       (the threads/concurrency table only)
//
// With --table 1 it also holds and drains a smaller number per cell: WORKER_THREADS 1, 2, 4,
// 8 at --tableInflight, and WORKER_CONCURRENCY 64 .. --tableMaxConcurrency at 2 threads.
// Drain throughput is completions per second with that many operations in flight.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { queueKeys } from '../src/shared/queue-keys.js';
import {
  NAMESPACE,
  enqueueAll,
  seedOperations,
  startEnvironment,
  statusCounts,
  type BenchEnvironment,
} from './environment.js';
import { numberFlags } from './flags.js';
import { onInterrupt } from './interrupt.js';
import { round, sleep, table } from './stats.js';

const flags = numberFlags({
  inflight: 5000,
  threads: 2,
  steadySeconds: 120,
  maxWaitSeconds: 900,
  table: 0,
  tableInflight: 500,
  tableMaxConcurrency: 2000,
  tableSteadySeconds: 30,
});

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const MiB = 1024 * 1024;

interface HoldResult {
  inflight: number;
  threads: number;
  reached: number;
  secondsToInFlight: number;
  rssAtHoldMiB: number;
  peakRssMiB: number;
  kubePerMinPer100: number;
  kubeByVerb: string;
  watches: number;
  drainSeconds: number;
  drainOpsPerSecond: number;
  statuses: Record<string, number>;
}

function memory(pid: number): { rss: number; hwm: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) =>
      Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
    return { rss: kb('VmRSS') * 1024, hwm: kb('VmHWM') * 1024 };
  } catch {
    return { rss: Number.NaN, hwm: Number.NaN };
  }
}

function progressing(env: BenchEnvironment): number {
  return env.sim
    .list('postgresopsrequests', NAMESPACE)
    .filter((o) => (o.status as { phase?: string } | undefined)?.phase === 'Progressing').length;
}

async function queueEmpty(env: BenchEnvironment): Promise<boolean> {
  const [pending, processing, delayed] = await Promise.all([
    env.redis.zcard(queueKeys.pending),
    env.redis.scard(queueKeys.processing),
    env.redis.zcard(queueKeys.delayed),
  ]);
  return pending + processing + delayed === 0;
}

function startWorkerProcess(env: BenchEnvironment, concurrency: number, threads: number) {
  const child = spawn(process.execPath, [CLI, 'start'], {
    env: {
      ...process.env,
      ...env.workerEnv({
        WORKER_CONCURRENCY: String(concurrency),
        WORKER_THREADS: String(threads),
        WORKER_ID: `bench-scale-${concurrency}-${threads}`,
        LOG_LEVEL: 'error',
      }),
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const forget = onInterrupt(() => stopChild(child));
  child.once('exit', forget);
  return child;
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

async function holdAndDrain(
  env: BenchEnvironment,
  inflight: number,
  threads: number,
  steadySeconds: number,
): Promise<HoldResult> {
  await env.redis.flushdb();
  await env.db.collection('operations').deleteMany({});
  await env.db.collection('databases').deleteMany({});
  env.sim.setFaults({ opsStayProgressing: true });
  const ids = await seedOperations(env, inflight);
  const child = startWorkerProcess(env, inflight, threads);
  const pid = child.pid!;
  let peak = 0;
  const sampler = setInterval(() => {
    const { hwm } = memory(pid);
    if (Number.isFinite(hwm)) peak = Math.max(peak, hwm);
  }, 500);
  try {
    const start = performance.now();
    await enqueueAll(env.redis, ids);
    let reached = 0;
    let lastLog = start;
    while (reached < inflight && performance.now() - start < flags.maxWaitSeconds * 1000) {
      if (child.exitCode !== null) throw new Error(`worker exited with ${child.exitCode}`);
      await sleep(500);
      reached = progressing(env);
      if (performance.now() - lastLog > 30_000) {
        lastLog = performance.now();
        const rss = memory(pid).rss / MiB;
        console.log(
          `  ${reached}/${inflight} Progressing after ` +
            `${round((lastLog - start) / 1000)} s, RSS ${round(rss)} MiB`,
        );
      }
    }
    const secondsToInFlight = (performance.now() - start) / 1000;

    // Steady state: every operation is waiting on KubeDB; count what that costs the API.
    await sleep(Math.min(10_000, steadySeconds * 100));
    env.sim.resetStats();
    await sleep(steadySeconds * 1000);
    const stats = env.sim.stats();
    const rssAtHold = memory(pid).rss;
    const byVerb = Object.entries(stats.requests)
      .map(([verb, kinds]) => [verb, Object.values(kinds).reduce((a, b) => a + b, 0)] as const)
      .filter(([, n]) => n > 0)
      .map(([verb, n]) => `${verb} ${n}`)
      .join(', ');
    const perMinute = stats.total / (steadySeconds / 60);

    // Drain: let KubeDB finish everything.
    env.sim.setFaults({ opsStayProgressing: false });
    const drainStart = performance.now();
    while (!(await queueEmpty(env))) {
      if (child.exitCode !== null) throw new Error(`worker exited with ${child.exitCode}`);
      if (performance.now() - drainStart > flags.maxWaitSeconds * 1000) break;
      await sleep(200);
    }
    const drainSeconds = (performance.now() - drainStart) / 1000;
    return {
      inflight,
      threads,
      reached,
      secondsToInFlight,
      rssAtHoldMiB: rssAtHold / MiB,
      peakRssMiB: Math.max(peak, memory(pid).hwm) / MiB,
      kubePerMinPer100: reached > 0 ? perMinute / (reached / 100) : Number.NaN,
      kubeByVerb: `${byVerb || 'none'} in ${steadySeconds} s`,
      watches: stats.activeWatches,
      drainSeconds,
      drainOpsPerSecond: inflight / drainSeconds,
      statuses: await statusCounts(env),
    };
  } finally {
    clearInterval(sampler);
    await stopChild(child);
    env.sim.setFaults({ opsStayProgressing: false });
  }
}

function report(results: HoldResult[]) {
  console.log(
    table([
      [
        'threads',
        'in flight',
        'reached',
        's to reach',
        'RSS held MiB',
        'peak RSS MiB',
        'kube req/min/100 ops',
        'watches',
        'drain s',
        'drain ops/s',
      ],
      ...results.map((r) => [
        String(r.threads),
        String(r.inflight),
        String(r.reached),
        round(r.secondsToInFlight, 1),
        round(r.rssAtHoldMiB),
        round(r.peakRssMiB),
        round(r.kubePerMinPer100, 2),
        String(r.watches),
        round(r.drainSeconds, 1),
        round(r.drainOpsPerSecond, 1),
      ]),
    ]),
  );
  for (const r of results) {
    console.log(
      `  ${r.inflight}@${r.threads}: kube ${r.kubeByVerb}; ` +
        `final ${JSON.stringify(r.statuses)}`,
    );
  }
}

async function main() {
  console.log(
    `scale: in flight ${flags.inflight} at ${flags.threads} threads, steady window ` +
      `${flags.steadySeconds} s; table ${flags.table ? 'on' : 'off'}; node ${process.version}`,
  );
  const env = await startEnvironment();
  try {
    if (flags.inflight > 0) {
      const result = await holdAndDrain(env, flags.inflight, flags.threads, flags.steadySeconds);
      report([result]);
    }
    if (flags.table) {
      const byThreads: HoldResult[] = [];
      for (const threads of [1, 2, 4, 8]) {
        byThreads.push(
          await holdAndDrain(env, flags.tableInflight, threads, flags.tableSteadySeconds),
        );
        console.log(`\nthreads at ${flags.tableInflight} in flight`);
        report(byThreads);
      }
      const byConcurrency: HoldResult[] = [];
      for (const inflight of [64, 500, 1000, 2000, 5000]) {
        if (inflight > flags.tableMaxConcurrency) break;
        byConcurrency.push(await holdAndDrain(env, inflight, 2, flags.tableSteadySeconds));
        console.log('\nconcurrency (= operations held in flight) at 2 threads');
        report(byConcurrency);
      }
    }
  } finally {
    await env.destroy();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
