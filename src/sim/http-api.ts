// The Kubernetes REST routes the simulator serves, as client-node 1.x calls them:
// discovery, and get/list/watch/create/update/patch/delete (plus the status subresource) on
// /apis/{group}/{version}[/namespaces/{ns}]/{plural}[/{name}[/status]]. Every request is
// counted, may be slowed or failed by the fault knobs, and gets a Status body on error.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import YAML from 'yaml';
import type { CrdCatalog, ResourceType } from './crd-catalog.js';
import * as discovery from './discovery.js';
import type { FaultKind, FaultPlan, Verb } from './faults.js';
import { parseLabelSelector } from './label-selector.js';
import { type FieldValidation, type Resources, type WriteOptions, parseJson } from './resources.js';
import { ApiError, badRequest, resourceNotFound, type StatusBody } from './status.js';
import type { StatsCounter } from './stats.js';
import type { WatchHub } from './watch.js';

export interface ApiContext {
  catalog: CrdCatalog;
  resources: Resources;
  watches: WatchHub;
  stats: StatsCounter;
  faults: FaultPlan;
  token: string;
  address: () => string;
  logger: Logger;
}

const MAX_BODY_BYTES = 8 * 1024 * 1024;

type Route =
  | { verb: Verb; kind: string; document: () => object | undefined }
  | {
      verb: Verb;
      kind: string;
      type: ResourceType;
      version: string;
      namespace?: string;
      name?: string;
      subresource?: 'status';
    };

export function createApiHandler(ctx: ApiContext) {
  return async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    try {
      if (req.headers.authorization !== `Bearer ${ctx.token}`) {
        throw new ApiError(401, 'Unauthorized', 'Unauthorized');
      }
      const route = resolve(ctx, req.method ?? 'GET', url);
      ctx.stats.count(route.verb, route.kind);
      const faults = ctx.faults.get();
      if (faults.latencyMs > 0) await sleep(faults.latencyMs);
      const fault = ctx.faults.forRequest(route.verb);
      if (fault !== undefined) {
        ctx.stats.fault(String(fault));
        if (fault === 'reset') {
          req.socket.destroy();
          return;
        }
        throw injected(fault, route, faults.retryAfterSeconds);
      }
      if ('document' in route) {
        const document = route.document();
        if (!document) throw resourceNotFound();
        send(res, 200, document);
        return;
      }
      await serveResource(ctx, route, req, res, url);
    } catch (error) {
      sendError(res, error, ctx.logger);
    }
  };
}

function resolve(ctx: ApiContext, method: string, url: URL): Route {
  const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const readOnly = (document: () => object | undefined, kind = 'discovery'): Route => {
    if (method !== 'GET') throw methodNotAllowed(method);
    return { verb: 'get', kind, document };
  };
  const [root, a, b, c, d, e, f, g] = parts;
  if (root === 'version' && parts.length === 1) return readOnly(() => discovery.SERVER_VERSION);
  if (root === 'api') {
    if (parts.length === 1) return readOnly(() => discovery.apiVersions(ctx.address()));
    if (a === 'v1' && parts.length === 2) return readOnly(() => discovery.coreResources());
    if (a === 'v1' && b === 'namespaces' && parts.length === 4) {
      return readOnly(() => discovery.namespace(c!), 'Namespace');
    }
    throw resourceNotFound();
  }
  if (root !== 'apis') throw resourceNotFound();
  if (parts.length === 1) return readOnly(() => discovery.groupList(ctx.catalog));
  if (parts.length === 2) return readOnly(() => discovery.group(ctx.catalog, a!));
  if (parts.length === 3) return readOnly(() => discovery.resourceList(ctx.catalog, a!, b!));

  const group = a!;
  const version = b!;
  let namespace: string | undefined;
  let plural: string;
  let rest: string[];
  if (c === 'namespaces' && parts.length >= 6) {
    namespace = d!;
    plural = e!;
    rest = [f, g].filter((x): x is string => x !== undefined);
  } else {
    plural = c!;
    rest = parts.slice(4);
  }
  const type = ctx.catalog.find(group, plural);
  if (!type || !type.versions.some((v) => v.served && v.name === version)) {
    throw resourceNotFound();
  }
  if (parts.length > (namespace !== undefined ? 8 : 4)) throw resourceNotFound();
  const [name, subresource] = rest;
  if (subresource !== undefined && subresource !== 'status') throw resourceNotFound();
  if (namespace === undefined && name !== undefined) throw resourceNotFound();
  const base = { kind: type.kind, type, version, namespace, name, subresource } as const;
  const watching = ['true', '1'].includes(url.searchParams.get('watch') ?? '');
  if (name === undefined) {
    if (method === 'GET') return { ...base, verb: watching ? 'watch' : 'list' };
    if (method === 'POST' && namespace !== undefined) return { ...base, verb: 'create' };
    if (method === 'DELETE' && namespace !== undefined) return { ...base, verb: 'delete' };
    throw methodNotAllowed(method);
  }
  const verbs: Record<string, Verb> = {
    GET: 'get',
    PUT: 'update',
    PATCH: 'patch',
    DELETE: 'delete',
  };
  const verb = verbs[method];
  if (!verb || (subresource && verb === 'delete')) throw methodNotAllowed(method);
  return { ...base, verb };
}

