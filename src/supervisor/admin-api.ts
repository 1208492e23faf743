// The supervisor's HTTP face: health probes, /metrics, and a small JSON admin API under /v1.
// Reading is open; anything that changes state needs the ADMIN_TOKEN bearer token, and with
// no token configured those routes answer 403 rather than running unprotected.
//
// The server is returned ready but not listening: the supervisor decides where it listens.

import { createHash, timingSafeEqual } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import swagger from '@fastify/swagger';
import { Ajv } from 'ajv';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { DocumentValidationError, WorkerError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { AdminBackend, ReadyView } from './admin-backend.js';
import { AdminError } from './admin-errors.js';
import {
  BODY_LIMIT_BYTES,
  noBody,
  OPERATION_ID_HINT,
  OPERATION_ID_PATTERN,
  routeSchemas,
} from './admin-schemas.js';
import { storedValueSerializer } from './admin-serializer.js';
import type { Metrics } from './metrics.js';
import { TimeoutElapsedError, withTimeout } from './with-timeout.js';

export interface AdminServerOptions {
  backend: AdminBackend;
  metrics: Metrics;
  /** Bearer token for changing routes; null or empty disables them. */
  adminToken: string | null | undefined;
  logger?: Logger;
  /** How long /readyz waits for the backend before answering 503. */
  readyTimeoutMs?: number;
}

// Unknown fields are an error, not silently stripped: a typo in `priority` must not queue an
// operation with the default priority. Only the URL's parts, which are strings by nature, are
// coerced to the declared types; a body must already be typed (`"priority": true` is not 1).
// allErrors stays off: collecting every error of a hostile input costs unbounded time.
const urlValidator = new Ajv({ coerceTypes: 'array', useDefaults: true, allErrors: false });
const bodyValidator = new Ajv({ coerceTypes: false, useDefaults: true, allErrors: false });

/** Keys dropped from any document before it is serialized, at any depth. */
const SECRET_KEYS = new Set(['kubeconfig_content', 'kubeconfig', 'password', 'token']);

interface IdParams {
  id: string;
}

export async function buildAdminServer(options: AdminServerOptions): Promise<FastifyInstance> {
  const { backend, metrics } = options;
  const readyTimeoutMs = options.readyTimeoutMs ?? 2_000;
  const logger = options.logger?.child({ component: 'admin_api' });

  const app = Fastify({
    // pino's Logger and Fastify's logger type differ only in generics; the object is the same.
    ...(logger ? { loggerInstance: logger as FastifyBaseLogger } : { logger: false }),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    // The router rejects some URLs before any route runs; answer those in the same shape.
    frameworkErrors: (error, request, reply) => handleError(error, request, reply),
    // Node's HTTP parser rejects some requests (headers too large, a broken request line)
    // before Fastify sees them; answer those in the same shape too.
    clientErrorHandler: answerClientError,
  });

  acceptEmptyJsonBodies(app);
  app.setSerializerCompiler(({ schema }) => storedValueSerializer(schema));
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? bodyValidator : urlValidator).compile(schema),
  );
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!.slice(0, 200);
    const error = new AdminError(
      'ROUTE_NOT_FOUND',
      `no route ${request.method} ${path}; GET /openapi.json lists the admin API`,
    );
    return reply.code(error.statusCode).send(error.body());
  });
  app.addHook('onResponse', async (request, reply) => {
    request.log.debug(
      {
        method: request.method,
        route: request.routeOptions.url ?? null,
        statusCode: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'admin_request',
    );
  });

  await app.register(swagger, {
    transformObject: (document) =>
      optionalBodies('openapiObject' in document ? document.openapiObject : {}),
    openapi: {
      info: {
        title: 'dbaas-worker admin API',
        description: 'Health, metrics, actors, queue and operations of one dbaas-worker',
        version: '1',
      },
      components: {
        securitySchemes: {
          adminToken: {
            type: 'http',
            scheme: 'bearer',
            description: 'ADMIN_TOKEN; without it configured, changing routes answer 403',
          },
        },
      },
    },
  });

  const requireToken = tokenGuard(options.adminToken ?? null);

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.get('/healthz', { schema: routeSchemas.healthz }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: routeSchemas.readyz }, async (request, reply) => {
    let checks: ReadyView;
    try {
      checks = await withTimeout(backend.ready(), readyTimeoutMs, 'readiness check');
    } catch (error) {
      request.log.warn({ err: error }, 'admin_ready_check_failed');
      const reason = error instanceof TimeoutElapsedError ? error.message : 'it failed';
      return reply.code(503).send({
        ready: false,
        checks: { redis: false, mongodb: false, pool: false },
        notReady: ['redis', 'mongodb', 'pool'],
        message: `readiness check did not complete: ${reason}`,
      });
    }
    const notReady = (['redis', 'mongodb', 'pool'] as const).filter((name) => !checks[name]);
    if (notReady.length === 0) return { ready: true, checks, notReady };
    return reply
      .code(503)
      .send({ ready: false, checks, notReady, message: `not ready: ${notReady.join(', ')}` });
  });

  app.get('/metrics', { schema: routeSchemas.metrics }, async (_request, reply) => {
    const text = await metrics.text();
    return reply.type(metrics.contentType).send(text);
  });

  app.get('/v1/actors', { schema: routeSchemas.actors }, async () => {
    const actors = backend.actors();
    return { workerId: backend.workerId, count: actors.length, actors };
  });

  app.get('/v1/queue', { schema: routeSchemas.queue }, async () => backend.queue());

  app.get<{ Params: IdParams }>(
    '/v1/operations/:id',
    { schema: routeSchemas.operation },
    async (request) => {
      const document = await backend.operation(request.params.id);
      if (!document) throw operationNotFound(request.params.id);
      return withoutSecrets(document);
    },
  );

  app.post<{ Params: IdParams; Body: { priority?: number } | null }>(
    '/v1/operations/:id/enqueue',
    { schema: routeSchemas.enqueue, onRequest: requireToken },
    async (request) => {
      const { id } = request.params;
      const result = await backend.enqueue(id, request.body?.priority ?? undefined);
      if (result === 'not_found') throw operationNotFound(id);
      if (result === 'final') {
        throw new AdminError(
          'OPERATION_FINAL',
          `operation ${id} already reached a final status and cannot run again; ` +
            'create a new operation instead',
        );
      }
      request.log.info({ operationId: id, result }, 'admin_operation_enqueued');
      return { operationId: id, result };
    },
  );

  app.post<{ Params: IdParams }>(
    '/v1/operations/:id/cancel',
    { schema: routeSchemas.cancel, onRequest: requireToken },
    async (request) => {
      const { id } = request.params;
      const result = await backend.cancel(id);
      if (result === 'not_found') throw operationNotFound(id);
      if (result === 'final') {
        throw new AdminError(
          'OPERATION_FINAL',
          `operation ${id} already reached a final status; there is nothing to cancel`,
        );
      }
      request.log.info({ operationId: id }, 'admin_operation_cancelled');
      return { operationId: id, result };
    },
  );

  app.get<{ Querystring: { limit: number } }>(
    '/v1/dead-letters',
    { schema: routeSchemas.deadLetters },
    async (request) => {
      const [deadLetters, queue] = await Promise.all([
        backend.deadLetters(request.query.limit),
        backend.queue(),
      ]);
      // Two reads, not one snapshot: a letter added between them must not make total < count.
      return {
        count: deadLetters.length,
        total: Math.max(queue.dead, deadLetters.length),
        deadLetters,
      };
    },
  );

  app.post<{ Params: IdParams }>(
    '/v1/dead-letters/:id/retry',
    { schema: routeSchemas.retryDead, onRequest: requireToken },
    async (request) => {
      const { id } = request.params;
      const result = await backend.retryDead(id);
      if (result === 'not_found') {
        throw new AdminError(
          'DEAD_LETTER_NOT_FOUND',
          `operation ${id} is not dead-lettered; GET /v1/dead-letters lists those that are`,
        );
      }
      request.log.info({ operationId: id }, 'admin_dead_letter_retried');
      return { operationId: id, result };
    },
  );

  app.post(
    '/v1/pause',
    { schema: routeSchemas.pause, onRequest: requireToken },
    async (request) => {
      backend.pause();
      request.log.info('admin_paused');
      return { paused: backend.paused() };
    },
  );

  app.post(
    '/v1/resume',
    { schema: routeSchemas.resume, onRequest: requireToken },
    async (request) => {
      backend.resume();
      request.log.info('admin_resumed');
      return { paused: backend.paused() };
    },
  );

  app.post<{ Params: { threadId: number } }>(
    '/v1/threads/:threadId/recycle',
    { schema: routeSchemas.recycleThread, onRequest: requireToken },
    async (request) => {
      const { threadId } = request.params;
      const recycled = await backend.recycleThread(threadId);
      if (!recycled) {
        throw new AdminError(
          'THREAD_NOT_FOUND',
          `no pool thread has the id ${threadId}; GET /v1/actors shows the thread of each actor`,
        );
      }
      request.log.info({ threadId }, 'admin_thread_recycled');
      return { threadId, recycled };
    },
  );

  app.get('/v1/status', { schema: routeSchemas.status }, async () => ({
    workerId: backend.workerId,
    paused: backend.paused(),
    inFlight: backend.actors().length,
  }));

  await app.ready();
  return app;
}

