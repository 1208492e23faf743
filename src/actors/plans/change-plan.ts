// A change plan says, for one operation type, what "done" means and how the change reaches
// KubeDB. The actor (src/actors/operation-actor.ts) runs every plan through the same steps.

import type { Config } from '../../shared/config.js';
import type { Database, DatabaseStatus, Operation, OperationType } from '../../shared/types.js';

export type OpsRequestKind =
  'VerticalScaling' | 'HorizontalScaling' | 'VolumeExpansion' | 'UpdateVersion' | 'Restart';

export type ChangeMethod =
  | { kind: 'ops-request'; opsKind: OpsRequestKind }
  | { kind: 'patch' }
  | { kind: 'unsupported'; reason: string };

export interface ChangePlan {
  type: OperationType;
  /** Database status while the change runs. */
  busyStatus: DatabaseStatus;
  /** Database status once the change succeeded. */
  doneStatus: DatabaseStatus;
  /** Throws a PermanentError naming what to fix when desired_state cannot be applied. */
  validate(operation: Operation, database: Database): void;
  method(config: Config): ChangeMethod;
  /** Merge patch of the KubeDB database resource, for the patch method. */
  patch?(operation: Operation, resource: KubeObject): Record<string, unknown>;
  /** Words for users: what this operation does. */
  describe(operation: Operation): string;
  /** The observed fields of the database document after success. */
  databaseFields(operation: Operation): Partial<Database>;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; uid?: string; [key: string]: unknown };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}
