// OpsRequest bodies and database patches, checked against KubeDB's CRDs (crds/) with
// unknown fields forbidden, the way the API server checks them under fieldValidation=Strict.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import YAML from 'yaml';
import { PermanentError, WorkerError } from '../src/shared/errors.js';
import {
  buildOpsRequest,
  databasePatch,
  haltedPatch,
  observedStorageGb,
  opsRequestName,
  finishedAt,
  opsRequestStatus,
  readTopology,
  replicasPatch,
  storagePatch,
  type KubeObject,
  type OpsRequestKind,
} from '../src/shared/kubedb/index.js';
import type { Engine, Operation } from '../src/shared/types.js';

const crdsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../crds');

/** Every object schema with declared properties rejects other fields, as Strict does. */
function strict(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(strict);
  if (typeof schema !== 'object' || schema === null) return schema;
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    copy[key] =
      key === 'properties' || key === 'patternProperties'
        ? Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, strict(v)]))
        : key === 'default' || key === 'enum' || key === 'example'
          ? value
          : strict(value);
  }
  if (
    copy.type === 'object' &&
    copy.properties &&
    copy.additionalProperties === undefined &&
    copy['x-kubernetes-preserve-unknown-fields'] !== true
  ) {
    copy.additionalProperties = false;
  }
  return copy;
}

const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
const validators = new Map<Engine, ValidateFunction>();

function opsValidator(engine: Engine): ValidateFunction {
  let validate = validators.get(engine);
  if (!validate) {
    const file = path.join(crdsDir, `ops.kubedb.com_${engine}opsrequests.yaml`);
    const crd = YAML.parse(readFileSync(file, 'utf8')) as {
      spec: { versions: Array<{ name: string; schema: { openAPIV3Schema: object } }> };
    };
    const version = crd.spec.versions.find((v) => v.name === 'v1alpha1')!;
    validate = ajv.compile(strict(version.schema.openAPIV3Schema) as object);
    validators.set(engine, validate);
  }
  return validate;
}

