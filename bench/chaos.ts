// `npm run chaos`: the chaos run of docs/RELIABILITY.md. Prints progress, then the report;
// exits 1 if any check failed. Ctrl-C (or SIGTERM) ends it early, still with a report.
//
//   npm run chaos -- --operations 2000 --kills 10 --seed 1 --timeout-s 3600
//   flags: --operations N --kills N --seed N --timeout-s N --concurrency N --outage-ms N
//          --store postgresql|sqlite --consistent-targets --keep-logs

import { parseArgs } from 'node:util';
import { formatReport } from './chaos-report.js';
import { DEFAULT_CHAOS_OPTIONS, runChaos } from './chaos-run.js';

const numbers = ['operations', 'kills', 'seed', 'timeout-s', 'concurrency', 'outage-ms'] as const;
const { values } = parseArgs({
  options: {
    ...Object.fromEntries(numbers.map((name) => [name, { type: 'string' as const }])),
    store: { type: 'string' },
    'consistent-targets': { type: 'boolean' },
    'keep-logs': { type: 'boolean' },
  },
  strict: true,
});

function number(name: (typeof numbers)[number], fallback: number): number {
  const raw = (values as Record<string, string | boolean | undefined>)[name] as string | undefined;
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`--${name} must be a whole number, got ${raw}`);
  }
  return value;
}

const store = (values.store as string | undefined) ?? DEFAULT_CHAOS_OPTIONS.store;
if (store !== 'postgresql' && store !== 'sqlite') {
  throw new Error(`--store must be postgresql or sqlite, got ${store}`);
}

const abort = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    console.log(`\n${signal}: ending the run early`);
    abort.abort();
  });
}

const report = await runChaos({
  operations: number('operations', DEFAULT_CHAOS_OPTIONS.operations),
  kills: number('kills', DEFAULT_CHAOS_OPTIONS.kills),
  seed: number('seed', DEFAULT_CHAOS_OPTIONS.seed),
  timeoutS: number('timeout-s', DEFAULT_CHAOS_OPTIONS.timeoutS),
  concurrency: number('concurrency', DEFAULT_CHAOS_OPTIONS.concurrency),
  outageMs: number('outage-ms', DEFAULT_CHAOS_OPTIONS.outageMs),
  store,
  consistentTargets: values['consistent-targets'] === true,
  keepLogs: values['keep-logs'] === true,
  signal: abort.signal,
});
console.log(`\n${formatReport(report)}`);
process.exit(report.ok ? 0 : 1);
