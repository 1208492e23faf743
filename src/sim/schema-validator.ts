// Checks an object against a CRD's structural schema the way the API server does (types,
// enums, required fields, patterns, formats, list uniqueness) and fills in schema defaults.
// Compiling a whole database CRD with ajv takes seconds (a full PodSpec appears dozens of
// times), so large schema nodes are walked by hand and only the small subtrees an object
// actually uses are compiled, once each, and cached for the life of the process.

import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import * as ajvFormats from 'ajv-formats';
import type { JsonSchema } from './crd-catalog.js';
import { childPath, fromJsonPointer, itemPath, joinPaths } from './field-path.js';
import type { StatusCause } from './status.js';

/** Schema nodes above this many sub-schemas are walked by hand instead of compiled. */
const COMPILE_LIMIT = 150;

const ajv = new Ajv({
  strict: false,
  allErrors: true,
  useDefaults: true,
  logger: false,
  validateFormats: true,
});
// ajv-formats ships CommonJS; its default export sits one level down under NodeNext.
const addFormats = (ajvFormats as unknown as { default: (a: Ajv, f: string[]) => void }).default;
addFormats(ajv, ['date-time']);
ajv.addFormat('int32', {
  type: 'number',
  validate: (n: number) => Number.isInteger(n) && n >= -2147483648 && n <= 2147483647,
});
ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) });
ajv.addKeyword({
  keyword: 'x-kubernetes-list-type',
  type: 'array',
  schemaType: 'string',
  errors: true,
  validate: function listType(
    this: unknown,
    listTypeValue: string,
    data: unknown[],
    parentSchema?: JsonSchema,
  ): boolean {
    const duplicate = findDuplicate(listTypeValue, data, parentSchema ?? {});
    if (duplicate === undefined) return true;
    (listType as unknown as { errors: Partial<ErrorObject>[] }).errors = [
      {
        keyword: 'x-kubernetes-list-type',
        message: `Duplicate value: ${render(duplicate.value)}`,
        params: { index: duplicate.index },
      },
    ];
    return false;
  },
});

const compiled = new WeakMap<JsonSchema, ValidateFunction>();
const sizes = new WeakMap<JsonSchema, number>();

/** Validates `value` (mutating it with schema defaults); returns one cause per problem. */
export function validateAgainstSchema(schema: JsonSchema, value: unknown): StatusCause[] {
  const causes: StatusCause[] = [];
  check(schema, value, '', causes);
  return causes;
}

function check(schema: JsonSchema, value: unknown, path: string, causes: StatusCause[]): void {
  if (schemaSize(schema) <= COMPILE_LIMIT) {
    checkCompiled(schema, value, path, causes);
    return;
  }
  if (value === null || value === undefined) {
    if (value === null && schema.nullable !== true) causes.push(typeCause(path, schema, value));
    return;
  }
  if (schema.type === 'object') {
    if (!isPlainObject(value)) {
      causes.push(typeCause(path, schema, value));
      return;
    }
    checkObject(schema, value, path, causes);
    return;
  }
  if (schema.type === 'array') {
    if (!Array.isArray(value)) {
      causes.push(typeCause(path, schema, value));
      return;
    }
    const duplicate = findDuplicate(String(schema['x-kubernetes-list-type'] ?? ''), value, schema);
    if (duplicate) {
      causes.push({
        reason: 'FieldValueDuplicate',
        message: `Duplicate value: ${render(duplicate.value)}`,
        field: itemPath(path, duplicate.index),
      });
    }
    const items = schema.items as JsonSchema | undefined;
    if (items) value.forEach((item, i) => check(items, item, itemPath(path, i), causes));
    return;
  }
  // Large nodes are always objects or arrays in practice; anything else is compiled anyway.
  checkCompiled(schema, value, path, causes);
}

function checkObject(
  schema: JsonSchema,
  value: Record<string, unknown>,
  path: string,
  causes: StatusCause[],
): void {
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  for (const [key, child] of Object.entries(properties)) {
    if (value[key] === undefined && child.default !== undefined) {
      value[key] = structuredClone(child.default);
    }
  }
  for (const key of (schema.required ?? []) as string[]) {
    if (value[key] === undefined) {
      causes.push({
        reason: 'FieldValueRequired',
        message: 'Required value',
        field: childPath(path, key),
      });
    }
  }
  const additional = schema.additionalProperties;
  for (const [key, child] of Object.entries(value)) {
    const childSchema =
      properties[key] ?? (isPlainObject(additional) ? (additional as JsonSchema) : undefined);
    if (childSchema) check(childSchema, child, childPath(path, key), causes);
  }
}

