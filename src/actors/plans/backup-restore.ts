// Backups and restores in KubeDB go through KubeStash (BackupConfiguration / RestoreSession),
// which this worker does not drive. Such operations fail at once with a message saying so,
// rather than sitting in the queue or being retried.

import type { ChangePlan } from './change-plan.js';

const reason =
  'backup and restore run through KubeStash, which dbaas-worker does not drive; ' +
  'use the platform backup service for this database';

export const backup: ChangePlan = {
  type: 'backup',
  busyStatus: 'running',
  doneStatus: 'running',
  validate: () => undefined,
  method: () => ({ kind: 'unsupported', reason }),
  recordsSameAs: ['backup'],
  describe: () => 'Backing up the database',
  databaseFields: () => ({}),
};

export const restore: ChangePlan = {
  ...backup,
  type: 'restore',
  recordsSameAs: ['restore'],
  describe: () => 'Restoring',
};
