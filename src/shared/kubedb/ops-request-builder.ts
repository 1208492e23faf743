// Builds the body of the OpsRequest that carries out one attempt of an operation. The
// component that receives the change comes from the database's topology (topology.ts);
// field names are those of crds/ops.kubedb.com_*opsrequests.yaml, and every body this
// file can produce is checked against those CRDs in test/kubedb-builder.test.ts.
//
// The name is derived from the operation and the attempt, never from the clock, so that
// sending the same attempt again (after a crash or a lost response) finds the OpsRequest
// that already exists instead of creating a second one.

import { createHash } from 'node:crypto';
import { PermanentError } from '../errors.js';
import { SIZES, type Engine, type Operation, type OperationType, type Size } from '../types.js';
import { gibibytes, parseQuantity } from './quantity.js';
import { opsRequestType, type KubeObject } from './resources.js';
import { readTopology, scalableReplicas, shardsCount, type Topology } from './topology.js';

export type OpsRequestKind =
  'VerticalScaling' | 'HorizontalScaling' | 'VolumeExpansion' | 'UpdateVersion' | 'Restart';

/** The OpsRequest type an operation type is carried out with, where there is one. */
export const OPS_REQUEST_KIND_FOR: Partial<Record<OperationType, OpsRequestKind>> = {
  scale_vertical: 'VerticalScaling',
  scale_horizontal: 'HorizontalScaling',
  expand_storage: 'VolumeExpansion',
  upgrade_version: 'UpdateVersion',
  restart: 'Restart',
};

export const MANAGED_BY = 'dbaas-worker';
export const LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  operationId: 'dbaas.io/operation-id',
  databaseId: 'dbaas.io/database-id',
  attempt: 'dbaas.io/attempt',
} as const;
export const OPERATION_ANNOTATION = 'dbaas.io/operation-id';

const SHORT_KIND: Record<OpsRequestKind, string> = {
  VerticalScaling: 'vscale',
  HorizontalScaling: 'hscale',
  VolumeExpansion: 'volexp',
  UpdateVersion: 'upgrade',
  Restart: 'restart',
};

export interface OpsRequestInput {
  engine: Engine;
  /** The database resource as read from the cluster; its topology decides the fields. */
  database: KubeObject;
  operation: Pick<Operation, '_id' | 'database_id' | 'type' | 'desired_state'>;
  /** 1 for the first OpsRequest of the operation; each retry after a failure adds one. */
  attempt: number;
  kind: OpsRequestKind;
  volumeExpansionMode: 'Online' | 'Offline';
}

function invalid(message: string, hint: string, details?: Record<string, unknown>) {
  return new PermanentError('REQUEST_INVALID', message, { hint, details });
}

/** A label value naming the operation: the id itself when it is a valid label value. */
export function operationLabel(operationId: string): string {
  return /^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$/.test(operationId)
    ? operationId
    : `h-${createHash('sha256').update(operationId).digest('hex').slice(0, 40)}`;
}

/** `<database>-<kind>-<operation>-a<attempt>`, shortened to a valid 63-character name. */
export function opsRequestName(
  databaseName: string,
  kind: OpsRequestKind,
  operationId: string,
  attempt: number,
): string {
  const id = /^op-[0-9a-f]{12}$/.test(operationId)
    ? operationId.slice(3)
    : createHash('sha256').update(operationId).digest('hex').slice(0, 12);
  const suffix = `-${SHORT_KIND[kind]}-${id}-a${attempt}`;
  const prefix = databaseName
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 63 - suffix.length)
    .replace(/^-+|-+$/g, '');
  return prefix ? `${prefix}${suffix}` : suffix.slice(1);
}

export function buildOpsRequest(input: OpsRequestInput): KubeObject {
  const { engine, database, operation, attempt, kind } = input;
  const name = database.metadata?.name;
  const namespace = database.metadata?.namespace;
  if (!name || !namespace) {
    throw invalid('the database resource has no name or namespace', 'Read it from the cluster');
  }
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw invalid(`attempt ${attempt} is not a positive whole number`, 'Count attempts from 1');
  }
  const topology = readTopology(database, engine);
  const type = opsRequestType(engine);

  return {
    apiVersion: `${type.group}/${type.version}`,
    kind: type.kind,
    metadata: {
      name: opsRequestName(name, kind, operation._id, attempt),
      namespace,
      labels: {
        [LABELS.managedBy]: MANAGED_BY,
        [LABELS.operationId]: operationLabel(operation._id),
        [LABELS.databaseId]: operationLabel(operation.database_id),
        [LABELS.attempt]: String(attempt),
      },
      annotations: { [OPERATION_ANNOTATION]: operation._id },
    },
    spec: {
      type: kind,
      databaseRef: { name },
      ...changeSpec(input, topology),
    },
  };
}

function changeSpec(input: OpsRequestInput, topology: Topology): Record<string, unknown> {
  const desired = input.operation.desired_state;
  switch (input.kind) {
    case 'VerticalScaling':
      return { verticalScaling: verticalScaling(topology, desired.size) };
    case 'HorizontalScaling':
      return { horizontalScaling: horizontalScaling(topology, desired.replicas, desired.shards) };
    case 'VolumeExpansion':
      return {
        volumeExpansion: volumeExpansion(
          topology,
          desired.storage_gb,
          input.volumeExpansionMode,
          input.database,
        ),
      };
    case 'UpdateVersion':
      return { updateVersion: { targetVersion: targetVersion(desired.target_version) } };
    case 'Restart':
      return { restart: {} };
  }
}

