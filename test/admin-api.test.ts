import assert from 'node:assert/strict';
import net from 'node:net';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { TransientError } from '../src/shared/errors.js';
import { buildAdminServer } from '../src/supervisor/admin-api.js';
import { ADMIN_ERRORS } from '../src/supervisor/admin-errors.js';
import { createMetrics, type Metrics } from '../src/supervisor/metrics.js';
import {
  DEAD_OPERATION,
  FINAL_OPERATION,
  FakeAdminBackend,
  KNOWN_OPERATION,
  MISSING_OPERATION,
  QUEUED_OPERATION,
} from './support/fake-admin-backend.js';

const TOKEN = 'test-admin-token-0123456789';
const AUTH = { authorization: `Bearer ${TOKEN}` };

/** Every changing route, with a request that succeeds when authorized. */
const CHANGING_ROUTES: InjectOptions[] = [
  { method: 'POST', url: '/v1/threads/1/recycle' },
  { method: 'POST', url: `/v1/operations/${KNOWN_OPERATION}/enqueue`, payload: { priority: 5 } },
  { method: 'POST', url: `/v1/operations/${KNOWN_OPERATION}/cancel` },
  { method: 'POST', url: `/v1/dead-letters/${DEAD_OPERATION}/retry` },
  { method: 'POST', url: '/v1/pause' },
  { method: 'POST', url: '/v1/resume' },
];

const READ_ROUTES = [
  '/healthz',
  '/readyz',
  '/metrics',
  '/openapi.json',
  '/v1/actors',
  '/v1/queue',
  `/v1/operations/${KNOWN_OPERATION}`,
  '/v1/dead-letters',
  '/v1/status',
];

let backend: FakeAdminBackend;
let metrics: Metrics;
const servers: FastifyInstance[] = [];

async function serve(adminToken: string | null = TOKEN, readyTimeoutMs?: number) {
  const app = await buildAdminServer({ backend, metrics, adminToken, readyTimeoutMs });
  servers.push(app);
  return app;
}

function errorOf(response: { statusCode: number; json(): unknown }, code: string) {
  const body = response.json() as { error: string; message: string };
  assert.equal(body.error, code, JSON.stringify(body));
  assert.equal(response.statusCode, ADMIN_ERRORS[code as keyof typeof ADMIN_ERRORS].status);
  assert.deepEqual(Object.keys(body).sort(), ['error', 'message']);
  assert.ok(body.message.length > 10, 'the message says what is wrong');
  return body;
}

beforeEach(() => {
  backend = new FakeAdminBackend();
  metrics = createMetrics({
    workerId: backend.workerId,
    concurrency: 64,
    inFlight: () => backend.actorList.length,
    queueDepths: () => backend.queue(),
  });
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((app) => app.close()));
  metrics.stop();
});

after(() => metrics?.stop());

describe('health probes', () => {
  it('GET /healthz answers 200 while the process runs', async () => {
    const app = await serve();
    const response = await app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), { status: 'ok' });
  });

  it('GET /readyz answers 200 when Redis, MongoDB and the pool are ready', async () => {
    const app = await serve();
    const response = await app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), {
      ready: true,
      checks: { redis: true, mongodb: true, pool: true },
      notReady: [],
    });
  });

  it('GET /readyz answers 503 naming each dependency that is not ready', async () => {
    backend.readiness = { redis: false, mongodb: true, pool: false };
    const app = await serve();
    const response = await app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(response.statusCode, 503);
    const body = response.json();
    assert.equal(body.ready, false);
    assert.deepEqual(body.notReady, ['redis', 'pool']);
    assert.match(body.message, /redis, pool/);
  });

  it('GET /readyz answers 503 instead of hanging when the check does not return', async () => {
    backend.readyHangs = true;
    const app = await serve(TOKEN, 50);
    const response = await app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(response.statusCode, 503);
    assert.match(response.json().message, /did not answer within 50 ms/);
  });
});

