// The simulator runs on its own (`node dist/src/sim/main.js`), prints where its kubeconfig
// is, serves the seeded databases and stops cleanly on SIGTERM; with a state folder it
// comes back with the same objects, CA and token.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { optionsFromArgs } from '../src/sim/main.js';
import { startSimulator } from '../src/sim/server.js';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/sim/main.js');
const work = mkdtempSync(path.join(os.tmpdir(), 'sim-main-test-'));

after(() => rmSync(work, { recursive: true, force: true }));

describe('standalone simulator', () => {
  it('prints the kubeconfig path, serves the seed, and exits 0 on SIGTERM', async () => {
    const seedFile = path.join(work, 'seed.json');
    writeFileSync(
      seedFile,
      JSON.stringify({
        databases: [
          { engine: 'mysql', namespace: 'demo', name: 'shop', topology: 'group-replication' },
        ],
      }),
    );
    const kubeconfigFile = path.join(work, 'kubeconfig');
    const child = spawn(
      process.execPath,
      [
        MAIN,
        '--port',
        '0',
        '--seed',
        seedFile,
        '--kubeconfig',
        kubeconfigFile,
        '--log-level',
        'warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      const firstLine = await new Promise<string>((resolve, reject) => {
        createInterface(child.stdout).once('line', resolve);
        child.once('exit', (code) => reject(new Error(`exited with ${code}`)));
      });
      assert.equal(firstLine, kubeconfigFile);

      const kc = new k8s.KubeConfig();
      kc.loadFromFile(firstLine);
      const api = kc.makeApiClient(k8s.CustomObjectsApi);
      const shop = await api.getNamespacedCustomObject({
        group: 'kubedb.com',
        version: 'v1',
        namespace: 'demo',
        plural: 'mysqls',
        name: 'shop',
      });
      assert.equal(shop.spec.topology.mode, 'GroupReplication');
      assert.equal(shop.status.phase, 'Ready');
    } finally {
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    }
  });

  it('reads flags and their environment variables', () => {
    const options = optionsFromArgs(['--error-kinds', '503,reset', '--pending-ms', '5'], {
      SIM_ERROR_RATE: '0.25',
      SIM_PORT: '0',
    });
    assert.equal(options.faults?.errorRate, 0.25);
    assert.deepEqual(options.faults?.errorKinds, [503, 'reset']);
    assert.equal(options.timings?.pendingMs, 5);
    assert.throws(() => optionsFromArgs(['--latency-ms', 'slow'], {}), /must be a number/);
  });

  it('keeps objects, CA and token in its state folder across restarts', async () => {
    const stateDir = path.join(work, 'state');
    const first = await startSimulator({
      stateDir,
      seed: [{ engine: 'redis', namespace: 'demo', name: 'cache' }],
    });
    const kubeconfig = first.kubeconfig.replace(first.url, '');
    await first.stop();

    const second = await startSimulator({ stateDir });
    try {
      assert.equal(second.kubeconfig.replace(second.url, ''), kubeconfig);
      assert.equal(readFileSync(second.kubeconfigPath, 'utf8'), second.kubeconfig);
      const cache = second.get('kubedb.com', 'v1', 'redises', 'demo', 'cache') as {
        status: { phase: string };
      };
      assert.equal(cache.status.phase, 'Ready');
    } finally {
      await second.stop();
    }
  });
});
