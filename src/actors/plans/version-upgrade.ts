import type { ChangePlan } from './change-plan.js';
import { desiredVersion } from './desired-state.js';

export const versionUpgrade: ChangePlan = {
  type: 'upgrade_version',
  busyStatus: 'updating',
  doneStatus: 'running',
  validate: (operation) => void desiredVersion(operation),
  method: () => ({ kind: 'ops-request', opsKind: 'UpdateVersion' }),
  describe: (operation) => `Upgrading to version ${desiredVersion(operation)}`,
  // The database document has no current_version: `version` is the one version field the
  // platform shows, so it is set to what KubeDB applied.
  recordsSameAs: ['upgrade_version'],
  databaseFields: (operation) => ({ version: desiredVersion(operation) }),
};
