// What the API server does to a custom resource between the HTTP request and etcd: check
// apiVersion/kind, prune or refuse unknown fields, validate metadata and the CRD schema,
// apply defaults, honour the status subresource, bump generation, enforce resourceVersion
// preconditions. The HTTP routes and the operator both write through here, so the operator
// cannot store anything a real API server would refuse.

import { randomInt } from 'node:crypto';
import YAML from 'yaml';
import type { CrdCatalog, ResourceType } from './crd-catalog.js';
import { pruneUnknownFields } from './field-pruning.js';
import { parseFieldSelector, parseLabelSelector } from './label-selector.js';
import { validateObjectMeta } from './object-meta.js';
import {
  APPLY_PATCH,
  JSON_PATCH,
  MERGE_PATCH,
  applyJsonPatch,
  applyMergePatch,
  unsupportedPatchType,
} from './patch.js';
import { isPlainObject, validateAgainstSchema } from './schema-validator.js';
import {
  ApiError,
  alreadyExists,
  badRequest,
  conflict,
  invalid,
  notFound,
  type StatusBody,
} from './status.js';
import { type KubeObject, type Store, timestamp } from './store.js';

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

export interface WriteOptions {
  fieldValidation: FieldValidation;
  dryRun: boolean;
  fieldManager?: string;
}

export interface WriteResult {
  object: KubeObject;
  warnings: string[];
  created?: boolean;
}

export interface ListResult {
  items: KubeObject[];
  resourceVersion: string;
  continueToken?: string;
  remaining?: number;
}

export type Subresource = 'status' | undefined;

const DEFAULT_WRITE: WriteOptions = { fieldValidation: 'Strict', dryRun: false };

export class Resources {
  constructor(
    readonly catalog: CrdCatalog,
    readonly store: Store,
  ) {}

  get(type: ResourceType, version: string, namespace: string, name: string): KubeObject {
    const object = this.store.get(type.group, type.plural, namespace, name);
    if (!object) throw notFound(type.plural, type.group, name);
    return present(object, type, version);
  }

  list(
    type: ResourceType,
    version: string,
    namespace: string | undefined,
    query: {
      labelSelector?: string | null;
      fieldSelector?: string | null;
      limit?: number;
      continue?: string | null;
    },
  ): ListResult {
    const labels = parseLabelSelector(query.labelSelector ?? null);
    const fields = parseFieldSelector(query.fieldSelector ?? null);
    const resourceVersion = String(this.store.resourceVersion());
    let items = this.store
      .list(type.group, type.plural, namespace)
      .filter((o) => labels(o.metadata.labels ?? {}) && fields(o.metadata));
    const offset = decodeContinue(query.continue ?? null);
    items = items.slice(offset);
    const limit = query.limit && query.limit > 0 ? query.limit : undefined;
    if (limit !== undefined && items.length > limit) {
      return {
        items: items.slice(0, limit).map((o) => present(o, type, version)),
        resourceVersion,
        continueToken: Buffer.from(JSON.stringify({ offset: offset + limit })).toString(
          'base64url',
        ),
        remaining: items.length - limit,
      };
    }
    return { items: items.map((o) => present(o, type, version)), resourceVersion };
  }

  create(
    type: ResourceType,
    version: string,
    namespace: string,
    body: unknown,
    options: WriteOptions = DEFAULT_WRITE,
  ): WriteResult {
    const object = asObject(body);
    checkTypeMeta(object, type, version);
    const metadata = object.metadata as Record<string, unknown>;
    if (metadata.namespace !== undefined && metadata.namespace !== namespace) {
      throw badRequest(
        'the namespace of the provided object does not match the namespace sent on the request',
      );
    }
    if (metadata.resourceVersion !== undefined && metadata.resourceVersion !== '') {
      throw badRequest('resourceVersion should not be set on objects to be created');
    }
    if ((metadata.name === undefined || metadata.name === '') && metadata.generateName) {
      metadata.name = `${String(metadata.generateName)}${randomSuffix()}`;
    }
    for (const key of ['uid', 'generation', 'creationTimestamp', 'deletionTimestamp']) {
      delete metadata[key];
    }
    metadata.namespace = namespace;
    if (this.hasStatusSubresource(type, version)) delete object.status;

    const warnings = this.admit(type, version, object, options);
    object.metadata.generation = 1;
    if (this.store.exists(type.group, type.plural, namespace, object.metadata.name)) {
      throw alreadyExists(type.plural, type.group, object.metadata.name);
    }
    if (options.dryRun) return { object: present(object, type, version), warnings, created: true };
    const stored = this.store.create(type.group, type.plural, object);
    return { object: present(stored, type, version), warnings, created: true };
  }

