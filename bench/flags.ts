// Command-line sizes for benchmarks (`--jobs 2000`), so a quick run is one flag away.

import { parseArgs } from 'node:util';

/**
 * Flags with a fixed set of values that every benchmark accepts, the first value being the
 * default: `--store` picks where FerretDB keeps the documents (bench/environment.ts).
 */
export const CHOICE_FLAGS = { store: ['postgresql', 'sqlite'] } as const;

type ChoiceName = keyof typeof CHOICE_FLAGS;

function parse(names: readonly string[]): Record<string, string | undefined> {
  const options = Object.fromEntries(
    [...names, ...Object.keys(CHOICE_FLAGS)].map((name) => [name, { type: 'string' as const }]),
  );
  return parseArgs({ options, strict: true }).values as Record<string, string | undefined>;
}

/** Parses `--name value` integer flags; unknown flags are an error that lists the known ones. */
export function numberFlags<T extends Record<string, number>>(defaults: T): T {
  let values: Record<string, string | undefined>;
  try {
    values = parse(Object.keys(defaults));
  } catch (error) {
    const known = [
      ...Object.entries(defaults).map(([name, value]) => `--${name} ${value}`),
      ...Object.entries(CHOICE_FLAGS).map(([name, values]) => `--${name} ${values.join('|')}`),
    ].join(' ');
    throw new Error(`${(error as Error).message}; flags and defaults: ${known}`);
  }
  const result: Record<string, number> = { ...defaults };
  for (const [name, raw] of Object.entries(values)) {
    if (raw === undefined || name in CHOICE_FLAGS) continue;
    const value = Number(raw);
    if (!Number.isFinite(value)) throw new Error(`--${name} must be a number, got ${raw}`);
    result[name] = value;
  }
  return result as T;
}

/** The value of one of CHOICE_FLAGS (its first value when absent); others are an error. */
export function choiceFlag<N extends ChoiceName>(name: N): (typeof CHOICE_FLAGS)[N][number] {
  const choices: readonly string[] = CHOICE_FLAGS[name];
  const raw = parseArgs({ options: { [name]: { type: 'string' } }, strict: false }).values[name];
  if (raw === undefined) return choices[0] as (typeof CHOICE_FLAGS)[N][number];
  if (typeof raw !== 'string' || !choices.includes(raw)) {
    throw new Error(`--${name} must be one of ${choices.join(', ')}, got ${String(raw)}`);
  }
  return raw as (typeof CHOICE_FLAGS)[N][number];
}
