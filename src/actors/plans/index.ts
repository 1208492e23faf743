import type { OperationType } from '../../shared/types.js';
import { backup, restore } from './backup-restore.js';
import type { ChangePlan } from './change-plan.js';
import { horizontalScaling } from './horizontal-scaling.js';
import { pause, resume } from './pause-resume.js';
import { restart } from './restart.js';
import { storageExpansion } from './storage-expansion.js';
import { versionUpgrade } from './version-upgrade.js';
import { verticalScaling } from './vertical-scaling.js';

export const CHANGE_PLANS: Record<OperationType, ChangePlan> = {
  scale_vertical: verticalScaling,
  scale_horizontal: horizontalScaling,
  expand_storage: storageExpansion,
  upgrade_version: versionUpgrade,
  restart,
  pause,
  resume,
  backup,
  restore,
};

export type { ChangePlan, ChangeMethod, KubeObject, OpsRequestKind } from './change-plan.js';
