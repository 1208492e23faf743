// Run-time knobs over HTTP, beside the Kubernetes API on the same port, for tests, k6 runs
// and demos that drive a simulator in another process:
//   GET  /sim/stats            counters (requests by verb and kind, open watches...)
//   POST /sim/reset-stats      zero the counters
//   GET  /sim/faults           current fault knobs
//   PUT  /sim/faults           merge knobs: {"errorRate":0.2,"errorKinds":[503,429]}
//   DELETE /sim/faults         no faults
//   PUT  /sim/timings          {"pendingMs":50,"progressingMs":200,"bookmarkMs":1000}
//   POST /sim/seed             [SeedDatabase, ...] or {"databases":[...]}
//   POST /sim/cut-watches      ?mode=end|reset|silent
//   GET  /sim/objects          ?plural=mongodbs&namespace=ns
// These routes are not counted and never faulted: they are the test harness, not the API.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Faults } from './faults.js';
import { send, sendError } from './http-api.js';
import { parseJson } from './resources.js';
import type { SeedDatabase } from './seed.js';
import { ApiError, badRequest, resourceNotFound } from './status.js';
import type { SimStats } from './stats.js';
import type { WatchCutMode } from './watch.js';

export interface SimulatorControl {
  stats(): SimStats;
  resetStats(): void;
  faults(): Faults;
  setFaults(faults: Partial<Faults>): void;
  clearFaults(): void;
  setTimings(timings: Record<string, number>): void;
  timings(): Record<string, number>;
  seed(databases: SeedDatabase[]): void;
  cutWatches(mode?: WatchCutMode): number;
  list(plural: string, namespace?: string): object[];
}

export function createControlHandler(control: SimulatorControl, logger: Logger) {
  return async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    try {
      const route = `${req.method} ${url.pathname.replace(/\/$/, '')}`;
      const body = async () => {
        const chunks: Buffer[] = [];
        for await (const chunk of req) chunks.push(chunk as Buffer);
        const text = Buffer.concat(chunks).toString('utf8');
        return text.trim() === '' ? {} : parseJson(text);
      };
      switch (route) {
        case 'GET /sim/stats':
          return send(res, 200, control.stats());
        case 'POST /sim/reset-stats':
          control.resetStats();
          return send(res, 200, control.stats());
        case 'GET /sim/faults':
          return send(res, 200, control.faults());
        case 'PUT /sim/faults':
        case 'PATCH /sim/faults':
        case 'POST /sim/faults': {
          const faults = (await body()) as Partial<Faults>;
          guard(() => control.setFaults(faults));
          return send(res, 200, control.faults());
        }
        case 'DELETE /sim/faults':
          control.clearFaults();
          return send(res, 200, control.faults());
        case 'GET /sim/timings':
          return send(res, 200, control.timings());
        case 'PUT /sim/timings':
        case 'POST /sim/timings': {
          const timings = (await body()) as Record<string, number>;
          guard(() => control.setTimings(timings));
          return send(res, 200, control.timings());
        }
        case 'POST /sim/seed': {
          const given = (await body()) as SeedDatabase[] | { databases?: SeedDatabase[] };
          const databases = Array.isArray(given) ? given : (given.databases ?? []);
          guard(() => control.seed(databases));
          return send(res, 200, { seeded: databases.length });
        }
        case 'POST /sim/cut-watches': {
          const mode = (url.searchParams.get('mode') ?? 'end') as WatchCutMode;
          if (!['end', 'reset', 'silent'].includes(mode)) {
            throw badRequest('mode must be end, reset or silent');
          }
          return send(res, 200, { cut: control.cutWatches(mode) });
        }
        case 'GET /sim/objects': {
          const plural = url.searchParams.get('plural');
          if (!plural) throw badRequest('plural is required');
          const namespace = url.searchParams.get('namespace') ?? undefined;
          return send(res, 200, { items: control.list(plural, namespace) });
        }
        default:
          throw resourceNotFound();
      }
    } catch (error) {
      sendError(res, error, logger);
    }
  };
}

/** Knob mistakes (a rate above 1, an unknown engine) are the caller's: 400, not 500. */
function guard(action: () => void): void {
  try {
    action();
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw badRequest((error as Error).message);
  }
}