function operationNotFound(id: string): AdminError {
  return new AdminError('OPERATION_NOT_FOUND', `no operation has the id ${id}`);
}

/**
 * The guard of changing routes. It runs before the body is read, so an unauthenticated
 * client cannot make the server parse anything. Tokens are compared as SHA-256 digests with
 * timingSafeEqual: equal lengths whatever was sent, and no early exit to time.
 */
function tokenGuard(adminToken: string | null) {
  const expected = adminToken ? createHash('sha256').update(adminToken).digest() : null;

  return async function requireToken(request: FastifyRequest, reply: FastifyReply) {
    if (!expected) {
      throw new AdminError(
        'ADMIN_DISABLED',
        'routes that change anything are disabled because ADMIN_TOKEN is not set; ' +
          'set ADMIN_TOKEN (16 or more characters) on the worker to enable them',
      );
    }
    const match = /^Bearer +(\S+) *$/i.exec(request.headers.authorization ?? '');
    const given = createHash('sha256')
      .update(match?.[1] ?? '')
      .digest();
    if (!timingSafeEqual(given, expected) || !match) {
      request.log.warn(
        { route: request.routeOptions.url, remoteAddress: request.ip },
        'admin_auth_rejected',
      );
      reply.header('www-authenticate', 'Bearer realm="dbaas-worker"');
      throw new AdminError(
        'UNAUTHORIZED',
        match
          ? 'the bearer token is wrong'
          : 'this route needs the header Authorization: Bearer <ADMIN_TOKEN>',
      );
    }
  };
}

