// API load the simulator saw: requests by verb and kind, so tests and benchmarks can read
// what the worker cost the cluster (e.g. that following 1,000 OpsRequests takes a handful of
// watches, not 1,000 pollers).

import { API_VERBS, type Verb } from './faults.js';

export interface SimStats {
  /** verb -> kind -> count; kinds are resource kinds (`MongoDBOpsRequest`) or `discovery`. */
  requests: Record<Verb, Record<string, number>>;
  total: number;
  /** Requests answered with an injected fault, by fault kind (`500`, `429`, `reset`...). */
  faults: Record<string, number>;
  activeWatches: number;
  /** Watch connections opened since the last reset. */
  watchesOpened: number;
  opsRequestsCreated: number;
}

export class StatsCounter {
  private stats: SimStats = empty();

  count(verb: Verb, kind: string): void {
    const byKind = this.stats.requests[verb];
    byKind[kind] = (byKind[kind] ?? 0) + 1;
    this.stats.total += 1;
    if (verb === 'watch') this.stats.watchesOpened += 1;
  }

  fault(kind: string): void {
    this.stats.faults[kind] = (this.stats.faults[kind] ?? 0) + 1;
  }

  opsRequestCreated(): void {
    this.stats.opsRequestsCreated += 1;
  }

  watchOpened(): void {
    this.stats.activeWatches += 1;
  }

  watchClosed(): void {
    this.stats.activeWatches -= 1;
  }

  read(): SimStats {
    return structuredClone(this.stats);
  }

  /** Zeroes the counters; open watches stay counted because they are still open. */
  reset(): void {
    const active = this.stats.activeWatches;
    this.stats = empty();
    this.stats.activeWatches = active;
  }
}

function empty(): SimStats {
  return {
    requests: Object.fromEntries(API_VERBS.map((v) => [v, {}])) as SimStats['requests'],
    total: 0,
    faults: {},
    activeWatches: 0,
    watchesOpened: 0,
    opsRequestsCreated: 0,
  };
}
