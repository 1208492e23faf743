import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatReport } from '../bench/chaos-report.js';
import { runChaos } from '../bench/chaos-run.js';

// The short chaos run of docs/RELIABILITY.md: the same driver as `npm run chaos`, sized for CI.
// It starts its own Redis (append-only) and FerretDB, since it restarts them.
describe('chaos run, short', () => {
  it(
    'loses nothing and leaves every record true through SIGKILLs, Redis and FerretDB restarts ' +
      'and a flaky Kubernetes API',
    { timeout: 240_000 },
    async (t) => {
      const report = await runChaos({
        operations: 150,
        kills: 3,
        seed: 7,
        timeoutS: 200,
        concurrency: 32,
        killGapMs: [2000, 4000],
        arrivalMs: 3000,
        pendingMs: 50,
        progressingMs: 300,
        // Operations on one database ask for different values, so a record left by an older
        // operation that resumed late would show (see docs/RELIABILITY.md).
        consistentTargets: false,
        tolerateKnown: false,
        // The devstack's own FerretDB storage, so CI needs no PostgreSQL.
        store: 'sqlite',
        log: () => undefined,
      });
      const text = formatReport(report);
      t.diagnostic(text);
      for (const check of report.checks) {
        assert.ok(check.ok, `${check.name} failed:\n${text}`);
      }
      assert.equal(report.figures.operations, 150);
      assert.ok(report.figures.kills >= 3, text);
      assert.ok(report.figures.leasesRecovered > 0, 'killed workers left leases to recover');
      assert.ok(
        Object.values(report.figures.faultsInjected).reduce((a, b) => a + b, 0) > 0,
        'the API failed requests',
      );
    },
  );
});
