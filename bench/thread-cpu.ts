// CPU time of each OS thread of this process (Linux /proc/self/task/*/stat), so a benchmark
// can say how much of its CPU went to the main thread (simulator, supervisor or bare loop)
// and how much to the worker's pool threads. A profile's sampled time cannot say this: it
// counts a thread as busy while it waits for a core, which on two loaded cores is most of it.

import { readFileSync, readdirSync } from 'node:fs';

/** Clock ticks per second of utime/stime in /proc (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** CPU ms by thread id, user and system (kernel) time together; system alone in `system`. */
export type ThreadCpu = Map<number, { total: number; system: number }>;

/** CPU ms by thread id; empty where /proc is not available. */
export function threadCpu(): ThreadCpu {
  const result: ThreadCpu = new Map();
  let tasks: string[];
  try {
    tasks = readdirSync('/proc/self/task');
  } catch {
    return result;
  }
  for (const task of tasks) {
    try {
      const stat = readFileSync(`/proc/self/task/${task}/stat`, 'utf8');
      // Fields after the command name, which is in parentheses and may contain spaces.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const [user, system] = [Number(fields[11]), Number(fields[12])];
      result.set(Number(task), {
        total: ((user + system) * 1000) / TICKS_PER_SECOND,
        system: (system * 1000) / TICKS_PER_SECOND,
      });
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return result;
}

/**
 * CPU ms spent between two readings: the main thread, then the other threads busiest first
 * (the worker's pool threads lead; the rest are V8's GC helpers and libuv's pool).
 */
export function threadCpuSince(before: ThreadCpu, after = threadCpu()) {
  const main = process.pid;
  const spent = [...after.entries()].map(([tid, now]) => {
    const then = before.get(tid) ?? { total: 0, system: 0 };
    return { tid, total: now.total - then.total, system: now.system - then.system };
  });
  const others = spent.filter(({ tid }) => tid !== main).sort((a, b) => b.total - a.total);
  const none = { tid: main, total: 0, system: 0 };
  return { main: spent.find(({ tid }) => tid === main) ?? none, others };
}