async function serveResource(
  ctx: ApiContext,
  route: Extract<Route, { type: ResourceType }>,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const { type, version, namespace, name, subresource } = route;
  const q = url.searchParams;
  const resources = ctx.resources;
  switch (route.verb) {
    case 'get':
      send(res, 200, resources.get(type, version, namespace!, name!));
      return;
    case 'list': {
      const limit = q.get('limit');
      const result = resources.list(type, version, namespace, {
        labelSelector: q.get('labelSelector'),
        fieldSelector: q.get('fieldSelector'),
        limit: limit ? Number(limit) : undefined,
        continue: q.get('continue'),
      });
      send(res, 200, {
        apiVersion: `${type.group}/${version}`,
        kind: type.listKind,
        metadata: {
          resourceVersion: result.resourceVersion,
          ...(result.continueToken
            ? { continue: result.continueToken, remainingItemCount: result.remaining }
            : {}),
        },
        items: result.items,
      });
      return;
    }
    case 'watch': {
      const timeout = q.get('timeoutSeconds');
      ctx.watches.start(
        {
          type,
          version,
          namespace,
          labelSelector: q.get('labelSelector'),
          fieldSelector: q.get('fieldSelector'),
          resourceVersion: q.get('resourceVersion'),
          allowBookmarks: q.get('allowWatchBookmarks') === 'true',
          sendInitialEvents: q.get('sendInitialEvents') === 'true',
          timeoutSeconds: timeout ? Number(timeout) : undefined,
        },
        res,
      );
      return;
    }
    case 'create': {
      const body = parseBody(req, await readBody(req));
      const result = resources.create(type, version, namespace!, body, writeOptions(q));
      if (!writeOptions(q).dryRun && type.group === 'ops.kubedb.com') ctx.stats.opsRequestCreated();
      send(res, 201, result.object, result.warnings);
      return;
    }
    case 'update': {
      const body = parseBody(req, await readBody(req));
      const result = resources.update(
        type,
        version,
        namespace!,
        name!,
        body,
        writeOptions(q),
        subresource,
      );
      send(res, 200, result.object, result.warnings);
      return;
    }
    case 'patch': {
      const text = await readBody(req);
      const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
      const result = resources.patch(
        type,
        version,
        namespace!,
        name!,
        contentType,
        text,
        writeOptions(q),
        subresource,
      );
      send(res, result.created ? 201 : 200, result.object, result.warnings);
      return;
    }
    case 'delete': {
      const text = await readBody(req);
      const options = (text.trim() ? parseJson(text) : {}) as {
        preconditions?: { resourceVersion?: string; uid?: string };
        dryRun?: string[];
      };
      const dryRun = q.get('dryRun') === 'All' || (options.dryRun ?? []).includes('All');
      if (name === undefined) {
        const selector = parseLabelSelector(q.get('labelSelector'));
        const items = resources.store
          .list(type.group, type.plural, namespace)
          .filter((o) => selector(o.metadata.labels ?? {}));
        for (const item of items)
          resources.delete(type, namespace!, item.metadata.name, {}, dryRun);
        send(res, 200, {
          apiVersion: `${type.group}/${version}`,
          kind: type.listKind,
          metadata: {},
          items,
        });
        return;
      }
      send(res, 200, resources.delete(type, namespace!, name, options.preconditions, dryRun));
      return;
    }
  }
}

