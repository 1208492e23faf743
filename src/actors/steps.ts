// The named steps of an operation, in order. After each step the actor writes the step's
// name to `worker_state.step` (the checkpoint); a resumed actor skips every step up to and
// including the checkpoint, so no step with an outside effect runs twice for one attempt.

export const STEPS = [
  'started',
  'validated',
  'change_requested',
  'change_applied',
  'database_synced',
  'ops_request_deleted',
] as const;
export type Step = (typeof STEPS)[number];

/** True when the checkpoint says `step` already ran. */
export function isDone(checkpoint: string | null | undefined, step: Step): boolean {
  if (!checkpoint) return false;
  const reached = STEPS.indexOf(checkpoint as Step);
  return reached >= 0 && reached >= STEPS.indexOf(step);
}

/** Progress shown to users; it only ever moves forward. */
export const PROGRESS = {
  started: 5,
  validated: 10,
  change_requested: 20,
  pending: 30,
  progressing: 40,
  progressingCeiling: 90,
  change_applied: 95,
  database_synced: 98,
  completed: 100,
} as const;
