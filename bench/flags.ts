// Command-line sizes for benchmarks (`--jobs 2000`), so a quick run is one flag away.

import { parseArgs } from 'node:util';

/** Parses `--name value` integer flags; unknown flags are an error that lists the known ones. */
export function numberFlags<T extends Record<string, number>>(defaults: T): T {
  const options = Object.fromEntries(
    Object.keys(defaults).map((name) => [name, { type: 'string' as const }]),
  );
  let values: Record<string, string | undefined>;
  try {
    values = parseArgs({ options, strict: true }).values as Record<string, string | undefined>;
  } catch (error) {
    const known = Object.entries(defaults)
      .map(([name, value]) => `--${name} ${value}`)
      .join(' ');
    throw new Error(`${(error as Error).message}; flags and defaults: ${known}`);
  }
  const result: Record<string, number> = { ...defaults };
  for (const [name, raw] of Object.entries(values)) {
    if (raw === undefined) continue;
    const value = Number(raw);
    if (!Number.isFinite(value)) throw new Error(`--${name} must be a number, got ${raw}`);
    result[name] = value;
  }
  return result as T;
}
