// Fields a schema does not declare: the API server drops them silently, or (with
// `fieldValidation=Strict`) refuses the body naming each one. A schema that declares an
// object without `properties`, `additionalProperties` or
// `x-kubernetes-preserve-unknown-fields` keeps nothing inside it, as in Kubernetes.

import type { JsonSchema } from './crd-catalog.js';
import { childPath, itemPath } from './field-path.js';
import { isPlainObject } from './schema-validator.js';

/** ObjectMeta's fields: the only ones kept under a resource's `metadata`. */
export const OBJECT_META_FIELDS = new Set([
  'name',
  'generateName',
  'namespace',
  'selfLink',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'labels',
  'annotations',
  'ownerReferences',
  'finalizers',
  'managedFields',
]);

/** Removes undeclared fields from a whole resource; returns their paths, in body order. */
export function pruneUnknownFields(schema: JsonSchema, object: Record<string, unknown>): string[] {
  const unknown: string[] = [];
  pruneResource(schema, object, '', unknown);
  return unknown;
}

function pruneResource(
  schema: JsonSchema,
  object: Record<string, unknown>,
  path: string,
  unknown: string[],
): void {
  const metadata = object.metadata;
  if (isPlainObject(metadata)) {
    for (const key of Object.keys(metadata)) {
      if (!OBJECT_META_FIELDS.has(key)) {
        unknown.push(childPath(childPath(path, 'metadata'), key));
        delete metadata[key];
      }
    }
  }
  const rest: JsonSchema = { ...schema, properties: { ...(schema.properties ?? {}) } };
  const properties = rest.properties as Record<string, JsonSchema>;
  delete properties.metadata;
  delete properties.apiVersion;
  delete properties.kind;
  for (const key of Object.keys(object)) {
    if (key === 'metadata' || key === 'apiVersion' || key === 'kind') continue;
    pruneValue(rest, object, key, path, unknown);
  }
}

function pruneValue(
  parentSchema: JsonSchema,
  parent: Record<string, unknown>,
  key: string,
  parentPath: string,
  unknown: string[],
): void {
  const path = childPath(parentPath, key);
  const properties = (parentSchema.properties ?? {}) as Record<string, JsonSchema>;
  const additional = parentSchema.additionalProperties;
  let schema: JsonSchema | undefined = Object.hasOwn(properties, key) ? properties[key] : undefined;
  if (!schema && isPlainObject(additional)) schema = additional as JsonSchema;
  if (!schema) {
    if (additional === true || parentSchema['x-kubernetes-preserve-unknown-fields'] === true) {
      return;
    }
    unknown.push(path);
    delete parent[key];
    return;
  }
  prune(schema, parent[key], path, unknown);
}

function prune(schema: JsonSchema, value: unknown, path: string, unknown: string[]): void {
  if (Array.isArray(value)) {
    const items = schema.items as JsonSchema | undefined;
    if (!items) return;
    value.forEach((item, i) => prune(items, item, itemPath(path, i), unknown));
    return;
  }
  if (!isPlainObject(value)) return;
  if (schema['x-kubernetes-embedded-resource'] === true) {
    pruneResource(schema, value, path, unknown);
    return;
  }
  for (const key of Object.keys(value)) pruneValue(schema, value, key, path, unknown);
}
