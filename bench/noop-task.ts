// The no-op work unit of the dispatch benchmark, loaded both as a piscina task file (our
// side) and as a BullMQ sandboxed processor (theirs). It returns what a finished actor
// returns, so the real Supervisor settles it with queue.complete() as it would a real one.

import type { MessagePort } from 'node:worker_threads';

export const NOOP_DATABASE_ID = 'db-000000bench0';
export const NOOP_TYPE = 'scale_vertical';

export default async function noop(task: { port?: MessagePort } | undefined) {
  // thread.ts closes the actor's channel when it ends; so does this.
  task?.port?.close();
  return { kind: 'completed', databaseId: NOOP_DATABASE_ID, type: NOOP_TYPE };
}
