// What the chaos run asks of the worker: databases of every engine and topology the
// simulator plays, and a reproducible mix of operations over them, each with the final state
// it must reach. The mix is built so that the expected state of an operation does not depend
// on the order the worker happens to run them in (valid storage targets are one value per
// database; pause and resume get databases of their own), so a mismatch is always a finding.

import { SIZES, type DesiredState, type Engine, type OperationType } from '../src/shared/types.js';
import type { SeedDatabase } from '../src/sim/server.js';

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Random = () => number;

export function pick<T>(random: Random, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

export function between(random: Random, low: number, high: number): number {
  return low + Math.floor(random() * (high - low + 1));
}

interface TopologyShape {
  engine: Engine;
  topology: string;
  replicas: number;
  version: string;
  /** Whether `replicas` can change (KubeDB refuses it for standalone servers). */
  scalable: boolean;
  /** Most replicas a horizontal change may ask for here. */
  maxReplicas: number;
}

/** Every engine and topology the simulator plays. */
export const TOPOLOGIES: readonly TopologyShape[] = [
  shape('postgres', 'standalone', 1, '16.4', true),
  shape('postgres', 'cluster', 3, '16.4', true),
  shape('mysql', 'standalone', 1, '8.0.35', false),
  shape('mysql', 'group-replication', 3, '8.0.35', true),
  shape('mysql', 'innodb-cluster', 3, '8.0.35', true),
  shape('mysql', 'semi-sync', 3, '8.0.35', true),
  shape('mariadb', 'standalone', 1, '10.11.2', false),
  shape('mariadb', 'galera', 3, '10.11.2', true),
  shape('mongodb', 'standalone', 1, '7.0.5', false),
  shape('mongodb', 'replicaset', 3, '7.0.5', true),
  shape('mongodb', 'sharded', 3, '7.0.5', true),
  shape('redis', 'standalone', 1, '7.2.4', false),
  shape('redis', 'cluster', 3, '7.2.4', true),
  shape('redis', 'sentinel', 3, '7.2.4', true),
  shape('elasticsearch', 'combined', 3, 'xpack-8.11.1', true),
  shape('elasticsearch', 'dedicated', 3, 'xpack-8.11.1', true),
];

function shape(
  engine: Engine,
  topology: string,
  replicas: number,
  version: string,
  scalable: boolean,
): TopologyShape {
  return { engine, topology, replicas, version, scalable, maxReplicas: 7 };
}

const UPGRADES: Record<Engine, string[]> = {
  postgres: ['16.6', '17.2', '16.4'],
  mysql: ['8.0.36', '8.4.3', '8.0.35'],
  mariadb: ['10.11.10', '11.4.3', '10.11.2'],
  mongodb: ['7.0.12', '8.0.3', '7.0.5'],
  redis: ['7.2.6', '7.4.1', '7.2.4'],
  elasticsearch: ['xpack-8.15.0', 'xpack-8.11.4', 'xpack-8.11.1'],
};

export interface PlannedDatabase {
  id: string;
  /** With consistentTargets: the one value each field-changing type asks for here. */
  fixed: { size: string; replicas: number; version: string; pause: boolean } | null;
  seed: SeedDatabase;
  /** `mixed`: every change type; `pause`: only pause and resume (its final state is one). */
  role: 'mixed' | 'pause';
  scalable: boolean;
  /** The one storage size valid expand_storage operations on this database ask for. */
  storageTarget: number;
}

export interface PlannedOperation {
  database: number;
  type: OperationType;
  desired: DesiredState;
  priority: number;
  expect: 'completed' | 'failed';
  /** For expected failures: what error_message must say. */
  error?: RegExp;
  /** Why it must fail, in words for the report. */
  invalid?: string;
}

export interface ChaosPlan {
  databases: PlannedDatabase[];
  operations: PlannedOperation[];
}

export interface PlanOptions {
  operations: number;
  seed: number;
  /** Default: one database per 5 operations, at least one per topology. */
  databases?: number;
  /** Fraction of operations that are invalid on purpose (default 0.08). */
  invalidShare?: number;
  /**
   * One target per database and field: every scale_vertical of a database asks for the same
   * size, and so on; a pause database gets only pauses or only resumes. Then no final state
   * depends on which of two operations recorded its result last, which hides the
   * stale-record bug of docs/RELIABILITY.md (default false: targets differ).
   */
  consistentTargets?: boolean;
}

const INVALID = {
  shrink: /storage cannot shrink/,
  size: /is not a known size/,
  unsupported: /KubeStash/,
  standalone: /cannot change its number of (replicas|members)/,
} as const;

export function buildPlan(options: PlanOptions): ChaosPlan {
  const random = seededRandom(options.seed);
  const total =
    options.databases ?? Math.max(TOPOLOGIES.length, Math.round(options.operations / 5));
  const pauseCount = Math.max(1, Math.round(total / 12));
  const mixedCount = Math.max(TOPOLOGIES.length, total - pauseCount);

  const databases: PlannedDatabase[] = [];
  const hex = () => between(random, 0, 0xffffff).toString(16).padStart(6, '0');
  for (let i = 0; i < mixedCount + pauseCount; i++) {
    const role = i < mixedCount ? 'mixed' : 'pause';
    const topology = TOPOLOGIES[i % TOPOLOGIES.length]!;
    const storageGb = pick(random, [10, 20, 30]);
    const size = pick(random, ['db.t3.micro', 'db.t3.small', 'db.t3.medium']);
    const fixed = options.consistentTargets
      ? {
          size: pick(random, Object.keys(SIZES)),
          replicas: between(random, 1, topology.maxReplicas),
          version: pick(random, UPGRADES[topology.engine]),
          pause: random() < 0.5,
        }
      : null;
    databases.push({
      id: `db-${hex()}${hex()}`,
      fixed,
      role,
      scalable: topology.scalable,
      storageTarget: storageGb + 5 * between(random, 1, 4),
      seed: {
        engine: topology.engine,
        namespace: `chaos-${topology.engine}`,
        name: `${role === 'pause' ? 'p' : 'm'}${i}-${topology.topology}`,
        topology: topology.topology,
        replicas: topology.replicas,
        storageGb,
        size,
        version: topology.version,
      },
    });
  }

  const mixed = databases.filter((db) => db.role === 'mixed');
  const pauseShare = pauseCount / databases.length;
  const invalidShare = options.invalidShare ?? 0.08;
  const operations: PlannedOperation[] = [];
  for (let n = 0; n < options.operations; n++) {
    const priority = between(random, 1, 9);
    if (random() < pauseShare) {
      const index = databases.length - 1 - between(random, 0, pauseCount - 1);
      const fixed = databases[index]!.fixed;
      const type = (fixed ? fixed.pause : random() < 0.5) ? 'pause' : 'resume';
      operations.push({ database: index, type, desired: {}, priority, expect: 'completed' });
      continue;
    }
    const database = pick(random, mixed);
    const index = databases.indexOf(database);
    operations.push({
      ...(random() < invalidShare
        ? invalidOperation(random, database)
        : validOperation(random, database)),
      database: index,
      priority,
    });
  }
  return { databases, operations };
}

type Planned = Omit<PlannedOperation, 'database' | 'priority'>;

function validOperation(random: Random, database: PlannedDatabase): Planned {
  const engine = database.seed.engine;
  const fixed = database.fixed;
  const roll = random();
  if (roll < 0.3) {
    return {
      type: 'scale_vertical',
      desired: { size: fixed?.size ?? pick(random, Object.keys(SIZES)) },
      expect: 'completed',
    };
  }
  if (roll < 0.45) {
    return {
      type: 'expand_storage',
      desired: { storage_gb: database.storageTarget },
      expect: 'completed',
    };
  }
  if (roll < 0.6) {
    const shape = TOPOLOGIES.find(
      (t) => t.engine === engine && t.topology === database.seed.topology,
    )!;
    const replicas = fixed?.replicas ?? between(random, 1, shape.maxReplicas);
    if (!database.scalable) {
      return {
        type: 'scale_horizontal',
        desired: { replicas },
        expect: 'failed',
        error: INVALID.standalone,
        invalid: `a ${database.seed.topology} ${engine} has no replicas to change`,
      };
    }
    return { type: 'scale_horizontal', desired: { replicas }, expect: 'completed' };
  }
  if (roll < 0.75) {
    return {
      type: 'upgrade_version',
      desired: { target_version: fixed?.version ?? pick(random, UPGRADES[engine]) },
      expect: 'completed',
    };
  }
  return { type: 'restart', desired: {}, expect: 'completed' };
}

function invalidOperation(random: Random, database: PlannedDatabase): Planned {
  const initial = database.seed.storageGb ?? 10;
  switch (between(random, 0, 3)) {
    case 0:
      return {
        type: 'expand_storage',
        desired: { storage_gb: initial - 5 },
        expect: 'failed',
        error: INVALID.shrink,
        invalid: 'storage shrink',
      };
    case 1:
      return {
        type: 'scale_vertical',
        desired: { size: 'db.t3.galactic' },
        expect: 'failed',
        error: INVALID.size,
        invalid: 'unknown size',
      };
    case 2:
      return {
        type: 'backup',
        desired: {},
        expect: 'failed',
        error: INVALID.unsupported,
        invalid: 'backup (not driven by the worker)',
      };
    default:
      return {
        type: 'restore',
        desired: {},
        expect: 'failed',
        error: INVALID.unsupported,
        invalid: 'restore (not driven by the worker)',
      };
  }
}
