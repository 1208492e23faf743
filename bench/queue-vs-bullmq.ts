// Queue and dispatch against BullMQ: claim a job, hand it to a worker thread, run a no-op,
// acknowledge. Same Redis, same concurrency, N jobs pre-loaded, contenders alternated over
// several rounds (order rotated each round) so drift on this shared machine hits all sides.
//
//   npm run bench:queue -- --jobs 20000 --rounds 5 --concurrency 64 --threads 2
//
// Contenders:
// - ours-loop: OperationQueue.claim(batch) + a piscina pool set up as src/supervisor/
//   actor-pool.ts does (atomics disabled, concurrentTasksPerWorker) + queue.complete(),
//   in a loop shaped like the supervisor's claim loop. No MessageChannel per task.
// - ours-supervisor: the real Supervisor class (MessageChannel per task, actor records,
//   settle()) over the same queue and pool, with the no-op as its actor; store and
//   metrics are stubs (they are not touched on the success path except the lease sweep).
// - bullmq: a BullMQ Worker with the no-op as a sandboxed processor in worker threads
//   (useWorkerThreads), at the same concurrency. BullMQ runs one job per sandbox child, so
//   it spawns as many threads as its concurrency: thread counts cannot be equal at equal
//   concurrency.
// - bullmq-same-threads (with --bullmqSameThreads 1): BullMQ at concurrency = --threads, so
//   its thread count equals ours (and its concurrency does not).

import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { Piscina } from 'piscina';
import { startRedis, type LocalServer } from '../src/devstack/services.js';
import { loadConfig } from '../src/shared/config.js';
import { createLogger } from '../src/shared/logger.js';
import { OperationQueue, type Claim } from '../src/shared/queue.js';
import { queueKeys } from '../src/shared/queue-keys.js';
import { Doorbell } from '../src/supervisor/doorbell.js';
import { numberFlags } from './flags.js';
import { onInterrupt } from './interrupt.js';
import { NOOP_DATABASE_ID, NOOP_TYPE } from './noop-task.js';
import { delta, sampleRedis, type RedisSample } from './redis-meter.js';
import { median, round, table } from './stats.js';
import { ThroughputMeter } from './throughput-meter.js';

const flags = numberFlags({
  jobs: 20_000,
  warmup: 2_000,
  rounds: 5,
  concurrency: 64,
  threads: 2,
  batch: 32,
  bullmqSameThreads: 0,
  supervisor: 1,
});

const NOOP_FILE = fileURLToPath(new URL('./noop-task.js', import.meta.url));
const TOTAL = flags.jobs + flags.warmup;

interface RoundResult {
  name: string;
  opsPerSecond: number;
  redis: RedisSample;
  nodeCpuMs: number;
}

function createPool(): Piscina {
  // The settings of src/supervisor/actor-pool.ts, with the no-op as the task file.
  return new Piscina({
    filename: new URL('./noop-task.js', import.meta.url).href,
    minThreads: flags.threads,
    maxThreads: flags.threads,
    concurrentTasksPerWorker: Math.ceil(flags.concurrency / flags.threads),
    idleTimeout: Number.POSITIVE_INFINITY,
    atomics: 'disabled',
    recordTiming: false,
  });
}

function createQueue(redis: Redis): OperationQueue {
  return new OperationQueue(redis, {
    workerId: `bench-${process.pid}`,
    leaseMs: 30_000,
    retryBaseMs: 2_000,
    retryMaxMs: 300_000,
  });
}

async function preloadOurs(redis: Redis) {
  for (let start = 0; start < TOTAL; start += 1000) {
    const members: (string | number)[] = [];
    for (let i = start; i < Math.min(TOTAL, start + 1000); i++) {
      members.push(5, `op-${i.toString(16).padStart(12, '0')}`);
    }
    await redis.zadd(queueKeys.pending, ...members);
  }
}

/** Measures the steady phase: Redis and process CPU counters from warm to finish. */
async function measure(
  name: string,
  redis: Redis,
  meter: ThroughputMeter,
): Promise<Omit<RoundResult, 'opsPerSecond'>> {
  await meter.warmed;
  const [redisBefore, cpuBefore] = [await sampleRedis(redis), process.cpuUsage()];
  await meter.finished;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    name,
    redis: delta(redisBefore, await sampleRedis(redis)),
    nodeCpuMs: (cpu.user + cpu.system) / 1000,
  };
}