function checkCompiled(
  schema: JsonSchema,
  value: unknown,
  path: string,
  causes: StatusCause[],
): void {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  if (validate(value)) return;
  causes.push(...toCauses(validate.errors ?? [], value, path));
}

function toCauses(errors: ErrorObject[], root: unknown, base: string): StatusCause[] {
  const anyOfPaths = new Set(
    errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath),
  );
  const causes: StatusCause[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    if (error.schemaPath.includes('/anyOf/') && anyOfPaths.has(error.instancePath)) continue;
    const field = joinPaths(base, fromJsonPointer(error.instancePath, root));
    const cause = toCause(error, field, valueAt(root, error.instancePath));
    const key = `${cause.field}|${cause.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    causes.push(cause);
  }
  return causes;
}

function toCause(error: ErrorObject, field: string, value: unknown): StatusCause {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return {
        reason: 'FieldValueRequired',
        message: 'Required value',
        field: childPath(field, String(params.missingProperty)),
      };
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map(render).join(', ');
      return {
        reason: 'FieldValueNotSupported',
        message: `Unsupported value: ${render(value)}: supported values: ${allowed}`,
        field,
      };
    }
    case 'type':
      return {
        reason: 'FieldValueTypeInvalid',
        message:
          `Invalid value: "${typeName(value)}": ${field} in body must be of type ` +
          `${String(params.type)}: "${typeName(value)}"`,
        field,
      };
    case 'anyOf':
      return {
        reason: 'FieldValueTypeInvalid',
        message: `Invalid value: "${typeName(value)}": ${field} in body must be of type integer or string`,
        field,
      };
    case 'pattern':
      return {
        reason: 'FieldValueInvalid',
        message: `Invalid value: ${render(value)}: ${field} in body should match '${String(params.pattern)}'`,
        field,
      };
    case 'format':
      return {
        reason: 'FieldValueInvalid',
        message: `Invalid value: ${render(value)}: ${field} in body must be of type ${String(params.format)}: ${render(value)}`,
        field,
      };
    case 'x-kubernetes-list-type':
      return {
        reason: 'FieldValueDuplicate',
        message: error.message ?? 'Duplicate value',
        field: itemPath(field, Number(params.index)),
      };
    default:
      return {
        reason: 'FieldValueInvalid',
        message: `Invalid value: ${render(value)}: ${field} in body ${error.message ?? 'is invalid'}`,
        field,
      };
  }
}

function typeCause(path: string, schema: JsonSchema, value: unknown): StatusCause {
  return {
    reason: 'FieldValueTypeInvalid',
    message:
      `Invalid value: "${typeName(value)}": ${path} in body must be of type ` +
      `${String(schema.type)}: "${typeName(value)}"`,
    field: path,
  };
}

/** `set` lists hold unique items; `map` lists are unique by their key fields. */
function findDuplicate(
  listType: string,
  items: unknown[],
  schema: JsonSchema,
): { index: number; value: unknown } | undefined {
  if (listType !== 'set' && listType !== 'map') return undefined;
  const keys = (schema['x-kubernetes-list-map-keys'] ?? []) as string[];
  const seen = new Set<string>();
  for (const [index, item] of items.entries()) {
    const identity =
      listType === 'set'
        ? JSON.stringify(item)
        : JSON.stringify(keys.map((k) => (item as Record<string, unknown> | null)?.[k]));
    if (seen.has(identity)) {
      const value =
        listType === 'set'
          ? item
          : Object.fromEntries(keys.map((k) => [k, (item as Record<string, unknown>)[k]]));
      return { index, value };
    }
    seen.add(identity);
  }
  return undefined;
}

/** How many schema nodes sit under this one (memoised: the big CRDs share nothing). */
function schemaSize(schema: JsonSchema): number {
  const known = sizes.get(schema);
  if (known !== undefined) return known;
  let size = 1;
  for (const child of Object.values((schema.properties ?? {}) as Record<string, JsonSchema>)) {
    size += schemaSize(child);
  }
  for (const key of ['items', 'additionalProperties', 'not']) {
    const child = schema[key];
    if (isPlainObject(child)) size += schemaSize(child as JsonSchema);
  }
  for (const key of ['anyOf', 'allOf', 'oneOf']) {
    for (const child of (schema[key] ?? []) as JsonSchema[]) size += schemaSize(child);
  }
  sizes.set(schema, size);
  return size;
}

function valueAt(root: unknown, pointer: string): unknown {
  let node = root;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    node = node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
  }
  return node;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function render(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? 'null');
}