describe('read routes', () => {
  it('GET /v1/actors lists each actor in flight with its operation, thread and step', async () => {
    const app = await serve();
    const response = await app.inject({ method: 'GET', url: '/v1/actors' });
    assert.equal(response.statusCode, 200);
    const body = response.json();
    assert.equal(body.workerId, 'worker-test-1');
    assert.equal(body.count, 1);
    assert.deepEqual(body.actors[0], {
      operationId: KNOWN_OPERATION,
      databaseId: 'db-0123456789ab',
      type: 'scale_vertical',
      thread: 2,
      startedAt: '2025-01-02T03:04:06.000Z',
      step: 'follow_ops_request',
      progress: 40,
      message: 'Resizing the database to db.t3.large',
      restarts: 0,
    });
  });

  it('GET /v1/queue answers the queue sizes', async () => {
    const app = await serve();
    const response = await app.inject({ method: 'GET', url: '/v1/queue' });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), {
      pending: 5,
      delayed: 2,
      processing: 1,
      leased: 1,
      dead: 1,
    });
  });

  it('GET /v1/operations/:id answers the platform fields of the document', async () => {
    const app = await serve();
    const response = await app.inject({ method: 'GET', url: `/v1/operations/${KNOWN_OPERATION}` });
    assert.equal(response.statusCode, 200);
    const body = response.json();
    assert.equal(body._id, KNOWN_OPERATION);
    assert.equal(body.database_id, 'db-0123456789ab');
    assert.equal(body.status, 'in_progress');
    assert.equal(body.progress, 40);
    assert.equal(body.retry_count, 1);
    assert.equal(body.ops_request_phase, 'Progressing');
    assert.equal(body.created_at, '2025-01-02T03:04:05.000Z');
    assert.equal(body.completed_at, null);
    assert.equal(body.desired_state.size, 'db.t3.large');
    assert.equal(body.worker_state.step, 'follow_ops_request');
  });

  it('GET /v1/operations/:id leaves out secrets, claim tokens and undeclared fields', async () => {
    const app = await serve();
    const response = await app.inject({ method: 'GET', url: `/v1/operations/${KNOWN_OPERATION}` });
    const body = response.json();
    assert.doesNotMatch(response.body, /kubeconfig|super-secret|claim-secret/);
    assert.equal(body.internal_note, undefined);
    assert.equal(body.provider, undefined);
    assert.equal(body.worker_state.claim_token, undefined);
  });

  it('GET /v1/operations/:id serializes Date values as ISO strings', async () => {
    backend.documents[KNOWN_OPERATION]!.created_at = new Date('2025-05-06T07:08:09.000Z');
    const app = await serve();
    const response = await app.inject({ method: 'GET', url: `/v1/operations/${KNOWN_OPERATION}` });
    assert.equal(response.json().created_at, '2025-05-06T07:08:09.000Z');
  });

  it('GET /v1/operations/:id answers fields of the wrong type as stored, never 500', async () => {
    const stored: Array<Record<string, unknown>> = [
      { desired_state: { size: 123 } },
      { desired_state: { replicas: '5' } },
      { desired_state: { replicas: 1.5 } },
      { desired_state: { storage_gb: '20' } },
      { desired_state: { target_version: 16.4 } },
      { desired_state: { size: { nested: { deeper: ['db.t3.large', null] } } } },
      { desired_state: 'db.t3.large' },
      { desired_state: [{ size: 'db.t3.large' }] },
      { desired_state: true },
      { progress: '40%', retry_count: 1.5, max_retries: '3' },
      { status: 42, type: ['restart'], message: { text: 'hi' } },
      { created_at: 1735787045000, started_at: 'yesterday', completed_at: false },
      { worker_state: 'garbage' },
      { worker_state: { step: 7, restarts: 'two', attempt: 0.5, updated_at: [] } },
      { database_id: 12, ops_request_phase: null, _id: KNOWN_OPERATION },
    ];
    const app = await serve();
    for (const fields of stored) {
      backend.documents[KNOWN_OPERATION] = {
        ...new FakeAdminBackend().documents[KNOWN_OPERATION],
        ...fields,
      };
      const response = await app.inject({ url: `/v1/operations/${KNOWN_OPERATION}` });
      assert.equal(response.statusCode, 200, `${JSON.stringify(fields)}: ${response.body}`);
      const body = response.json();
      for (const [field, value] of Object.entries(fields)) {
        assert.deepEqual(body[field], value, `${field} answered as stored`);
      }
      assert.doesNotMatch(response.body, /kubeconfig|super-secret|claim-secret|internal_note/);
    }
  });

  it('GET /v1/operations/:id keeps undeclared worker_state fields out, whatever their type', async () => {
    backend.documents[KNOWN_OPERATION]!.worker_state = {
      restarts: 'two',
      claim_token: { nested: 'claim-secret' },
      constructor: 'x',
      ['__proto__']: { polluted: true },
    };
    const app = await serve();
    const response = await app.inject({ url: `/v1/operations/${KNOWN_OPERATION}` });
    assert.equal(response.statusCode, 200, response.body);
    assert.deepEqual(response.json().worker_state, { restarts: 'two' });
  });

  it('GET /v1/actors and /v1/dead-letters answer values of the wrong type as given', async () => {
    backend.actorList = [
      {
        ...backend.actorList[0]!,
        ...({ thread: '2', progress: '40%', restarts: 1.5, startedAt: 0, type: 5 } as object),
      },
    ];
    backend.deadList = [
      { operationId: DEAD_OPERATION, ...({ reason: 42, at: null } as object) } as never,
    ];
    const app = await serve();
    const actors = await app.inject({ url: '/v1/actors' });
    assert.equal(actors.statusCode, 200, actors.body);
    const [actor] = actors.json().actors;
    assert.deepEqual(
      [actor.thread, actor.progress, actor.restarts, actor.startedAt, actor.type],
      ['2', '40%', 1.5, 0, 5],
    );
    assert.doesNotMatch(actors.body, /kubeconfig_content/);
    const dead = await app.inject({ url: '/v1/dead-letters' });
    assert.equal(dead.statusCode, 200, dead.body);
    assert.deepEqual(dead.json().deadLetters, [
      { operationId: DEAD_OPERATION, reason: 42, at: null },
    ]);
  });

  it('GET /v1/operations/:id answers 404 OPERATION_NOT_FOUND for an unknown id', async () => {
    const app = await serve();
    const response = await app.inject({
      method: 'GET',
      url: `/v1/operations/${MISSING_OPERATION}`,
    });
    const body = errorOf(response, 'OPERATION_NOT_FOUND');
    assert.match(body.message, new RegExp(MISSING_OPERATION));
  });

  it('GET /v1/operations/:id answers 400 for a malformed id, saying what an id is', async () => {
    const app = await serve();
    for (const id of ['op-123', 'db-0123456789ab', 'op-0123456789AB', 'op-0123456789abc']) {
      const response = await app.inject({ method: 'GET', url: `/v1/operations/${id}` });
      const body = errorOf(response, 'INVALID_INPUT');
      assert.match(body.message, /params\/id must be an operation id: 'op-' followed by 12/);
    }
    assert.equal(backend.called('operation').length, 0);
  });

  it('answers 400 in the same JSON shape for URLs the router itself rejects', async () => {
    const app = await serve();
    const long = await app.inject({ url: `/v1/operations/op-${'a'.repeat(300)}` });
    assert.match(errorOf(long, 'INVALID_INPUT').message, /too long; expected an operation id/);
    const encoding = await app.inject({ url: '/v1/operations/%E0%A4%A' });
    errorOf(encoding, 'REQUEST_REJECTED');
  });

  it('GET /v1/dead-letters answers at most 100 entries unless ?limit says otherwise', async () => {
    const app = await serve();
    const response = await app.inject({ method: 'GET', url: '/v1/dead-letters' });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), {
      count: 1,
      total: 1,
      deadLetters: [
        {
          operationId: DEAD_OPERATION,
          reason: 'could not record the final status',
          at: '2025-01-02T04:00:00.000Z',
        },
      ],
    });
    await app.inject({ method: 'GET', url: '/v1/dead-letters?limit=7' });
    assert.deepEqual(backend.called('deadLetters'), [[100], [7]]);
  });

  it('GET /v1/dead-letters says how many it answers (count) and how many there are (total)', async () => {
    backend.deadList = ['op-000000000001', 'op-000000000002', 'op-000000000003'].map(
      (operationId) => ({ operationId, reason: 'failed', at: '2025-01-02T04:00:00.000Z' }),
    );
    const queue = backend.queue.bind(backend);
    backend.queue = async () => ({ ...(await queue()), dead: 250 });
    const app = await serve();
    const body = (await app.inject({ url: '/v1/dead-letters?limit=2' })).json();
    assert.equal(body.count, 2);
    assert.equal(body.deadLetters.length, 2);
    assert.equal(body.total, 250);
  });

  it('GET /v1/dead-letters answers 400 for a bad limit or an unknown parameter', async () => {
    const app = await serve();
    for (const query of ['limit=0', 'limit=1001', 'limit=ten', 'limit=1.5', 'order=asc']) {
      const response = await app.inject({ method: 'GET', url: `/v1/dead-letters?${query}` });
      const body = errorOf(response, 'INVALID_INPUT');
      assert.match(body.message, /^querystring/);
    }
    assert.equal(backend.called('deadLetters').length, 0);
  });

  it('GET /v1/status answers the worker id, whether it is paused, actors in flight', async () => {
    const app = await serve();
    const response = await app.inject({ method: 'GET', url: '/v1/status' });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), { workerId: 'worker-test-1', paused: false, inFlight: 1 });
  });

  it('read routes need no token', async () => {
    const app = await serve();
    for (const url of READ_ROUTES.filter((u) => u !== '/readyz')) {
      const response = await app.inject({ method: 'GET', url });
      assert.equal(response.statusCode, 200, url);
    }
  });

  it('an unknown route answers 404 ROUTE_NOT_FOUND as JSON', async () => {
    const app = await serve();
    const unknown = await app.inject({ method: 'GET', url: '/v2/anything?x=1' });
    const body = errorOf(unknown, 'ROUTE_NOT_FOUND');
    assert.match(body.message, /GET \/v2\/anything;/);
    assert.match(unknown.headers['content-type'] as string, /application\/json/);
    errorOf(await app.inject({ method: 'DELETE', url: '/v1/queue' }), 'ROUTE_NOT_FOUND');
  });
});