/** A supervisor-shaped loop without the supervisor's bookkeeping. */
async function runOursLoop(url: string, control: Redis): Promise<RoundResult> {
  await preloadOurs(control);
  const redis = new Redis(url);
  const queue = createQueue(redis);
  const pool = createPool();
  const meter = new ThroughputMeter(flags.warmup, TOTAL);
  const doorbell = new Doorbell();
  let inFlight = 0;
  const measured = measure('ours-loop', control, meter);

  const finish = async (claim: Claim) => {
    await pool.run({ operationId: claim.operationId });
    await queue.complete(claim, NOOP_DATABASE_ID, NOOP_TYPE);
    inFlight -= 1;
    meter.tick();
    doorbell.notify();
  };
  while (meter.count < TOTAL) {
    const free = flags.concurrency - inFlight;
    if (free <= 0) {
      await doorbell.wait(100);
      continue;
    }
    const wanted = Math.min(free, flags.batch);
    const claims = await queue.claim(wanted);
    inFlight += claims.length;
    for (const claim of claims) void finish(claim);
    if (claims.length < wanted) await doorbell.wait(100);
  }
  const result = await measured;
  await pool.destroy();
  redis.disconnect();
  return { ...result, opsPerSecond: meter.opsPerSecond() };
}

/** Counts completions of the real Supervisor without changing what it sends to Redis. */
class CountingQueue extends OperationQueue {
  onComplete: () => void = () => undefined;
  override async complete(claim: Claim, databaseId: string, type: string): Promise<boolean> {
    const ok = await super.complete(claim, databaseId, type);
    this.onComplete();
    return ok;
  }
}

interface SupervisorLike {
  start(): void;
  shutdown(graceMs?: number): Promise<void>;
}
type SupervisorClass = new (deps: Record<string, unknown>) => SupervisorLike;

/**
 * Loaded at run time so this benchmark builds and runs (without this contender) while
 * src/supervisor/supervisor.ts is absent or being rewritten.
 */
async function loadSupervisor(): Promise<SupervisorClass | null> {
  const file = new URL('../src/supervisor/supervisor.js', import.meta.url).href;
  // dist/ can hold a stale build of a source that is gone.
  if (!existsSync(new URL('../../src/supervisor/supervisor.ts', import.meta.url))) {
    console.log('ours-supervisor skipped: src/supervisor/supervisor.ts is missing');
    return null;
  }
  try {
    return ((await import(file)) as { Supervisor: SupervisorClass }).Supervisor;
  } catch (error) {
    console.log(`ours-supervisor skipped: ${(error as Error).message}`);
    return null;
  }
}

async function runOursSupervisor(
  Supervisor: SupervisorClass,
  url: string,
  control: Redis,
): Promise<RoundResult> {
  await preloadOurs(control);
  const config = loadConfig({
    REDIS_URL: url,
    WORKER_CONCURRENCY: String(flags.concurrency),
    WORKER_THREADS: String(flags.threads),
    CLAIM_BATCH: String(flags.batch),
    WORKER_ID: `bench-${process.pid}`,
    LOG_LEVEL: 'silent',
  });
  const redis = new Redis(url);
  const queue = new CountingQueue(redis, {
    workerId: config.workerId,
    leaseMs: config.leaseMs,
    retryBaseMs: config.retryBaseMs,
    retryMaxMs: config.retryMaxMs,
  });
  const meter = new ThroughputMeter(flags.warmup, TOTAL);
  queue.onComplete = () => meter.tick();
  const pool = createPool();
  // Only the lease sweep and shutdown touch the store when every actor completes.
  const store = {
    listOperations: async () => [],
    releaseOperation: async () => true,
    getOperation: async () => null,
    ping: async () => undefined,
  };
  const supervisor = new Supervisor({
    config,
    queue,
    store,
    redis,
    pool,
    metrics: { apply: () => undefined },
    logger: createLogger('silent'),
  });
  const measured = measure('ours-supervisor', control, meter);
  supervisor.start();
  const result = await measured;
  await supervisor.shutdown(1_000);
  await pool.destroy();
  redis.disconnect();
  return { ...result, opsPerSecond: meter.opsPerSecond() };
}

