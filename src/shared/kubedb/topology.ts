// What shape a KubeDB database has, read from its resource. The field that receives a
// change depends on it: a standalone MongoDB is scaled under `standalone`, a replica set
// under `replicaSet`, a sharded one per component; MySQL counts `member`s; Elasticsearch
// clusters with dedicated nodes are changed per node role. Both v1 and v1alpha2 resources
// are understood (they differ for Redis clusters: `shards` was `master`).

import { PermanentError } from '../errors.js';
import type { Engine } from '../types.js';
import { toGibibytes } from './quantity.js';
import { engineOfKind, type KubeObject } from './resources.js';

export type TopologyMode =
  | 'standalone'
  | 'replicaSet'
  | 'sharded'
  | 'ha'
  | 'groupReplication'
  | 'innoDBCluster'
  | 'semiSync'
  | 'remoteReplica'
  | 'galera'
  | 'replication'
  | 'cluster'
  | 'sentinel'
  | 'combined'
  | 'dedicated';

/** Elasticsearch node roles that can have pods of their own, as named in the CRDs. */
export const ELASTICSEARCH_ROLES = [
  'master',
  'ingest',
  'data',
  'dataContent',
  'dataHot',
  'dataWarm',
  'dataCold',
  'dataFrozen',
  'ml',
  'transform',
  'coordinating',
] as const;
export type ElasticsearchRole = (typeof ELASTICSEARCH_ROLES)[number];

const ELASTICSEARCH_DATA_ROLES: readonly string[] = [
  'data',
  'dataContent',
  'dataHot',
  'dataWarm',
  'dataCold',
  'dataFrozen',
];

/** A part of the database whose volumes hold data, so storage changes apply to it. */
export interface DataComponent {
  /** Its key under an OpsRequest's `volumeExpansion` (and `verticalScaling`). */
  key: string;
  /** Path below `spec` of the object holding its `storage` and `replicas`. */
  specPath: string[];
  /** Its current storage request, e.g. "10Gi"; null when the resource does not say. */
  storage: string | null;
}

export interface Topology {
  engine: Engine;
  mode: TopologyMode;
  version: string | null;
  halted: boolean;
  /** `deletionPolicy` (v1) or `terminationPolicy` (v1alpha2). */
  deletionPolicy: string | null;
  /**
   * The count the platform's `replicas` stands for: pods of a replica set, group members,
   * replicas per shard, or Elasticsearch data nodes. Null when the mode has none to change.
   */
  replicas: number | null;
  /** Shards of a sharded MongoDB or a Redis cluster; null otherwise. */
  shards: number | null;
  /** Elasticsearch roles with dedicated nodes (mode `dedicated`); empty otherwise. */
  roles: ElasticsearchRole[];
  /** Components whose volumes hold the data; a storage change applies to each of them. */
  dataComponents: DataComponent[];
}

type Spec = Record<string, unknown>;

function object(value: unknown): Spec | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Spec)
    : null;
}

function count(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) ? value : null;
}

function at(spec: Spec, path: string[]): Spec | null {
  let node: Spec | null = spec;
  for (const key of path) node = node ? object(node[key]) : null;
  return node;
}

function storageOf(spec: Spec, path: string[]): string | null {
  const storage = at(spec, [...path, 'storage', 'resources', 'requests'])?.storage;
  return typeof storage === 'string' || typeof storage === 'number' ? String(storage) : null;
}

function dataComponent(spec: Spec, key: string, specPath: string[]): DataComponent {
  return { key, specPath, storage: storageOf(spec, specPath) };
}

