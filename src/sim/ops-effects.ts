// What an OpsRequest does to its database, decided the way KubeDB's validator and operator
// decide it: each request type names components or counts, and those must exist in the
// database's topology (a VerticalScaling of `replicaSet` on a standalone MongoDB fails,
// storage never shrinks). A plan is either a failure reason or a change to the database.

import type { EngineInfo } from './engines.js';
import { parseQuantity } from './quantity.js';
import type { KubeObject } from './store.js';
import {
  type Component,
  type FieldPath,
  SIDECAR_COMPONENTS,
  type Topology,
  describeTopology,
  getPath,
  setPath,
} from './topology.js';

export type OpsPlan =
  | { ok: false; reason: string; message: string }
  | { ok: true; summary: string; apply: (db: KubeObject) => void };

type Spec = Record<string, unknown>;

export function planOpsRequest(engine: EngineInfo, db: KubeObject, ops: KubeObject): OpsPlan {
  const spec = (ops.spec ?? {}) as Spec;
  const topology = describeTopology(engine.engine, db);
  const dbName = `${engine.kind} ${db.metadata.namespace}/${db.metadata.name}`;
  const context: Context = { engine, db, topology, dbName };
  switch (spec.type) {
    case 'VerticalScaling':
      return verticalScaling(context, spec.verticalScaling);
    case 'HorizontalScaling':
      return horizontalScaling(context, spec.horizontalScaling);
    case 'VolumeExpansion':
      return volumeExpansion(context, spec.volumeExpansion);
    case 'UpdateVersion': {
      const target = (spec.updateVersion as Spec | undefined)?.targetVersion;
      if (typeof target !== 'string' || target === '') {
        return fail('InvalidOpsRequest', 'spec.updateVersion.targetVersion is required');
      }
      return {
        ok: true,
        summary: `updated ${dbName} to version ${target}`,
        apply: (d) => setPath(d, ['spec', 'version'], target),
      };
    }
    case 'Restart':
      return { ok: true, summary: `restarted ${dbName}`, apply: () => {} };
    default:
      // Known shortcoming: Reconfigure, ReconfigureTLS, RotateAuth and the other types are
      // accepted and reported Successful without changing the database.
      return { ok: true, summary: `${String(spec.type)} is not simulated`, apply: () => {} };
  }
}

interface Context {
  engine: EngineInfo;
  db: KubeObject;
  topology: Topology;
  dbName: string;
}

function verticalScaling(c: Context, request: unknown): OpsPlan {
  if (!isObject(request)) {
    return fail('InvalidOpsRequest', 'spec.verticalScaling is required for type VerticalScaling');
  }
  const named = Object.keys(request).filter((k) => k !== 'mode' && k !== 'readReplicas');
  const targets = named.filter((k) => !SIDECAR_COMPONENTS.includes(k));
  if (named.length === 0) {
    return fail('InvalidOpsRequest', 'spec.verticalScaling names no component to scale');
  }
  for (const name of targets) {
    const missing = missingComponent(c, 'verticalScaling', name);
    if (missing) return missing;
    if (!isObject((request[name] as Spec).resources)) {
      return fail('InvalidOpsRequest', `spec.verticalScaling.${name}.resources is required`);
    }
  }
  return {
    ok: true,
    summary: `vertically scaled ${targets.join(', ') || 'sidecars'} of ${c.dbName}`,
    apply: (db) => {
      for (const name of targets) {
        const resources = (request[name] as Spec).resources as Spec;
        const component = c.topology.components[name]!;
        const container = name === 'maxscale' ? 'maxscale' : c.engine.container;
        setResources(db, component, container, resources);
      }
    },
  };
}