  update(
    type: ResourceType,
    version: string,
    namespace: string,
    name: string,
    body: unknown,
    options: WriteOptions = DEFAULT_WRITE,
    subresource?: Subresource,
  ): WriteResult {
    const object = asObject(body);
    checkTypeMeta(object, type, version);
    const rv = object.metadata.resourceVersion;
    if (rv === undefined || rv === '') {
      throw invalid(type.kind, type.group, name, [
        {
          reason: 'FieldValueInvalid',
          message: 'Invalid value: 0x0: must be specified for an update',
          field: 'metadata.resourceVersion',
        },
      ]);
    }
    return this.replaceChecked(type, version, namespace, name, object, options, subresource);
  }

  patch(
    type: ResourceType,
    version: string,
    namespace: string,
    name: string,
    contentType: string,
    patchText: string,
    options: WriteOptions = DEFAULT_WRITE,
    subresource?: Subresource,
  ): WriteResult {
    const current = this.store.get(type.group, type.plural, namespace, name);
    if (contentType === APPLY_PATCH) {
      return this.apply(type, version, namespace, name, current, patchText, options, subresource);
    }
    if (!current) throw notFound(type.plural, type.group, name);
    const patch = parseJson(patchText);
    let patched: unknown;
    if (contentType === MERGE_PATCH) {
      if (!isPlainObject(patch)) throw badRequest('the patch must be a JSON object');
      patched = applyMergePatch(present(current, type, version), patch);
    } else if (contentType === JSON_PATCH) {
      patched = applyJsonPatch(present(current, type, version), patch);
    } else {
      throw unsupportedPatchType(contentType);
    }
    const object = asObject(patched);
    checkTypeMeta(object, type, version);
    if (object.metadata.resourceVersion === undefined) {
      object.metadata.resourceVersion = current.metadata.resourceVersion;
    }
    return this.replaceChecked(type, version, namespace, name, object, options, subresource);
  }

