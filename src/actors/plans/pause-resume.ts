// Pausing halts a KubeDB database: its pods stop, its volumes and data stay
// (`spec.halted: true`). Resuming clears the flag and KubeDB starts the pods again.

import type { ChangePlan } from './change-plan.js';

export const pause: ChangePlan = {
  type: 'pause',
  busyStatus: 'pausing',
  doneStatus: 'paused',
  validate: () => undefined,
  method: () => ({ kind: 'patch' }),
  recordsSameAs: ['pause', 'resume'],
  describe: () => 'Pausing the database (pods stop, data is kept)',
  databaseFields: () => ({}),
};

export const resume: ChangePlan = {
  type: 'resume',
  busyStatus: 'resuming',
  doneStatus: 'running',
  validate: () => undefined,
  method: () => ({ kind: 'patch' }),
  recordsSameAs: ['pause', 'resume'],
  describe: () => 'Resuming the database',
  databaseFields: () => ({}),
};