describe('changing routes', () => {
  it('are disabled with 403 ADMIN_DISABLED when no ADMIN_TOKEN is configured', async () => {
    for (const token of [null, '']) {
      const app = await serve(token);
      for (const request of CHANGING_ROUTES) {
        const response = await app.inject({ ...request, headers: AUTH });
        const body = errorOf(response, 'ADMIN_DISABLED');
        assert.match(body.message, /ADMIN_TOKEN is not set/);
      }
    }
    assert.deepEqual(backend.calls, []);
  });

  it('answer 401 UNAUTHORIZED without a token, asking for a bearer token', async () => {
    const app = await serve();
    for (const request of CHANGING_ROUTES) {
      const response = await app.inject(request);
      const body = errorOf(response, 'UNAUTHORIZED');
      assert.match(body.message, /Authorization: Bearer/);
      assert.match(response.headers['www-authenticate'] as string, /^Bearer/);
    }
    assert.deepEqual(backend.calls, []);
  });

  it('answer 401 UNAUTHORIZED for a wrong token, a token prefix or another scheme', async () => {
    const app = await serve();
    const wrong = [
      'Bearer not-the-token',
      `Bearer ${TOKEN.slice(0, -1)}`,
      `Bearer ${TOKEN}x`,
      `Basic ${TOKEN}`,
      TOKEN,
      'Bearer ',
    ];
    for (const authorization of wrong) {
      for (const request of CHANGING_ROUTES) {
        const response = await app.inject({ ...request, headers: { authorization } });
        errorOf(response, 'UNAUTHORIZED');
      }
    }
    assert.deepEqual(backend.calls, []);
  });

  it('answer 200 with the right token, whatever the case of the scheme', async () => {
    const app = await serve();
    for (const scheme of ['Bearer', 'bearer']) {
      for (const request of CHANGING_ROUTES) {
        const headers = { authorization: `${scheme} ${TOKEN}` };
        const response = await app.inject({ ...request, headers });
        assert.equal(response.statusCode, 200, `${request.url}: ${response.body}`);
      }
    }
  });

  it('POST enqueue queues the operation with the given priority', async () => {
    const app = await serve();
    const response = await app.inject({
      method: 'POST',
      url: `/v1/operations/${KNOWN_OPERATION}/enqueue`,
      headers: AUTH,
      payload: { priority: 10 },
    });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), { operationId: KNOWN_OPERATION, result: 'queued' });
    assert.deepEqual(backend.called('enqueue'), [[KNOWN_OPERATION, 10]]);
  });

  it('POST enqueue takes no body, an empty JSON body or an empty object alike', async () => {
    const app = await serve();
    const url = `/v1/operations/${KNOWN_OPERATION}/enqueue`;
    const json = { ...AUTH, 'content-type': 'application/json' };
    const bodies: InjectOptions[] = [
      { headers: AUTH },
      { headers: json, payload: '' },
      { headers: json, payload: '{}' },
      { headers: json, payload: 'null' },
    ];
    for (const body of bodies) {
      const response = await app.inject({ method: 'POST', url, ...body });
      assert.equal(response.statusCode, 200, response.body);
    }
    assert.deepEqual(backend.called('enqueue'), Array(4).fill([KNOWN_OPERATION, undefined]));
  });

  it('POST enqueue answers 200 already_queued for an operation already in the queue', async () => {
    const app = await serve();
    const response = await app.inject({
      method: 'POST',
      url: `/v1/operations/${QUEUED_OPERATION}/enqueue`,
      headers: AUTH,
    });
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().result, 'already_queued');
  });

  it('POST enqueue answers 404 for an unknown operation and 409 for a final one', async () => {
    const app = await serve();
    const missing = await app.inject({
      method: 'POST',
      url: `/v1/operations/${MISSING_OPERATION}/enqueue`,
      headers: AUTH,
    });
    errorOf(missing, 'OPERATION_NOT_FOUND');
    const final = await app.inject({
      method: 'POST',
      url: `/v1/operations/${FINAL_OPERATION}/enqueue`,
      headers: AUTH,
    });
    const body = errorOf(final, 'OPERATION_FINAL');
    assert.match(body.message, /create a new operation/);
  });

  it('POST enqueue answers 400 for a bad priority or unknown field, queuing nothing', async () => {
    const app = await serve();
    const url = `/v1/operations/${KNOWN_OPERATION}/enqueue`;
    const cases: Array<[unknown, RegExp]> = [
      [{ priority: 'high' }, /body\/priority must be number/],
      [{ priority: '5' }, /body\/priority must be number/],
      [{ priority: true }, /body\/priority must be number/],
      [{ priority: 1e10 }, /body\/priority must be <= 1000000000/],
      [{ priorty: 5 }, /body has an unknown field 'priorty'/],
      [[1, 2], /body must be a JSON object/],
    ];
    for (const [payload, message] of cases) {
      const response = await app.inject({
        method: 'POST',
        url,
        headers: AUTH,
        payload: payload as object,
      });
      assert.match(errorOf(response, 'INVALID_INPUT').message, message);
    }
    assert.deepEqual(backend.called('enqueue'), []);
  });

  it('POST enqueue answers 400 INVALID_JSON for a body that is not JSON', async () => {
    const app = await serve();
    const response = await app.inject({
      method: 'POST',
      url: `/v1/operations/${KNOWN_OPERATION}/enqueue`,
      headers: { ...AUTH, 'content-type': 'application/json' },
      payload: '{"priority": ',
    });
    errorOf(response, 'INVALID_JSON');
  });

  it('POST enqueue refuses a prototype-poisoning body as FORBIDDEN_KEY, not as bad JSON', async () => {
    const app = await serve();
    for (const payload of [
      '{"__proto__": {"admin": true}}',
      '{"priority": 5, "nested": {"__proto__": {}}}',
      '{"constructor": {"prototype": {"admin": true}}}',
    ]) {
      const response = await app.inject({
        method: 'POST',
        url: `/v1/operations/${KNOWN_OPERATION}/enqueue`,
        headers: { ...AUTH, 'content-type': 'application/json' },
        payload,
      });
      const body = errorOf(response, 'FORBIDDEN_KEY');
      assert.match(body.message, /__proto__ or constructor\.prototype key.*refused for safety/);
    }
    assert.deepEqual(backend.called('enqueue'), []);
  });

  it('answers 415 UNSUPPORTED_MEDIA_TYPE for a body that is not JSON', async () => {
    const app = await serve();
    for (const [type, payload] of [
      ['application/xml', '<priority>5</priority>'],
      ['text/plain', 'priority=5'],
    ]) {
      const response = await app.inject({
        method: 'POST',
        url: `/v1/operations/${KNOWN_OPERATION}/enqueue`,
        headers: { ...AUTH, 'content-type': type },
        payload,
      });
      assert.match(errorOf(response, 'UNSUPPORTED_MEDIA_TYPE').message, /application\/json/);
    }
    assert.deepEqual(backend.called('enqueue'), []);
  });

  it('answers 413 BODY_TOO_LARGE for a body over 16 KiB', async () => {
    const app = await serve();
    const payload = JSON.stringify({ priority: 1, padding: 'x'.repeat(17 * 1024) });
    const response = await app.inject({
      method: 'POST',
      url: `/v1/operations/${KNOWN_OPERATION}/enqueue`,
      headers: { ...AUTH, 'content-type': 'application/json' },
      payload,
    });
    assert.match(errorOf(response, 'BODY_TOO_LARGE').message, /16384 bytes/);
    assert.deepEqual(backend.called('enqueue'), []);
  });

  it('check the token before reading the body: a large body without it gets 401', async () => {
    const app = await serve();
    const response = await app.inject({
      method: 'POST',
      url: `/v1/operations/${KNOWN_OPERATION}/enqueue`,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ padding: 'x'.repeat(17 * 1024) }),
    });
    errorOf(response, 'UNAUTHORIZED');
  });

  it('answer 400 for a malformed operation id without touching the backend', async () => {
    const app = await serve();
    for (const url of [
      '/v1/operations/op-xyz/enqueue',
      '/v1/operations/op-xyz/cancel',
      '/v1/dead-letters/op-xyz/retry',
    ]) {
      const response = await app.inject({ method: 'POST', url, headers: AUTH });
      assert.match(errorOf(response, 'INVALID_INPUT').message, /params\/id must be/);
    }
    assert.deepEqual(backend.calls, []);
  });

  it('POST cancel cancels, and answers 404 or 409 for unknown or final operations', async () => {
    const app = await serve();
    const post = (id: string) =>
      app.inject({ method: 'POST', url: `/v1/operations/${id}/cancel`, headers: AUTH });
    const cancelled = await post(KNOWN_OPERATION);
    assert.equal(cancelled.statusCode, 200);
    assert.deepEqual(cancelled.json(), { operationId: KNOWN_OPERATION, result: 'cancelled' });
    errorOf(await post(MISSING_OPERATION), 'OPERATION_NOT_FOUND');
    assert.match(errorOf(await post(FINAL_OPERATION), 'OPERATION_FINAL').message, /nothing/);
  });

  it('POST dead-letters/:id/retry queues a dead letter again, 404 for any other id', async () => {
    const app = await serve();
    const post = (id: string) =>
      app.inject({ method: 'POST', url: `/v1/dead-letters/${id}/retry`, headers: AUTH });
    const retried = await post(DEAD_OPERATION);
    assert.equal(retried.statusCode, 200);
    assert.deepEqual(retried.json(), { operationId: DEAD_OPERATION, result: 'queued' });
    const missing = errorOf(await post(KNOWN_OPERATION), 'DEAD_LETTER_NOT_FOUND');
    assert.match(missing.message, /GET \/v1\/dead-letters/);
  });

  it('POST /v1/threads/:threadId/recycle stops a known thread and 404s an unknown one', async () => {
    const app = await serve();
    const post = (id: string) =>
      app.inject({ method: 'POST', url: `/v1/threads/${id}/recycle`, headers: AUTH });
    const recycled = await post('1');
    assert.equal(recycled.statusCode, 200);
    assert.deepEqual(recycled.json(), { threadId: 1, recycled: true });
    errorOf(await post('7'), 'THREAD_NOT_FOUND');
    errorOf(await post('zero'), 'INVALID_INPUT');
  });

  it('POST pause and resume switch claiming off and on, as /v1/status shows', async () => {
    const app = await serve();
    const paused = await app.inject({ method: 'POST', url: '/v1/pause', headers: AUTH });
    assert.deepEqual(paused.json(), { paused: true });
    assert.equal((await app.inject({ url: '/v1/status' })).json().paused, true);

    const resumed = await app.inject({ method: 'POST', url: '/v1/resume', headers: AUTH });
    assert.deepEqual(resumed.json(), { paused: false });
    assert.equal((await app.inject({ url: '/v1/status' })).json().paused, false);
  });
});

