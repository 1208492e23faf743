// JSON schemas of every admin route's input and output. Fastify validates input with them and
// serializes output through them, and the OpenAPI document is generated from them: one source.
// Output schemas list fields explicitly with `additionalProperties: false`, so a field nobody
// declared here (a provider's kubeconfig, a claim token) can never reach a response. Their
// types describe the contract, not a promise: stored values are answered as they are stored
// (admin-serializer.ts), so a document the platform wrote wrong can still be read.

import { ADMIN_ERRORS } from './admin-errors.js';
import { OPERATION_STATUSES, OPERATION_TYPES } from '../shared/types.js';

export const OPERATION_ID_PATTERN = '^op-[0-9a-f]{12}$';
export const OPERATION_ID_HINT =
  "an operation id: 'op-' followed by 12 lowercase hex digits, e.g. op-0123456789ab";

/** Largest request body, in bytes: the admin API only takes a few small fields. */
export const BODY_LIMIT_BYTES = 16 * 1024;

export const DEAD_LETTER_LIMIT_DEFAULT = 100;
export const DEAD_LETTER_LIMIT_MAX = 1000;

const nullableString = { type: ['string', 'null'] } as const;
const nullableDate = { type: ['string', 'null'], format: 'date-time' } as const;
const nullableInteger = { type: ['integer', 'null'] } as const;

export const errorBody = {
  type: 'object',
  description: 'An error; `error` is a stable code from the catalog, `message` says what to do',
  properties: {
    error: { type: 'string', enum: Object.keys(ADMIN_ERRORS) },
    message: { type: 'string' },
  },
  required: ['error', 'message'],
  additionalProperties: false,
} as const;

/** Every route answers errors with the same body. */
const errorResponses = { '4xx': errorBody, '5xx': errorBody } as const;

export const operationIdParams = {
  type: 'object',
  properties: {
    id: { type: 'string', pattern: OPERATION_ID_PATTERN, description: OPERATION_ID_HINT },
  },
  required: ['id'],
  additionalProperties: false,
} as const;

export const actorView = {
  type: 'object',
  properties: {
    operationId: { type: 'string' },
    databaseId: nullableString,
    type: nullableString,
    thread: nullableInteger,
    startedAt: { type: 'string', format: 'date-time' },
    step: nullableString,
    progress: { type: 'number' },
    message: nullableString,
    restarts: { type: 'integer' },
  },
  required: ['operationId', 'startedAt', 'progress', 'restarts'],
  additionalProperties: false,
} as const;

export const queueView = {
  type: 'object',
  properties: {
    pending: { type: 'integer', description: 'ready to be claimed (operations:pending)' },
    delayed: { type: 'integer', description: 'waiting for a retry delay or a busy database' },
    processing: { type: 'integer', description: 'in operations:processing' },
    leased: { type: 'integer', description: 'claimed by a worker under a lease' },
    dead: { type: 'integer', description: 'dead-lettered, waiting for an operator' },
  },
  required: ['pending', 'delayed', 'processing', 'leased', 'dead'],
  additionalProperties: false,
} as const;

const readyChecks = {
  type: 'object',
  properties: {
    redis: { type: 'boolean' },
    mongodb: { type: 'boolean' },
    pool: { type: 'boolean' },
  },
  required: ['redis', 'mongodb', 'pool'],
  additionalProperties: false,
} as const;

const readyBody = {
  type: 'object',
  properties: {
    ready: { type: 'boolean' },
    checks: readyChecks,
    notReady: { type: 'array', items: { type: 'string' } },
    message: { type: 'string' },
  },
  required: ['ready', 'checks', 'notReady'],
  additionalProperties: false,
} as const;

/**
 * The operation document as the platform writes it (see DESIGN.md, "Data contract"), plus the
 * worker's own `worker_state` without its claim token. A field the platform adds later is left
 * out until it is declared here.
 */
export const operationDocument = {
  type: 'object',
  properties: {
    _id: { type: 'string' },
    database_id: nullableString,
    type: { type: 'string', enum: OPERATION_TYPES },
    desired_state: {
      type: ['object', 'null'],
      description:
        'what the operation asks for; fields depend on the type. Answered as stored, even a ' +
        'field of the wrong type (the worker fails such an operation, naming the field)',
      properties: {
        size: nullableString,
        replicas: nullableInteger,
        storage_gb: { type: ['number', 'null'] },
        target_version: nullableString,
      },
      additionalProperties: true,
    },
    status: { type: 'string', enum: OPERATION_STATUSES },
    progress: { type: 'number' },
    message: nullableString,
    ops_request_name: nullableString,
    ops_request_uid: nullableString,
    ops_request_phase: nullableString,
    created_at: nullableDate,
    started_at: nullableDate,
    completed_at: nullableDate,
    estimated_completion_at: nullableDate,
    error_message: nullableString,
    retry_count: nullableInteger,
    max_retries: nullableInteger,
    created_by: nullableString,
    domain: nullableString,
    project: nullableString,
    worker_state: {
      type: ['object', 'null'],
      properties: {
        step: nullableString,
        worker_id: nullableString,
        restarts: nullableInteger,
        attempt: nullableInteger,
        updated_at: nullableDate,
      },
      additionalProperties: false,
    },
  },
  required: ['_id'],
  additionalProperties: false,
} as const;

const operationResult = (results: readonly string[]) =>
  ({
    type: 'object',
    properties: {
      operationId: { type: 'string' },
      result: { type: 'string', enum: results },
    },
    required: ['operationId', 'result'],
    additionalProperties: false,
  }) as const;