  delete(
    type: ResourceType,
    namespace: string,
    name: string,
    preconditions: { resourceVersion?: string; uid?: string } = {},
    dryRun = false,
  ): KubeObject | StatusBody {
    const current = this.store.get(type.group, type.plural, namespace, name);
    if (!current) throw notFound(type.plural, type.group, name);
    const { resourceVersion, uid } = preconditions;
    if (
      (resourceVersion && resourceVersion !== current.metadata.resourceVersion) ||
      (uid && uid !== current.metadata.uid)
    ) {
      throw conflict(type.plural, type.group, name);
    }
    const success: StatusBody = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      details: { name, group: type.group, kind: type.plural, uid: current.metadata.uid },
      code: 200,
    };
    if (dryRun) return success;
    if ((current.metadata.finalizers ?? []).length > 0) {
      if (!current.metadata.deletionTimestamp) {
        current.metadata.deletionTimestamp = timestamp();
        return this.store.replace(type.group, type.plural, current);
      }
      return current;
    }
    this.store.remove(type.group, type.plural, namespace, name);
    return success;
  }

  /**
   * A controller's write (the operator's): read, change, validate, store. Status and spec
   * may both change; invalid results throw, because they would be a simulator bug.
   */
  mutate(
    type: ResourceType,
    namespace: string,
    name: string,
    change: (object: KubeObject) => void,
  ): KubeObject | undefined {
    const current = this.store.get(type.group, type.plural, namespace, name);
    if (!current) return undefined;
    const version = current.apiVersion.split('/')[1] ?? storageVersion(type);
    const next = structuredClone(current);
    change(next);
    this.admit(type, version, next, { fieldValidation: 'Strict', dryRun: false });
    const statusSubresource = this.hasStatusSubresource(type, version);
    next.metadata.generation = nextGeneration(current, next, statusSubresource);
    return this.store.replace(type.group, type.plural, next);
  }

  hasStatusSubresource(type: ResourceType, version: string): boolean {
    return type.versions.find((v) => v.name === version)?.statusSubresource ?? false;
  }

  private apply(
    type: ResourceType,
    version: string,
    namespace: string,
    name: string,
    current: KubeObject | undefined,
    text: string,
    options: WriteOptions,
    subresource: Subresource,
  ): WriteResult {
    // Known shortcoming: server-side apply is approximated as a merge of the applied
    // configuration; field ownership (managedFields) and conflicts between managers are not
    // tracked, so removing a field from an applied manifest does not remove it here.
    if (!options.fieldManager) {
      throw invalid('PatchOptions', 'meta.k8s.io', '', [
        {
          reason: 'FieldValueRequired',
          message: 'Required value: is required for apply patch',
          field: 'fieldManager',
        },
      ]);
    }
    let applied: unknown;
    try {
      applied = YAML.parse(text);
    } catch (error) {
      throw badRequest(`error decoding YAML: ${(error as Error).message}`);
    }
    const object = asObject(applied);
    if (object.metadata.name !== name) {
      throw badRequest(
        `the name of the object (${object.metadata.name}) does not match the name on the URL (${name})`,
      );
    }
    if (!current) {
      if (subresource) throw notFound(type.plural, type.group, name);
      return this.create(type, version, namespace, object, options);
    }
    checkTypeMeta(object, type, version);
    const merged = asObject(applyMergePatch(present(current, type, version), object));
    merged.metadata.resourceVersion = current.metadata.resourceVersion;
    return this.replaceChecked(type, version, namespace, name, merged, options, subresource);
  }

  private replaceChecked(
    type: ResourceType,
    version: string,
    namespace: string,
    name: string,
    object: KubeObject,
    options: WriteOptions,
    subresource: Subresource,
  ): WriteResult {
    const current = this.store.get(type.group, type.plural, namespace, name);
    if (!current) throw notFound(type.plural, type.group, name);
    const metadata = object.metadata;
    if (metadata.name !== undefined && metadata.name !== name) {
      throw badRequest(
        `the name of the object (${String(metadata.name)}) does not match the name on the URL (${name})`,
      );
    }
    if (metadata.namespace !== undefined && metadata.namespace !== namespace) {
      throw badRequest(
        'the namespace of the provided object does not match the namespace sent on the request',
      );
    }
    if (metadata.resourceVersion !== current.metadata.resourceVersion) {
      throw conflict(type.plural, type.group, name);
    }
    if (metadata.uid !== undefined && metadata.uid !== current.metadata.uid) {
      throw conflict(type.plural, type.group, name);
    }

    let next: KubeObject = object;
    const statusSubresource = this.hasStatusSubresource(type, version);
    if (subresource === 'status') {
      next = { ...structuredClone(current), status: object.status };
      if (object.status === undefined) delete next.status;
    } else if (statusSubresource) {
      next.status = current.status;
      if (current.status === undefined) delete next.status;
    }
    next.apiVersion = `${type.group}/${version}`;
    next.metadata = {
      ...next.metadata,
      name,
      namespace,
      uid: current.metadata.uid,
      creationTimestamp: current.metadata.creationTimestamp,
      deletionTimestamp: current.metadata.deletionTimestamp,
      resourceVersion: current.metadata.resourceVersion,
    };
    if (next.metadata.deletionTimestamp === undefined) delete next.metadata.deletionTimestamp;

    const warnings = this.admit(type, version, next, options);
    next.metadata.generation = nextGeneration(current, next, statusSubresource);
    if (options.dryRun) return { object: present(next, type, version), warnings };
    if (next.metadata.deletionTimestamp && (next.metadata.finalizers ?? []).length === 0) {
      const removed = this.store.remove(type.group, type.plural, namespace, name)!;
      return { object: present(removed, type, version), warnings };
    }
    const stored = this.store.replace(type.group, type.plural, next);
    return { object: present(stored, type, version), warnings };
  }

  /**
   * Prunes, refuses (Strict) or warns about unknown fields, then validates.
   * Known shortcoming: a JSON body that repeats a key is not refused under Strict (Kubernetes
   * reports "duplicate field"), because JSON.parse keeps the last value silently.
   */
  private admit(
    type: ResourceType,
    version: string,
    object: KubeObject,
    options: WriteOptions,
  ): string[] {
    const schema = this.catalog.schema(type, version);
    const unknown = pruneUnknownFields(schema, object);
    if (unknown.length > 0 && options.fieldValidation === 'Strict') {
      throw badRequest(
        `${type.kind} in version "${version}" cannot be handled as a ${type.kind}: strict ` +
          `decoding error: ${unknown.map((u) => `unknown field "${u}"`).join(', ')}`,
      );
    }
    const causes = [
      ...validateObjectMeta(object.metadata),
      ...validateAgainstSchema(schema, object),
    ];
    if (causes.length > 0) {
      throw invalid(type.kind, type.group, String(object.metadata.name ?? ''), causes);
    }
    return options.fieldValidation === 'Ignore' ? [] : unknown.map((u) => `unknown field "${u}"`);
  }
}

