// The simulator runs on its own (`node dist/src/sim/main.js`), prints where its kubeconfig
// is, serves the seeded databases and stops cleanly on SIGTERM; with a state folder it
// comes back with the same objects, CA and token.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
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
const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/cli.js');
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

describe('simulator command line, given bad input', () => {
  /**
   * Runs `dbaas-worker sim ARGS` to its end. `direct` runs src/sim/main.js itself, which the
   * CLI runs: a simulator that starts after all is then killed outright, leaving nothing behind.
   */
  function sim(args: string[], direct = false) {
    const result = spawnSync(process.execPath, direct ? [MAIN, ...args] : [CLI, 'sim', ...args], {
      encoding: 'utf8',
      timeout: 15_000,
      killSignal: 'SIGKILL',
    });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  function seedFile(name: string, content: string): string {
    const file = path.join(work, name);
    writeFileSync(file, content);
    return file;
  }

  const cases: Array<[string, string, RegExp]> = [
    [
      'an unknown engine',
      JSON.stringify([{ engine: 'oracle', namespace: 'demo', name: 'ledger' }]),
      /: entry 0 \(ledger\): unknown engine "oracle": use one of postgres, mysql, /,
    ],
    [
      'an unknown topology',
      JSON.stringify({
        databases: [
          { engine: 'redis', namespace: 'demo', name: 'cache' },
          { engine: 'mongodb', namespace: 'demo', name: 'docs', topology: 'ring' },
        ],
      }),
      /: entry 1 \(docs\): mongodb has no topology ring: use one of standalone, replicaset/,
    ],
    [
      'an engine named like an Object method',
      JSON.stringify([{ engine: 'constructor', namespace: 'demo', name: 'x' }]),
      /: entry 0 \(x\): unknown engine "constructor"/,
    ],
    [
      'replicas as a string',
      JSON.stringify([{ engine: 'postgres', namespace: 'demo', name: 'pg', replicas: '3' }]),
      /: entry 0 \(pg\): replicas must be a whole number of 1 or more, got "3"/,
    ],
    ['bad JSON', '[{"engine": "postgres",', / is not valid JSON: /],
    ['neither an array nor {databases}', '{"dbs": []}', / must hold a JSON array of databases/],
  ];

  for (const [what, content, message] of cases) {
    it(`exits 2 with one line naming the file for a seed file with ${what}`, () => {
      const file = seedFile(`seed-${what.replace(/\W+/g, '-')}.json`, content);
      const { code, stdout, stderr } = sim(['--port', '0', '--seed', file], true);
      assert.equal(code, 2, stderr);
      assert.equal(stdout, '', 'no kubeconfig path: the simulator did not start');
      assert.equal(stderr.trimEnd().split('\n').length, 1, stderr);
      assert.ok(stderr.startsWith(`dbaas-worker sim: `), stderr);
      assert.ok(stderr.includes(file), `names ${file}: ${stderr}`);
      assert.match(stderr, message);
      assert.doesNotMatch(stderr, /^\s+at /m, 'no stack trace');
    });
  }

  it('exits 2 naming a seed file that does not exist', () => {
    const file = path.join(work, 'no-such-seed.json');
    const { code, stderr } = sim(['--port', '0', '--seed', file], true);
    assert.equal(code, 2, stderr);
    assert.match(stderr, /^dbaas-worker sim: cannot read seed file .*no-such-seed\.json: ENOENT/);
  });

  it('--help prints usage as dbaas-worker sim, and exits 0', () => {
    const { code, stdout } = sim(['--help']);
    assert.equal(code, 0);
    assert.match(stdout, /^usage: dbaas-worker sim \[flags\]\n/);
    assert.doesNotMatch(stdout, /node dist|main\.js/);
  });

  it('exits 2 with the usage for an unknown flag', () => {
    const { code, stderr } = sim(['--colour', 'blue']);
    assert.equal(code, 2);
    assert.match(stderr, /^dbaas-worker sim: .*--colour/);
    assert.match(stderr, /usage: dbaas-worker sim \[flags\]/);
  });
});
