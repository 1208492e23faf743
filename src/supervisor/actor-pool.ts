// The piscina pool that hosts the actors. Each thread runs many actors at once; Atomics are
// disabled so a thread's event loop (watches, timers, in-flight writes) never parks between
// tasks, which piscina does by default (DESIGN.md, "Pitfalls").

import { Piscina } from 'piscina';
import type { Config } from '../shared/config.js';

export function createActorPool(config: Config): Piscina {
  return new Piscina({
    filename: new URL('../actors/thread.js', import.meta.url).href,
    minThreads: config.threads,
    maxThreads: config.threads,
    concurrentTasksPerWorker: Math.ceil(config.concurrency / config.threads),
    idleTimeout: Number.POSITIVE_INFINITY,
    atomics: 'disabled',
    recordTiming: false,
    workerData: { config },
  });
}