describe('changing routes without a body of their own', () => {
  const BODYLESS = CHANGING_ROUTES.filter((r) => !r.url!.toString().endsWith('/enqueue'));
  const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;

  it('refuse any body but an empty one with 400 INVALID_INPUT, running nothing', async () => {
    const app = await serve();
    for (const route of BODYLESS) {
      for (const payload of ['{"foo":1}', '[]', deep, '"pause"', '5', 'true', '{"paused":true}']) {
        const response = await app.inject({
          ...route,
          headers: { ...AUTH, 'content-type': 'application/json' },
          payload,
        });
        const body = errorOf(response, 'INVALID_INPUT');
        assert.match(body.message, /takes no body; send none, or \{\}$/, `${route.url} ${payload}`);
      }
    }
    assert.deepEqual(backend.calls, []);
  });

  it('take no body, an empty JSON body, {} or null alike', async () => {
    const app = await serve();
    for (const route of BODYLESS) {
      const bodies: InjectOptions[] = [
        {},
        { headers: { 'content-type': 'application/json' }, payload: '' },
        { headers: { 'content-type': 'application/json' }, payload: '{}' },
        { headers: { 'content-type': 'application/json' }, payload: 'null' },
      ];
      for (const extra of bodies) {
        const response = await app.inject({
          ...route,
          ...extra,
          headers: { ...AUTH, ...extra.headers },
        });
        assert.equal(response.statusCode, 200, `${route.url} ${String(extra.payload)}`);
      }
    }
  });

  it('refuse a deeply nested array quickly', async () => {
    const app = await serve();
    const started = performance.now();
    for (let i = 0; i < 20; i++) {
      const response = await app.inject({
        method: 'POST',
        url: '/v1/pause',
        headers: { ...AUTH, 'content-type': 'application/json' },
        payload: deep,
      });
      assert.equal(response.statusCode, 400);
    }
    const perRequest = (performance.now() - started) / 20;
    assert.ok(perRequest < 50, `${perRequest.toFixed(1)} ms a request`);
  });
});