/**
 * @fastify/swagger marks every request body as required, but a body schema that allows null
 * (enqueue's) means the body may be left out entirely.
 */
function optionalBodies<T>(openapiObject: T): T {
  const paths = (openapiObject as { paths?: Record<string, Record<string, unknown>> }).paths;
  for (const methods of Object.values(paths ?? {})) {
    for (const operation of Object.values(methods)) {
      const body = (operation as { requestBody?: OpenApiBody }).requestBody;
      if (body?.content?.['application/json']?.schema?.nullable) body.required = false;
    }
  }
  return openapiObject;
}

interface OpenApiBody {
  required?: boolean;
  content?: Record<string, { schema?: { nullable?: boolean } }>;
}

/**
 * Lets a POST carry `Content-Type: application/json` with no body at all, as curl and load
 * tools often send, while keeping Fastify's own parser (and its prototype-poisoning checks)
 * for every body that has content.
 */
function acceptEmptyJsonBodies(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  // JSON only: a text/plain body gets 415 rather than a confusing "must be object".
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (typeof body === 'string' && body.trim() === '') {
      done(null, undefined);
      return;
    }
    parseJson(request, body as string, (error, parsed) => {
      if (error && isJson(body as string)) {
        // Valid JSON the safe parser still refused: it has a key that could poison prototypes.
        done(
          new AdminError(
            'FORBIDDEN_KEY',
            'the request body has a __proto__ or constructor.prototype key, which is refused ' +
              'for safety; no admin route takes such a field, so leave it out',
          ),
          undefined,
        );
        return;
      }
      done(error, parsed);
    });
  });
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Fastify's error codes of Node's HTTP parser, and what the client must change. */
const CLIENT_ERRORS: Record<string, AdminError> = {
  HPE_HEADER_OVERFLOW: new AdminError(
    'HEADERS_TOO_LARGE',
    'the request line and headers are larger than the server accepts (16 KiB by default); ' +
      'send a shorter URL and fewer or smaller headers',
  ),
  ERR_HTTP_REQUEST_TIMEOUT: new AdminError(
    'REQUEST_TIMEOUT',
    'the request did not arrive in time; send it again',
  ),
};

