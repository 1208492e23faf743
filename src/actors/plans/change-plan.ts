// A change plan says, for one operation type, what "done" means and how the change reaches
// KubeDB. The actor (src/actors/operation-actor.ts) runs every plan through the same steps.

import type { Config } from '../../shared/config.js';
import type { OpsRequestKind } from '../../shared/kubedb/index.js';
import type { Database, DatabaseStatus, Operation, OperationType } from '../../shared/types.js';

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
  /** Words for users: what this operation does. */
  describe(operation: Operation): string;
  /** Operation types that record the same database fields as this one (itself included). */
  recordsSameAs: OperationType[];
  /** The observed fields of the database document after success. */
  databaseFields(operation: Operation): Partial<Database>;
}

export type { KubeObject, OpsRequestKind } from '../../shared/kubedb/index.js';
