// What the admin API and /metrics need from the supervisor, and nothing more: the HTTP layer
// depends on this interface only, so it can be tested with a fake and the supervisor can change
// behind it. All views are plain JSON (dates as ISO strings).

/** One actor in flight: which operation it runs, where, since when and how far it got. */
export interface ActorView {
  operationId: string;
  databaseId: string | null;
  type: string | null;
  /** Pool thread hosting the actor; null while it waits for a thread. */
  thread: number | null;
  /** ISO date. */
  startedAt: string;
  /** The last checkpointed step of the actor's state machine. */
  step: string | null;
  progress: number;
  message: string | null;
  /** How often the actor was restarted after its thread died. */
  restarts: number;
}

/** Sizes of the queue's Redis structures, as seen by this worker. */
export interface QueueView {
  /** Ready to be claimed now (`operations:pending`). */
  pending: number;
  /** Waiting for a retry delay or a busy database to pass. */
  delayed: number;
  /** `operations:processing`, the set the platform's API counts. */
  processing: number;
  /** Claimed by some worker under a lease. */
  leased: number;
  /** Dead-lettered: failed in a way the worker could not record, waiting for an operator. */
  dead: number;
}

export interface ReadyView {
  redis: boolean;
  mongodb: boolean;
  /** The actor pool has its threads up. */
  pool: boolean;
}

export type EnqueueResult = 'queued' | 'not_found' | 'final' | 'already_queued';
export type CancelResult = 'cancelled' | 'not_found' | 'final';
export type RetryDeadResult = 'queued' | 'not_found';

export interface DeadLetterView {
  operationId: string;
  reason: string;
  /** ISO date; null when the stored score is no date (written by hand). */
  at: string | null;
}

export interface AdminBackend {
  workerId: string;
  actors(): ActorView[];
  queue(): Promise<QueueView>;
  ready(): Promise<ReadyView>;
  /** The operation document as JSON (dates ISO), or null when there is none. */
  operation(id: string): Promise<Record<string, unknown> | null>;
  enqueue(id: string, priority?: number): Promise<EnqueueResult>;
  cancel(id: string): Promise<CancelResult>;
  retryDead(id: string): Promise<RetryDeadResult>;
  deadLetters(limit: number): Promise<DeadLetterView[]>;
  pause(): void;
  resume(): void;
  paused(): boolean;
  /**
   * Stops one pool thread (by its threadId, as shown in /v1/actors). Its actors are restarted
   * on the remaining or a replacement thread from their last checkpoints. False if no pool
   * thread has that id.
   */
  recycleThread(threadId: number): Promise<boolean>;
}
