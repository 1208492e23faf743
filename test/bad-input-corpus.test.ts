// The bad-input corpus (test/fixtures/bad-inputs.ts) against one real worker process: every
// bad input gets a clear error where the user looks for it, the worker neither crashes nor
// hangs, secrets stay secret, and good operations queued alongside all complete.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient, type Db } from 'mongodb';
import { after, before, describe, it } from 'node:test';
import YAML from 'yaml';
import { queueKeys } from '../src/shared/queue-keys.js';
import { newOperationDocument } from '../src/shared/store.js';
import { FINAL_OPERATION_STATUSES, type OperationType } from '../src/shared/types.js';
import type { SeedDatabase } from '../src/sim/server.js';
import {
  BAD_INPUTS,
  REMOVE,
  type AdminCase,
  type AdminContext,
  type AdminRequest,
  type CorpusContext,
  type DocumentCase,
  type DropReason,
  type EnvironmentCase,
  type KubeconfigYaml,
  type OperationSpec,
  type Overrides,
  type QueueCase,
} from './fixtures/bad-inputs.js';
import { startPlatform, type Platform, type WorkerProcess } from './support/e2e.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const TOKEN = 'corpus-admin-token-0123456789';
const ENV_TIMEOUT_MS = 15_000;

const documentCases = BAD_INPUTS.filter(
  (c): c is DocumentCase =>
    c.category === 'operation' || c.category === 'database' || c.category === 'provider',
);
const queueCases = BAD_INPUTS.filter((c): c is QueueCase => c.category === 'queue');
const adminCases = BAD_INPUTS.filter((c): c is AdminCase => c.category === 'admin');
const environmentCases = BAD_INPUTS.filter(
  (c): c is EnvironmentCase => c.category === 'environment',
);

interface LogLine {
  msg?: string;
  level?: number;
  operationId?: string;
  reason?: string;
  error?: string;
  [key: string]: unknown;
}

interface EnvironmentResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  ms: number;
  output: string;
}

const hex12 = () => randomBytes(6).toString('hex');

function applyOverrides(base: Record<string, unknown>, overrides: Overrides = {}) {
  const document = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === REMOVE) delete document[key];
    else document[key] = value;
  }
  return document;
}

function seed(
  engine: SeedDatabase['engine'],
  name: string,
  topology: string,
  replicas: number,
  version: string,
): SeedDatabase {
  return { engine, namespace: 'good', name, topology, replicas, version, storageGb: 10 };
}

/** Runs `task` over `items`, at most `limit` at a time. */
async function inParallel<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>) {
  let next = 0;
  const lanes = Array.from({ length: limit }, async () => {
    while (next < items.length) await task(items[next++]!);
  });
  await Promise.all(lanes);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A CA certificate nobody signed anything with, made by the openssl CLI. */
function untrustedCa(dir: string): string {
  const [cert, key] = [path.join(dir, 'untrusted-ca.crt'), path.join(dir, 'untrusted-ca.key')];
  const args = 'req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1';
  execFileSync(
    'openssl',
    [...args.split(' '), '-subj', '/CN=corpus-untrusted-ca', '-keyout', key, '-out', cert],
    { stdio: 'ignore' },
  );
  return readFileSync(cert, 'utf8');
}

/** One raw HTTP request: the path goes out byte for byte (fetch would normalise it). */
function send(
  baseUrl: string,
  request: AdminRequest,
): Promise<{ status: number; body: string; error?: string }> {
  const url = new URL(baseUrl);
  return new Promise((resolve) => {
    const outgoing = http.request(
      {
        host: url.hostname,
        port: url.port,
        // A fresh connection each: the server closes some after an error answer.
        agent: false,
        method: request.method,
        path: request.path,
        headers: {
          ...(request.body !== undefined && { 'content-length': Buffer.byteLength(request.body) }),
          ...request.headers,
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
        );
      },
    );
    // The server may answer (413, 431) and close before it read the whole body.
    outgoing.on('error', (error) => resolve({ status: 0, body: '', error: error.message }));
    outgoing.end(request.body);
  });
}

function runEnvironmentCase(env: Record<string, string>): Promise<EnvironmentResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(process.execPath, [CLI, 'start'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), ENV_TIMEOUT_MS);
    // 'close', not 'exit': only then has everything the process printed been read.
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, ms: Date.now() - started, output });
    });
  });
}

