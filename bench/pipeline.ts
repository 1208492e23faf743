// Pipeline efficiency: the whole worker (startWorker: supervisor, piscina actors, admin
// server, metrics) against a bare loop in one process without the pool that makes the same
// Redis, MongoDB and Kubernetes calls per operation (bench/bare-loop.ts), same concurrency,
// with the simulator finishing OpsRequests at once (timings 0). Sides alternate per round;
// each side gets fresh collections of the same size, since FerretDB's cost per write grows
// with the collection.
//
//   npm run bench:pipeline -- --ops 400 --rounds 3 --concurrency 64 --threads 2
//
// `--bare 0` or `--worker 0` runs one side only, so that a CPU profile of the process
// (`node --cpu-prof`, one file per thread) shows that side alone.
//
// Besides operations per second it prints, per operation, what each side sent: Redis
// commands (Redis's own counter, Lua-inner calls included), MongoDB commands (FerretDB's
// serverStatus) and Kubernetes requests (the simulator's counters), so "the same calls"
// can be checked, not only claimed.

import { createLogger } from '../src/shared/logger.js';
import { queueKeys } from '../src/shared/queue-keys.js';
import { startWorker } from '../src/supervisor/main.js';
import { startBareLoop } from './bare-loop.js';
import {
  enqueueAll,
  seedOperations,
  startEnvironment,
  statusCounts,
  type BenchEnvironment,
} from './environment.js';
import { numberFlags } from './flags.js';
import { sampleRedis } from './redis-meter.js';
import { median, round, sleep, table } from './stats.js';
import { threadCpu, threadCpuSince } from './thread-cpu.js';

const flags = numberFlags({
  ops: 400,
  warmup: 64,
  rounds: 3,
  concurrency: 64,
  threads: 2,
  worker: 1,
  bare: 1,
});
const SIDES = (['worker', 'bare'] as const).filter((side) => flags[side] !== 0);

interface Counters {
  redis: number;
  mongo: Record<string, number>;
  kube: Record<string, number>;
}

/** CPU ms per operation of one thread, and how much of it was in the kernel. */
interface ThreadShare {
  total: number;
  system: number;
}

interface SideResult {
  side: 'worker' | 'bare';
  opsPerSecond: number;
  completed: number;
  /** Operations retried at least once (FerretDB's SQLITE_BUSY under concurrent writes). */
  retried: number;
  /** CPU of this whole process (all threads: worker or loop, simulator, bench) per op. */
  cpuMsPerOp: number;
  /** The same by OS thread: main (simulator, supervisor or bare loop), then the busiest. */
  threadMsPerOp: { main: ThreadShare; others: ThreadShare[] };
  perOp: { redis: number; mongo: number; kube: number; mongoByCommand: string; kubeByVerb: string };
}

async function counters(env: BenchEnvironment): Promise<Counters> {
  const status = (await env.db.admin().command({ serverStatus: 1 })) as {
    metrics?: { commands?: Record<string, { total: number }> };
  };
  const mongo = Object.fromEntries(
    Object.entries(status.metrics?.commands ?? {}).map(([name, c]) => [name, c.total]),
  );
  const kube = Object.fromEntries(
    Object.entries(env.sim.stats().requests).map(([verb, byKind]) => [
      verb,
      Object.values(byKind).reduce((sum, n) => sum + n, 0),
    ]),
  );
  return { redis: (await sampleRedis(env.redis)).commands, mongo, kube };
}

function perOp(before: Record<string, number>, after: Record<string, number>, ops: number) {
  const entries = Object.entries(after)
    .map(([key, value]) => [key, (value - (before[key] ?? 0)) / ops] as const)
    .filter(([, value]) => value > 0.005)
    .sort((a, b) => b[1] - a[1]);
  return {
    total: entries.reduce((sum, [, value]) => sum + value, 0),
    detail: entries.map(([key, value]) => `${key} ${round(value, 1)}`).join(', '),
  };
}

/** dbaas_operation_total as the worker's /metrics shows it, to check no event was lost. */
async function finishedMetric(adminUrl: string): Promise<string> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  return text
    .split('\n')
    .filter(
      (line) =>
        line.startsWith('dbaas_operation_total') ||
        line.startsWith('dbaas_ops_request_created_total'),
    )
    .join('; ');
}

async function drained(env: BenchEnvironment): Promise<boolean> {
  const [pending, processing, delayed, leases] = await Promise.all([
    env.redis.zcard(queueKeys.pending),
    env.redis.scard(queueKeys.processing),
    env.redis.zcard(queueKeys.delayed),
    env.redis.zcard(queueKeys.leases),
  ]);
  return pending + processing + delayed + leases === 0;
}