function assertValidOpsRequest(engine: Engine, body: KubeObject) {
  const validate = opsValidator(engine);
  const ok = validate(structuredClone(body));
  assert.ok(ok, `${body.metadata?.name}: ${JSON.stringify(validate.errors, null, 1)}`);
  const name = body.metadata!.name!;
  assert.ok(name.length <= 63, `${name} is longer than 63`);
  assert.match(name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  for (const value of Object.values(body.metadata!.labels!)) {
    assert.match(value, /^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$/);
  }
}

const storage = (gb: number) => ({ resources: { requests: { storage: `${gb}Gi` } } });

/** Database resources shaped like KubeDB's, one per engine and topology. */
export const FIXTURES: Record<string, { engine: Engine; resource: KubeObject }> = {
  'mongodb standalone': fixture('mongodb', { storage: storage(10) }),
  'mongodb replicaSet': fixture('mongodb', {
    replicas: 3,
    replicaSet: { name: 'rs0' },
    storage: storage(10),
  }),
  'mongodb replicaSet+hidden': fixture('mongodb', {
    replicas: 3,
    replicaSet: { name: 'rs0' },
    storage: storage(10),
    hidden: { replicas: 1, storage: storage(10) },
  }),
  'mongodb sharded': fixture('mongodb', {
    shardTopology: {
      shard: { shards: 2, replicas: 3, storage: storage(10) },
      configServer: { replicas: 3, storage: storage(2) },
      mongos: { replicas: 2 },
    },
  }),
  'postgres standalone': fixture('postgres', { replicas: 1, storage: storage(10) }),
  'postgres ha': fixture('postgres', { replicas: 3, standbyMode: 'Hot', storage: storage(10) }),
  'mysql standalone': fixture('mysql', { replicas: 1, storage: storage(10) }),
  'mysql groupReplication': fixture('mysql', {
    replicas: 3,
    topology: { mode: 'GroupReplication' },
    storage: storage(10),
  }),
  'mysql innoDBCluster': fixture('mysql', {
    replicas: 3,
    topology: { mode: 'InnoDBCluster' },
    storage: storage(10),
  }),
  'mysql semiSync': fixture('mysql', {
    replicas: 3,
    topology: { mode: 'SemiSync' },
    storage: storage(10),
  }),
  'mariadb standalone': fixture('mariadb', { replicas: 1, storage: storage(10) }),
  'mariadb galera': fixture('mariadb', {
    replicas: 3,
    topology: { mode: 'GaleraCluster' },
    storage: storage(10),
  }),
  'redis standalone': fixture('redis', { mode: 'Standalone', storage: storage(10) }),
  'redis cluster': fixture('redis', {
    mode: 'Cluster',
    cluster: { shards: 3, replicas: 2 },
    storage: storage(10),
  }),
  'redis sentinel': fixture('redis', { mode: 'Sentinel', replicas: 3, storage: storage(10) }),
  'elasticsearch combined': fixture('elasticsearch', { replicas: 3, storage: storage(10) }),
  'elasticsearch dedicated': fixture('elasticsearch', {
    topology: {
      master: { replicas: 3, storage: storage(2) },
      ingest: { replicas: 2, storage: storage(2) },
      data: { replicas: 3, storage: storage(10) },
    },
  }),
};

function fixture(engine: Engine, spec: Record<string, unknown>) {
  const kinds: Record<Engine, string> = {
    mongodb: 'MongoDB',
    postgres: 'Postgres',
    mysql: 'MySQL',
    mariadb: 'MariaDB',
    redis: 'Redis',
    elasticsearch: 'Elasticsearch',
  };
  return {
    engine,
    resource: {
      apiVersion: 'kubedb.com/v1',
      kind: kinds[engine],
      metadata: { name: `${engine}-demo`, namespace: 'demo' },
      spec: { version: '1.0.0', deletionPolicy: 'WipeOut', storageType: 'Durable', ...spec },
    } satisfies KubeObject,
  };
}

function operation(desired: Operation['desired_state'], id = 'op-0123456789ab') {
  return {
    _id: id,
    database_id: 'db-ba9876543210',
    type: 'scale_vertical',
    desired_state: desired,
  } as const;
}

const DESIRED: Record<OpsRequestKind, Operation['desired_state']> = {
  VerticalScaling: { size: 'db.t3.large' },
  HorizontalScaling: { replicas: 5 },
  VolumeExpansion: { storage_gb: 20 },
  UpdateVersion: { target_version: '2.0.0' },
  Restart: {},
};

const NOT_SCALABLE = new Set([
  'mongodb standalone',
  'mysql standalone',
  'mariadb standalone',
  'redis standalone',
]);

function build(key: string, kind: OpsRequestKind, desired = DESIRED[kind], attempt = 1) {
  const { engine, resource } = FIXTURES[key]!;
  return buildOpsRequest({
    engine,
    database: resource,
    operation: operation(desired),
    attempt,
    kind,
    volumeExpansionMode: 'Online',
  });
}

function rejects(fn: () => unknown, reason?: string) {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof PermanentError, `expected PermanentError, got ${String(error)}`);
    assert.equal(error.code, 'REQUEST_INVALID');
    if (reason) assert.equal(error.details?.reason, reason);
    return true;
  });
}

