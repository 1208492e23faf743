// Pickup latency with free capacity: from the ZADD of an id into operations:pending to its
// operation document being `in_progress`, against the real worker (startWorker, in this
// process) and the simulator. Operations are enqueued one at a time at a steady rate.
//
//   npm run bench:latency -- --ops 300 --rate 20 --rounds 3 [--claimPollMs 100]
//
// Two clocks are read, both on this host: `stamped` is started_at - ZADD time, where
// started_at is the time the actor took just before it sent the in_progress write;
// `observed` is when a 5 ms poll of MongoDB first saw the document past `queued` (an upper
// bound: it includes up to one poll interval and a read).

import { startWorker } from '../src/supervisor/main.js';
import { createLogger } from '../src/shared/logger.js';
import { queueKeys } from '../src/shared/queue-keys.js';
import { startEnvironment, seedOperations, statusCounts } from './environment.js';
import { numberFlags } from './flags.js';
import { median, percentile, round, sleep, table } from './stats.js';

const flags = numberFlags({
  ops: 300,
  rate: 20,
  rounds: 3,
  concurrency: 64,
  threads: 2,
  claimPollMs: 100,
  pollMs: 5,
});

interface Sample {
  stamped: number;
  observed: number;
}

async function main() {
  console.log(
    `latency: ${flags.ops} operations per round at ${flags.rate}/s, ${flags.rounds} rounds, ` +
      `WORKER_CONCURRENCY=${flags.concurrency} WORKER_THREADS=${flags.threads} ` +
      `CLAIM_POLL_MS=${flags.claimPollMs}, MongoDB poll every ${flags.pollMs} ms, ` +
      `node ${process.version}`,
  );
  const env = await startEnvironment();
  const logger = createLogger('warn', { bench: 'latency' });
  const worker = await startWorker(
    env.workerConfig({
      WORKER_CONCURRENCY: String(flags.concurrency),
      WORKER_THREADS: String(flags.threads),
      CLAIM_POLL_MS: String(flags.claimPollMs),
    }),
    logger,
  );
  const operations = env.db.collection<{ _id: string; status: string; started_at: Date | null }>(
    'operations',
  );
  const rows: string[][] = [['round', 'ops', 'stamped p50', 'p99', 'max', 'observed p50', 'p99']];
  const p50s: number[] = [];
  const p99s: number[] = [];
  const observedP50s: number[] = [];
  const observedP99s: number[] = [];
  try {
    // Warm-up: threads, connections and watches exist before the clock matters.
    await measureRound(await seedOperations(env, 20));
    for (let r = 1; r <= flags.rounds; r++) {
      const samples = await measureRound(await seedOperations(env, flags.ops));
      const stamped = samples.map((s) => s.stamped);
      const observed = samples.map((s) => s.observed);
      p50s.push(percentile(stamped, 50));
      p99s.push(percentile(stamped, 99));
      observedP50s.push(percentile(observed, 50));
      observedP99s.push(percentile(observed, 99));
      rows.push([
        String(r),
        String(samples.length),
        `${round(percentile(stamped, 50), 1)} ms`,
        `${round(percentile(stamped, 99), 1)} ms`,
        `${round(Math.max(...stamped), 1)} ms`,
        `${round(percentile(observed, 50), 1)} ms`,
        `${round(percentile(observed, 99), 1)} ms`,
      ]);
      console.log(table(rows));
      console.log('');
    }
    console.log(
      `median over ${flags.rounds} rounds: stamped p50 ${round(median(p50s), 1)} ms, ` +
        `p99 ${round(median(p99s), 1)} ms; observed p50 ${round(median(observedP50s), 1)} ms, ` +
        `p99 ${round(median(observedP99s), 1)} ms`,
    );
    console.log('final statuses:', JSON.stringify(await statusCounts(env)));
  } finally {
    await worker.stop(2_000);
    await env.destroy();
  }

  /** Enqueues the ids one at a time at the steady rate; waits until every one started. */
  async function measureRound(ids: string[]): Promise<Sample[]> {
    const enqueuedAt = new Map<string, number>();
    const observedAt = new Map<string, number>();
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const waiting = [...enqueuedAt.keys()].filter((id) => !observedAt.has(id));
        if (waiting.length > 0) {
          const started = await operations
            .find({ _id: { $in: waiting }, status: { $ne: 'queued' } }, { projection: { _id: 1 } })
            .toArray();
          const now = Date.now();
          for (const doc of started) observedAt.set(doc._id, now);
        }
        await sleep(flags.pollMs);
      }
    })();
    const interval = 1000 / flags.rate;
    const begin = Date.now();
    for (let i = 0; i < ids.length; i++) {
      const due = begin + i * interval;
      if (due > Date.now()) await sleep(due - Date.now());
      const id = ids[i]!;
      const before = Date.now();
      await env.redis.zadd(queueKeys.pending, 5, id);
      // The member is in the set somewhere between sending and the reply; take the start.
      enqueuedAt.set(id, before);
    }
    const deadline = Date.now() + 60_000;
    while (observedAt.size < ids.length && Date.now() < deadline) await sleep(50);
    polling = false;
    await poller;
    if (observedAt.size < ids.length) {
      console.log(`${ids.length - observedAt.size} operations did not start within 60 s`);
    }
    const docs = await operations.find({ _id: { $in: ids } }).toArray();
    return docs
      .filter((doc) => doc.started_at)
      .map((doc) => ({
        stamped: doc.started_at!.getTime() - enqueuedAt.get(doc._id)!,
        observed: (observedAt.get(doc._id) ?? Number.NaN) - enqueuedAt.get(doc._id)!,
      }));
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
