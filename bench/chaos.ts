// `npm run chaos`: the chaos run of docs/RELIABILITY.md. Prints progress, then the report;
// exits 1 if any check failed.
//
//   npm run chaos -- --operations 2000 --kills 10 --seed 1 --timeout-s 900

import { numberFlags } from './flags.js';
import { formatReport } from './chaos-report.js';
import { DEFAULT_CHAOS_OPTIONS, runChaos } from './chaos-run.js';

const flags = numberFlags({
  operations: DEFAULT_CHAOS_OPTIONS.operations,
  kills: DEFAULT_CHAOS_OPTIONS.kills,
  seed: DEFAULT_CHAOS_OPTIONS.seed,
  'timeout-s': DEFAULT_CHAOS_OPTIONS.timeoutS,
  concurrency: DEFAULT_CHAOS_OPTIONS.concurrency,
  'keep-logs': 0,
});

const report = await runChaos({
  operations: flags.operations,
  kills: flags.kills,
  seed: flags.seed,
  timeoutS: flags['timeout-s'],
  concurrency: flags.concurrency,
  keepLogs: flags['keep-logs'] !== 0,
});
console.log(`\n${formatReport(report)}`);
process.exit(report.ok ? 0 : 1);
