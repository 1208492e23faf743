// Plays the KubeDB operator: a new OpsRequest goes Pending, then Progressing, then
// Successful (its change applied to the database) or Failed (a condition says why). Requests
// for one database run one at a time in creation order, as KubeDB runs them; the others
// stay Pending until their turn. Timings and fault knobs are read at each step, so changing
// them at run time affects requests already in flight.

import type { Logger } from 'pino';
import type { CrdCatalog, ResourceType } from './crd-catalog.js';
import { DATABASE_GROUP, ENGINES, type EngineInfo, OPS_GROUP, engineByOpsKind } from './engines.js';
import type { FaultPlan } from './faults.js';
import { planOpsRequest } from './ops-effects.js';
import type { Resources } from './resources.js';
import { type Change, type KubeObject, timestamp } from './store.js';

export interface OperatorTimings {
  /** How long a request stays Pending once it is first in its database's queue. */
  pendingMs: number;
  /** How long a request stays Progressing before it completes. */
  progressingMs: number;
}

export const FINAL_PHASES = ['Successful', 'Failed', 'Denied', 'Skipped'];

interface Queued {
  name: string;
  namespace: string;
  engine: EngineInfo;
  order: number;
}

export class Operator {
  private readonly queues = new Map<string, Queued[]>();
  private readonly running = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private unsubscribe: (() => void) | undefined;
  private order = 0;

  constructor(
    private readonly resources: Resources,
    private readonly catalog: CrdCatalog,
    private readonly faults: FaultPlan,
    private readonly timings: () => OperatorTimings,
    private readonly logger: Logger,
  ) {}

  /** Starts following changes and picks up requests left unfinished (after a restore). */
  start(): void {
    this.unsubscribe = this.resources.store.subscribe((change) => this.onChange(change));
    const unfinished = Object.values(ENGINES)
      .flatMap((engine) =>
        this.resources.store
          .list(OPS_GROUP, engine.opsPlural)
          .map((object) => ({ engine, object })),
      )
      .filter(({ object }) => !FINAL_PHASES.includes(phaseOf(object)))
      .sort(
        (a, b) =>
          Number(a.object.metadata.resourceVersion) - Number(b.object.metadata.resourceVersion),
      );
    for (const { engine, object } of unfinished) this.enqueue(engine, object);
  }

  stop(): void {
    this.unsubscribe?.();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.queues.clear();
    this.running.clear();
  }

  private onChange(change: Change): void {
    if (change.group !== OPS_GROUP) return;
    const engine = engineByOpsKind(change.object.kind);
    if (!engine) return;
    if (change.type === 'ADDED' && !FINAL_PHASES.includes(phaseOf(change.object))) {
      this.enqueue(engine, change.object);
    }
    if (change.type === 'DELETED') {
      const key = this.dbKey(engine, change.object);
      const queue = this.queues.get(key) ?? [];
      const index = queue.findIndex((q) => q.name === change.object.metadata.name);
      if (index >= 0) queue.splice(index, 1);
      if (index === 0) this.release(key);
    }
  }

  private enqueue(engine: EngineInfo, ops: KubeObject): void {
    const key = this.dbKey(engine, ops);
    const queue = this.queues.get(key) ?? [];
    const entry: Queued = {
      name: ops.metadata.name,
      namespace: ops.metadata.namespace ?? '',
      engine,
      order: (this.order += 1),
    };
    queue.push(entry);
    this.queues.set(key, queue);
    if (!phaseOf(ops)) {
      // Not inside the store's change notification (watchers would see MODIFIED before
      // ADDED), so a moment later; by then the request may have started already: under load
      // Node runs every due timer of one duration before those of the next, so the pendingMs
      // start can come first. KubeDB never sends a request back to Pending.
      this.later(0, () => {
        const current = this.opsObject(entry);
        if (!current || phaseOf(current)) return;
        this.writeStatus(entry, (status, generation) => {
          status.phase = 'Pending';
          status.observedGeneration = generation;
        });
      });
    }
    this.pump(key);
  }

  /** Starts the head of a database's queue unless one of its requests is already running. */
  private pump(key: string): void {
    if (this.running.has(key)) return;
    const head = this.queues.get(key)?.[0];
    if (!head) {
      this.queues.delete(key);
      return;
    }
    this.running.add(key);
    this.later(this.timings().pendingMs, () => this.begin(key, head));
  }

  private release(key: string): void {
    this.running.delete(key);
    this.pump(key);
  }

  private finishHead(key: string, entry: Queued): void {
    const queue = this.queues.get(key) ?? [];
    if (queue[0] === entry) queue.shift();
    this.release(key);
  }

