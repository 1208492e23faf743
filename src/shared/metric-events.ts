// What an actor (or the supervisor) reports for /metrics. prom-client registries live per
// thread, so a counter bumped inside a worker thread would never be scraped: actors send these
// plain, structured-clone-safe events to the supervisor, which applies them to its one registry
// (src/supervisor/metrics.ts). Label values must come from small fixed sets (types, engines,
// phases, HTTP codes), never ids or messages, or the number of series grows without bound.

/** An operation reached a final status; also counts as one operation this worker processed. */
export interface OperationFinishedEvent {
  kind: 'operation_finished';
  type: string;
  /** completed, failed, cancelled or timeout. */
  status: string;
  /** From `started_at` to the final status. */
  durationSeconds: number;
}

/** A transient failure sent the operation back for another attempt (`retry_count` grew). */
export interface OperationRetryEvent {
  kind: 'operation_retry';
  type: string;
}

/** An attempt at an operation ended in an error, transient or permanent. */
export interface WorkerErrorEvent {
  kind: 'worker_error';
  /** A WorkerError code; not a label today, kept for logs and future use. */
  code?: string;
}

/** The actor created an OpsRequest (once per attempt, never again on resume). */
export interface OpsRequestCreatedEvent {
  kind: 'ops_request_created';
  engine: string;
  /** The OpsRequest's `spec.type`, e.g. VerticalScaling. */
  opsType: string;
}

/** The actor saw an OpsRequest enter a phase (each transition once, final phases included). */
export interface OpsRequestPhaseEvent {
  kind: 'ops_request_phase';
  engine: string;
  opsType: string;
  phase: string;
}

/** An OpsRequest reached a final phase. */
export interface OpsRequestFinishedEvent {
  kind: 'ops_request_finished';
  engine: string;
  opsType: string;
  phase: string;
  /** From creation to the final phase. */
  durationSeconds: number;
}

/** Kubernetes API requests, by verb and HTTP status code (0 when no response came back). */
export interface KubeApiCallEvent {
  kind: 'kube_api_call';
  /** get, list, watch, create, patch, delete. */
  verb: string;
  code: number | string;
  /** Calls this event stands for, so an actor can batch; 1 when absent. */
  count?: number;
}

/** The supervisor restarted the actors of a thread that died. */
export interface ThreadRestartedEvent {
  kind: 'thread_restarted';
  count?: number;
}

/** Operations whose lease had expired (their worker died) were taken over. */
export interface LeasesRecoveredEvent {
  kind: 'leases_recovered';
  count: number;
}

/** An operation was moved to the dead-letter set. */
export interface DeadLetteredEvent {
  kind: 'dead_lettered';
  count?: number;
}

/** A queued id was dropped without running, e.g. it has no document or is already final. */
export interface QueueDroppedEvent {
  kind: 'queue_dropped';
  /** A short fixed word: not_found, final, invalid. */
  reason: string;
  count?: number;
}

export type MetricEvent =
  | OperationFinishedEvent
  | OperationRetryEvent
  | WorkerErrorEvent
  | OpsRequestCreatedEvent
  | OpsRequestPhaseEvent
  | OpsRequestFinishedEvent
  | KubeApiCallEvent
  | ThreadRestartedEvent
  | LeasesRecoveredEvent
  | DeadLetteredEvent
  | QueueDroppedEvent;

export type MetricEventKind = MetricEvent['kind'];