describe('requests Node rejects before any route runs', () => {
  /** Sends raw bytes to a listening server and reads the whole answer. */
  async function raw(request: string): Promise<{ status: number; headers: string; body: string }> {
    const app = await serve();
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as net.AddressInfo;
    const text = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      let answer = '';
      socket.on('data', (chunk) => (answer += chunk.toString()));
      socket.on('close', () => resolve(answer));
      // The server may close while the request is still being written.
      socket.on('error', (error: NodeJS.ErrnoException) =>
        error.code === 'ECONNRESET' || error.code === 'EPIPE' ? resolve(answer) : reject(error),
      );
      socket.write(request);
    });
    const [head = '', body = ''] = text.split('\r\n\r\n');
    return { status: Number(head.split(' ')[1]), headers: head, body };
  }

  function adminBody(answer: { body: string }, code: string) {
    const body = JSON.parse(answer.body) as { error: string; message: string };
    assert.deepEqual(Object.keys(body).sort(), ['error', 'message']);
    assert.equal(body.error, code);
    return body;
  }

  it('answer 431 HEADERS_TOO_LARGE for a 100 KB URL, in the {error, message} shape', async () => {
    const answer = await raw(`GET /v1/queue?q=${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.equal(answer.status, 431, answer.headers);
    assert.match(answer.headers, /content-type: application\/json/i);
    assert.match(adminBody(answer, 'HEADERS_TOO_LARGE').message, /send a shorter URL/);
  });

  it('answer 431 HEADERS_TOO_LARGE for a 20 KB header', async () => {
    const answer = await raw(
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`,
    );
    assert.equal(answer.status, 431, answer.headers);
    adminBody(answer, 'HEADERS_TOO_LARGE');
  });

  it('answer 400 REQUEST_REJECTED for a request line that is not HTTP', async () => {
    const answer = await raw('HELLO THERE\r\n\r\n');
    assert.equal(answer.status, 400, answer.headers);
    assert.match(adminBody(answer, 'REQUEST_REJECTED').message, /malformed/);
  });
});

