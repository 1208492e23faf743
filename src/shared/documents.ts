// Reads the platform's MongoDB documents into the types of types.ts. Lenient where the
// Python API is (optional fields may be null or absent, defaults filled in, numbers of any
// BSON width), strict where the worker would otherwise act on nonsense: a missing required
// field, a wrong type or an unknown enum value is a DocumentValidationError naming the field.

import { DocumentValidationError } from './errors.js';
import {
  DATABASE_STATUSES,
  ENGINES,
  OPERATION_STATUSES,
  OPERATION_TYPES,
  type Database,
  type DesiredState,
  type Operation,
  type Provider,
  type WorkerState,
} from './types.js';

type Raw = Record<string, unknown>;

const BSON_NUMBER_TYPES = new Set(['Int32', 'Long', 'Double', 'Decimal128']);

/** A JS number, or a BSON number wrapper (Int32, Long, Double) as the driver may return. */
function asNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'object' && value !== null) {
    const bsontype = (value as { _bsontype?: unknown })._bsontype;
    if (typeof bsontype === 'string' && BSON_NUMBER_TYPES.has(bsontype)) {
      const number = Number(String(value));
      return Number.isFinite(number) ? number : undefined;
    }
  }
  return undefined;
}

function isPlainObject(value: unknown): value is Raw {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  if (value instanceof Date) return false;
  return !('_bsontype' in value);
}

/** Field access for one document, raising errors that name collection, id and field. */
class FieldReader {
  readonly id: string;

  constructor(
    private readonly collection: string,
    private readonly raw: Raw,
    private readonly prefix = '',
    id?: string,
  ) {
    this.id = id ?? (typeof raw._id === 'string' ? raw._id : String(raw._id ?? '(no _id)'));
  }

  fail(field: string, problem: string): never {
    throw new DocumentValidationError(this.collection, this.id, this.prefix + field, problem);
  }

  private present(field: string): unknown {
    const value = this.raw[field];
    if (value === undefined || value === null) this.fail(field, 'is missing');
    return value;
  }

  string(field: string): string {
    const value = this.present(field);
    if (typeof value !== 'string') this.fail(field, `must be a string, got ${describe(value)}`);
    return value;
  }

  optionalString(field: string): string | null {
    const value = this.raw[field];
    if (value === undefined || value === null) return null;
    if (typeof value !== 'string') this.fail(field, `must be a string, got ${describe(value)}`);
    return value;
  }

  number(field: string, fallback?: number): number {
    const value = this.raw[field];
    if ((value === undefined || value === null) && fallback !== undefined) return fallback;
    const number = asNumber(this.present(field));
    if (number === undefined) this.fail(field, `must be a number, got ${describe(value)}`);
    return number;
  }

  optionalNumber(field: string): number | null {
    const value = this.raw[field];
    if (value === undefined || value === null) return null;
    const number = asNumber(value);
    if (number === undefined) this.fail(field, `must be a number, got ${describe(value)}`);
    return number;
  }

  boolean(field: string, fallback: boolean): boolean {
    const value = this.raw[field];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'boolean')
      this.fail(field, `must be true or false, got ${describe(value)}`);
    return value;
  }

  optionalBoolean(field: string): boolean | null {
    const value = this.raw[field];
    if (value === undefined || value === null) return null;
    if (typeof value !== 'boolean')
      this.fail(field, `must be true or false, got ${describe(value)}`);
    return value;
  }

  date(field: string): Date {
    this.present(field);
    return this.optionalDate(field)!;
  }

  /** BSON dates; an ISO string is accepted too, as Pydantic would when it reads one. */
  optionalDate(field: string): Date | null {
    const value = this.raw[field];
    if (value === undefined || value === null) return null;
    const date = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : null;
    if (!date || Number.isNaN(date.getTime())) {
      this.fail(field, `must be a date, got ${describe(value)}`);
    }
    return date;
  }

  oneOf<T extends string>(field: string, allowed: readonly T[]): T {
    const value = this.string(field);
    if (!(allowed as readonly string[]).includes(value)) {
      this.fail(field, `has unknown value ${quote(value)}; expected ${allowed.join(', ')}`);
    }
    return value as T;
  }

  object(field: string): Raw {
    const value = this.present(field);
    if (!isPlainObject(value)) this.fail(field, `must be an object, got ${describe(value)}`);
    return value;
  }

  optionalObject(field: string): Raw | null {
    const value = this.raw[field];
    if (value === undefined || value === null) return null;
    if (!isPlainObject(value)) this.fail(field, `must be an object, got ${describe(value)}`);
    return value;
  }

  nested(field: string, value: Raw): FieldReader {
    return new FieldReader(this.collection, value, `${this.prefix}${field}.`, this.id);
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'a date';
  if (typeof value === 'object') {
    const bsontype = (value as { _bsontype?: unknown })._bsontype;
    return typeof bsontype === 'string' ? `BSON ${bsontype}` : 'an object';
  }
  return `${typeof value} ${quote(value)}`;
}