/**
 * Answers a request Node's HTTP parser rejected, as Fastify's default handler does (one
 * answer, then the connection is closed) but in the admin API's `{error, message}` shape.
 */
function answerClientError(this: FastifyInstance, error: NodeJS.ErrnoException, socket: Socket) {
  // A reset connection has nobody left to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const answer =
    CLIENT_ERRORS[error.code ?? ''] ??
    new AdminError(
      'REQUEST_REJECTED',
      'the HTTP request is malformed (its request line, headers or framing); ' +
        'send a well-formed HTTP/1.1 request',
    );
  this.log.debug({ code: error.code }, 'admin_client_error');
  if (socket.writable) {
    const body = JSON.stringify(answer.body());
    socket.write(
      `HTTP/1.1 ${answer.statusCode} ${STATUS_CODES[answer.statusCode]}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n' +
        body,
    );
  }
  socket.destroy(error);
}

function handleError(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const answer = toAdminError(error, request);
  if (answer.statusCode >= 500) {
    request.log.error({ err: error, route: request.routeOptions.url }, 'admin_request_failed');
  }
  return reply.code(answer.statusCode).send(answer.body());
}

function toAdminError(error: FastifyError, request: FastifyRequest): AdminError {
  if (error instanceof AdminError) return error;

  if (error.validation && error.validation.length > 0) {
    if (error.validationContext === 'body' && request.routeOptions.schema?.body === noBody) {
      return new AdminError(
        'INVALID_INPUT',
        `${request.method} ${request.routeOptions.url} takes no body; send none, or {}`,
      );
    }
    return new AdminError('INVALID_INPUT', describeValidation(error));
  }

  switch (error.code) {
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new AdminError(
        'INVALID_INPUT',
        `a path parameter is too long; expected ${OPERATION_ID_HINT}`,
      );
    case 'FST_ERR_BAD_URL':
      return new AdminError('REQUEST_REJECTED', 'the URL has malformed percent-encoding');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AdminError(
        'BODY_TOO_LARGE',
        `the request body is larger than ${BODY_LIMIT_BYTES} bytes; ` +
          'admin routes take a few small JSON fields at most',
      );
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AdminError(
        'UNSUPPORTED_MEDIA_TYPE',
        `content type ${JSON.stringify(request.headers['content-type'] ?? '')} is not ` +
          'accepted; send the body as application/json',
      );
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AdminError('INVALID_JSON', 'the request body is not valid JSON');
  }

  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    // Other client faults Fastify detects itself (bad content-length, bad URL encoding).
    return new AdminError('REQUEST_REJECTED', error.message);
  }

  // A document the platform wrote wrong is the caller's to fix, not a fault of the worker.
  if (error instanceof DocumentValidationError) {
    return new AdminError('OPERATION_INVALID', error.describe());
  }

  if (error instanceof TimeoutElapsedError || (error instanceof WorkerError && error.retryable)) {
    return new AdminError(
      'DEPENDENCY_UNAVAILABLE',
      'Redis or MongoDB did not answer in time; try again shortly',
    );
  }

  return new AdminError(
    'INTERNAL_ERROR',
    `internal error in request ${request.id}; the worker's log has the details`,
  );
}

/** The first validation problem, in words: where it is and what is expected there. */
function describeValidation(error: FastifyError): string {
  const problem = error.validation![0]!;
  const where = `${error.validationContext ?? 'request'}${problem.instancePath}`;
  const params = problem.params as Record<string, unknown>;

  if (problem.keyword === 'pattern' && params.pattern === OPERATION_ID_PATTERN) {
    return `${where} must be ${OPERATION_ID_HINT}`;
  }
  if (problem.keyword === 'type' && String(params.type).split(',').includes('object')) {
    return `${where} must be a JSON object`;
  }
  if (problem.keyword === 'additionalProperty' || problem.keyword === 'additionalProperties') {
    return `${where} has an unknown field '${String(params.additionalProperty)}'`;
  }
  return `${where} ${problem.message ?? 'is not valid'}`;
}

/** A copy of a JSON document without any secret-named key, at any depth. */
export function withoutSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutSecrets);
  if (value === null || typeof value !== 'object' || value instanceof Date) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => !SECRET_KEYS.has(key))
      .map(([key, inner]) => [key, withoutSecrets(inner)]),
  );
}
