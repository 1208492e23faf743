// Merge patches of a KubeDB database resource, for the old worker's direct-patch mode
// (HORIZONTAL_SCALING_MODE / STORAGE_EXPANSION_MODE = patch) and for pause and resume.
// The field that holds replicas or storage depends on the topology, like in OpsRequests:
// a sharded MongoDB keeps them under spec.shardTopology.shard, a Redis cluster under
// spec.cluster, an Elasticsearch cluster with dedicated nodes under spec.topology.<role>.

import { PermanentError } from '../errors.js';
import type { Engine, Operation } from '../types.js';
import { storageTarget } from './ops-request-builder.js';
import type { KubeObject } from './resources.js';
import { readTopology, scalableReplicas, type Topology } from './topology.js';

export type MergePatch = Record<string, unknown>;

/** `{ spec: { a: { b: value } } }` for the path [a, b]. */
function nested(path: string[], value: unknown): MergePatch {
  return path.reduceRight<MergePatch>((inner, key) => ({ [key]: inner }), value as MergePatch);
}

/** Deep merge of patches built separately for several components. */
function merge(patches: MergePatch[]): MergePatch {
  const result: MergePatch = {};
  for (const patch of patches) {
    for (const [key, value] of Object.entries(patch)) {
      const existing = result[key];
      const bothObjects =
        typeof existing === 'object' && existing !== null && typeof value === 'object';
      result[key] = bothObjects ? merge([existing as MergePatch, value as MergePatch]) : value;
    }
  }
  return result;
}

export function replicasPatch(topology: Topology, replicas: unknown): MergePatch {
  const count = scalableReplicas(topology, replicas);
  switch (topology.mode) {
    case 'sharded':
      return nested(['spec', 'shardTopology', 'shard', 'replicas'], count);
    case 'cluster':
      return nested(['spec', 'cluster', 'replicas'], count);
    case 'dedicated':
      return nested(['spec', 'topology', 'data', 'replicas'], count);
    default:
      return nested(['spec', 'replicas'], count);
  }
}

/**
 * Storage of every data component; throws REQUEST_INVALID before anything is sent if it
 * would shrink. The same size again is allowed: resending a patch after a crash is harmless.
 */
export function storagePatch(
  topology: Topology,
  resource: KubeObject,
  storageGb: unknown,
): MergePatch {
  const target = storageTarget(topology, storageGb, resource, { allowUnchanged: true });
  return merge(
    topology.dataComponents.map((component) =>
      nested(
        ['spec', ...component.specPath, 'storage', 'resources', 'requests', 'storage'],
        target,
      ),
    ),
  );
}

/**
 * `spec.halted`: KubeDB stops a halted database's pods and keeps its volumes. KubeDB refuses
 * to halt a database whose deletion policy is DoNotTerminate, so that is caught here.
 */
export function haltedPatch(topology: Topology, halted: boolean): MergePatch {
  if (halted && topology.deletionPolicy === 'DoNotTerminate') {
    throw new PermanentError(
      'REQUEST_INVALID',
      'KubeDB does not halt a database whose deletion policy is DoNotTerminate',
      { hint: 'Change the deletion policy to Halt (or Delete) first, then pause again' },
    );
  }
  return { spec: { halted } };
}

/** The patch that carries out a patch-mode operation on this database resource. */
export function databasePatch(
  engine: Engine,
  resource: KubeObject,
  operation: Pick<Operation, 'type' | 'desired_state'>,
): MergePatch {
  const topology = readTopology(resource, engine);
  switch (operation.type) {
    case 'scale_horizontal':
      return replicasPatch(topology, operation.desired_state.replicas);
    case 'expand_storage':
      return storagePatch(topology, resource, operation.desired_state.storage_gb);
    case 'pause':
      return haltedPatch(topology, true);
    case 'resume':
      return haltedPatch(topology, false);
    default:
      throw new PermanentError(
        'UNSUPPORTED',
        `${operation.type} is not carried out by patching the database resource`,
        { hint: 'Send it as an OpsRequest' },
      );
  }
}