describe('bad-input corpus against the real worker', { concurrency: false }, () => {
  let platform: Platform;
  let worker: WorkerProcess;
  let adminUrl: string;
  let mongo: MongoClient;
  let db: Db;
  let tmp: string;
  let busyServer: net.Server;
  const startedAt = Date.now();

  const secrets: string[] = [];
  /** Operation id of each document case. */
  const caseIds = new Map<DocumentCase, string>();
  /** Members of each queue case as the worker reads them, and the operation ids among them. */
  const queueMembers = new Map<QueueCase, { members: string[]; operationIds: string[] }>();
  const redisRefusals = new Map<QueueCase, string>();
  const environmentResults = new Map<EnvironmentCase, EnvironmentResult>();
  const goodIds: string[] = [];
  let adminContext: AdminContext;
  let stuck: string | null = null;

  const logLines = (): LogLine[] =>
    worker
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => {
        try {
          return JSON.parse(line) as LogLine;
        } catch {
          return {};
        }
      });
  const droppedIds = () =>
    new Set(
      logLines()
        .filter((l) => l.msg === 'queue_member_dropped')
        .map((l) => l.operationId),
    );

  async function insertOperation(spec: OperationSpec, status = 'queued'): Promise<string> {
    const id = `op-${hex12()}`;
    const base: Record<string, unknown> = {
      ...newOperationDocument({
        _id: id,
        database_id: spec.databaseId,
        type: 'scale_vertical',
        desired_state: { size: 'db.t3.large' },
        max_retries: 3,
        created_by: 'corpus',
        domain: 'test',
        project: 'corpus',
      }),
      status,
      completed_at: FINAL_OPERATION_STATUSES.includes(status as never) ? new Date() : null,
      error_message: status === 'failed' ? 'failed before the corpus ran' : null,
    };
    const document = applyOverrides(base, spec.overrides);
    await db.collection<{ _id: string }>('operations').insertOne(document as { _id: string });
    return id;
  }

  /** What the platform's API does after inserting: the dedup key, then ZADD. */
  async function queue(id: string, score: number | string = 5) {
    const document = await db
      .collection<{ _id: string } & Record<string, unknown>>('operations')
      .findOne({ _id: id });
    if (typeof document?.database_id === 'string' && typeof document.type === 'string') {
      await platform.redis.set(
        queueKeys.dedup(document.database_id, document.type),
        id,
        'EX',
        3600,
      );
    }
    await platform.redis.zadd(queueKeys.pending, score, id);
  }

  let databaseCounter = 0;
  const context = (): CorpusContext => ({
    async database(options = {}) {
      databaseCounter += 1;
      const seed: SeedDatabase = {
        engine: 'postgres',
        namespace: `corpus-${databaseCounter}`,
        name: 'pg',
        topology: 'cluster',
        replicas: 3,
        storageGb: 10,
        size: 'db.t3.small',
        version: '16.4',
        ...options.seed,
      };
      if (options.inCluster !== false) platform.sim.seed([seed]);
      const id = `db-${hex12()}`;
      const document = applyOverrides(
        {
          _id: id,
          name: seed.name,
          domain: 'test',
          project: seed.namespace,
          engine: seed.engine,
          version: seed.version,
          size: seed.size,
          storage_gb: seed.storageGb,
          replicas: seed.replicas,
          current_size: seed.size,
          current_storage_gb: seed.storageGb,
          current_replicas: seed.replicas,
          status: 'running',
          health_status: 'healthy',
          kubedb_resource_name: seed.name,
          namespace: seed.namespace,
          provider_id: null,
        },
        options.fields,
      );
      await db.collection<{ _id: string }>('databases').insertOne(document as { _id: string });
      return id;
    },
    async provider(fields = {}) {
      const id = `prov-${hex12()}`;
      const document = applyOverrides(
        {
          _id: id,
          name: `corpus ${id}`,
          kubeconfig_content: platform.sim.kubeconfig,
          kubeconfig_path: null,
          api_endpoint: platform.sim.url,
          verify_ssl: true,
          is_active: true,
          is_maintenance: false,
        },
        fields,
      );
      await db.collection<{ _id: string }>('providers').insertOne(document as { _id: string });
      return id;
    },
    kubeconfig: () => YAML.parse(platform.sim.kubeconfig) as KubeconfigYaml,
    file(content) {
      const file = path.join(tmp, `file-${hex12()}`);
      writeFileSync(file, content);
      return file;
    },
    closedPortUrl: '',
    untrustedCa: '',
    secret() {
      const secret = `corpus-secret-${hex12()}`;
      secrets.push(secret);
      return secret;
    },
  });

  before(async () => {
    platform = await startPlatform(import.meta.url, {
      timings: { pendingMs: 20, progressingMs: 150 },
    });
    tmp = mkdtempSync(path.join(os.tmpdir(), 'bad-inputs-'));
    mongo = await MongoClient.connect(platform.env.MONGODB_URL!);
    db = mongo.db(platform.env.MONGODB_DATABASE);
    const simToken = (YAML.parse(platform.sim.kubeconfig) as KubeconfigYaml).users[0]!.user
      .token as string;
    secrets.push(simToken, TOKEN);

    const ctx = context();
    ctx.closedPortUrl = `https://127.0.0.1:${await freePort()}`;
    ctx.untrustedCa = untrustedCa(tmp);

    // Environment cases run beside everything else: each is its own short-lived process.
    busyServer = net.createServer();
    await new Promise<void>((resolve) => busyServer.listen(0, '127.0.0.1', resolve));
    const busyPort = (busyServer.address() as net.AddressInfo).port;
    // A few at a time: each is a whole Node process, and the machine is shared.
    const environmentRuns = inParallel(environmentCases, 4, async (c) => {
      const env = {
        ...process.env,
        ...platform.env,
        // A process that should have refused to start must not touch the corpus's data.
        REDIS_URL: platform.env.REDIS_URL!.replace(/\/(\d+)$/, (_, db) => `/${Number(db) + 500}`),
        MONGODB_DATABASE: `${platform.env.MONGODB_DATABASE}_env`,
        LOG_LEVEL: 'info',
        ADMIN_PORT: '0',
        ADMIN_TOKEN: TOKEN,
        ...c.env({ busyPort }),
      };
      environmentResults.set(c, await runEnvironmentCase(env));
    });

    // Good operations over every engine, queued among the bad ones.
    const good: Array<[SeedDatabase, OperationType, Record<string, unknown>]> = [
      [seed('postgres', 'pg', 'cluster', 3, '16.4'), 'scale_vertical', { size: 'db.t3.large' }],
      [seed('mysql', 'my', 'group-replication', 3, '8.0.35'), 'expand_storage', { storage_gb: 20 }],
      [seed('mongodb', 'mongo', 'replicaset', 3, '7.0.5'), 'scale_horizontal', { replicas: 5 }],
      [seed('mariadb', 'maria', 'galera', 3, '10.11.2'), 'restart', {}],
      [
        seed('redis', 'redis', 'standalone', 1, '7.2.4'),
        'scale_vertical',
        { size: 'db.t3.medium' },
      ],
      [
        seed('elasticsearch', 'es', 'combined', 3, 'xpack-8.11.1'),
        'expand_storage',
        { storage_gb: 30 },
      ],
    ];
    for (const [database, type, desired] of good) {
      const { _id } = await platform.addDatabase(database);
      goodIds.push(await platform.queueOperation(_id, type, desired));
    }

    await inParallel(documentCases, 8, async (c) => {
      const id = await insertOperation(await c.setup(ctx));
      caseIds.set(c, id);
      // The slow ones (a server that refuses connections costs a round of retries) go first.
      await queue(id, c.slow ? 9 : 5);
    });
    await inParallel(queueCases, 8, async (c) => {
      const members: string[] = [];
      const operationIds: string[] = [];
      for (const { member, score } of await c.setup(ctx)) {
        let value: string | Buffer;
        if (typeof member === 'object' && !Buffer.isBuffer(member)) {
          value = await insertOperation(member.operation, member.final);
          operationIds.push(value);
        } else {
          value = member;
        }
        members.push(Buffer.isBuffer(value) ? value.toString('utf8') : value);
        try {
          await platform.redis.zadd(queueKeys.pending, score, value);
        } catch (error) {
          redisRefusals.set(c, (error as Error).message);
        }
      }
      queueMembers.set(c, { members, operationIds });
    });

    worker = platform.startWorker({
      ADMIN_TOKEN: TOKEN,
      LOG_LEVEL: 'info',
      WORKER_CONCURRENCY: '64',
      // Several corpus entries retry against a closed port: keep their backoff short.
      KUBE_REQUEST_TIMEOUT_MS: '2000',
    });
    adminUrl = await worker.adminUrl();

    // Everything reaches its end: a final status, or a drop the log and counter show.
    const expectFinal = [
      ...goodIds,
      ...documentCases.filter((c) => !('dropped' in c.expect)).map((c) => caseIds.get(c)!),
      ...queueCases
        .filter((c) => 'completed' in c.expect)
        .flatMap((c) => queueMembers.get(c)!.operationIds),
    ];
    const expectDropped = [
      ...documentCases.filter((c) => 'dropped' in c.expect).map((c) => caseIds.get(c)!),
      ...queueCases
        .filter((c) => 'dropped' in c.expect)
        .flatMap((c) => queueMembers.get(c)!.members),
    ];
    // Usually done in about 25 s; the limit leaves room for a loaded machine. On a timeout
    // the entries themselves fail, each saying what is missing.
    await platform
      .waitFor(
        'every corpus entry to reach its end',
        async () => {
          const operations = await db
            .collection<{ _id: string; status: string }>('operations')
            .find({ _id: { $in: expectFinal } })
            .toArray();
          const notFinal = operations.filter(
            (o) => !FINAL_OPERATION_STATUSES.includes(o.status as never),
          );
          const dropped = droppedIds();
          const notDropped = expectDropped.filter((id) => !dropped.has(id));
          const depths = await platform.queue.depths();
          const busy = depths.pending + depths.delayed + depths.leased + depths.processing;
          return notFinal.length === 0 && notDropped.length === 0 && busy === 0;
        },
        90_000,
      )
      .catch((error: Error) => (stuck = error.message.split('\n')[0]!));
    await environmentRuns;

    const byName = (name: string) => {
      const id = caseIds.get(documentCases.find((c) => c.name === name)!);
      if (!id) throw new Error(`no document case is named ${JSON.stringify(name)}`);
      return id;
    };
    adminContext = {
      token: TOKEN,
      completedId: goodIds[0]!,
      malformedId: byName('desired_state is a string'),
      unknownStatusId: byName('status is not one the platform defines'),
      caseId: byName,
    };
  });

  after(async () => {
    // CORPUS_OUTPUT=file keeps the worker's log for a look after the run.
    if (process.env.CORPUS_OUTPUT && worker) {
      writeFileSync(process.env.CORPUS_OUTPUT, worker.output());
      const outcomes = await Promise.all(
        documentCases.map(async (c) => {
          const d = await db.collection('operations').findOne({ _id: caseIds.get(c) as never });
          return [c.name, d?.status, d?.error_message];
        }),
      );
      writeFileSync(`${process.env.CORPUS_OUTPUT}.cases.json`, JSON.stringify(outcomes, null, 1));
    }
    busyServer?.close();
    await mongo?.close();
    await platform?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('has at least 50 entries, across every category', () => {
    const counts = new Map<string, number>();
    for (const c of BAD_INPUTS) counts.set(c.category, (counts.get(c.category) ?? 0) + 1);
    assert.ok(BAD_INPUTS.length >= 50, `${BAD_INPUTS.length} entries`);
    for (const category of ['operation', 'database', 'provider', 'queue', 'admin', 'environment'])
      assert.ok((counts.get(category) ?? 0) >= 5, `${category}: ${counts.get(category)}`);
  });

  it('completes every good operation queued among the bad ones', async () => {
    const operations = await platform.store.listOperations({ ids: goodIds }, goodIds.length);
    assert.equal(operations.length, goodIds.length);
    for (const operation of operations) {
      assert.equal(operation.status, 'completed', `${operation.type}: ${operation.error_message}`);
    }
  });

  for (const c of documentCases) {
    it(`${c.category} document: ${c.name}`, async () => {
      const id = caseIds.get(c)!;
      const document = await db
        .collection<{ _id: string } & Record<string, unknown>>('operations')
        .findOne({ _id: id });
      assert.ok(document);
      const expect = c.expect;
      if ('dropped' in expect) {
        const lines = logLines().filter((l) => l.operationId === id);
        const invalid = lines.find((l) => l.msg === 'operation_document_invalid');
        assert.ok(invalid, `an operation_document_invalid event for ${id}`);
        assert.match(String(invalid.error), expect.log);
        const drop = lines.find((l) => l.msg === 'queue_member_dropped');
        assert.match(String(drop?.reason), /^operation_invalid: /);
        assert.equal(document.completed_at ?? null, null, 'left as the platform wrote it');
        return;
      }
      assert.equal(
        document.status,
        expect.status,
        `status; error_message: ${String(document.error_message)}`,
      );
      if (expect.status === 'failed') {
        const message = String(document.error_message);
        assert.match(message, expect.error!);
        assert.ok(message.length < 1000, `error_message is ${message.length} characters`);
        assert.equal(document.message, 'Operation failed');
        assert.ok(document.completed_at instanceof Date, 'completed_at is set');
      }
      if (expect.retryCount !== undefined && typeof document.retry_count === 'number') {
        assert.equal(document.retry_count, expect.retryCount);
      }
      // A final operation frees its dedup key, so the platform accepts a corrected one.
      if (typeof document.database_id === 'string' && typeof document.type === 'string') {
        const dedup = await platform.redis.get(
          queueKeys.dedup(document.database_id, document.type),
        );
        assert.equal(dedup, null, 'dedup key cleared');
      }
    });
  }

  for (const c of queueCases) {
    it(`queue member: ${c.name}`, async () => {
      const { members, operationIds } = queueMembers.get(c)!;
      const expect = c.expect;
      if ('refusedByRedis' in expect) {
        assert.match(redisRefusals.get(c) ?? 'accepted', expect.refusedByRedis);
        return;
      }
      if ('completed' in expect) {
        const operations = await platform.store.listOperations({ ids: operationIds }, 10);
        assert.equal(operations.length, operationIds.length);
        for (const o of operations) assert.equal(o.status, 'completed', o.error_message ?? '');
        return;
      }
      for (const member of members) {
        const drop = logLines().find(
          (l) => l.msg === 'queue_member_dropped' && l.operationId === member,
        );
        assert.ok(drop, `a queue_member_dropped event for ${JSON.stringify(member.slice(0, 40))}`);
        assert.equal(dropLabel(drop.reason), expect.dropped);
      }
      for (const id of operationIds) {
        const document = await db
          .collection<{ _id: string } & Record<string, unknown>>('operations')
          .findOne({ _id: id });
        assert.notEqual(document?.status, 'in_progress', 'a final operation is not run again');
        assert.equal(document?.started_at, null, 'never started');
      }
    });
  }

  it('counts every dropped queue member by reason', async () => {
    const expected: Record<DropReason, number> = { not_found: 0, final: 0, invalid: 0 };
    for (const c of documentCases) if ('dropped' in c.expect) expected.invalid += 1;
    for (const c of queueCases) {
      if ('dropped' in c.expect) expected[c.expect.dropped] += queueMembers.get(c)!.members.length;
    }
    const metrics = (await send(adminUrl, { method: 'GET', path: '/metrics' })).body;
    for (const [reason, count] of Object.entries(expected)) {
      const line = new RegExp(`^dbaas_queue_dropped_total\\{reason="${reason}"\\} (\\d+)$`, 'm');
      assert.equal(Number(line.exec(metrics)?.[1] ?? 0), count, `dropped ${reason}`);
    }
  });

  for (const c of adminCases) {
    it(`admin request: ${c.name}`, async () => {
      const answer = await send(adminUrl, c.request(adminContext));
      assert.equal(answer.status, c.expect.status, answer.error ?? answer.body.slice(0, 500));
      if (c.expect.fields) {
        const body = JSON.parse(answer.body) as Record<string, unknown>;
        for (const [field, value] of Object.entries(c.expect.fields)) {
          assert.deepEqual(body[field], value, field);
        }
      }
      if (c.expect.error !== undefined || c.expect.message !== undefined) {
        const body = JSON.parse(answer.body) as { error: string; message: string };
        assert.deepEqual(Object.keys(body).sort(), ['error', 'message']);
        if (c.expect.error) assert.equal(body.error, c.expect.error);
        if (c.expect.message) assert.match(body.message, c.expect.message);
      }
    });
  }

  for (const c of environmentCases) {
    it(`environment: ${c.name}`, () => {
      const result = environmentResults.get(c)!;
      assert.equal(
        result.signal,
        null,
        `still running after ${ENV_TIMEOUT_MS} ms:\n${result.output}`,
      );
      assert.notEqual(result.code, 0, result.output);
      assert.match(result.output, c.expect.output);
      assert.doesNotMatch(result.output, /^\s+at /m, 'no stack trace');
      for (const secret of [c.expect.hidden, TOKEN].filter(Boolean)) {
        assert.ok(!result.output.includes(secret!), 'no secret in the output');
      }
    });
  }

  it('answers GET /v1/operations/{id} for every document case without a 5xx', async () => {
    for (const c of documentCases) {
      const answer = await send(adminUrl, {
        method: 'GET',
        path: `/v1/operations/${caseIds.get(c)}`,
      });
      assert.ok([200, 422].includes(answer.status), `${c.name}: ${answer.status} ${answer.body}`);
    }
  });

  it('never shows a kubeconfig secret in a document, a log line or an admin answer', async () => {
    const operations = await db.collection('operations').find({}).toArray();
    const texts = [worker.output(), JSON.stringify(operations)];
    for (const c of documentCases.filter((d) => d.category === 'provider')) {
      const answer = await send(adminUrl, {
        method: 'GET',
        path: `/v1/operations/${caseIds.get(c)}`,
      });
      texts.push(answer.body);
    }
    texts.push((await send(adminUrl, { method: 'GET', path: '/v1/dead-letters?limit=1000' })).body);
    for (const secret of secrets) {
      for (const text of texts) assert.ok(!text.includes(secret), `a secret leaked: ${secret}`);
    }
  });

  it('survives the whole corpus: alive, healthy, nothing stuck, no crash or stack trace', async () => {
    assert.equal(stuck, null, 'every entry reached its end');
    assert.equal(worker.child.exitCode, null, 'the worker process is alive');
    assert.equal(worker.child.signalCode, null);
    const health = await send(adminUrl, { method: 'GET', path: '/healthz' });
    assert.equal(health.status, 200);
    const ready = await send(adminUrl, { method: 'GET', path: '/readyz' });
    assert.equal(ready.status, 200, ready.body);
    assert.deepEqual(await platform.queue.depths(), {
      pending: 0,
      delayed: 0,
      processing: 0,
      leased: 0,
      dead: (await platform.queue.depths()).dead,
    });
    const output = worker.output();
    assert.doesNotMatch(output, /^\s+at .*:\d+:\d+\)?$/m, 'no stack trace in the output');
    const lines = logLines();
    const errors = lines.filter((l) => (l.level ?? 0) >= 50);
    assert.deepEqual(
      errors.map((l) => l.msg),
      [],
      'no error-level event (actor crash, admin 500, pool error)',
    );
    assert.equal(lines.filter((l) => l.msg === 'actor_crashed').length, 0);
    const seconds = (Date.now() - startedAt) / 1000;
    console.log(`bad-input corpus: ${BAD_INPUTS.length} entries in ${seconds.toFixed(1)} s`);
    assert.equal(await worker.stop('SIGTERM'), 0, 'a clean shutdown after the corpus');
  });
});

function dropLabel(reason: unknown): DropReason {
  const text = String(reason);
  if (text.startsWith('operation_missing')) return 'not_found';
  if (text.startsWith('operation_invalid')) return 'invalid';
  return 'final';
}
