// The simulator plays the KubeDB operator: OpsRequests go Pending -> Progressing ->
// Successful and change the database as KubeDB would, for every engine and topology; a
// request for a component the database does not have fails with a condition saying why;
// requests for one database run one at a time.

import assert from 'node:assert/strict';
import https from 'node:https';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { type SeedDatabase, type Simulator, startSimulator } from '../src/sim/server.js';

const NS = 'operator-test';

let sim: Simulator;
let api: k8s.CustomObjectsApi;
let kc: k8s.KubeConfig;

const seeds: SeedDatabase[] = [
  { engine: 'mongodb', namespace: NS, name: 'mg-standalone', topology: 'standalone' },
  { engine: 'mongodb', namespace: NS, name: 'mg-rs', topology: 'replicaset' },
  { engine: 'mongodb', namespace: NS, name: 'mg-sharded', topology: 'sharded' },
  {
    engine: 'mongodb',
    namespace: NS,
    name: 'mg-old',
    topology: 'replicaset',
    apiVersion: 'v1alpha2',
  },
  { engine: 'postgres', namespace: NS, name: 'pg', topology: 'cluster' },
  { engine: 'mysql', namespace: NS, name: 'my-standalone' },
  { engine: 'mysql', namespace: NS, name: 'my-group', topology: 'group-replication' },
  { engine: 'mariadb', namespace: NS, name: 'md-galera', topology: 'galera' },
  { engine: 'redis', namespace: NS, name: 'rd-standalone' },
  { engine: 'redis', namespace: NS, name: 'rd-cluster', topology: 'cluster' },
  { engine: 'redis', namespace: NS, name: 'rd-sentinel', topology: 'sentinel' },
  { engine: 'elasticsearch', namespace: NS, name: 'es-combined', replicas: 3 },
  { engine: 'elasticsearch', namespace: NS, name: 'es-dedicated', topology: 'dedicated' },
];

before(async () => {
  sim = await startSimulator({ timings: { pendingMs: 5, progressingMs: 20 }, seed: seeds });
  kc = new k8s.KubeConfig();
  kc.loadFromString(sim.kubeconfig);
  api = kc.makeApiClient(k8s.CustomObjectsApi);
});

after(() => sim.stop());

const KINDS: Record<string, { kind: string; plural: string; dbPlural: string }> = {
  mongodb: { kind: 'MongoDBOpsRequest', plural: 'mongodbopsrequests', dbPlural: 'mongodbs' },
  postgres: { kind: 'PostgresOpsRequest', plural: 'postgresopsrequests', dbPlural: 'postgreses' },
  mysql: { kind: 'MySQLOpsRequest', plural: 'mysqlopsrequests', dbPlural: 'mysqls' },
  mariadb: { kind: 'MariaDBOpsRequest', plural: 'mariadbopsrequests', dbPlural: 'mariadbs' },
  redis: { kind: 'RedisOpsRequest', plural: 'redisopsrequests', dbPlural: 'redises' },
  elasticsearch: {
    kind: 'ElasticsearchOpsRequest',
    plural: 'elasticsearchopsrequests',
    dbPlural: 'elasticsearches',
  },
};

type Json = Record<string, unknown>;

let counter = 0;

/** Creates an OpsRequest (strictly validated) and waits for a final phase. */
async function run(engine: string, db: string, spec: Json): Promise<Json> {
  const { kind, plural } = KINDS[engine]!;
  const name = `${db}-${String((spec.type as string).toLowerCase())}-${(counter += 1)}`;
  await api.createNamespacedCustomObject({
    group: 'ops.kubedb.com',
    version: 'v1alpha1',
    namespace: NS,
    plural,
    fieldValidation: 'Strict',
    body: {
      apiVersion: 'ops.kubedb.com/v1alpha1',
      kind,
      metadata: { name },
      spec: { databaseRef: { name: db }, ...spec },
    },
  });
  return waitForFinal(plural, name);
}