/** Reads a database resource's topology. Throws REQUEST_INVALID for a shape it cannot read. */
export function readTopology(resource: KubeObject, engine?: Engine): Topology {
  const resolved = engine ?? engineOfKind(resource.kind);
  const spec = object(resource.spec);
  if (!resolved || !spec) {
    throw new PermanentError(
      'REQUEST_INVALID',
      `resource ${resource.metadata?.name ?? '(unnamed)'} of kind ${resource.kind ?? '?'} ` +
        'is not a KubeDB database with a spec',
      { hint: "Check the database's kubedb_resource_name, namespace and engine" },
    );
  }
  const base = {
    engine: resolved,
    version: typeof spec.version === 'string' ? spec.version : null,
    halted: spec.halted === true,
    deletionPolicy: policyOf(spec),
    shards: null,
    roles: [],
  };
  const replicas = count(spec.replicas);

  switch (resolved) {
    case 'mongodb':
      return { ...base, ...mongodbShape(spec, replicas) };
    case 'postgres':
      return {
        ...base,
        mode: (replicas ?? 1) > 1 ? 'ha' : 'standalone',
        replicas: replicas ?? 1,
        dataComponents: [dataComponent(spec, 'postgres', [])],
      };
    case 'mysql':
      return {
        ...base,
        mode: mysqlMode(spec),
        replicas: replicas ?? 1,
        dataComponents: [dataComponent(spec, 'mysql', [])],
      };
    case 'mariadb':
      return {
        ...base,
        mode: mariadbMode(spec, replicas),
        replicas: replicas ?? 1,
        dataComponents: [dataComponent(spec, 'mariadb', [])],
      };
    case 'redis':
      return { ...base, ...redisShape(spec, replicas) };
    case 'elasticsearch':
      return { ...base, ...elasticsearchShape(spec, replicas) };
  }
}

function policyOf(spec: Spec): string | null {
  const policy = spec.deletionPolicy ?? spec.terminationPolicy;
  return typeof policy === 'string' ? policy : null;
}

type Shape = Pick<Topology, 'mode' | 'replicas' | 'dataComponents'> &
  Partial<Pick<Topology, 'shards' | 'roles'>>;

function mongodbShape(spec: Spec, replicas: number | null): Shape {
  const hidden = object(spec.hidden) ? [dataComponent(spec, 'hidden', ['hidden'])] : [];
  const sharded = object(spec.shardTopology);
  if (sharded) {
    const shard = object(sharded.shard) ?? {};
    return {
      mode: 'sharded',
      replicas: count(shard.replicas),
      shards: count(shard.shards),
      dataComponents: [dataComponent(spec, 'shard', ['shardTopology', 'shard']), ...hidden],
    };
  }
  if (object(spec.replicaSet)) {
    return {
      mode: 'replicaSet',
      replicas: replicas ?? 1,
      dataComponents: [dataComponent(spec, 'replicaSet', []), ...hidden],
    };
  }
  return {
    mode: 'standalone',
    replicas: null,
    dataComponents: [dataComponent(spec, 'standalone', [])],
  };
}

function mysqlMode(spec: Spec): TopologyMode {
  switch (object(spec.topology)?.mode) {
    case 'GroupReplication':
      return 'groupReplication';
    case 'InnoDBCluster':
      return 'innoDBCluster';
    case 'SemiSync':
      return 'semiSync';
    case 'RemoteReplica':
      return 'remoteReplica';
    default:
      return 'standalone';
  }
}

function mariadbMode(spec: Spec, replicas: number | null): TopologyMode {
  const mode = object(spec.topology)?.mode;
  if (mode === 'MariaDBReplication') return 'replication';
  if (mode === 'GaleraCluster') return 'galera';
  // Without an explicit mode KubeDB runs more than one replica as a Galera cluster.
  return (replicas ?? 1) > 1 ? 'galera' : 'standalone';
}

function redisShape(spec: Spec, replicas: number | null): Shape {
  const data = [dataComponent(spec, 'redis', [])];
  const cluster = object(spec.cluster) ?? {};
  switch (spec.mode) {
    case 'Cluster':
      return {
        mode: 'cluster',
        replicas: count(cluster.replicas),
        // v1alpha2 called the number of shards `master`.
        shards: count(cluster.shards) ?? count(cluster.master),
        dataComponents: data,
      };
    case 'Sentinel':
      return { mode: 'sentinel', replicas: replicas ?? 1, dataComponents: data };
    default:
      return { mode: 'standalone', replicas: null, dataComponents: data };
  }
}

