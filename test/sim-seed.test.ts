// Seeded databases are CRD-valid resources (strictly validated on the way in) for every
// engine, topology and API version, Ready, and sized as DESIGN.md maps sizes to resources.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SEED_TOPOLOGIES, seedManifest } from '../src/sim/seed.js';
import { type SeedDatabase, type Simulator, startSimulator } from '../src/sim/server.js';

let sim: Simulator;

before(async () => {
  sim = await startSimulator();
});

after(() => sim.stop());

const PLURALS: Record<string, string> = {
  mongodb: 'mongodbs',
  postgres: 'postgreses',
  mysql: 'mysqls',
  mariadb: 'mariadbs',
  redis: 'redises',
  elasticsearch: 'elasticsearches',
};

describe('seeding', () => {
  for (const [engine, topologies] of Object.entries(SEED_TOPOLOGIES)) {
    for (const topology of topologies) {
      for (const apiVersion of ['v1', 'v1alpha2'] as const) {
        it(`seeds a Ready ${engine} ${topology} as kubedb.com/${apiVersion}`, () => {
          const name = `${engine}-${topology}-${apiVersion}`;
          sim.seed([{ engine, namespace: 'seed', name, topology, apiVersion } as SeedDatabase]);
          const stored = sim.get('kubedb.com', apiVersion, PLURALS[engine]!, 'seed', name) as {
            status: { phase: string };
            metadata: { generation: number };
          };
          assert.equal(stored.status.phase, 'Ready');
          assert.equal(stored.metadata.generation, 1);
        });
      }
    }
  }

  it('maps a size to equal requests and limits', () => {
    const manifest = seedManifest({
      engine: 'postgres',
      namespace: 'seed',
      name: 'sized',
      size: 'db.t3.large',
      storageGb: 25,
    });
    const spec = manifest.spec as {
      podTemplate: { spec: { containers: Array<{ name: string; resources: unknown }> } };
      storage: { resources: { requests: { storage: string } } };
    };
    const container = spec.podTemplate.spec.containers[0]!;
    assert.equal(container.name, 'postgres');
    assert.deepEqual(container.resources, {
      requests: { cpu: '2', memory: '8Gi' },
      limits: { cpu: '2', memory: '8Gi' },
    });
    assert.equal(spec.storage.resources.requests.storage, '25Gi');
  });

  it('replaces a database seeded again under the same name', () => {
    sim.seed([{ engine: 'redis', namespace: 'seed', name: 'again', replicas: 1 }]);
    sim.seed([{ engine: 'redis', namespace: 'seed', name: 'again', topology: 'cluster' }]);
    const redis = sim.get('kubedb.com', 'v1', 'redises', 'seed', 'again') as {
      spec: { mode: string };
    };
    assert.equal(redis.spec.mode, 'Cluster');
  });

  it('refuses an unknown engine, even one named like an Object method, naming the valid ones', () => {
    for (const engine of ['oracle', 'constructor', 'toString', '__proto__']) {
      assert.throws(
        () => seedManifest({ engine, namespace: 'n', name: 'x' } as unknown as SeedDatabase),
        new RegExp(`^Error: unknown engine "${engine}": use one of postgres, mysql, mariadb`),
      );
    }
    assert.throws(
      () => seedManifest({ engine: 'redis', namespace: 'n', name: 'x', size: 'constructor' }),
      /unknown size constructor: use one of db\.t3\.micro/,
    );
  });

  it('refuses an unknown topology or size, naming the valid ones', () => {
    assert.throws(
      () => seedManifest({ engine: 'mongodb', namespace: 'n', name: 'x', topology: 'ring' }),
      /use one of standalone, replicaset, sharded/,
    );
    assert.throws(
      () => seedManifest({ engine: 'mongodb', namespace: 'n', name: 'x', size: 'huge' }),
      /unknown size huge/,
    );
  });
});