async function waitForFinal(plural: string, name: string): Promise<Json> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const ops = sim.get('ops.kubedb.com', 'v1alpha1', plural, NS, name) as Json | undefined;
    const phase = (ops?.status as Json | undefined)?.phase;
    if (phase === 'Successful' || phase === 'Failed') return ops!;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${name} did not finish`);
}

/** POSTs JSON to the simulator with the kubeconfig's token; resolves with the status code. */
function post(agent: https.Agent, path: string, body: Json): Promise<number> {
  const server = new URL(kc.getCurrentCluster()!.server);
  return new Promise((resolve, reject) => {
    const request = https.request(
      {
        host: server.hostname,
        port: server.port,
        path,
        method: 'POST',
        agent,
        headers: {
          authorization: `Bearer ${kc.getCurrentUser()!.token}`,
          'content-type': 'application/json',
        },
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      },
    );
    request.on('error', reject);
    request.end(JSON.stringify(body));
  });
}

function database(engine: string, name: string, version = 'v1'): Json {
  return sim.get('kubedb.com', version, KINDS[engine]!.dbPlural, NS, name) as Json;
}

function at(object: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => {
    if (node === undefined || node === null) return undefined;
    if (Array.isArray(node)) return node.find((x) => (x as Json).name === key);
    return (node as Json)[key];
  }, object);
}

function phaseOf(ops: Json): string {
  return (ops.status as Json).phase as string;
}

function conditions(ops: Json): Array<{ type: string; reason: string; message: string }> {
  return (ops.status as { conditions: Array<{ type: string; reason: string; message: string }> })
    .conditions;
}

const resources = (cpu: string, memory: string) => ({
  resources: { requests: { cpu, memory }, limits: { cpu, memory } },
});

interface Case {
  engine: string;
  db: string;
  spec: Json;
  /** dotted paths (array items by `name`) -> expected value after the request */
  expect: Record<string, unknown>;
  version?: string;
}

const SUCCESS: Case[] = [
  {
    engine: 'mongodb',
    db: 'mg-standalone',
    spec: { type: 'VerticalScaling', verticalScaling: { standalone: resources('2', '4Gi') } },
    expect: { 'spec.podTemplate.spec.containers.mongodb.resources.limits.memory': '4Gi' },
  },
  {
    engine: 'mongodb',
    db: 'mg-standalone',
    spec: { type: 'VolumeExpansion', volumeExpansion: { mode: 'Online', standalone: '20Gi' } },
    expect: { 'spec.storage.resources.requests.storage': '20Gi' },
  },
  {
    engine: 'mongodb',
    db: 'mg-rs',
    spec: { type: 'VerticalScaling', verticalScaling: { replicaSet: resources('4', '16Gi') } },
    expect: { 'spec.podTemplate.spec.containers.mongodb.resources.requests.cpu': '4' },
  },
  {
    engine: 'mongodb',
    db: 'mg-rs',
    spec: { type: 'HorizontalScaling', horizontalScaling: { replicas: 5 } },
    expect: { 'spec.replicas': 5 },
  },
  {
    engine: 'mongodb',
    db: 'mg-rs',
    spec: { type: 'UpdateVersion', updateVersion: { targetVersion: '7.0.5' } },
    expect: { 'spec.version': '7.0.5' },
  },
  {
    engine: 'mongodb',
    db: 'mg-sharded',
    spec: {
      type: 'VerticalScaling',
      verticalScaling: { shard: resources('2', '8Gi'), mongos: resources('1', '2Gi') },
    },
    expect: {
      'spec.shardTopology.shard.podTemplate.spec.containers.mongodb.resources.limits.memory': '8Gi',
      'spec.shardTopology.mongos.podTemplate.spec.containers.mongodb.resources.limits.cpu': '1',
    },
  },
  {
    engine: 'mongodb',
    db: 'mg-sharded',
    spec: { type: 'HorizontalScaling', horizontalScaling: { shard: { shards: 4, replicas: 3 } } },
    expect: { 'spec.shardTopology.shard.shards': 4 },
  },
  {
    engine: 'mongodb',
    db: 'mg-sharded',
    spec: {
      type: 'VolumeExpansion',
      volumeExpansion: { mode: 'Offline', shard: '30Gi', configServer: '15Gi' },
    },
    expect: {
      'spec.shardTopology.shard.storage.resources.requests.storage': '30Gi',
      'spec.shardTopology.configServer.storage.resources.requests.storage': '15Gi',
    },
  },
  {
    engine: 'mongodb',
    db: 'mg-old',
    version: 'v1alpha2',
    spec: { type: 'VerticalScaling', verticalScaling: { replicaSet: resources('500m', '1Gi') } },
    expect: { 'spec.podTemplate.spec.resources.requests.cpu': '500m' },
  },
  {
    engine: 'postgres',
    db: 'pg',
    spec: { type: 'VerticalScaling', verticalScaling: { postgres: resources('2', '8Gi') } },
    expect: { 'spec.podTemplate.spec.containers.postgres.resources.limits.memory': '8Gi' },
  },
  {
    engine: 'postgres',
    db: 'pg',
    spec: { type: 'HorizontalScaling', horizontalScaling: { replicas: 5 } },
    expect: { 'spec.replicas': 5 },
  },
  {
    engine: 'postgres',
    db: 'pg',
    spec: { type: 'VolumeExpansion', volumeExpansion: { mode: 'Online', postgres: '50Gi' } },
    expect: { 'spec.storage.resources.requests.storage': '50Gi' },
  },
  {
    engine: 'mysql',
    db: 'my-group',
    spec: { type: 'VerticalScaling', verticalScaling: { mysql: resources('4', '16Gi') } },
    expect: { 'spec.podTemplate.spec.containers.mysql.resources.requests.memory': '16Gi' },
  },
  {
    engine: 'mysql',
    db: 'my-group',
    spec: { type: 'HorizontalScaling', horizontalScaling: { member: 5 } },
    expect: { 'spec.replicas': 5 },
  },
  {
    engine: 'mysql',
    db: 'my-standalone',
    spec: { type: 'VolumeExpansion', volumeExpansion: { mode: 'Online', mysql: '11Gi' } },
    expect: { 'spec.storage.resources.requests.storage': '11Gi' },
  },
  {
    engine: 'mariadb',
    db: 'md-galera',
    spec: { type: 'VerticalScaling', verticalScaling: { mariadb: resources('2', '4Gi') } },
    expect: { 'spec.podTemplate.spec.containers.mariadb.resources.limits.cpu': '2' },
  },
  {
    engine: 'mariadb',
    db: 'md-galera',
    spec: { type: 'HorizontalScaling', horizontalScaling: { member: 5 } },
    expect: { 'spec.replicas': 5 },
  },
  {
    engine: 'mariadb',
    db: 'md-galera',
    spec: { type: 'VolumeExpansion', volumeExpansion: { mode: 'Offline', mariadb: '12Gi' } },
    expect: { 'spec.storage.resources.requests.storage': '12Gi' },
  },
  {
    engine: 'redis',
    db: 'rd-standalone',
    spec: { type: 'VerticalScaling', verticalScaling: { redis: resources('500m', '1Gi') } },
    expect: { 'spec.podTemplate.spec.containers.redis.resources.limits.memory': '1Gi' },
  },
  {
    engine: 'redis',
    db: 'rd-cluster',
    spec: { type: 'HorizontalScaling', horizontalScaling: { shards: 4, replicas: 2 } },
    expect: { 'spec.cluster.shards': 4, 'spec.cluster.replicas': 2 },
  },
  {
    engine: 'redis',
    db: 'rd-sentinel',
    spec: { type: 'HorizontalScaling', horizontalScaling: { replicas: 5 } },
    expect: { 'spec.replicas': 5 },
  },
  {
    engine: 'redis',
    db: 'rd-cluster',
    spec: { type: 'VolumeExpansion', volumeExpansion: { mode: 'Online', redis: '20Gi' } },
    expect: { 'spec.storage.resources.requests.storage': '20Gi' },
  },
  {
    engine: 'elasticsearch',
    db: 'es-combined',
    spec: { type: 'VerticalScaling', verticalScaling: { node: resources('2', '4Gi') } },
    expect: { 'spec.podTemplate.spec.containers.elasticsearch.resources.limits.memory': '4Gi' },
  },
  {
    engine: 'elasticsearch',
    db: 'es-combined',
    spec: { type: 'HorizontalScaling', horizontalScaling: { node: 5 } },
    expect: { 'spec.replicas': 5 },
  },
  {
    engine: 'elasticsearch',
    db: 'es-dedicated',
    spec: { type: 'VerticalScaling', verticalScaling: { data: resources('4', '16Gi') } },
    expect: {
      'spec.topology.data.podTemplate.spec.containers.elasticsearch.resources.limits.cpu': '4',
    },
  },
  {
    engine: 'elasticsearch',
    db: 'es-dedicated',
    spec: { type: 'HorizontalScaling', horizontalScaling: { topology: { data: 5, ingest: 3 } } },
    expect: { 'spec.topology.data.replicas': 5, 'spec.topology.ingest.replicas': 3 },
  },
  {
    engine: 'elasticsearch',
    db: 'es-dedicated',
    spec: { type: 'VolumeExpansion', volumeExpansion: { mode: 'Online', data: '40Gi' } },
    expect: { 'spec.topology.data.storage.resources.requests.storage': '40Gi' },
  },
  {
    engine: 'elasticsearch',
    db: 'es-dedicated',
    spec: { type: 'Restart', restart: {} },
    expect: {},
  },
];

describe('OpsRequests that succeed', () => {
  for (const c of SUCCESS) {
    const what = Object.keys((c.spec[lowerFirst(c.spec.type as string)] ?? {}) as Json)
      .filter((k) => k !== 'mode')
      .join('+');
    it(`${c.spec.type} ${what} of ${c.engine} ${c.db} is applied`, async () => {
      const before = database(c.engine, c.db, c.version);
      const ops = await run(c.engine, c.db, c.spec);
      assert.equal(phaseOf(ops), 'Successful', JSON.stringify(ops.status));
      assert.ok(conditions(ops).some((x) => x.type === 'Successful'));
      const after = database(c.engine, c.db, c.version);
      for (const [path, value] of Object.entries(c.expect)) {
        assert.deepEqual(at(after, path), value, path);
      }
      const generation = (after.metadata as { generation: number }).generation;
      const beforeGeneration = (before.metadata as { generation: number }).generation;
      assert.equal(generation, beforeGeneration + (c.spec.type === 'Restart' ? 0 : 1));
      assert.equal((after.status as Json).observedGeneration, generation);
      assert.equal((ops.status as Json).observedGeneration, 1);
    });
  }
});

const FAILURES: Array<{ why: string; engine: string; db: string; spec: Json; message: RegExp }> = [
  {
    why: 'scales replicaSet of a standalone MongoDB',
    engine: 'mongodb',
    db: 'mg-standalone',
    spec: { type: 'VerticalScaling', verticalScaling: { replicaSet: resources('1', '1Gi') } },
    message: /standalone and has no replicaSet/,
  },
  {
    why: 'scales standalone of a MongoDB replica set',
    engine: 'mongodb',
    db: 'mg-rs',
    spec: { type: 'VerticalScaling', verticalScaling: { standalone: resources('1', '1Gi') } },
    message: /replicaset and has no standalone/,
  },
  {
    why: 'adds shards to a MongoDB that is not sharded',
    engine: 'mongodb',
    db: 'mg-rs',
    spec: { type: 'HorizontalScaling', horizontalScaling: { shard: { shards: 3 } } },
    message: /shard/,
  },
  {
    why: 'adds replicas to a standalone MongoDB',
    engine: 'mongodb',
    db: 'mg-standalone',
    spec: { type: 'HorizontalScaling', horizontalScaling: { replicas: 3 } },
    message: /standalone/,
  },
  {
    why: 'adds members to a standalone MySQL',
    engine: 'mysql',
    db: 'my-standalone',
    spec: { type: 'HorizontalScaling', horizontalScaling: { member: 3 } },
    message: /standalone/,
  },
  {
    why: 'adds replicas to a standalone Redis',
    engine: 'redis',
    db: 'rd-standalone',
    spec: { type: 'HorizontalScaling', horizontalScaling: { replicas: 3 } },
    message: /Standalone/,
  },
  {
    why: 'adds shards to a Redis in Sentinel mode',
    engine: 'redis',
    db: 'rd-sentinel',
    spec: { type: 'HorizontalScaling', horizontalScaling: { shards: 3 } },
    message: /Cluster/,
  },
  {
    why: 'scales master nodes of an Elasticsearch with combined nodes',
    engine: 'elasticsearch',
    db: 'es-combined',
    spec: { type: 'VerticalScaling', verticalScaling: { master: resources('1', '1Gi') } },
    message: /combined and has no master/,
  },
  {
    why: 'scales `node` of an Elasticsearch with dedicated roles',
    engine: 'elasticsearch',
    db: 'es-dedicated',
    spec: { type: 'VerticalScaling', verticalScaling: { node: resources('1', '1Gi') } },
    message: /dedicated and has no node/,
  },
  {
    why: 'scales an Elasticsearch role the cluster does not run',
    engine: 'elasticsearch',
    db: 'es-dedicated',
    spec: { type: 'HorizontalScaling', horizontalScaling: { topology: { ml: 2 } } },
    message: /has no ml/,
  },
  {
    why: 'shrinks storage',
    engine: 'postgres',
    db: 'pg',
    spec: { type: 'VolumeExpansion', volumeExpansion: { mode: 'Online', postgres: '1Gi' } },
    message: /cannot be decreased/,
  },
  {
    why: 'names a database that does not exist',
    engine: 'mariadb',
    db: 'md-missing',
    spec: { type: 'Restart', restart: {} },
    message: /not found/,
  },
];

describe('OpsRequests that fail', () => {
  for (const c of FAILURES) {
    it(`Failed with a condition when it ${c.why}`, async () => {
      const before = database(c.engine, c.db);
      const ops = await run(c.engine, c.db, c.spec);
      assert.equal(phaseOf(ops), 'Failed');
      const failed = conditions(ops).find((x) => x.type === 'Failed');
      assert.ok(failed, JSON.stringify(ops.status));
      assert.match(failed.message, c.message);
      assert.deepEqual(database(c.engine, c.db), before, 'the database is unchanged');
    });
  }
});

describe('queueing and fault knobs', () => {
  it('runs two OpsRequests for one database one at a time, in creation order', async () => {
    sim.setTimings({ progressingMs: 100 });
    try {
      const phases: Array<[string, string]> = [];
      const list = await api.listNamespacedCustomObject({
        group: 'ops.kubedb.com',
        version: 'v1alpha1',
        namespace: NS,
        plural: 'postgresopsrequests',
      });
      const controller = await new k8s.Watch(kc).watch(
        `/apis/ops.kubedb.com/v1alpha1/namespaces/${NS}/postgresopsrequests`,
        { resourceVersion: list.metadata.resourceVersion },
        (_type, object) => {
          if (object.status?.phase) phases.push([object.metadata.name, object.status.phase]);
        },
        () => {},
      );
      const first = run('postgres', 'pg', { type: 'Restart', restart: {} });
      const second = run('postgres', 'pg', { type: 'Restart', restart: {} });
      const [a, b] = await Promise.all([first, second]);
      controller.abort();
      const nameA = (a.metadata as { name: string }).name;
      const nameB = (b.metadata as { name: string }).name;
      const index = (name: string, phase: string) =>
        phases.findIndex(([n, p]) => n === name && p === phase);
      assert.ok(index(nameB, 'Pending') < index(nameA, 'Successful'), JSON.stringify(phases));
      assert.ok(index(nameA, 'Successful') < index(nameB, 'Progressing'), JSON.stringify(phases));
      assert.equal(phaseOf(b), 'Successful');
    } finally {
      sim.setTimings({ progressingMs: 20 });
    }
  });

  it('fails OpsRequests whose name matches opsFailPattern', async () => {
    sim.setFaults({ opsFailPattern: '^rd-standalone-restart' });
    try {
      const ops = await run('redis', 'rd-standalone', { type: 'Restart', restart: {} });
      assert.equal(phaseOf(ops), 'Failed');
      assert.match(conditions(ops).find((x) => x.type === 'Failed')!.message, /told to fail/);
    } finally {
      sim.setFaults({ opsFailPattern: '' });
    }
  });

  it('never sends a started OpsRequest back to Pending when its timers run late', async () => {
    // Under load timers run late, and Node runs every due timer of one duration before the
    // next: a request's start (pendingMs) could run before its write of Pending (0 ms) and be
    // undone by it, leaving the request Pending for good. A burst of creates makes the poll
    // phase long, as 5,000 operations did in the scale benchmark.
    const burst: SeedDatabase[] = Array.from({ length: 400 }, (_, i) => ({
      engine: 'postgres',
      namespace: NS,
      name: `pg-burst-${i}`,
      topology: 'cluster',
    }));
    sim.seed(burst);
    // Short, so that a request's start is due by the time a busy loop gets to its timers.
    sim.setTimings({ pendingMs: 2 });
    sim.setFaults({ opsStayProgressing: true });
    try {
      // Many connections at once, so that the simulator handles many creates per turn of
      // its event loop (the client library's own agent sends them a few at a time).
      const agent = new https.Agent({ maxSockets: burst.length, rejectUnauthorized: false });
      const names = await Promise.all(
        burst.map(async (seed) => {
          const name = `${seed.name}-restart`;
          const status = await post(
            agent,
            `/apis/ops.kubedb.com/v1alpha1/namespaces/${NS}/postgresopsrequests`,
            {
              apiVersion: 'ops.kubedb.com/v1alpha1',
              kind: 'PostgresOpsRequest',
              metadata: { name },
              spec: { databaseRef: { name: seed.name }, type: 'Restart', restart: {} },
            },
          );
          assert.equal(status, 201);
          return name;
        }),
      );
      agent.destroy();
      await new Promise((r) => setTimeout(r, 500));
      const stuck = names.filter((name) => {
        const ops = sim.get('ops.kubedb.com', 'v1alpha1', 'postgresopsrequests', NS, name);
        return phaseOf(ops as Json) !== 'Progressing';
      });
      assert.deepEqual(stuck, [], 'every request started and stayed started');
      sim.setFaults({ opsStayProgressing: false });
      for (const name of names) await waitForFinal('postgresopsrequests', name);
    } finally {
      sim.setFaults({ opsStayProgressing: false });
      sim.setTimings({ pendingMs: 5 });
    }
  });

  it('keeps OpsRequests Progressing while opsStayProgressing is on, then finishes them', async () => {
    sim.setFaults({ opsStayProgressing: true });
    const done = run('mysql', 'my-group', { type: 'Restart', restart: {} });
    const progressing = () =>
      sim
        .list('mysqlopsrequests', NS)
        .filter((o) => (o.status as Json | undefined)?.phase === 'Progressing');
    for (let waited = 0; progressing().length === 0 && waited < 3000; waited += 20) {
      await new Promise((r) => setTimeout(r, 20));
    }
    // Well past progressingMs (20 ms): it stays.
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(progressing().length, 1);
    sim.setFaults({ opsStayProgressing: false });
    assert.equal(phaseOf(await done), 'Successful');
  });
});

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}
