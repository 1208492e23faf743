// The chaos run's report as text: the figures first, then each check with its verdict and,
// when it failed, the first problems it found.

import type { ChaosReport } from './chaos-run.js';

export function formatReport(report: ChaosReport): string {
  const f = report.figures;
  const o = report.options;
  const status = Object.entries(f.byStatus)
    .map(([name, count]) => `${name} ${count}`)
    .join(', ');
  const faults = Object.entries(f.faultsInjected)
    .map(([kind, count]) => `${kind} x${count}`)
    .join(', ');
  const events = Object.entries(f.logEvents)
    .sort((a, b) => b[1] - a[1])
    .map(([name, count]) => `${name} ${count}`)
    .join(', ');
  const lines = [
    `chaos run: ${report.ok ? 'PASSED' : 'FAILED'}`,
    '',
    `  settings            ${o.operations} operations, seed ${o.seed}, ` +
      `WORKER_CONCURRENCY=${o.concurrency}, ${o.threads} threads, LEASE_TTL_MS=${o.leaseMs}, ` +
      `API error rate ${o.errorRate}, watch cuts every ${o.watchCutEveryMs} ms, ` +
      `max_retries ${o.maxRetries}`,
    `  operations          ${f.operations} over ${f.databases} databases: ${status}`,
    `  retries             ${f.retries} in all (${f.operationsRetried} operations retried, ` +
      `at most ${f.maxRetryCount} for one)`,
    `  resumes             ${f.resumes} (operations taken over from a dead worker or thread)`,
    `  worker              ${f.kills} SIGKILLs (${f.killsWithWorkInFlight} with work in flight), ` +
      `${f.workerStarts} starts, ${f.unexpectedExits} exits by itself`,
    `  leases recovered    ${f.leasesRecovered}`,
    `  dead letters        ${f.deadLetters} (dropped ids: ${f.dropped})`,
    `  services            Redis restarted ${f.redisRestarts}x, FerretDB ${f.ferretdbRestarts}x ` +
      `(down ${o.outageMs} ms each)`,
    `  Kubernetes API      ${f.apiRequests} requests, faults injected: ${faults || 'none'}; ` +
      `${f.watchesOpened} watches opened; ${f.opsRequests} OpsRequests`,
    `  wall time           ${f.wallSeconds.toFixed(1)} s; drain after the last disruption ` +
      `${f.drainSeconds === null ? 'did not finish' : `${f.drainSeconds.toFixed(1)} s`}`,
    `  queued to completed p50 ${f.timeToComplete.p50.toFixed(1)} s, ` +
      `p95 ${f.timeToComplete.p95.toFixed(1)} s, max ${f.timeToComplete.max.toFixed(1)} s`,
    `  worker log events   ${events || 'none'}`,
    '',
  ];
  for (const check of report.checks) {
    lines.push(`  [${check.ok ? 'ok' : 'FAIL'}] ${check.name}: ${check.summary}`);
    if (check.problemCount > 0) lines.push(`         ${check.problemCount} problems:`);
    for (const problem of check.problems) lines.push(`         - ${problem}`);
    if (check.knownCount > 0) lines.push(`         ${check.knownCount} of a known bug:`);
    for (const problem of check.known) lines.push(`         - known bug: ${problem}`);
  }
  if (report.logDir) lines.push('', `  worker log: ${report.logDir}/worker.log`);
  return lines.join('\n');
}
