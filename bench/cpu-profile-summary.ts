// Reads the .cpuprofile files `node --cpu-prof` writes (one per thread) and prints where the
// CPU went: self time per source area (our files, each package in node_modules, node's
// internals, GC) and the top functions by self time. Used to compare the worker's threads
// with the bare loop in the pipeline benchmark (docs/BENCHMARKS.md).
//
//   node dist/bench/cpu-profile-summary.js .tmp/prof [--top 30] [--from START --to END]
//
// --from/--to keep only samples between two CLOCK_MONOTONIC times in µs (the pipeline
// benchmark prints the window of each measured batch), leaving out start-up and warm-up.
//
// A profile's samples are attributed to the function on top of the stack when the sample
// was taken; timeDeltas[i] is the time since the previous sample, charged to sample i.

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** The source area of a script URL: a package, a folder of ours, or a node internal. */
export function areaOf(url: string, functionName: string): string {
  if (url === '') {
    if (functionName.startsWith('(')) return functionName; // (idle), (program), (gc)
    return '(native)';
  }
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const parts = url.slice(modules + 14).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  const dist = url.indexOf('/dist/');
  if (dist >= 0) {
    const parts = url.slice(dist + 6).split('/');
    // src/shared/kubedb/cluster.js -> src/shared/kubedb; bench/bare-loop.js -> bench/bare-loop.js
    return parts.length > 2 ? parts.slice(0, -1).join('/') : parts.join('/');
  }
  return url;
}

export interface ProfileSummary {
  file: string;
  wallMs: number;
  /** Everything but (idle). */
  busyMs: number;
  byArea: Map<string, number>;
  byFunction: Map<string, number>;
  /** Self time charged to the nearest caller in our own code (src/, bench/), by function. */
  byOurCaller: Map<string, number>;
}

function ours(url: string): boolean {
  return url.includes('/dist/src/') || url.includes('/dist/bench/');
}

export function summarize(
  file: string,
  profile: CpuProfile,
  window: [number, number] = [-Infinity, Infinity],
): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const byArea = new Map<string, number>();
  const byFunction = new Map<string, number>();
  const byOurCaller = new Map<string, number>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parent.set(child, node.id);
  const callerOf = new Map<number, string>();
  const ourCaller = (id: number): string => {
    const known = callerOf.get(id);
    if (known !== undefined) return known;
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const up = parent.get(id);
    const found = ours(url)
      ? `${functionName || '(anonymous)'} ${url.slice(url.indexOf('/dist/') + 6)}:${lineNumber + 1}`
      : up === undefined
        ? '(no caller of ours)'
        : ourCaller(up);
    callerOf.set(id, found);
    return found;
  };
  let busy = 0;
  let at = profile.startTime;
  let first = Infinity;
  let last = -Infinity;
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i] ?? 0;
    if (at < window[0] || at > window[1]) return;
    first = Math.min(first, at);
    last = Math.max(last, at);
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const area = areaOf(url, functionName);
    if (area !== '(idle)') busy += ms;
    byArea.set(area, (byArea.get(area) ?? 0) + ms);
    const where = url ? `${area}:${url.split('/').pop()}:${lineNumber + 1}` : area;
    const key = `${functionName || '(anonymous)'} ${where}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + ms);
    if (area !== '(idle)') {
      const caller = ourCaller(id);
      byOurCaller.set(caller, (byOurCaller.get(caller) ?? 0) + ms);
    }
  });
  return {
    file,
    wallMs: Number.isFinite(first) ? (last - first) / 1000 : 0,
    busyMs: busy,
    byArea,
    byFunction,
    byOurCaller,
  };
}

function top(map: Map<string, number>, count: number): [string, number][] {
  return [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, count);
}

function main() {
  const { values, positionals } = parseArgs({
    options: { top: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' } },
    allowPositionals: true,
  });
  const count = Number(values.top ?? 25);
  const window: [number, number] = [
    Number(values.from ?? -Infinity),
    Number(values.to ?? Infinity),
  ];
  const dir = positionals[0] ?? '.tmp/prof';
  const files = readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'));
  for (const name of files.sort()) {
    const profile = JSON.parse(readFileSync(join(dir, name), 'utf8')) as CpuProfile;
    const summary = summarize(name, profile, window);
    const pct = (ms: number) => `${((100 * ms) / summary.busyMs).toFixed(1)}%`;
    console.log(
      `\n== ${name}: wall ${(summary.wallMs / 1000).toFixed(1)} s, ` +
        `busy (not idle) ${(summary.busyMs / 1000).toFixed(2)} s`,
    );
    console.log('  self time by area:');
    for (const [area, ms] of top(summary.byArea, count)) {
      if (area === '(idle)') continue;
      console.log(`    ${ms.toFixed(0).padStart(7)} ms  ${pct(ms).padStart(6)}  ${area}`);
    }
    console.log('  self time by function:');
    for (const [fn, ms] of top(summary.byFunction, count)) {
      if (fn.startsWith('(idle)')) continue;
      console.log(`    ${ms.toFixed(0).padStart(7)} ms  ${pct(ms).padStart(6)}  ${fn}`);
    }
    console.log('  self time charged to the nearest function of ours on the stack:');
    for (const [fn, ms] of top(summary.byOurCaller, count)) {
      console.log(`    ${ms.toFixed(0).padStart(7)} ms  ${pct(ms).padStart(6)}  ${fn}`);
    }
  }
}

main();
