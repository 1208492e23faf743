// The platform's documents and enums, exactly as the Python API writes them (see README,
// "Data contract"). Field names are snake_case because they are the platform's, not ours.

export const OPERATION_TYPES = [
  'scale_vertical',
  'scale_horizontal',
  'expand_storage',
  'upgrade_version',
  'backup',
  'restore',
  'pause',
  'resume',
  // Not written by today's API; accepted so a restart can be queued by hand (`enqueue`).
  'restart',
] as const;
export type OperationType = (typeof OPERATION_TYPES)[number];

export const OPERATION_STATUSES = [
  'queued',
  'in_progress',
  'completed',
  'failed',
  'cancelled',
  'timeout',
] as const;
export type OperationStatus = (typeof OPERATION_STATUSES)[number];

/** Statuses after which nothing more happens to an operation. */
export const FINAL_OPERATION_STATUSES: readonly OperationStatus[] = [
  'completed',
  'failed',
  'cancelled',
  'timeout',
];

export const ENGINES = [
  'postgres',
  'mysql',
  'mariadb',
  'mongodb',
  'redis',
  'elasticsearch',
] as const;
export type Engine = (typeof ENGINES)[number];

export const DATABASE_STATUSES = [
  'pending',
  'provisioning',
  'running',
  'updating',
  'scaling',
  'pausing',
  'paused',
  'resuming',
  'failed',
  'deleting',
  'deleted',
] as const;
export type DatabaseStatus = (typeof DATABASE_STATUSES)[number];

/** Instance sizes; requests equal limits. */
export const SIZES = {
  'db.t3.micro': { cpu: '500m', memory: '1Gi' },
  'db.t3.small': { cpu: '1', memory: '2Gi' },
  'db.t3.medium': { cpu: '2', memory: '4Gi' },
  'db.t3.large': { cpu: '2', memory: '8Gi' },
  'db.t3.xlarge': { cpu: '4', memory: '16Gi' },
  'db.t3.2xlarge': { cpu: '8', memory: '32Gi' },
} as const;
export type Size = keyof typeof SIZES;

export interface DesiredState {
  size?: string;
  replicas?: number;
  storage_gb?: number;
  target_version?: string;
  [key: string]: unknown;
}

/**
 * Where an actor stands in its operation. Written by the worker only, under
 * `worker_state` on the operation document; the platform's API ignores it.
 */
export interface WorkerState {
  /** Token of the claim that currently owns the operation; conditional writes check it. */
  claim_token?: string | null;
  /** The last step the actor finished (see src/actors/steps.ts). */
  step?: string | null;
  worker_id?: string | null;
  /** How many times this operation was resumed after its worker died or handed it back. */
  restarts?: number;
  /** Attempt number the current OpsRequest belongs to, so a retry creates a new one once. */
  attempt?: number;
  updated_at?: Date | null;
  /** When KubeDB was seen to have applied this operation's change (or the patch was sent). */
  applied_at?: Date | null;
}

export interface Operation {
  _id: string;
  database_id: string;
  type: OperationType;
  desired_state: DesiredState;
  status: OperationStatus;
  progress: number;
  message?: string | null;
  ops_request_name?: string | null;
  ops_request_uid?: string | null;
  ops_request_phase?: string | null;
  created_at: Date;
  started_at?: Date | null;
  completed_at?: Date | null;
  estimated_completion_at?: Date | null;
  error_message?: string | null;
  retry_count: number;
  max_retries: number;
  created_by?: string | null;
  domain?: string | null;
  project?: string | null;
  worker_state?: WorkerState | null;
}

export interface Database {
  _id: string;
  name: string;
  domain?: string | null;
  project?: string | null;
  engine: Engine;
  version?: string | null;
  size?: string | null;
  storage_gb?: number | null;
  replicas?: number | null;
  current_size?: string | null;
  current_storage_gb?: number | null;
  current_replicas?: number | null;
  status: DatabaseStatus;
  health_status?: string | null;
  kubedb_resource_name: string;
  namespace: string;
  provider_id?: string | null;
}

export interface Provider {
  _id: string;
  name: string;
  /** A secret: never log it, never return it from the admin API. */
  kubeconfig_content?: string | null;
  kubeconfig_path?: string | null;
  api_endpoint?: string | null;
  verify_ssl?: boolean | null;
  is_active: boolean;
  is_maintenance: boolean;
}
