// Database resources for the platform's fixture databases, shaped as KubeDB would store them
// once provisioned (status.phase Ready), for each engine and topology the simulator plays.

import { SIZES, type Size } from '../shared/types.js';
import { DATABASE_GROUP, ENGINES, type EngineName } from './engines.js';
import type { KubeObject } from './store.js';

export interface SeedDatabase {
  engine: EngineName;
  namespace: string;
  name: string;
  version?: string;
  /**
   * mongodb: standalone | replicaset | sharded; postgres: standalone | cluster;
   * mysql: standalone | group-replication | innodb-cluster | semi-sync;
   * mariadb: standalone | galera; redis: standalone | cluster | sentinel;
   * elasticsearch: combined | dedicated. Default: standalone (combined), or the engine's
   * clustered form when replicas > 1.
   */
  topology?: string;
  replicas?: number;
  storageGb?: number;
  /** db.t3.*; default db.t3.small. */
  size?: string;
  apiVersion?: 'v1' | 'v1alpha2';
}

export const SEED_TOPOLOGIES: Record<EngineName, string[]> = {
  mongodb: ['standalone', 'replicaset', 'sharded'],
  postgres: ['standalone', 'cluster'],
  mysql: ['standalone', 'group-replication', 'innodb-cluster', 'semi-sync'],
  mariadb: ['standalone', 'galera'],
  redis: ['standalone', 'cluster', 'sentinel'],
  elasticsearch: ['combined', 'dedicated'],
};

const CLUSTERED: Record<EngineName, string> = {
  mongodb: 'replicaset',
  postgres: 'cluster',
  mysql: 'group-replication',
  mariadb: 'galera',
  redis: 'sentinel',
  elasticsearch: 'combined',
};

/** A CRD-valid database resource for one fixture database. */
export function seedManifest(db: SeedDatabase): KubeObject {
  // Own keys only: `constructor` is not an engine, though every object has one.
  if (!Object.hasOwn(ENGINES, db.engine)) {
    throw new Error(
      `unknown engine ${JSON.stringify(db.engine)}: use one of ${Object.keys(ENGINES).join(', ')}`,
    );
  }
  const engine = ENGINES[db.engine];
  const version = db.apiVersion ?? 'v1';
  const topology = db.topology ?? ((db.replicas ?? 1) > 1 ? CLUSTERED[db.engine] : 'standalone');
  if (
    !SEED_TOPOLOGIES[db.engine].includes(topology) &&
    !(db.engine === 'elasticsearch' && topology === 'standalone')
  ) {
    throw new Error(
      `${db.engine} has no topology ${topology}: use one of ${SEED_TOPOLOGIES[db.engine].join(', ')}`,
    );
  }
  const sizeName = db.size ?? 'db.t3.small';
  if (!Object.hasOwn(SIZES, sizeName)) {
    throw new Error(`unknown size ${db.size}: use one of ${Object.keys(SIZES).join(', ')}`);
  }
  const size = SIZES[sizeName as Size];
  const resources = {
    requests: { cpu: size.cpu, memory: size.memory },
    limits: { cpu: size.cpu, memory: size.memory },
  };
  const storage = {
    storageClassName: 'standard',
    accessModes: ['ReadWriteOnce'],
    resources: { requests: { storage: `${db.storageGb ?? 10}Gi` } },
  };
  const podTemplate =
    version === 'v1'
      ? { spec: { containers: [{ name: engine.container, resources }] } }
      : { spec: { resources } };
  // Each part gets its own copy: a change to one shard's template must not reach mongos.
  const own = <T>(value: T): T => structuredClone(value);
  const replicas = db.replicas ?? (topology === 'standalone' || topology === 'combined' ? 1 : 3);

  const spec: Record<string, unknown> = {
    version: db.version ?? engine.defaultVersion,
    storageType: 'Durable',
    [version === 'v1' ? 'deletionPolicy' : 'terminationPolicy']: 'WipeOut',
  };
  const common = () =>
    Object.assign(spec, { replicas, storage: own(storage), podTemplate: own(podTemplate) });
  switch (db.engine) {
    case 'mongodb':
      if (topology === 'sharded') {
        spec.shardTopology = {
          shard: { shards: 2, replicas, storage: own(storage), podTemplate: own(podTemplate) },
          configServer: { replicas: 3, storage: own(storage), podTemplate: own(podTemplate) },
          mongos: { replicas: 2, podTemplate: own(podTemplate) },
        };
      } else if (topology === 'replicaset') {
        common();
        spec.replicaSet = { name: 'rs0' };
      } else {
        Object.assign(spec, { storage: own(storage), podTemplate: own(podTemplate) });
      }
      break;
    case 'postgres':
      common();
      if (topology === 'cluster') spec.standbyMode = 'Hot';
      break;
    case 'mysql':
      common();
      if (topology === 'group-replication') {
        spec.topology = { mode: 'GroupReplication', group: { mode: 'Single-Primary' } };
      } else if (topology === 'innodb-cluster') {
        spec.topology = { mode: 'InnoDBCluster', innoDBCluster: { router: { replicas: 1 } } };
      } else if (topology === 'semi-sync') {
        spec.topology = {
          mode: 'SemiSync',
          semiSync: { errantTransactionRecoveryPolicy: 'PseudoTransaction' },
        };
      }
      break;
    case 'mariadb':
      common();
      if (topology === 'galera' && version === 'v1') spec.topology = { mode: 'GaleraCluster' };
      break;
    case 'redis':
      if (topology === 'cluster') {
        Object.assign(spec, {
          storage: own(storage),
          podTemplate: own(podTemplate),
          mode: 'Cluster',
        });
        const shards = version === 'v1' ? 'shards' : 'master';
        spec.cluster = { [shards]: 3, replicas: Math.max(1, replicas - 1) };
      } else if (topology === 'sentinel') {
        common();
        spec.mode = 'Sentinel';
        spec.sentinelRef = { name: `${db.name}-sentinel`, namespace: db.namespace };
      } else {
        common();
        spec.mode = 'Standalone';
      }
      break;
    case 'elasticsearch':
      if (topology === 'dedicated') {
        const node = (count: number) =>
          version === 'v1'
            ? { replicas: count, storage: own(storage), podTemplate: own(podTemplate) }
            : { replicas: count, storage: own(storage), resources: own(resources) };
        spec.topology = { master: node(3), ingest: node(2), data: node(replicas) };
      } else {
        common();
      }
      break;
  }

  return {
    apiVersion: `${DATABASE_GROUP}/${version}`,
    kind: engine.kind,
    metadata: {
      name: db.name,
      namespace: db.namespace,
      labels: {
        'app.kubernetes.io/managed-by': 'kubedb-sim',
        'app.kubernetes.io/instance': db.name,
      },
    },
    spec,
    status: {
      phase: 'Ready',
      observedGeneration: 1,
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'AllReplicasReady',
          message: 'The database is ready',
          lastTransitionTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
          observedGeneration: 1,
        },
      ],
    },
  };
}
