// The KubeDB client's public surface: what actors and the supervisor use.

export { KubeClients, type KubeClientsOptions } from './clients.js';
export { KubeCluster, DEFAULT_RETRY, type KubeClusterStats, type RetryPolicy } from './cluster.js';
export {
  buildOpsRequest,
  opsRequestName,
  sizeResources,
  LABELS,
  MANAGED_BY,
  OPERATION_ANNOTATION,
  OPS_REQUEST_KIND_FOR,
  type OpsRequestInput,
  type OpsRequestKind,
} from './ops-request-builder.js';
export {
  FINAL_PHASES,
  finishedAt,
  isFinalPhase,
  opsRequestStatus,
  type OpsRequestCondition,
  type OpsRequestStatus,
  type WatchTiming,
} from './ops-request-watch.js';
export {
  databasePatch,
  haltedPatch,
  replicasPatch,
  storagePatch,
  type MergePatch,
} from './patch.js';
export { kubeReason, kubeStatusCode, type KubeErrorDetails } from './api-errors.js';
export {
  databaseType,
  opsRequestType,
  type DatabaseApiVersion,
  type KubeObject,
} from './resources.js';
export { observedStorageGb, readTopology, type Topology, type TopologyMode } from './topology.js';
export { drainApiCalls } from './api-calls.js';