async function runBullmq(
  name: string,
  server: LocalServer,
  control: Redis,
  concurrency: number,
): Promise<RoundResult> {
  const connection = { host: '127.0.0.1', port: server.port };
  const queueName = `bench-${randomUUID().slice(0, 8)}`;
  const queue = new Queue(queueName, { connection });
  for (let start = 0; start < TOTAL; start += 1000) {
    const count = Math.min(1000, TOTAL - start);
    await queue.addBulk(
      Array.from({ length: count }, (_, i) => ({
        name: 'noop',
        data: { i: start + i },
        opts: { removeOnComplete: true, removeOnFail: true },
      })),
    );
  }
  const meter = new ThroughputMeter(flags.warmup, TOTAL);
  const worker = new Worker(queueName, NOOP_FILE, {
    connection,
    concurrency,
    useWorkerThreads: true,
    autorun: false,
  });
  worker.on('completed', () => meter.tick());
  worker.on('failed', (_job, error) => {
    console.error(`BullMQ job failed: ${error.message}`);
    process.exit(1);
  });
  const measured = measure(name, control, meter);
  void worker.run();
  const result = await measured;
  await worker.close();
  await queue.close();
  return { ...result, opsPerSecond: meter.opsPerSecond() };
}

function printRound(round_: number, results: RoundResult[]) {
  console.log(`\nround ${round_}`);
  console.log(
    table([
      ['contender', 'ops/s', 'redis cmds/job', 'redis cpu ms/1k', 'node cpu ms/1k'],
      ...results.map((r) => [
        r.name,
        round(r.opsPerSecond),
        round(r.redis.commands / flags.jobs, 2),
        round((r.redis.cpuMs * 1000) / flags.jobs, 1),
        round((r.nodeCpuMs * 1000) / flags.jobs, 1),
      ]),
    ]),
  );
}

async function main() {
  console.log(
    `queue-vs-bullmq: ${flags.jobs} jobs measured after ${flags.warmup} warm-up, ` +
      `${flags.rounds} rounds, concurrency ${flags.concurrency}, our threads ${flags.threads}, ` +
      `claim batch ${flags.batch}, node ${process.version}`,
  );
  // Each BullMQ sandbox thread pipes its stdout and stderr into ours.
  process.stdout.setMaxListeners(0);
  process.stderr.setMaxListeners(0);
  const server = await startRedis();
  const forget = onInterrupt(() => server.destroy());
  const control = new Redis(server.url);
  type Contender = () => Promise<RoundResult>;
  const contenders: Contender[] = [
    () => runOursLoop(server.url, control),
    () => runBullmq('bullmq', server, control, flags.concurrency),
  ];
  const Supervisor = flags.supervisor ? await loadSupervisor() : null;
  if (Supervisor) contenders.push(() => runOursSupervisor(Supervisor, server.url, control));
  if (flags.bullmqSameThreads) {
    contenders.push(() => runBullmq('bullmq-same-threads', server, control, flags.threads));
  }

  const all: RoundResult[][] = [];
  try {
    for (let r = 0; r < flags.rounds; r++) {
      const results: RoundResult[] = [];
      for (let i = 0; i < contenders.length; i++) {
        await control.flushdb();
        results.push(await contenders[(i + r) % contenders.length]!());
      }
      results.sort((a, b) => a.name.localeCompare(b.name));
      printRound(r + 1, results);
      all.push(results);
    }
  } finally {
    forget();
    control.disconnect();
    await server.destroy();
  }

  const names = all[0]!.map((r) => r.name);
  const opsOf = (name: string) => all.map((rs) => rs.find((r) => r.name === name)!.opsPerSecond);
  console.log(`\nmedians over ${flags.rounds} rounds`);
  console.log(
    table([
      ['contender', 'median ops/s', 'min', 'max'],
      ...names.map((name) => {
        const ops = opsOf(name);
        return [name, round(median(ops)), round(Math.min(...ops)), round(Math.max(...ops))];
      }),
    ]),
  );
  const bullmq = opsOf('bullmq');
  for (const ours of names.filter((name) => name.startsWith('ours'))) {
    const perRound = opsOf(ours).map((ops, i) => ops / bullmq[i]!);
    console.log(
      `${ours} / bullmq: median of per-round ratios ${round(median(perRound), 2)} ` +
        `(rounds: ${perRound.map((x) => round(x, 2)).join(', ')}), ` +
        `ratio of medians ${round(median(opsOf(ours)) / median(bullmq), 2)}`,
    );
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
