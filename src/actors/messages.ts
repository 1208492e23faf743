// What crosses the thread boundary between the supervisor and an actor. Everything here is
// plain data (structured-clone safe): threads share no objects.

import type { MessagePort } from 'node:worker_threads';
import type { MetricEvent } from '../shared/metric-events.js';

/** One piscina task: run this claimed operation from its last checkpoint to a final state. */
export interface ActorTask {
  operationId: string;
  claimToken: string;
  /** How often this operation was resumed after a dead worker, a thread crash or a hand-back. */
  restarts: number;
  workerId: string;
  /** The actor's end of its private channel to the supervisor (transferred, not cloned). */
  port: MessagePort;
}

/** How an actor ended; the supervisor turns it into the matching queue transition. */
export type ActorOutcome =
  | { kind: 'completed'; databaseId: string; type: string }
  | { kind: 'failed'; databaseId: string; type: string; reason: string }
  | { kind: 'timeout'; databaseId: string; type: string; reason: string }
  | { kind: 'cancelled'; databaseId: string; type: string }
  | { kind: 'retry'; retryNumber: number; reason: string }
  | { kind: 'deferred'; reason: string }
  | { kind: 'handed_back' }
  | { kind: 'claim_lost' }
  | {
      kind: 'dropped';
      reason: string;
      /** For an operation already final: its dedup key is cleared if it still names it. */
      dedup?: { databaseId: string; type: string };
    };

/** Actor -> supervisor. */
export type ActorMessage =
  | { type: 'started'; threadId: number }
  | {
      type: 'progress';
      databaseId?: string;
      operationType?: string;
      step: string;
      progress: number;
      message: string;
    }
  | { type: 'metric'; event: MetricEvent }
  | { type: 'lock_database'; requestId: number; databaseId: string };

/** Supervisor -> actor. `stop` asks the actor to end at its next step boundary. */
export type SupervisorMessage =
  | { type: 'stop'; reason: 'handback' | 'cancelled' | 'claim_lost' }
  | { type: 'lock_database_result'; requestId: number; locked: boolean; error?: string };

/** Thread -> supervisor, not tied to one actor (sent on the thread's parent port). */
export type ThreadMessage = { type: 'metrics'; events: MetricEvent[] };
