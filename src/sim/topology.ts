// What a database resource is made of, read from its spec the way KubeDB reads it: which
// components exist (a standalone MongoDB has `standalone`, a sharded one `shard`,
// `configServer` and `mongos`; an Elasticsearch with dedicated nodes has one component per
// node role) and where each keeps its pod template, storage and replica count.
//
// The simulator keeps its own reading rather than importing the worker's (src/shared/kubedb):
// it stands in for KubeDB, and a shared mistake would let both sides agree on a wrong field.

import type { EngineName } from './engines.js';
import type { KubeObject } from './store.js';

export type FieldPath = readonly string[];

export interface Component {
  podTemplate?: FieldPath;
  /** Where resources sit directly, for parts that have no pod template (v1alpha2 nodes). */
  resources?: FieldPath;
  storage?: FieldPath;
  replicas?: FieldPath;
}

export interface Topology {
  /** A short name for messages: `standalone`, `replicaset`, `sharded`, `Cluster`... */
  name: string;
  components: Record<string, Component>;
}

/** Sidecars every engine's OpsRequest may name; the simulator accepts them as no-ops. */
export const SIDECAR_COMPONENTS = ['exporter', 'coordinator'];

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
];

export function describeTopology(engine: EngineName, db: KubeObject): Topology {
  const spec = db.spec ?? {};
  const main = (replicas: FieldPath = ['spec', 'replicas']): Component => ({
    podTemplate: ['spec', 'podTemplate'],
    storage: ['spec', 'storage'],
    replicas,
  });
  switch (engine) {
    case 'mongodb': {
      const components: Record<string, Component> = {};
      let name: string;
      if (spec.shardTopology) {
        name = 'sharded';
        const at = (part: string): Component => ({
          podTemplate: ['spec', 'shardTopology', part, 'podTemplate'],
          storage: part === 'mongos' ? undefined : ['spec', 'shardTopology', part, 'storage'],
          replicas: ['spec', 'shardTopology', part, 'replicas'],
        });
        components.shard = at('shard');
        components.configServer = at('configServer');
        components.mongos = at('mongos');
      } else if (spec.replicaSet) {
        name = 'replicaset';
        components.replicaSet = main();
      } else {
        name = 'standalone';
        components.standalone = {
          podTemplate: ['spec', 'podTemplate'],
          storage: ['spec', 'storage'],
        };
      }
      if (spec.arbiter) components.arbiter = { podTemplate: ['spec', 'arbiter', 'podTemplate'] };
      if (spec.hidden) {
        components.hidden = {
          podTemplate: ['spec', 'hidden', 'podTemplate'],
          storage: ['spec', 'hidden', 'storage'],
          replicas: ['spec', 'hidden', 'replicas'],
        };
      }
      return { name, components };
    }
    case 'postgres': {
      const components: Record<string, Component> = { postgres: main() };
      if (spec.arbiter) components.arbiter = { podTemplate: ['spec', 'arbiter', 'podTemplate'] };
      return { name: replicasOf(spec) > 1 ? 'cluster' : 'standalone', components };
    }
    case 'mysql': {
      const mode = (spec.topology as { mode?: string } | undefined)?.mode;
      return { name: mode ?? 'standalone', components: { mysql: main() } };
    }
    case 'mariadb': {
      const topology = spec.topology as { mode?: string; maxscale?: unknown } | undefined;
      const components: Record<string, Component> = { mariadb: main() };
      if (topology?.maxscale) {
        components.maxscale = {
          podTemplate: ['spec', 'topology', 'maxscale', 'podTemplate'],
          storage: ['spec', 'topology', 'maxscale', 'storage'],
          replicas: ['spec', 'topology', 'maxscale', 'replicas'],
        };
      }
      const clustered = topology?.mode !== undefined || replicasOf(spec) > 1;
      return { name: clustered ? (topology?.mode ?? 'GaleraCluster') : 'standalone', components };
    }
    case 'redis': {
      const mode = (spec.mode as string | undefined) ?? 'Standalone';
      const replicas: FieldPath =
        mode === 'Cluster' ? ['spec', 'cluster', 'replicas'] : ['spec', 'replicas'];
      return { name: mode, components: { redis: main(replicas) } };
    }
    case 'elasticsearch': {
      const topology = spec.topology as Record<string, unknown> | undefined;
      if (!topology) return { name: 'combined', components: { node: main() } };
      const components: Record<string, Component> = {};
      const v1alpha2 = db.apiVersion.endsWith('/v1alpha2');
      for (const role of ELASTICSEARCH_ROLES) {
        if (!topology[role]) continue;
        components[role] = {
          ...(v1alpha2
            ? { resources: ['spec', 'topology', role, 'resources'] }
            : { podTemplate: ['spec', 'topology', role, 'podTemplate'] }),
          storage: ['spec', 'topology', role, 'storage'],
          replicas: ['spec', 'topology', role, 'replicas'],
        };
      }
      return { name: 'dedicated', components };
    }
  }
}

function replicasOf(spec: Record<string, unknown>): number {
  return typeof spec.replicas === 'number' ? spec.replicas : 1;
}

export function getPath(object: unknown, path: FieldPath): unknown {
  let node = object;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** Sets a value, creating the objects on the way. */
export function setPath(object: unknown, path: FieldPath, value: unknown): void {
  let node = object as Record<string, unknown>;
  for (const key of path.slice(0, -1)) {
    if (node[key] === null || typeof node[key] !== 'object') node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}
