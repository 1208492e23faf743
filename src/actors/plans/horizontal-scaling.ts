import type { ChangePlan } from './change-plan.js';
import { desiredReplicas } from './desired-state.js';

export const horizontalScaling: ChangePlan = {
  type: 'scale_horizontal',
  busyStatus: 'scaling',
  doneStatus: 'running',
  validate: (operation) => void desiredReplicas(operation),
  method: (config) =>
    config.horizontalScalingMode === 'patch'
      ? { kind: 'patch' }
      : { kind: 'ops-request', opsKind: 'HorizontalScaling' },
  describe: (operation) => `Changing the number of replicas to ${desiredReplicas(operation)}`,
  recordsSameAs: ['scale_horizontal'],
  databaseFields: (operation) => ({ current_replicas: desiredReplicas(operation) }),
};