/** Requests equal limits, as the platform's sizes promise. */
export function sizeResources(size: unknown) {
  if (typeof size !== 'string' || !Object.hasOwn(SIZES, size)) {
    throw invalid(
      `size ${JSON.stringify(size ?? null)} is not a known size`,
      `Use one of ${Object.keys(SIZES).join(', ')}`,
    );
  }
  const { cpu, memory } = SIZES[size as Size];
  return { requests: { cpu, memory }, limits: { cpu, memory } };
}

/** OpsRequest keys of every component that runs database pods, for vertical scaling. */
function podComponents(topology: Topology): string[] {
  const hidden = topology.dataComponents.some((c) => c.key === 'hidden') ? ['hidden'] : [];
  switch (topology.engine) {
    case 'mongodb':
      if (topology.mode === 'sharded') return ['shard', 'configServer', 'mongos', ...hidden];
      return [topology.mode, ...hidden];
    case 'postgres':
      return ['postgres'];
    case 'mysql':
      return ['mysql'];
    case 'mariadb':
      return ['mariadb'];
    case 'redis':
      return ['redis'];
    case 'elasticsearch':
      return topology.mode === 'combined' ? ['node'] : [...topology.roles];
  }
}

function verticalScaling(topology: Topology, size: unknown): Record<string, unknown> {
  const resources = sizeResources(size);
  const components = podComponents(topology);
  if (components.length === 0) {
    throw invalid(
      `${topology.engine} database has no component to resize`,
      'Check the database resource',
    );
  }
  return Object.fromEntries(components.map((key) => [key, { resources }]));
}

function horizontalScaling(
  topology: Topology,
  replicas: unknown,
  shards: unknown,
): Record<string, unknown> {
  const count = scalableReplicas(topology, replicas);
  const shardCount = shards === undefined ? undefined : shardsCount(topology, shards);
  const withShards = shardCount === undefined ? {} : { shards: shardCount };

  switch (topology.engine) {
    case 'mongodb':
      return topology.mode === 'sharded'
        ? { shard: { replicas: count, ...withShards } }
        : { replicas: count };
    case 'postgres':
      return { replicas: count };
    case 'mysql':
    case 'mariadb':
      return { member: count };
    case 'redis':
      return { replicas: count, ...withShards };
    case 'elasticsearch':
      return topology.mode === 'combined' ? { node: count } : { topology: { data: count } };
  }
}

function volumeExpansion(
  topology: Topology,
  storageGb: unknown,
  mode: 'Online' | 'Offline',
  database: KubeObject,
): Record<string, unknown> {
  const target = storageTarget(topology, storageGb, database);
  return {
    mode,
    ...Object.fromEntries(topology.dataComponents.map((component) => [component.key, target])),
  };
}

/**
 * The storage quantity for a storage change, after checking that every data component
 * grows: volumes never shrink, and KubeDB refuses an expansion to the size they have (a
 * merge patch to the same size is harmless, hence `allowUnchanged`).
 */
export function storageTarget(
  topology: Topology,
  storageGb: unknown,
  database: KubeObject,
  options: { allowUnchanged?: boolean } = {},
) {
  if (typeof storageGb !== 'number' || !Number.isInteger(storageGb) || storageGb < 1) {
    throw invalid(
      `storage_gb ${JSON.stringify(storageGb ?? null)} is not a positive whole number`,
      'Send storage_gb as a whole number of GB',
    );
  }
  if (database.spec?.storageType === 'Ephemeral') {
    throw invalid(
      'the database uses ephemeral storage, which has no volume to expand',
      'Only databases with Durable storage can grow their volumes',
    );
  }
  if (topology.dataComponents.length === 0) {
    throw invalid(
      `this ${topology.engine} database has no component holding data volumes`,
      'Check the database resource',
    );
  }
  const target = gibibytes(storageGb);
  const targetBytes = parseQuantity(target) ?? 0;
  for (const component of topology.dataComponents) {
    const current = parseQuantity(component.storage);
    if (current !== null && targetBytes < current) {
      throw invalid(
        `storage of ${component.key} cannot shrink from ${component.storage} to ${target}`,
        `Ask for ${component.storage} or more; volumes only grow`,
        { reason: 'Shrink', component: component.key, current: component.storage, target },
      );
    }
    if (current !== null && targetBytes === current && !options.allowUnchanged) {
      throw invalid(
        `storage of ${component.key} is already ${component.storage}`,
        'Nothing to expand; the database already has this storage',
        { reason: 'Unchanged', component: component.key, current: component.storage, target },
      );
    }
  }
  return target;
}

function targetVersion(version: unknown): string {
  if (typeof version !== 'string' || version.trim() === '') {
    throw invalid(
      `target_version ${JSON.stringify(version ?? null)} is not a version name`,
      'Send target_version as a KubeDB catalog version, e.g. "16.4"',
    );
  }
  return version;
}
