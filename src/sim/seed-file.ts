// Reads the simulator's seed file (`--seed FILE`): a JSON array of SeedDatabase, or
// `{"databases": [...]}`. Every entry is checked before the simulator starts, so a typo in
// an engine or topology is one line naming the file and the entry, not a stack trace.

import { readFileSync } from 'node:fs';
import { errorMessage } from '../shared/errors.js';
import { type SeedDatabase, seedManifest } from './seed.js';

/** A seed file that cannot be used; the message names the file and, if any, the entry. */
export class SeedFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SeedFileError';
  }
}

const FIELDS = new Set([
  'engine',
  'namespace',
  'name',
  'version',
  'topology',
  'replicas',
  'storageGb',
  'size',
  'apiVersion',
]);

export function readSeedFile(file: string): SeedDatabase[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new SeedFileError(`cannot read seed file ${file}: ${errorMessage(error)}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new SeedFileError(`seed file ${file} is not valid JSON: ${errorMessage(error)}`);
  }
  const entries = Array.isArray(parsed)
    ? parsed
    : isObject(parsed) && Array.isArray(parsed.databases)
      ? parsed.databases
      : null;
  if (!entries) {
    throw new SeedFileError(
      `seed file ${file} must hold a JSON array of databases or {"databases": [...]}`,
    );
  }
  return entries.map((entry: unknown, index) => {
    const problem = entryProblem(entry);
    if (problem) {
      const label = isObject(entry) && typeof entry.name === 'string' ? ` (${entry.name})` : '';
      throw new SeedFileError(`seed file ${file}: entry ${index}${label}: ${problem}`);
    }
    return entry as SeedDatabase;
  });
}

function entryProblem(entry: unknown): string | null {
  if (!isObject(entry)) return 'must be an object';
  const unknown = Object.keys(entry).find((key) => !FIELDS.has(key));
  if (unknown !== undefined) {
    return `unknown field ${JSON.stringify(unknown)}; use ${[...FIELDS].join(', ')}`;
  }
  for (const field of ['name', 'namespace'] as const) {
    if (typeof entry[field] !== 'string' || entry[field] === '') {
      return `${field} must be a non-empty string`;
    }
  }
  for (const field of ['replicas', 'storageGb'] as const) {
    const value = entry[field];
    if (value !== undefined && !(Number.isInteger(value) && (value as number) >= 1)) {
      return `${field} must be a whole number of 1 or more, got ${JSON.stringify(value)}`;
    }
  }
  for (const field of ['version', 'topology', 'size'] as const) {
    if (entry[field] !== undefined && typeof entry[field] !== 'string') {
      return `${field} must be a string, got ${JSON.stringify(entry[field])}`;
    }
  }
  if (
    entry.apiVersion !== undefined &&
    entry.apiVersion !== 'v1' &&
    entry.apiVersion !== 'v1alpha2'
  ) {
    return `apiVersion must be v1 or v1alpha2, got ${JSON.stringify(entry.apiVersion)}`;
  }
  try {
    // The checks of engine, topology and size live with the manifest they shape.
    seedManifest(entry as unknown as SeedDatabase);
  } catch (error) {
    return errorMessage(error);
  }
  return null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