function writeOptions(q: URLSearchParams): WriteOptions {
  const given = q.get('fieldValidation');
  // The API server's default since Kubernetes 1.27 is Warn: unknown fields are dropped and
  // named in Warning headers, which is exactly how a typo goes unnoticed.
  const fieldValidation = (given ?? 'Warn') as FieldValidation;
  if (!['Strict', 'Warn', 'Ignore'].includes(fieldValidation)) {
    throw badRequest(
      `fieldValidation: Unsupported value: "${given}": supported values: "Ignore", "Warn", "Strict"`,
    );
  }
  const dryRun = q.get('dryRun');
  if (dryRun !== null && dryRun !== 'All') {
    throw badRequest(`dryRun: Unsupported value: "${dryRun}": supported values: "All"`);
  }
  return {
    fieldValidation,
    dryRun: dryRun === 'All',
    fieldManager: q.get('fieldManager') ?? undefined,
  };
}

function parseBody(req: IncomingMessage, text: string): unknown {
  const contentType = (req.headers['content-type'] ?? 'application/json').split(';')[0]!.trim();
  if (contentType === 'application/json' || contentType === '') return parseJson(text);
  if (contentType === 'application/yaml') {
    try {
      return YAML.parse(text) as unknown;
    } catch (error) {
      throw badRequest(`couldn't decode the body as YAML: ${(error as Error).message}`);
    }
  }
  throw new ApiError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: ` +
      `application/json, application/yaml (got ${contentType})`,
  );
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) {
      throw new ApiError(413, 'RequestEntityTooLarge', 'the request body is too large');
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function injected(fault: Exclude<FaultKind, 'reset'>, route: Route, retryAfter: number): ApiError {
  switch (fault) {
    case 429:
      return new ApiError(
        429,
        'TooManyRequests',
        'Too many requests, please try again later.',
        { retryAfterSeconds: retryAfter },
        { 'Retry-After': String(retryAfter) },
      );
    case 503:
      return new ApiError(
        503,
        'ServiceUnavailable',
        'the server is currently unable to handle the request (injected by the simulator)',
      );
    case 403: {
      const what = 'type' in route ? `${route.type.plural}.${route.type.group}` : 'this resource';
      return new ApiError(
        403,
        'Forbidden',
        `${what} is forbidden: User "system:serviceaccount:dbaas:worker" cannot ${route.verb} ` +
          `resource "${what}" (injected by the simulator)`,
      );
    }
    case 500:
      return new ApiError(
        500,
        'InternalError',
        'Internal error occurred: injected by the simulator',
      );
  }
}

function methodNotAllowed(method: string): ApiError {
  return new ApiError(
    405,
    'MethodNotAllowed',
    `the server does not allow this method on the requested resource (${method})`,
  );
}

export function send(
  res: ServerResponse,
  code: number,
  body: unknown,
  warnings: string[] = [],
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  const all: Record<string, string | string[]> = {
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(text)),
    ...headers,
  };
  if (warnings.length > 0) {
    all.Warning = warnings.map((w) => `299 - ${JSON.stringify(w)}`);
  }
  res.writeHead(code, all);
  res.end(text);
}

export function sendError(res: ServerResponse, error: unknown, logger: Logger): void {
  if (error instanceof ApiError) {
    send(res, error.code, error.toStatus(), [], error.headers);
    return;
  }
  logger.error({ err: error }, 'sim_request_failed');
  const status: StatusBody = {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `Internal error occurred: ${(error as Error).message}`,
    reason: 'InternalError',
    code: 500,
  };
  send(res, 500, status);
}