/** The object as served under `version`. */
export function present(object: KubeObject, type: ResourceType, version: string): KubeObject {
  // Known shortcoming: no conversion between kubedb.com/v1 and v1alpha2. An object written
  // as one version is served as the other with only apiVersion changed, so fields that were
  // renamed between them (terminationPolicy -> deletionPolicy, podTemplate.spec.resources
  // -> containers[].resources) appear under the name they were written with.
  const copy = structuredClone(object);
  copy.apiVersion = `${type.group}/${version}`;
  copy.kind = type.kind;
  return copy;
}

export function storageVersion(type: ResourceType): string {
  return (type.versions.find((v) => v.storage) ?? type.versions[0])!.name;
}

function checkTypeMeta(object: KubeObject, type: ResourceType, version: string): void {
  const expected = `${type.group}/${version}`;
  if (!object.kind) {
    throw badRequest(`Object 'Kind' is missing in '${JSON.stringify(object).slice(0, 200)}'`);
  }
  if (object.apiVersion !== expected) {
    throw badRequest(
      `the API version in the data (${String(object.apiVersion)}) does not match the expected ` +
        `API version (${expected})`,
    );
  }
  if (object.kind !== type.kind) {
    throw badRequest(
      `the kind in the data (${object.kind}) does not match the expected kind (${type.kind})`,
    );
  }
}

function asObject(value: unknown): KubeObject {
  if (!isPlainObject(value)) throw badRequest('the body must be a JSON object');
  const object = value as KubeObject;
  if (object.metadata === undefined) object.metadata = {} as KubeObject['metadata'];
  if (!isPlainObject(object.metadata)) {
    throw badRequest(`${String(object.kind)}: metadata must be an object`);
  }
  return object;
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw badRequest(`couldn't decode the body as JSON: ${(error as Error).message}`);
  }
}

/** Only changes outside metadata (and outside status, when it is a subresource) count. */
function nextGeneration(old: KubeObject, next: KubeObject, statusSubresource: boolean): number {
  const strip = (o: KubeObject) => {
    const { metadata: _m, status, apiVersion: _a, kind: _k, ...rest } = o;
    return JSON.stringify(statusSubresource ? rest : { ...rest, status });
  };
  const generation = old.metadata.generation ?? 1;
  return strip(old) === strip(next) ? generation : generation + 1;
}

/** The same alphabet Kubernetes uses for generateName, which avoids vowels and look-alikes. */
function randomSuffix(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let suffix = '';
  for (let i = 0; i < 5; i += 1) suffix += alphabet[randomInt(alphabet.length)];
  return suffix;
}

function decodeContinue(token: string | null): number {
  if (!token) return 0;
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString()) as { offset?: number };
    if (typeof parsed.offset === 'number' && parsed.offset >= 0) return parsed.offset;
  } catch {
    // fall through
  }
  throw new ApiError(400, 'BadRequest', 'continue key is not valid');
}