describe('backend failures', () => {
  it('a transient failure answers 503 DEPENDENCY_UNAVAILABLE', async () => {
    backend.failWith = new TransientError('STORE_TRANSIENT', 'redis connection reset');
    const app = await serve();
    errorOf(await app.inject({ url: '/v1/queue' }), 'DEPENDENCY_UNAVAILABLE');
  });

  it('an unexpected failure answers 500 INTERNAL_ERROR without its message', async () => {
    backend.failWith = new Error('mongodb://admin:hunter2@db exploded');
    const app = await serve();
    const response = await app.inject({ url: `/v1/operations/${KNOWN_OPERATION}` });
    errorOf(response, 'INTERNAL_ERROR');
    assert.doesNotMatch(response.body, /hunter2|exploded/);
  });
});

describe('metrics and documentation', () => {
  it('GET /metrics answers Prometheus text that reflects applied events', async () => {
    const app = await serve();
    metrics.apply({
      kind: 'operation_finished',
      type: 'scale_vertical',
      status: 'completed',
      durationSeconds: 42,
    });
    const response = await app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(response.statusCode, 200);
    assert.match(response.headers['content-type'] as string, /^text\/plain; version=0\.0\.4/);
    assert.match(
      response.body,
      /^dbaas_operation_total\{type="scale_vertical",status="completed"\} 1$/m,
    );
    assert.match(response.body, /^dbaas_queue_depth 5$/m);
    assert.match(response.body, /^dbaas_actors_in_flight 1$/m);
    assert.match(response.body, /^dbaas_worker_busy\{worker_id="worker-test-1"\} 1$/m);
  });

  it('GET /openapi.json documents every route, with the token on changing ones', async () => {
    const app = await serve();
    const response = await app.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(response.statusCode, 200);
    const spec = response.json();
    assert.match(spec.openapi, /^3\./);
    const routes = Object.entries(spec.paths as Record<string, Record<string, unknown>>)
      .flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    assert.deepEqual(routes, [
      'GET /healthz',
      'GET /metrics',
      'GET /readyz',
      'GET /v1/actors',
      'GET /v1/dead-letters',
      'GET /v1/operations/{id}',
      'GET /v1/queue',
      'GET /v1/status',
      'POST /v1/dead-letters/{id}/retry',
      'POST /v1/operations/{id}/cancel',
      'POST /v1/operations/{id}/enqueue',
      'POST /v1/pause',
      'POST /v1/resume',
      'POST /v1/threads/{threadId}/recycle',
    ]);
    const enqueue = spec.paths['/v1/operations/{id}/enqueue'].post;
    assert.equal(enqueue.requestBody.required, false, 'the enqueue body may be left out');
    for (const [path, methods] of Object.entries(spec.paths)) {
      for (const [method, operation] of Object.entries(methods as Record<string, never>)) {
        const { security, responses } = operation as Record<string, unknown>;
        assert.equal(security !== undefined, method === 'post', `${method} ${path} security`);
        assert.ok((responses as Record<string, unknown>)['200'], `${method} ${path} 200`);
        assert.ok((responses as Record<string, unknown>)['4XX'], `${method} ${path} 4XX`);
      }
    }
  });

  it('no route ever answers a field named kubeconfig_content', async () => {
    const app = await serve();
    const answers = [
      ...(await Promise.all(READ_ROUTES.map((url) => app.inject({ method: 'GET', url })))),
      ...(await Promise.all(CHANGING_ROUTES.map((r) => app.inject({ ...r, headers: AUTH })))),
    ];
    for (const answer of answers) {
      assert.ok(answer.statusCode < 500, answer.body);
      assert.doesNotMatch(answer.body, /kubeconfig_content|super-secret/);
    }
  });
});