  private begin(key: string, entry: Queued): void {
    const ops = this.opsObject(entry);
    if (!ops || this.queues.get(key)?.[0] !== entry) return;
    const opsType = String(ops.spec?.type ?? '');
    const db = this.database(entry.engine, ops);
    if (!db) {
      const dbName = String((ops.spec?.databaseRef as { name?: string } | undefined)?.name ?? '');
      this.fail(
        key,
        entry,
        'DatabaseNotFound',
        `${entry.engine.kind} ${entry.namespace}/${dbName} not found`,
      );
      return;
    }
    const plan = planOpsRequest(entry.engine, db, ops);
    if (!plan.ok) {
      this.fail(key, entry, plan.reason, plan.message);
      return;
    }
    this.writeStatus(entry, (status, generation) => {
      status.phase = 'Progressing';
      status.observedGeneration = generation;
      addCondition(
        status,
        generation,
        opsType,
        opsType,
        `${entry.engine.kind} ops request is progressing: ${opsType}`,
      );
    });
    this.logger.debug(
      { opsRequest: entry.name, namespace: entry.namespace },
      'ops_request_progressing',
    );
    this.later(this.timings().progressingMs, () => this.complete(key, entry));
  }

  private complete(key: string, entry: Queued): void {
    const ops = this.opsObject(entry);
    if (!ops || this.queues.get(key)?.[0] !== entry) return;
    if (this.faults.opsStuck(entry.name)) {
      // Stays Progressing; looks again later so that turning the knob off lets it finish.
      this.later(Math.max(50, this.timings().progressingMs), () => this.complete(key, entry));
      return;
    }
    const injected = this.faults.opsFailure(entry.name);
    if (injected) {
      this.fail(key, entry, 'OpsRequestFailed', injected);
      return;
    }
    const db = this.database(entry.engine, ops);
    if (!db) {
      this.fail(key, entry, 'DatabaseNotFound', `the database of ${entry.name} disappeared`);
      return;
    }
    const plan = planOpsRequest(entry.engine, db, ops);
    if (!plan.ok) {
      this.fail(key, entry, plan.reason, plan.message);
      return;
    }
    const dbType = this.type(DATABASE_GROUP, entry.engine.plural);
    const updated = this.resources.mutate(
      dbType,
      db.metadata.namespace ?? '',
      db.metadata.name,
      plan.apply,
    );
    if (updated) {
      this.resources.mutate(dbType, db.metadata.namespace ?? '', db.metadata.name, (d) => {
        d.status = { ...(d.status ?? {}), observedGeneration: d.metadata.generation ?? 1 };
      });
    }
    const opsType = String(ops.spec?.type ?? '');
    this.writeStatus(entry, (status, generation) => {
      status.phase = 'Successful';
      status.observedGeneration = generation;
      addCondition(
        status,
        generation,
        'Successful',
        'Successful',
        `Successfully completed ${opsType}: ${plan.summary}`,
      );
    });
    this.logger.debug(
      { opsRequest: entry.name, namespace: entry.namespace },
      'ops_request_successful',
    );
    this.finishHead(key, entry);
  }

  private fail(key: string, entry: Queued, reason: string, message: string): void {
    this.writeStatus(entry, (status, generation) => {
      status.phase = 'Failed';
      status.observedGeneration = generation;
      addCondition(status, generation, 'Failed', reason, message);
    });
    this.logger.debug({ opsRequest: entry.name, reason }, 'ops_request_failed');
    this.finishHead(key, entry);
  }

  private writeStatus(
    entry: Queued,
    change: (status: Record<string, unknown>, generation: number) => void,
  ): void {
    const type = this.type(OPS_GROUP, entry.engine.opsPlural);
    this.resources.mutate(type, entry.namespace, entry.name, (object) => {
      const status = (object.status ?? {}) as Record<string, unknown>;
      change(status, object.metadata.generation ?? 1);
      object.status = status;
    });
  }

  private opsObject(entry: Queued): KubeObject | undefined {
    return this.resources.store.get(OPS_GROUP, entry.engine.opsPlural, entry.namespace, entry.name);
  }

  private database(engine: EngineInfo, ops: KubeObject): KubeObject | undefined {
    const name = (ops.spec?.databaseRef as { name?: string } | undefined)?.name;
    if (!name) return undefined;
    return this.resources.store.get(
      DATABASE_GROUP,
      engine.plural,
      ops.metadata.namespace ?? '',
      name,
    );
  }

  private dbKey(engine: EngineInfo, ops: KubeObject): string {
    const name = (ops.spec?.databaseRef as { name?: string } | undefined)?.name ?? '';
    return `${engine.engine}/${ops.metadata.namespace ?? ''}/${name}`;
  }

  private type(group: string, plural: string): ResourceType {
    const type = this.catalog.find(group, plural);
    if (!type) throw new Error(`the CRDs have no ${plural}.${group}`);
    return type;
  }

  private later(ms: number, step: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      try {
        step();
      } catch (error) {
        this.logger.error({ err: error }, 'operator_step_failed');
      }
    }, ms);
    this.timers.add(timer);
  }
}

function phaseOf(object: KubeObject): string {
  return String((object.status as { phase?: string } | undefined)?.phase ?? '');
}

function addCondition(
  status: Record<string, unknown>,
  generation: number,
  type: string,
  reason: string,
  message: string,
): void {
  const conditions = ((status.conditions ?? []) as Array<Record<string, unknown>>).filter(
    (c) => c.type !== type,
  );
  conditions.push({
    type,
    status: 'True',
    reason,
    message,
    lastTransitionTime: timestamp(),
    observedGeneration: generation,
  });
  status.conditions = conditions;
}
