// Where each engine's KubeDB resources live in the Kubernetes API: the database kind
// (group kubedb.com, version from KUBEDB_API_VERSION) and its OpsRequest kind
// (ops.kubedb.com/v1alpha1). Names and plurals are those of the CRDs in crds/.

import type { Engine } from '../types.js';

export const DATABASE_GROUP = 'kubedb.com';
export const OPS_REQUEST_GROUP = 'ops.kubedb.com';
export const OPS_REQUEST_VERSION = 'v1alpha1';

export type DatabaseApiVersion = 'v1' | 'v1alpha2';

/** A Kubernetes object as the API returns it; only the parts this worker reads are typed. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

export interface ResourceType {
  group: string;
  version: string;
  kind: string;
  plural: string;
}

const DATABASE_KINDS: Record<Engine, { kind: string; plural: string }> = {
  postgres: { kind: 'Postgres', plural: 'postgreses' },
  mysql: { kind: 'MySQL', plural: 'mysqls' },
  mariadb: { kind: 'MariaDB', plural: 'mariadbs' },
  mongodb: { kind: 'MongoDB', plural: 'mongodbs' },
  redis: { kind: 'Redis', plural: 'redises' },
  elasticsearch: { kind: 'Elasticsearch', plural: 'elasticsearches' },
};

export function databaseType(engine: Engine, version: DatabaseApiVersion = 'v1'): ResourceType {
  return { group: DATABASE_GROUP, version, ...DATABASE_KINDS[engine] };
}

export function opsRequestType(engine: Engine): ResourceType {
  const { kind } = DATABASE_KINDS[engine];
  return {
    group: OPS_REQUEST_GROUP,
    version: OPS_REQUEST_VERSION,
    kind: `${kind}OpsRequest`,
    plural: `${kind.toLowerCase()}opsrequests`,
  };
}

/** The engine whose database kind this is (`MongoDB` -> mongodb), or null for another kind. */
export function engineOfKind(kind: string | undefined): Engine | null {
  const entry = Object.entries(DATABASE_KINDS).find(([, value]) => value.kind === kind);
  return entry ? (entry[0] as Engine) : null;
}

/** Path of a namespaced collection, or of one object in it when `name` is given. */
export function resourcePath(type: ResourceType, namespace: string, name?: string): string {
  const base = `/apis/${type.group}/${type.version}/namespaces/${encodeURIComponent(namespace)}`;
  const collection = `${base}/${type.plural}`;
  return name === undefined ? collection : `${collection}/${encodeURIComponent(name)}`;
}