const pausedBody = {
  type: 'object',
  properties: { paused: { type: 'boolean' } },
  required: ['paused'],
  additionalProperties: false,
} as const;

const changing = { security: [{ adminToken: [] }] } as const;

/**
 * The body of a changing route that takes no input: none, an empty one, `{}` or `null`.
 * Anything else is refused, so a caller who thinks the route takes options learns it does not.
 * The type check comes first and fails at once, however deep a nested array is.
 */
export const noBody = {
  type: ['object', 'null'],
  description: 'this route takes no body; send none, or {}',
  properties: {},
  additionalProperties: false,
} as const;

export const routeSchemas = {
  healthz: {
    tags: ['health'],
    summary: 'Liveness: 200 while the event loop runs',
    response: {
      200: {
        type: 'object',
        properties: { status: { type: 'string', enum: ['ok'] } },
        required: ['status'],
        additionalProperties: false,
      },
      ...errorResponses,
    },
  },
  readyz: {
    tags: ['health'],
    summary: 'Readiness: 200 when Redis, MongoDB and the actor pool are ready, else 503',
    response: { 200: readyBody, 503: readyBody, ...errorResponses },
  },
  metrics: {
    tags: ['metrics'],
    summary: 'Prometheus metrics in the text exposition format',
    produces: ['text/plain'],
    response: {
      200: { type: 'string', description: 'Prometheus text format 0.0.4' },
      ...errorResponses,
    },
  },
  actors: {
    tags: ['actors'],
    summary: 'Actors in flight: which operation each runs, where, since when, how far',
    response: {
      200: {
        type: 'object',
        properties: {
          workerId: { type: 'string' },
          count: { type: 'integer' },
          actors: { type: 'array', items: actorView },
        },
        required: ['workerId', 'count', 'actors'],
        additionalProperties: false,
      },
      ...errorResponses,
    },
  },
  queue: {
    tags: ['queue'],
    summary: 'Queue sizes: pending, delayed, processing, leased, dead',
    response: { 200: queueView, ...errorResponses },
  },
  operation: {
    tags: ['operations'],
    summary: 'One operation document',
    params: operationIdParams,
    response: { 200: operationDocument, ...errorResponses },
  },
  enqueue: {
    tags: ['operations'],
    summary: 'Queue an existing operation that is not final (idempotent)',
    ...changing,
    params: operationIdParams,
    body: {
      type: ['object', 'null'],
      properties: {
        priority: {
          type: 'number',
          minimum: -1e9,
          maximum: 1e9,
          description: 'score in operations:pending; the highest goes first',
        },
      },
      additionalProperties: false,
    },
    response: { 200: operationResult(['queued', 'already_queued']), ...errorResponses },
  },
  cancel: {
    tags: ['operations'],
    summary: 'Cancel an operation; a running actor stops at its next step',
    ...changing,
    body: noBody,
    params: operationIdParams,
    response: { 200: operationResult(['cancelled']), ...errorResponses },
  },
  deadLetters: {
    tags: ['dead-letters'],
    summary: 'Dead-lettered operations, newest first',
    querystring: {
      type: 'object',
      properties: {
        limit: {
          type: 'integer',
          minimum: 1,
          maximum: DEAD_LETTER_LIMIT_MAX,
          default: DEAD_LETTER_LIMIT_DEFAULT,
        },
      },
      additionalProperties: false,
    },
    response: {
      200: {
        type: 'object',
        properties: {
          count: { type: 'integer', description: 'dead letters in this answer (at most limit)' },
          total: { type: 'integer', description: 'dead letters in all, waiting for an operator' },
          deadLetters: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                operationId: { type: 'string' },
                reason: { type: 'string' },
                at: nullableDate,
              },
              required: ['operationId', 'reason', 'at'],
              additionalProperties: false,
            },
          },
        },
        required: ['count', 'total', 'deadLetters'],
        additionalProperties: false,
      },
      ...errorResponses,
    },
  },
  retryDead: {
    tags: ['dead-letters'],
    summary: 'Move a dead-lettered operation back to the queue',
    ...changing,
    body: noBody,
    params: operationIdParams,
    response: { 200: operationResult(['queued']), ...errorResponses },
  },
  pause: {
    tags: ['control'],
    summary: 'Stop claiming new operations; running actors go on',
    ...changing,
    body: noBody,
    response: { 200: pausedBody, ...errorResponses },
  },
  resume: {
    tags: ['control'],
    summary: 'Claim operations again after a pause',
    ...changing,
    body: noBody,
    response: { 200: pausedBody, ...errorResponses },
  },
  recycleThread: {
    tags: ['control'],
    summary: 'Stop one pool thread; its actors resume from their checkpoints on another',
    ...changing,
    body: noBody,
    params: {
      type: 'object',
      properties: { threadId: { type: 'integer', minimum: 1, maximum: 1000000 } },
      required: ['threadId'],
      additionalProperties: false,
    },
    response: {
      200: {
        type: 'object',
        properties: { threadId: { type: 'integer' }, recycled: { type: 'boolean' } },
        required: ['threadId', 'recycled'],
        additionalProperties: false,
      },
      ...errorResponses,
    },
  },
  status: {
    tags: ['control'],
    summary: 'This worker: its id, whether it is paused, how many actors run',
    response: {
      200: {
        type: 'object',
        properties: {
          workerId: { type: 'string' },
          paused: { type: 'boolean' },
          inFlight: { type: 'integer' },
        },
        required: ['workerId', 'paused', 'inFlight'],
        additionalProperties: false,
      },
      ...errorResponses,
    },
  },
} as const;
