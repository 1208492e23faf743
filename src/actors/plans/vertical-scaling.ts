import { SIZES } from '../../shared/types.js';
import type { ChangePlan } from './change-plan.js';
import { desiredSize } from './desired-state.js';

export const verticalScaling: ChangePlan = {
  type: 'scale_vertical',
  busyStatus: 'scaling',
  doneStatus: 'running',
  validate: (operation) => void desiredSize(operation),
  method: () => ({ kind: 'ops-request', opsKind: 'VerticalScaling' }),
  describe(operation) {
    const size = desiredSize(operation);
    return `Resizing to ${size} (${SIZES[size].cpu} CPU, ${SIZES[size].memory} memory)`;
  },
  recordsSameAs: ['scale_vertical'],
  databaseFields: (operation) => ({ current_size: desiredSize(operation) }),
};