describe('OpsRequest builder', () => {
  for (const key of Object.keys(FIXTURES)) {
    for (const kind of Object.keys(DESIRED) as OpsRequestKind[]) {
      if (kind === 'HorizontalScaling' && NOT_SCALABLE.has(key)) continue;
      it(`builds a CRD-valid ${kind} for ${key}`, () => {
        const body = build(key, kind);
        assertValidOpsRequest(FIXTURES[key]!.engine, body);
        assert.equal((body.spec as { type: string }).type, kind);
      });
    }
  }

  it('is checked by a validator that refuses fields the CRD does not declare', () => {
    const body = build('mysql groupReplication', 'VerticalScaling');
    (body.spec as Record<string, unknown>).verticalScaling = { replicaSet: {} };
    assert.equal(opsValidator('mysql')(body), false);
  });

  it('puts vertical scaling on the components the topology has', () => {
    const components = (key: string) =>
      Object.keys(
        (build(key, 'VerticalScaling').spec as { verticalScaling: object }).verticalScaling,
      );
    assert.deepEqual(components('mongodb standalone'), ['standalone']);
    assert.deepEqual(components('mongodb replicaSet'), ['replicaSet']);
    assert.deepEqual(components('mongodb replicaSet+hidden'), ['replicaSet', 'hidden']);
    assert.deepEqual(components('mongodb sharded'), ['shard', 'configServer', 'mongos']);
    assert.deepEqual(components('postgres ha'), ['postgres']);
    assert.deepEqual(components('mysql groupReplication'), ['mysql']);
    assert.deepEqual(components('mariadb galera'), ['mariadb']);
    assert.deepEqual(components('redis cluster'), ['redis']);
    assert.deepEqual(components('elasticsearch combined'), ['node']);
    assert.deepEqual(components('elasticsearch dedicated'), ['master', 'ingest', 'data']);
  });

  it('sets requests equal to limits from the size table', () => {
    const spec = build('postgres standalone', 'VerticalScaling').spec as {
      verticalScaling: { postgres: { resources: unknown } };
    };
    const expected = { cpu: '2', memory: '8Gi' };
    assert.deepEqual(spec.verticalScaling.postgres.resources, {
      requests: expected,
      limits: expected,
    });
  });

  it('scales the field each engine counts: replicas, member, shard replicas, node roles', () => {
    const horizontal = (key: string, desired = DESIRED.HorizontalScaling) =>
      (build(key, 'HorizontalScaling', desired).spec as { horizontalScaling: object })
        .horizontalScaling;
    assert.deepEqual(horizontal('mongodb replicaSet'), { replicas: 5 });
    assert.deepEqual(horizontal('mongodb sharded'), { shard: { replicas: 5 } });
    assert.deepEqual(horizontal('mongodb sharded', { replicas: 3, shards: 4 }), {
      shard: { replicas: 3, shards: 4 },
    });
    assert.deepEqual(horizontal('postgres standalone'), { replicas: 5 });
    assert.deepEqual(horizontal('mysql groupReplication'), { member: 5 });
    assert.deepEqual(horizontal('mariadb galera'), { member: 5 });
    assert.deepEqual(horizontal('redis cluster'), { replicas: 5 });
    assert.deepEqual(horizontal('redis sentinel'), { replicas: 5 });
    assert.deepEqual(horizontal('elasticsearch combined'), { node: 5 });
    assert.deepEqual(horizontal('elasticsearch dedicated'), { topology: { data: 5 } });
  });

  it('expands the volumes that hold data, in the configured mode', () => {
    const volume = (key: string) =>
      (build(key, 'VolumeExpansion').spec as { volumeExpansion: object }).volumeExpansion;
    assert.deepEqual(volume('mongodb standalone'), { mode: 'Online', standalone: '20Gi' });
    assert.deepEqual(volume('mongodb sharded'), { mode: 'Online', shard: '20Gi' });
    assert.deepEqual(volume('mongodb replicaSet+hidden'), {
      mode: 'Online',
      replicaSet: '20Gi',
      hidden: '20Gi',
    });
    assert.deepEqual(volume('elasticsearch dedicated'), { mode: 'Online', data: '20Gi' });
    const offline = buildOpsRequest({
      engine: 'mysql',
      database: FIXTURES['mysql standalone']!.resource,
      operation: operation({ storage_gb: 11 }),
      attempt: 1,
      kind: 'VolumeExpansion',
      volumeExpansionMode: 'Offline',
    });
    assert.deepEqual((offline.spec as { volumeExpansion: object }).volumeExpansion, {
      mode: 'Offline',
      mysql: '11Gi',
    });
  });

  it('refuses what cannot be done before anything is sent', () => {
    rejects(() => build('postgres standalone', 'VerticalScaling', { size: 'db.t3.huge' }));
    rejects(() => build('postgres standalone', 'VolumeExpansion', { storage_gb: 5 }), 'Shrink');
    rejects(() => build('postgres standalone', 'VolumeExpansion', { storage_gb: 10 }), 'Unchanged');
    rejects(() => build('postgres standalone', 'VolumeExpansion', { storage_gb: 2.5 }));
    for (const key of NOT_SCALABLE) rejects(() => build(key, 'HorizontalScaling'));
    rejects(() => build('mysql groupReplication', 'HorizontalScaling', { replicas: 10 }));
    rejects(() => build('postgres ha', 'HorizontalScaling', { replicas: 0 }));
    rejects(() => build('postgres ha', 'HorizontalScaling', { replicas: 3, shards: 2 }));
    rejects(() => build('postgres ha', 'UpdateVersion', { target_version: '' }));
    const ephemeral = structuredClone(FIXTURES['redis sentinel']!.resource);
    ephemeral.spec!.storageType = 'Ephemeral';
    rejects(() =>
      buildOpsRequest({
        engine: 'redis',
        database: ephemeral,
        operation: operation({ storage_gb: 20 }),
        attempt: 1,
        kind: 'VolumeExpansion',
        volumeExpansionMode: 'Online',
      }),
    );
  });

  it('names the OpsRequest after the operation and attempt, never the clock', () => {
    const first = build('postgres ha', 'Restart');
    assert.equal(first.metadata!.name, 'postgres-demo-restart-0123456789ab-a1');
    assert.deepEqual(build('postgres ha', 'Restart'), first);
    assert.equal(
      build('postgres ha', 'Restart', {}, 2).metadata!.name,
      'postgres-demo-restart-0123456789ab-a2',
    );
    assert.deepEqual(first.metadata!.labels, {
      'app.kubernetes.io/managed-by': 'dbaas-worker',
      'dbaas.io/operation-id': 'op-0123456789ab',
      'dbaas.io/database-id': 'db-ba9876543210',
      'dbaas.io/attempt': '1',
    });
    assert.deepEqual(first.metadata!.annotations, { 'dbaas.io/operation-id': 'op-0123456789ab' });
  });

  it('shortens long database names to a valid 63-character name that keeps the operation', () => {
    const name = opsRequestName(`a-${'x'.repeat(80)}`, 'VolumeExpansion', 'op-0123456789ab', 12);
    assert.equal(name.length, 63);
    assert.match(name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    assert.ok(name.endsWith('-volexp-0123456789ab-a12'));
    const dashy = opsRequestName(`${'y'.repeat(36)}-zzz`, 'Restart', 'op-0123456789ab', 1);
    assert.match(dashy, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    assert.ok(dashy.length <= 63);
  });
});

describe('database topology', () => {
  it('reads mode, replicas, shards and storage per engine', () => {
    const t = (key: string) => readTopology(FIXTURES[key]!.resource);
    assert.equal(t('mongodb standalone').mode, 'standalone');
    assert.equal(t('mongodb sharded').shards, 2);
    assert.equal(t('mongodb sharded').replicas, 3);
    assert.equal(t('postgres ha').mode, 'ha');
    assert.equal(t('mysql innoDBCluster').mode, 'innoDBCluster');
    assert.equal(t('mariadb galera').mode, 'galera');
    assert.equal(t('redis cluster').shards, 3);
    assert.deepEqual(t('elasticsearch dedicated').roles, ['master', 'ingest', 'data']);
    assert.equal(observedStorageGb(FIXTURES['mongodb sharded']!.resource), 10);
  });

  it('reads v1alpha2 Redis clusters, whose shards were called master', () => {
    const resource = structuredClone(FIXTURES['redis cluster']!.resource);
    resource.apiVersion = 'kubedb.com/v1alpha2';
    resource.spec!.cluster = { master: 4, replicas: 1 };
    assert.equal(readTopology(resource).shards, 4);
  });
});

describe('database patches', () => {
  it('patch replicas where the topology keeps them', () => {
    const patch = (key: string) => replicasPatch(readTopology(FIXTURES[key]!.resource), 4);
    assert.deepEqual(patch('postgres ha'), { spec: { replicas: 4 } });
    assert.deepEqual(patch('mongodb sharded'), {
      spec: { shardTopology: { shard: { replicas: 4 } } },
    });
    assert.deepEqual(patch('redis cluster'), { spec: { cluster: { replicas: 4 } } });
    assert.deepEqual(patch('elasticsearch dedicated'), {
      spec: { topology: { data: { replicas: 4 } } },
    });
    assert.throws(() => patch('mongodb standalone'), PermanentError);
  });

  it('patch storage of every data component, never smaller', () => {
    const { resource } = FIXTURES['mongodb replicaSet+hidden']!;
    assert.deepEqual(storagePatch(readTopology(resource), resource, 30), {
      spec: {
        storage: { resources: { requests: { storage: '30Gi' } } },
        hidden: { storage: { resources: { requests: { storage: '30Gi' } } } },
      },
    });
    // The same size again is a harmless repeat (after a crash), not an error.
    assert.ok(storagePatch(readTopology(resource), resource, 10));
    rejects(() => storagePatch(readTopology(resource), resource, 9), 'Shrink');
  });

  it('pause and resume set spec.halted, except where KubeDB refuses to halt', () => {
    const { resource } = FIXTURES['mysql standalone']!;
    const pause = { type: 'pause', desired_state: {} } as const;
    assert.deepEqual(databasePatch('mysql', resource, pause), { spec: { halted: true } });
    assert.deepEqual(databasePatch('mysql', resource, { ...pause, type: 'resume' }), {
      spec: { halted: false },
    });
    const guarded = structuredClone(resource);
    guarded.spec!.deletionPolicy = 'DoNotTerminate';
    rejects(() => haltedPatch(readTopology(guarded), true));
    assert.throws(
      () => databasePatch('mysql', resource, { type: 'upgrade_version', desired_state: {} }),
      (error: unknown) => error instanceof WorkerError && error.code === 'UNSUPPORTED',
    );
  });
});

describe('OpsRequest status', () => {
  it('explains a failure from the condition that failed', () => {
    const status = opsRequestStatus({
      metadata: { name: 'x', uid: 'u1' },
      status: {
        phase: 'Failed',
        conditions: [
          { type: 'Progressing', status: 'True', message: 'started' },
          {
            type: 'VerticalScaling',
            status: 'False',
            reason: 'Timeout',
            message: 'pods not ready',
          },
          { type: 'Succeeded', status: 'True', message: 'irrelevant' },
        ],
      },
    });
    assert.equal(status.phase, 'Failed');
    assert.equal(status.reason, 'pods not ready');
    assert.equal(status.conditions.length, 3);
    assert.equal(opsRequestStatus({ metadata: { name: 'y' } }).phase, null);
  });

  it('says when it finished from its final condition, by the cluster clock', () => {
    const at = (conditions: Array<Record<string, string>>, phase = 'Successful') =>
      finishedAt(opsRequestStatus({ metadata: { name: 'x' }, status: { phase, conditions } }));
    const successful = { type: 'Successful', status: 'True' };
    assert.deepEqual(
      at([
        { type: 'Progressing', status: 'True', lastTransitionTime: '2026-12-04T10:00:09Z' },
        { ...successful, lastTransitionTime: '2026-12-04T10:00:05Z' },
      ]),
      new Date('2026-12-04T10:00:05Z'),
      'the condition named after the phase wins over a later one',
    );
    assert.deepEqual(
      at([
        { type: 'Progressing', status: 'True', lastTransitionTime: '2026-12-04T10:00:01Z' },
        { type: 'Restart', status: 'True', lastTransitionTime: '2026-12-04T10:00:03Z' },
      ]),
      new Date('2026-12-04T10:00:03Z'),
      'without one, the latest condition',
    );
    assert.equal(at([{ ...successful, lastTransitionTime: 'yesterday' }]), null);
    assert.equal(at([]), null);
  });
});