function horizontalScaling(c: Context, request: unknown): OpsPlan {
  if (!isObject(request)) {
    return fail(
      'InvalidOpsRequest',
      'spec.horizontalScaling is required for type HorizontalScaling',
    );
  }
  const changes = horizontalChanges(c, request);
  if ('reason' in changes) return changes;
  if (changes.length === 0) {
    return fail('InvalidOpsRequest', 'spec.horizontalScaling names no count to change');
  }
  for (const change of changes) {
    if (!Number.isInteger(change.value) || (change.value as number) < 1) {
      return fail('InvalidOpsRequest', `${change.field} must be at least 1`);
    }
  }
  return {
    ok: true,
    summary: `horizontally scaled ${c.dbName}: ${changes.map((x) => `${x.field}=${String(x.value)}`).join(', ')}`,
    apply: (db) => changes.forEach((change) => setPath(db, change.target, change.value)),
  };
}

interface CountChange {
  field: string;
  target: FieldPath;
  value: unknown;
}

function horizontalChanges(
  c: Context,
  request: Spec,
): CountChange[] | { ok: false; reason: string; message: string } {
  const changes: CountChange[] = [];
  const topo = c.topology.name;
  const field = (name: string) => `spec.horizontalScaling.${name}`;
  const unsupported = (name: string, why: string) =>
    fail('InvalidOpsRequest', `${field(name)}: ${c.dbName} is ${topo}; ${why}`);
  switch (c.engine.engine) {
    case 'mongodb': {
      if (request.replicas !== undefined) {
        if (topo !== 'replicaset') {
          return unsupported('replicas', 'only a replica set scales its replicas');
        }
        changes.push({
          field: field('replicas'),
          target: ['spec', 'replicas'],
          value: request.replicas,
        });
      }
      for (const part of ['shard', 'configServer', 'mongos'] as const) {
        const value = request[part];
        if (!isObject(value)) continue;
        if (topo !== 'sharded') return unsupported(part, 'only a sharded cluster has shards');
        for (const [key, count] of Object.entries(value)) {
          changes.push({
            field: field(`${part}.${key}`),
            target: ['spec', 'shardTopology', part, key],
            value: count,
          });
        }
      }
      if (isObject(request.hidden)) {
        if (!c.topology.components.hidden) return unsupported('hidden', 'it has no hidden members');
        changes.push({
          field: field('hidden.replicas'),
          target: ['spec', 'hidden', 'replicas'],
          value: request.hidden.replicas,
        });
      }
      return changes;
    }
    case 'postgres':
      if (request.replicas !== undefined) {
        changes.push({
          field: field('replicas'),
          target: ['spec', 'replicas'],
          value: request.replicas,
        });
      }
      return changes;
    case 'mysql':
    case 'mariadb':
      if (request.member !== undefined) {
        if (topo === 'standalone') {
          return unsupported('member', 'a standalone server cannot add members');
        }
        changes.push({
          field: field('member'),
          target: ['spec', 'replicas'],
          value: request.member,
        });
      }
      return changes;
    case 'redis': {
      if (request.shards !== undefined) {
        if (topo !== 'Cluster') return unsupported('shards', 'only Cluster mode has shards');
        const cluster = (c.db.spec?.cluster ?? {}) as Spec;
        const key =
          cluster.master !== undefined && cluster.shards === undefined ? 'master' : 'shards';
        changes.push({
          field: field('shards'),
          target: ['spec', 'cluster', key],
          value: request.shards,
        });
      }
      if (request.replicas !== undefined) {
        if (topo === 'Standalone') {
          return unsupported('replicas', 'a standalone Redis has no replicas to scale');
        }
        changes.push({
          field: field('replicas'),
          target: c.topology.components.redis!.replicas!,
          value: request.replicas,
        });
      }
      return changes;
    }
    case 'elasticsearch': {
      if (request.node !== undefined) {
        if (topo !== 'combined') {
          return unsupported(
            'node',
            'it has dedicated node roles; scale spec.horizontalScaling.topology.<role>',
          );
        }
        changes.push({ field: field('node'), target: ['spec', 'replicas'], value: request.node });
      }
      if (isObject(request.topology)) {
        for (const [role, count] of Object.entries(request.topology)) {
          const missing = missingComponent(c, 'horizontalScaling.topology', role);
          if (missing) return missing;
          changes.push({
            field: field(`topology.${role}`),
            target: ['spec', 'topology', role, 'replicas'],
            value: count,
          });
        }
      }
      return changes;
    }
  }
}

