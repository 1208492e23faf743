// What crosses the thread boundary between the supervisor and an actor. Everything here is
// plain data (structured-clone safe): threads share no objects.
//
// There is no channel per actor: creating, transferring and closing a MessageChannel for every
// task cost CPU, and closing the supervisor's end as soon as the outcome came back dropped
// the messages still in flight (most operation_finished metrics were lost). Actors' messages
// go out on their thread's parent port instead, batched once per event loop turn
// (ThreadMessage 'actors'); the supervisor answers and stops actors on a BroadcastChannel of
// its own, each message naming the run it is for.

import type { MetricEvent } from '../shared/metric-events.js';

/** One piscina task: run this claimed operation from its last checkpoint to a final state. */
export interface ActorTask {
  operationId: string;
  claimToken: string;
  /** How often this operation was resumed after a dead worker, a thread crash or a hand-back. */
  restarts: number;
  workerId: string;
  /** This run of an actor, unique within its supervisor; messages both ways carry it. */
  runId: number;
  /** Name of the supervisor's BroadcastChannel to its actors (SupervisorEnvelope). */
  channel: string;
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

/** Supervisor -> one actor, on the supervisor's BroadcastChannel: every thread sees it. */
export interface SupervisorEnvelope {
  runId: number;
  message: SupervisorMessage;
}

/** One actor's message inside a thread's batch. */
export interface ActorEnvelope {
  runId: number;
  message: ActorMessage;
}

/** Thread -> supervisor, on the thread's parent port. */
export type ThreadMessage =
  { type: 'metrics'; events: MetricEvent[] } | { type: 'actors'; messages: ActorEnvelope[] };
