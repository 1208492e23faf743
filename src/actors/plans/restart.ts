import type { ChangePlan } from './change-plan.js';

export const restart: ChangePlan = {
  type: 'restart',
  busyStatus: 'updating',
  doneStatus: 'running',
  validate: () => undefined,
  method: () => ({ kind: 'ops-request', opsKind: 'Restart' }),
  describe: () => 'Restarting the database pods one by one',
  recordsSameAs: ['restart'],
  databaseFields: () => ({}),
};