/** The clock of V8's CPU profiles (CLOCK_MONOTONIC, µs), for cpu-profile-summary --from/--to. */
function monotonicMicros(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

async function runBatch(env: BenchEnvironment, count: number, timeoutMs = 600_000) {
  await env.db.collection('operations').deleteMany({});
  await env.db.collection('databases').deleteMany({});
  const ids = await seedOperations(env, count);
  const start = performance.now();
  const window = [monotonicMicros()];
  await enqueueAll(env.redis, ids);
  while (!(await drained(env))) {
    if (performance.now() - start > timeoutMs) throw new Error(`batch not drained in time`);
    await sleep(10);
  }
  window.push(monotonicMicros());
  return { seconds: (performance.now() - start) / 1000, window };
}

function perOpShare(spent: ThreadShare): ThreadShare {
  return { total: spent.total / flags.ops, system: spent.system / flags.ops };
}

async function runSide(env: BenchEnvironment, side: 'worker' | 'bare'): Promise<SideResult> {
  const logger = createLogger('warn', { bench: 'pipeline', side });
  const config = env.workerConfig({
    WORKER_CONCURRENCY: String(flags.concurrency),
    WORKER_THREADS: String(flags.threads),
    WORKER_ID: `bench-${side}`,
  });
  const running =
    side === 'worker' ? await startWorker(config, logger) : await startBareLoop(config, logger);
  try {
    await runBatch(env, flags.warmup);
    const before = await counters(env);
    const cpuBefore = process.cpuUsage();
    const threadsBefore = threadCpu();
    const { seconds, window } = await runBatch(env, flags.ops);
    const cpu = process.cpuUsage(cpuBefore);
    const threads = threadCpuSince(threadsBefore);
    if ('adminUrl' in running)
      console.log(`  worker metrics: ${await finishedMetric(running.adminUrl)}`);
    console.log(
      `  ${side}: measured from ${window[0]} to ${window[1]} (cpu-profile-summary --from --to)`,
    );
    const after = await counters(env);
    const mongo = perOp(before.mongo, after.mongo, flags.ops);
    const kube = perOp(before.kube, after.kube, flags.ops);
    return {
      side,
      opsPerSecond: flags.ops / seconds,
      completed: (await statusCounts(env)).completed ?? 0,
      retried: await env.db.collection('operations').countDocuments({ retry_count: { $gt: 0 } }),
      cpuMsPerOp: (cpu.user + cpu.system) / 1000 / flags.ops,
      threadMsPerOp: {
        main: perOpShare(threads.main),
        others: threads.others.map(perOpShare),
      },
      perOp: {
        redis: (after.redis - before.redis) / flags.ops,
        mongo: mongo.total,
        kube: kube.total,
        mongoByCommand: mongo.detail,
        kubeByVerb: kube.detail,
      },
    };
  } finally {
    await running.stop();
  }
}

async function main() {
  console.log(
    `pipeline: ${flags.ops} scale_vertical operations per side and round after ` +
      `${flags.warmup} warm-up, ${flags.rounds} rounds, concurrency ${flags.concurrency}, ` +
      `worker threads ${flags.threads}, simulator timings 0, node ${process.version}`,
  );
  const env = await startEnvironment({ timings: { pendingMs: 0, progressingMs: 0 } });
  const rounds: SideResult[][] = [];
  try {
    for (let r = 0; r < flags.rounds; r++) {
      const order = r % 2 === 0 ? SIDES : [...SIDES].reverse();
      const results: SideResult[] = [];
      for (const side of order) {
        await env.redis.flushdb();
        results.push(await runSide(env, side));
      }
      results.sort((a, b) => a.side.localeCompare(b.side));
      rounds.push(results);
      console.log(`\nround ${r + 1}`);
      console.log(
        table([
          [
            'side',
            'ops/s',
            'completed',
            'retried',
            'cpu ms/op',
            'redis cmds/op',
            'mongo cmds/op',
            'kube reqs/op',
          ],
          ...results.map((s) => [
            s.side,
            round(s.opsPerSecond, 1),
            `${s.completed}/${flags.ops}`,
            String(s.retried),
            round(s.cpuMsPerOp, 1),
            round(s.perOp.redis, 1),
            round(s.perOp.mongo, 1),
            round(s.perOp.kube, 1),
          ]),
        ]),
      );
      for (const s of results) {
        console.log(`  ${s.side} mongo per op: ${s.perOp.mongoByCommand}`);
        console.log(`  ${s.side} kube per op: ${s.perOp.kubeByVerb}`);
        const show = (t: ThreadShare) => `${round(t.total, 1)} (sys ${round(t.system, 1)})`;
        const others = s.threadMsPerOp.others.filter((t) => t.total >= 0.05);
        console.log(
          `  ${s.side} cpu ms/op by thread: main ${show(s.threadMsPerOp.main)}, ` +
            `others ${others.map(show).join(', ')}`,
        );
      }
    }
  } finally {
    await env.destroy();
  }
  if (SIDES.length < 2) return;
  const of = (side: string) => rounds.map((rs) => rs.find((s) => s.side === side)!.opsPerSecond);
  const ratios = of('worker').map((ops, i) => ops / of('bare')[i]!);
  console.log(
    `\nmedian ops/s: worker ${round(median(of('worker')), 1)}, ` +
      `bare loop ${round(median(of('bare')), 1)}`,
  );
  console.log(
    `worker / bare: median of per-round ratios ${round(median(ratios), 2)} ` +
      `(rounds: ${ratios.map((x) => round(x, 2)).join(', ')}); goal >= 0.7`,
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