function volumeExpansion(c: Context, request: unknown): OpsPlan {
  if (!isObject(request)) {
    return fail('InvalidOpsRequest', 'spec.volumeExpansion is required for type VolumeExpansion');
  }
  if (c.db.spec?.storageType === 'Ephemeral') {
    return fail('InvalidOpsRequest', `${c.dbName} uses Ephemeral storage, which cannot expand`);
  }
  const targets = Object.keys(request).filter((k) => k !== 'mode');
  if (targets.length === 0) {
    return fail('InvalidOpsRequest', 'spec.volumeExpansion names no component to expand');
  }
  for (const name of targets) {
    const missing = missingComponent(c, 'volumeExpansion', name);
    if (missing) return missing;
    const component = c.topology.components[name]!;
    if (!component.storage) {
      return fail('InvalidOpsRequest', `spec.volumeExpansion.${name}: ${name} has no storage`);
    }
    const current = getPath(c.db, [...component.storage, 'resources', 'requests', 'storage']);
    const wanted = request[name];
    if (Number.isNaN(parseQuantity(wanted))) {
      return fail(
        'InvalidOpsRequest',
        `spec.volumeExpansion.${name}: ${String(wanted)} is not a quantity`,
      );
    }
    if (parseQuantity(wanted) < parseQuantity(current)) {
      return fail(
        'VolumeExpansionFailed',
        `spec.volumeExpansion.${name}: storage cannot be decreased (${String(current)} -> ${String(wanted)})`,
      );
    }
  }
  return {
    ok: true,
    summary: `expanded volumes of ${targets.join(', ')} of ${c.dbName}`,
    apply: (db) => {
      for (const name of targets) {
        const storage = c.topology.components[name]!.storage!;
        setPath(db, [...storage, 'resources', 'requests', 'storage'], request[name]);
      }
    },
  };
}

function missingComponent(
  c: Context,
  section: string,
  name: string,
): { ok: false; reason: string; message: string } | undefined {
  if (c.topology.components[name] || SIDECAR_COMPONENTS.includes(name)) return undefined;
  const present = Object.keys(c.topology.components).join(', ');
  return fail(
    'InvalidOpsRequest',
    `spec.${section}.${name}: ${c.dbName} is ${c.topology.name} and has no ${name} ` +
      `(its components: ${present})`,
  );
}

/** v1 pod templates list containers; v1alpha2 ones carry `spec.resources` directly. */
function setResources(
  db: KubeObject,
  component: Component,
  container: string,
  resources: Spec,
): void {
  const wanted: Spec = {};
  if (resources.requests) wanted.requests = structuredClone(resources.requests);
  if (resources.limits) wanted.limits = structuredClone(resources.limits);
  if (component.resources) {
    setPath(db, component.resources, wanted);
    return;
  }
  const podTemplate = component.podTemplate!;
  if (db.apiVersion.endsWith('/v1alpha2')) {
    setPath(db, [...podTemplate, 'spec', 'resources'], wanted);
    return;
  }
  const containersPath = [...podTemplate, 'spec', 'containers'];
  const containers = (getPath(db, containersPath) as Spec[] | undefined) ?? [];
  const existing = containers.find((x) => x.name === container);
  if (existing) existing.resources = wanted;
  else containers.push({ name: container, resources: wanted });
  setPath(db, containersPath, containers);
}

function fail(reason: string, message: string): { ok: false; reason: string; message: string } {
  return { ok: false, reason, message };
}

function isObject(value: unknown): value is Spec {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
