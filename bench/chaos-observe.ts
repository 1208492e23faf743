// Reads what the simulated cluster actually holds for a database (size, storage, replicas,
// version, halted) and the OpsRequests it was sent, so the chaos run can compare the
// platform's records with the truth rather than with what the worker believes.

import { LABELS, observedStorageGb, readTopology } from '../src/shared/kubedb/index.js';
import { SIZES, type Engine } from '../src/shared/types.js';
import { DATABASE_GROUP, ENGINES } from '../src/sim/engines.js';
import type { Simulator } from '../src/sim/server.js';
import { parseQuantity } from '../src/sim/quantity.js';
import { describeTopology, getPath } from '../src/sim/topology.js';
import type { KubeObject } from '../src/sim/store.js';

export interface ObservedDatabase {
  /** The size every pod component runs with, or null if they differ or match no size. */
  size: string | null;
  /** Size per component, e.g. `shard=db.t3.large`, to explain a null size. */
  sizes: string[];
  storageGb: number | null;
  replicas: number | null;
  version: string | null;
  halted: boolean;
}

export function observeDatabase(
  sim: Simulator,
  engine: Engine,
  namespace: string,
  name: string,
): ObservedDatabase | null {
  const info = ENGINES[engine];
  const resource = sim.get(DATABASE_GROUP, 'v1', info.plural, namespace, name) as
    KubeObject | undefined;
  if (!resource) return null;
  const spec = (resource.spec ?? {}) as Record<string, unknown>;

  const sizes: string[] = [];
  for (const [key, component] of Object.entries(describeTopology(engine, resource).components)) {
    const resources = component.podTemplate
      ? containerResources(getPath(resource, component.podTemplate), info.container)
      : getPath(resource, component.resources ?? []);
    sizes.push(`${key}=${sizeName(resources) ?? JSON.stringify(resources ?? null)}`);
  }
  const names = new Set(sizes.map((entry) => entry.slice(entry.indexOf('=') + 1)));
  const [only] = [...names];
  const size = names.size === 1 && only && only in SIZES ? only : null;

  return {
    size,
    sizes,
    storageGb: observedStorageGb(resource as never, engine),
    replicas: readTopology(resource as never, engine).replicas,
    version: typeof spec.version === 'string' ? spec.version : null,
    halted: spec.halted === true,
  };
}

function containerResources(podTemplate: unknown, container: string): unknown {
  const containers = getPath(podTemplate, ['spec', 'containers']);
  if (!Array.isArray(containers)) return undefined;
  const main = containers.find((c) => (c as { name?: string }).name === container);
  return (main as { resources?: unknown } | undefined)?.resources;
}

/** The platform size whose CPU and memory equal these requests, or null. */
function sizeName(resources: unknown): string | null {
  const requests = (resources as { requests?: { cpu?: unknown; memory?: unknown } } | undefined)
    ?.requests;
  if (!requests) return null;
  const cpu = parseQuantity(requests.cpu);
  const memory = parseQuantity(requests.memory);
  for (const [name, size] of Object.entries(SIZES)) {
    if (parseQuantity(size.cpu) === cpu && parseQuantity(size.memory) === memory) return name;
  }
  return null;
}

export interface ObservedOpsRequest {
  name: string;
  namespace: string;
  kind: string;
  type: string;
  operationId: string | null;
  attempt: string | null;
  phase: string | null;
  /** The simulator's revision of the object's last change: orders when each one finished. */
  resourceVersion: number;
  spec: Record<string, unknown>;
}

/** Every OpsRequest of every engine in the simulated cluster. */
export function observeOpsRequests(sim: Simulator): ObservedOpsRequest[] {
  return Object.values(ENGINES).flatMap((engine) =>
    (sim.list(engine.opsPlural) as KubeObject[]).map((object) => {
      const labels = object.metadata.labels ?? {};
      const spec = (object.spec ?? {}) as Record<string, unknown>;
      return {
        name: object.metadata.name,
        namespace: object.metadata.namespace ?? '',
        kind: object.kind,
        type: String(spec.type ?? ''),
        operationId: labels[LABELS.operationId] ?? null,
        attempt: labels[LABELS.attempt] ?? null,
        phase: ((object.status ?? {}) as { phase?: string }).phase ?? null,
        resourceVersion: Number(object.metadata.resourceVersion ?? 0),
        spec,
      };
    }),
  );
}
