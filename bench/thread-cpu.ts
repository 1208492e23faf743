// CPU time of each OS thread of this process (Linux /proc/self/task/*/stat), so a benchmark
// can say how much of its CPU went to the main thread (simulator, supervisor or bare loop)
// and how much to the worker's pool threads. A profile's sampled time cannot say this: it
// counts a thread as busy while it waits for a core, which on two loaded cores is most of it.

import { readFileSync, readdirSync } from 'node:fs';

/** Clock ticks per second of utime/stime in /proc (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

export type ThreadCpu = Map<number, number>;

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
      const ticks = Number(fields[11]) + Number(fields[12]);
      result.set(Number(task), (ticks * 1000) / TICKS_PER_SECOND);
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
  const spent = [...after.entries()].map(
    ([tid, ms]) => [tid, ms - (before.get(tid) ?? 0)] as const,
  );
  const others = spent
    .filter(([tid]) => tid !== main)
    .map(([, ms]) => ms)
    .sort((a, b) => b - a);
  return { main: spent.find(([tid]) => tid === main)?.[1] ?? 0, others };
}