function elasticsearchShape(spec: Spec, replicas: number | null): Shape {
  const topology = object(spec.topology);
  if (!topology) {
    return {
      mode: 'combined',
      replicas: replicas ?? 1,
      dataComponents: [dataComponent(spec, 'node', [])],
    };
  }
  const roles = ELASTICSEARCH_ROLES.filter((role) => object(topology[role]));
  return {
    mode: 'dedicated',
    replicas: object(topology.data) ? (count(object(topology.data)?.replicas) ?? 1) : null,
    roles,
    dataComponents: roles
      .filter((role) => ELASTICSEARCH_DATA_ROLES.includes(role))
      .map((role) => dataComponent(spec, role, ['topology', role])),
  };
}

/** GiB of the first data component's storage request, or null when the resource has none. */
export function observedStorageGb(resource: KubeObject, engine?: Engine): number | null {
  const storage = readTopology(resource, engine).dataComponents[0]?.storage;
  if (storage === undefined || storage === null) return null;
  return toGibibytes(storage);
}

/** MySQL group replication (and InnoDB Cluster on top of it) allows at most 9 members. */
const MYSQL_GROUP_MAX_MEMBERS = 9;

function positiveCount(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new PermanentError(
      'REQUEST_INVALID',
      `${what} ${JSON.stringify(value ?? null)} is not a positive whole number`,
      { hint: `Send ${what} as a whole number of 1 or more` },
    );
  }
  return value;
}

/**
 * The replica count for a horizontal change, after checking that the topology has replicas
 * to change: standalone servers do not turn into clusters by scaling, and an Elasticsearch
 * cluster with dedicated nodes is scaled by its `data` role.
 */
export function scalableReplicas(topology: Topology, value: unknown): number {
  const count = positiveCount(value, 'replicas');
  if (topology.replicas === null && topology.mode !== 'sharded' && topology.mode !== 'cluster') {
    const noData = topology.mode === 'dedicated';
    throw new PermanentError(
      'REQUEST_INVALID',
      noData
        ? 'this Elasticsearch cluster has no `data` node role whose count replicas could mean'
        : `a ${topology.mode} ${topology.engine} database cannot change its number of replicas`,
      {
        hint: noData
          ? 'Scale its tiers (dataHot, dataWarm, ...) in the cluster directly'
          : 'Only replicated or clustered databases scale horizontally',
        details: { mode: topology.mode },
      },
    );
  }
  const standaloneSql =
    (topology.engine === 'mysql' || topology.engine === 'mariadb') &&
    topology.mode === 'standalone';
  if (standaloneSql) {
    throw new PermanentError(
      'REQUEST_INVALID',
      `a standalone ${topology.engine} database cannot change its number of members`,
      { hint: 'Only clustered databases scale horizontally', details: { mode: topology.mode } },
    );
  }
  const group = topology.mode === 'groupReplication' || topology.mode === 'innoDBCluster';
  if (group && count > MYSQL_GROUP_MAX_MEMBERS) {
    throw new PermanentError(
      'REQUEST_INVALID',
      `MySQL group replication allows at most ${MYSQL_GROUP_MAX_MEMBERS} members, not ${count}`,
      { hint: `Ask for ${MYSQL_GROUP_MAX_MEMBERS} replicas or fewer` },
    );
  }
  return count;
}

/** A shard count for a sharded MongoDB or a Redis cluster. */
export function shardsCount(topology: Topology, value: unknown): number {
  const count = positiveCount(value, 'shards');
  if (topology.mode !== 'sharded' && topology.mode !== 'cluster') {
    throw new PermanentError(
      'REQUEST_INVALID',
      `a ${topology.mode} ${topology.engine} database has no shards to change`,
      { hint: 'Leave shards out of desired_state' },
    );
  }
  return count;
}