/** Longest quoted value in an error: a field holding megabytes must not make one that big. */
const QUOTE_LIMIT = 80;

/** A value as JSON, cut short with `…`; numbers JSON cannot write (NaN) as themselves. */
export function quote(value: unknown): string {
  const text =
    typeof value === 'number' && !Number.isFinite(value)
      ? String(value)
      : (JSON.stringify(value) ?? String(value));
  return text.length > QUOTE_LIMIT ? `${text.slice(0, QUOTE_LIMIT)}…` : text;
}

function rawDocument(collection: string, raw: unknown): Raw {
  if (!isPlainObject(raw)) {
    throw new DocumentValidationError(collection, '(unknown)', '_id', 'is not a document');
  }
  return raw;
}

function desiredState(reader: FieldReader): DesiredState {
  const raw = reader.object('desired_state');
  // Numbers of any BSON width become plain numbers; the actor checks what each type needs.
  return Object.fromEntries(
    Object.entries(raw).map(([key, value]) => [key, asNumber(value) ?? value]),
  ) as DesiredState;
}

function workerState(reader: FieldReader): WorkerState | null {
  const raw = reader.optionalObject('worker_state');
  if (!raw) return null;
  const state = reader.nested('worker_state', raw);
  return {
    claim_token: state.optionalString('claim_token'),
    step: state.optionalString('step'),
    worker_id: state.optionalString('worker_id'),
    restarts: state.number('restarts', 0),
    attempt: state.number('attempt', 0),
    updated_at: state.optionalDate('updated_at'),
    applied_at: state.optionalDate('applied_at'),
  };
}

export function parseOperation(input: unknown): Operation {
  const raw = rawDocument('operations', input);
  const read = new FieldReader('operations', raw);
  return {
    _id: read.string('_id'),
    database_id: read.string('database_id'),
    type: read.oneOf('type', OPERATION_TYPES),
    desired_state: desiredState(read),
    status: read.oneOf('status', OPERATION_STATUSES),
    progress: read.number('progress', 0),
    message: read.optionalString('message'),
    ops_request_name: read.optionalString('ops_request_name'),
    ops_request_uid: read.optionalString('ops_request_uid'),
    ops_request_phase: read.optionalString('ops_request_phase'),
    created_at: read.date('created_at'),
    started_at: read.optionalDate('started_at'),
    completed_at: read.optionalDate('completed_at'),
    estimated_completion_at: read.optionalDate('estimated_completion_at'),
    error_message: read.optionalString('error_message'),
    retry_count: read.number('retry_count', 0),
    max_retries: read.number('max_retries', 3),
    created_by: read.optionalString('created_by'),
    domain: read.optionalString('domain'),
    project: read.optionalString('project'),
    worker_state: workerState(read),
  };
}

export function parseDatabase(input: unknown): Database {
  const raw = rawDocument('databases', input);
  const read = new FieldReader('databases', raw);
  return {
    _id: read.string('_id'),
    name: read.string('name'),
    domain: read.optionalString('domain'),
    project: read.optionalString('project'),
    engine: read.oneOf('engine', ENGINES),
    version: read.optionalString('version'),
    size: read.optionalString('size'),
    storage_gb: read.optionalNumber('storage_gb'),
    replicas: read.optionalNumber('replicas'),
    current_size: read.optionalString('current_size'),
    current_storage_gb: read.optionalNumber('current_storage_gb'),
    current_replicas: read.optionalNumber('current_replicas'),
    status: read.oneOf('status', DATABASE_STATUSES),
    health_status: read.optionalString('health_status'),
    kubedb_resource_name: read.string('kubedb_resource_name'),
    namespace: read.string('namespace'),
    provider_id: read.optionalString('provider_id'),
  };
}

export function parseProvider(input: unknown): Provider {
  const raw = rawDocument('providers', input);
  const read = new FieldReader('providers', raw);
  return {
    _id: read.string('_id'),
    name: read.string('name'),
    kubeconfig_content: read.optionalString('kubeconfig_content'),
    kubeconfig_path: read.optionalString('kubeconfig_path'),
    api_endpoint: read.optionalString('api_endpoint'),
    verify_ssl: read.optionalBoolean('verify_ssl'),
    // The platform's model defaults: a provider is active and not in maintenance.
    is_active: read.boolean('is_active', true),
    is_maintenance: read.boolean('is_maintenance', false),
  };
}
