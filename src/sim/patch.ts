// The two patch formats the API server accepts for custom resources: JSON merge patch
// (RFC 7386) and JSON patch (RFC 6902). Strategic merge patch needs Go struct tags that
// custom resources do not have, so Kubernetes refuses it for them with 415, and so do we.

import { ApiError, badRequest } from './status.js';

export const MERGE_PATCH = 'application/merge-patch+json';
export const JSON_PATCH = 'application/json-patch+json';
export const STRATEGIC_MERGE_PATCH = 'application/strategic-merge-patch+json';
export const APPLY_PATCH = 'application/apply-patch+yaml';

export function unsupportedPatchType(contentType: string): ApiError {
  return new ApiError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: ` +
      `${JSON_PATCH}, ${MERGE_PATCH}, ${APPLY_PATCH}` +
      (contentType ? ` (got ${contentType})` : ''),
  );
}

export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const result: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key], value);
  }
  return result;
}

interface Operation {
  op: string;
  path: string;
  value?: unknown;
  from?: string;
}

export function applyJsonPatch(target: unknown, patch: unknown): unknown {
  if (!Array.isArray(patch)) {
    throw badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  }
  let doc = structuredClone(target);
  for (const raw of patch as Operation[]) {
    if (!isObject(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string') {
      throw badRequest('the server rejected our request due to an error in our request');
    }
    switch (raw.op) {
      case 'add':
        doc = put(doc, raw.path, structuredClone(raw.value), 'add');
        break;
      case 'replace':
        get(doc, raw.path);
        doc = put(doc, raw.path, structuredClone(raw.value), 'replace');
        break;
      case 'remove':
        doc = remove(doc, raw.path);
        break;
      case 'test':
        if (JSON.stringify(get(doc, raw.path)) !== JSON.stringify(raw.value)) {
          throw new ApiError(422, 'Invalid', `testing value ${raw.path} failed`);
        }
        break;
      case 'move': {
        const value = get(doc, raw.from ?? '');
        doc = put(remove(doc, raw.from ?? ''), raw.path, value, 'add');
        break;
      }
      case 'copy':
        doc = put(doc, raw.path, structuredClone(get(doc, raw.from ?? '')), 'add');
        break;
      default:
        throw badRequest(`Unexpected kind: ${raw.op}`);
    }
  }
  return doc;
}

function tokens(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw badRequest(`invalid JSON pointer: ${path}`);
  return path
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function get(doc: unknown, path: string): unknown {
  let node = doc;
  for (const token of tokens(path)) {
    if (Array.isArray(node)) node = node[Number(token)];
    else if (isObject(node) && Object.hasOwn(node, token)) node = node[token];
    else throw missing(path);
    if (node === undefined) throw missing(path);
  }
  return node;
}

function put(doc: unknown, path: string, value: unknown, mode: 'add' | 'replace'): unknown {
  const parts = tokens(path);
  if (parts.length === 0) return value;
  const last = parts.pop()!;
  const parent = get(doc, parts.length ? `/${parts.map(escape).join('/')}` : '');
  if (Array.isArray(parent)) {
    const index = last === '-' ? parent.length : Number(last);
    if (!Number.isInteger(index) || index < 0 || index > parent.length) throw missing(path);
    if (mode === 'add') parent.splice(index, 0, value);
    else parent[index] = value;
  } else if (isObject(parent)) {
    parent[last] = value;
  } else {
    throw missing(path);
  }
  return doc;
}

function remove(doc: unknown, path: string): unknown {
  const parts = tokens(path);
  const last = parts.pop();
  if (last === undefined) return undefined;
  const parent = get(doc, parts.length ? `/${parts.map(escape).join('/')}` : '');
  if (Array.isArray(parent)) {
    const index = Number(last);
    if (!(index >= 0 && index < parent.length)) throw missing(path);
    parent.splice(index, 1);
  } else if (isObject(parent) && Object.hasOwn(parent, last)) {
    delete parent[last];
  } else {
    throw missing(path);
  }
  return doc;
}

function escape(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

function missing(path: string): ApiError {
  return new ApiError(422, 'Invalid', `the server rejected our request: missing path ${path}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
