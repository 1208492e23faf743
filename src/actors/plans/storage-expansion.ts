import { PermanentError } from '../../shared/errors.js';
import type { ChangePlan } from './change-plan.js';
import { desiredStorageGb } from './desired-state.js';

export const storageExpansion: ChangePlan = {
  type: 'expand_storage',
  busyStatus: 'updating',
  doneStatus: 'running',
  validate(operation, database) {
    const target = desiredStorageGb(operation);
    const current = database.current_storage_gb ?? null;
    if (current !== null && target < current) {
      throw new PermanentError(
        'REQUEST_INVALID',
        `expand_storage: storage cannot shrink from ${current} GB to ${target} GB`,
        { hint: `Ask for ${current} GB or more; volumes only grow` },
      );
    }
  },
  method: (config) =>
    config.storageExpansionMode === 'patch'
      ? { kind: 'patch' }
      : { kind: 'ops-request', opsKind: 'VolumeExpansion' },
  describe: (operation) => `Expanding storage to ${desiredStorageGb(operation)} GB`,
  recordsSameAs: ['expand_storage'],
  databaseFields: (operation) => ({ current_storage_gb: desiredStorageGb(operation) }),
};
