import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { MongoClient, type Db, type Document } from 'mongodb';
import { parseDatabase, parseOperation, parseProvider } from '../src/shared/documents.js';
import { DocumentValidationError } from '../src/shared/errors.js';
import { Store } from '../src/shared/store.js';
import type { OperationType } from '../src/shared/types.js';
import { databases, malformed, operations, providers } from './fixtures/platform-documents.js';
import { testServices } from './support/services.js';

const services = testServices(import.meta.url);

/** Operation fields the worker writes; every other field must survive its writes unchanged. */
const OPERATION_OWNED = [
  'status',
  'progress',
  'message',
  'ops_request_name',
  'ops_request_uid',
  'ops_request_phase',
  'started_at',
  'completed_at',
  'estimated_completion_at',
  'error_message',
  'retry_count',
  'worker_state',
];
const DATABASE_OWNED = [
  'current_size',
  'current_storage_gb',
  'current_replicas',
  'status',
  'health_status',
  'version',
  'updated_at',
];

let client: MongoClient;
let raw: Db;
let store: Store;

async function insertAll(): Promise<void> {
  await raw.collection('operations').insertMany(Object.values(operations) as Document[]);
  await raw.collection('databases').insertMany(Object.values(databases) as Document[]);
  await raw.collection('providers').insertMany(Object.values(providers) as Document[]);
}

/** The stored document exactly as the driver sees it, BSON number types included. */
async function rawDoc(collection: string, id: string): Promise<Document> {
  const doc = await raw
    .collection<Document>(collection)
    .findOne({ _id: id as never }, { promoteValues: false, promoteLongs: false });
  assert.ok(doc, `${collection} ${id} exists`);
  return doc;
}

function withoutFields(doc: Document, fields: string[]): Document {
  return Object.fromEntries(Object.entries(doc).filter(([key]) => !fields.includes(key)));
}

async function started(id: string, token = 'token-1') {
  const operation = await store.startOperation(id, token, {
    workerId: 'worker-a',
    restarts: 0,
    estimatedCompletionAt: new Date(Date.now() + 300_000),
    message: 'Started',
  });
  assert.ok(operation, `${id} started`);
  return operation;
}

before(async () => {
  client = await MongoClient.connect(services.mongodbUrl);
  raw = client.db(services.mongodbDatabase);
  store = await Store.connect(services.mongodbUrl, services.mongodbDatabase);
});

beforeEach(async () => {
  for (const name of ['operations', 'databases', 'providers']) {
    await raw.collection(name).deleteMany({});
  }
  await insertAll();
});

after(async () => {
  await raw.dropDatabase();
  await store.close();
  await client.close();
});

describe('store: loading platform documents', () => {
  it('loads every fixture operation, database and provider', async () => {
    for (const fixture of Object.values(operations)) {
      const operation = await store.getOperation(fixture._id as string);
      assert.equal(operation?._id, fixture._id);
    }
    for (const fixture of Object.values(databases)) {
      const database = await store.getDatabase(fixture._id as string);
      assert.equal(database?.engine, fixture.engine);
    }
    for (const fixture of Object.values(providers)) {
      const provider = await store.getProvider(fixture._id as string);
      assert.equal(provider?.name, fixture.name);
    }
    assert.equal(await store.getOperation('op-000000000000'), null);
  });

  it('reads numbers of any BSON width as plain numbers', async () => {
    const mariadb = await store.getDatabase('db-112233445566');
    assert.equal(mariadb?.storage_gb, 50);
    assert.equal(mariadb?.current_storage_gb, 40);
    const failed = await store.getOperation('op-444455556666');
    assert.equal(failed?.retry_count, 3);
    const horizontal = await store.getOperation('op-0123456789ab');
    assert.deepEqual(horizontal?.desired_state, { replicas: 5 });
  });

  it('fills the platform defaults into sparse documents', async () => {
    const sparse = await store.getOperation('op-cdcdcdcdcdcd');
    assert.equal(sparse?.progress, 0);
    assert.equal(sparse?.max_retries, 3);
    assert.equal(sparse?.created_by, null);
    const legacy = await store.getProvider('prov-000000000abc');
    assert.equal(legacy?.is_active, true);
    assert.equal(legacy?.is_maintenance, false);
  });

  it('keeps dates as dates and databases without a provider as such', async () => {
    const upgrade = await store.getOperation('op-ddddeeeeffff');
    assert.deepEqual(upgrade?.started_at, new Date('2024-06-01T12:00:05Z'));
    const mysql = await store.getDatabase('db-0a1b2c3d4e5f');
    assert.equal(mysql?.provider_id, null);
  });

  for (const { collection, field, doc } of malformed) {
    it(`reports a malformed ${collection} document (${String(doc._id)}) naming '${field}'`, async () => {
      await raw.collection(collection).insertOne(doc as Document);
      const id = doc._id as string;
      const load = {
        operations: () => store.getOperation(id),
        databases: () => store.getDatabase(id),
        providers: () => store.getProvider(id),
      }[collection];

      await assert.rejects(load, (error: unknown) => {
        assert.ok(error instanceof DocumentValidationError);
        assert.equal(error.field, field);
        assert.equal(error.collection, collection);
        assert.equal(error.documentId, id);
        assert.equal(error.retryable, false);
        assert.match(error.message, new RegExp(`'${field.replace('.', '\\.')}'`));
        return true;
      });
    });
  }

  it('never puts a kubeconfig into a validation error', () => {
    assert.throws(
      () => parseProvider({ ...providers.withKubeconfig, is_maintenance: 'no' }),
      (error: unknown) =>
        error instanceof DocumentValidationError && !error.message.includes('fixture-token'),
    );
  });

  it('parses documents that did not come from the driver too', () => {
    assert.equal(parseOperation(operations.queuedStorage).desired_state.storage_gb, 80);
    assert.equal(parseDatabase(databases.mysql).replicas, 3);
    assert.throws(() => parseOperation(null), DocumentValidationError);
  });
});

describe('store: round trip', () => {
  it('leaves every operation field it does not own unchanged through its writes', async () => {
    const flows: Array<[string, (id: string) => Promise<void>]> = [
      [
        'op-5e6f7a8b9c0d',
        async (id) => {
          await started(id);
          await store.recordProgress(id, 'token-1', {
            progress: 30,
            message: 'OpsRequest created',
            opsRequestName: 'ops-1',
            opsRequestUid: 'uid-1',
            opsRequestPhase: 'Progressing',
            step: 'ops_request_created',
            attempt: 1,
          });
          await store.finishOperation(id, 'token-1', 'completed', { message: 'Completed' });
        },
      ],
      [
        'op-0123456789ab',
        async (id) => {
          await started(id);
          await store.scheduleRetry(id, 'token-1', {
            retryCount: 1,
            errorMessage: 'Kubernetes API unavailable',
            message: 'Retrying',
          });
        },
      ],
      [
        'op-aaaabbbbcccc',
        async (id) => {
          await started(id);
          await store.finishOperation(id, 'token-1', 'failed', {
            message: 'Failed',
            errorMessage: 'OpsRequest failed',
          });
        },
      ],
      [
        'op-ddddeeeeffff',
        async (id) => {
          await started(id);
          await store.releaseOperation(id, 'token-1');
        },
      ],
      ['op-cdcdcdcdcdcd', async (id) => void (await store.cancelOperation(id, 'Cancelled'))],
    ];

    for (const [id, flow] of flows) {
      const before = await rawDoc('operations', id);
      await flow(id);
      const after = await rawDoc('operations', id);

      assert.deepEqual(
        withoutFields(after, OPERATION_OWNED),
        withoutFields(before, OPERATION_OWNED),
      );
      assert.notDeepEqual(after, before, `${id}: the flow wrote something`);
      // What the worker wrote still loads, as the Python API will load it.
      parseOperation(after);
    }
  });

  it('leaves every database field it does not own unchanged', async () => {
    for (const fixture of Object.values(databases)) {
      const id = fixture._id as string;
      const before = await rawDoc('databases', id);

      await store.updateDatabase(id, {
        current_size: 'db.t3.large',
        current_storage_gb: 100,
        current_replicas: 3,
        status: 'running',
        health_status: 'healthy',
        version: '99.0',
      });

      const after = await rawDoc('databases', id);
      assert.deepEqual(withoutFields(after, DATABASE_OWNED), withoutFields(before, DATABASE_OWNED));
      const loaded = parseDatabase(after);
      assert.equal(loaded.current_replicas, 3);
      assert.equal(loaded.version, '99.0');
    }
  });

  it('writes new operations the way the platform does', async () => {
    const created = await store.createOperation({
      database_id: 'db-a1b2c3d4e5f6',
      type: 'scale_horizontal',
      desired_state: { replicas: 3 },
      created_by: 'bob',
    });

    assert.match(created._id, /^op-[0-9a-f]{12}$/);
    const stored = await rawDoc('operations', created._id);
    assert.deepEqual(
      Object.keys(stored).sort(),
      Object.keys(operations.queuedVertical!).sort(),
      'the same fields as a document the API wrote',
    );
    assert.equal(stored.status, 'queued');
    assert.equal(Number(stored.progress), 0);
    assert.equal(Number(stored.max_retries), 3);
    assert.ok(stored.created_at instanceof Date);
  });
});

describe('store: ownership of an operation', () => {
  it('starts only queued or in-progress operations and sets started_at once', async () => {
    const first = await started('op-5e6f7a8b9c0d');
    assert.equal(first.status, 'in_progress');
    assert.equal(first.worker_state?.claim_token, 'token-1');
    assert.equal(first.worker_state?.worker_id, 'worker-a');
    const startedAt = first.started_at;
    assert.ok(startedAt instanceof Date);

    const again = await started('op-5e6f7a8b9c0d', 'token-2');
    assert.deepEqual(again.started_at, startedAt);
    assert.equal(again.worker_state?.claim_token, 'token-2');

    for (const final of ['op-111122223333', 'op-444455556666', 'op-777788889999']) {
      const before = await rawDoc('operations', final);
      const result = await store.startOperation(final, 'token-x', {
        workerId: 'worker-a',
        restarts: 0,
        estimatedCompletionAt: new Date(),
        message: 'Started',
      });
      assert.equal(result, null);
      assert.deepEqual(await rawDoc('operations', final), before);
    }
  });

  it('starts an operation whose worker_state is null', async () => {
    await raw
      .collection('operations')
      .updateOne({ _id: 'op-5e6f7a8b9c0d' as never }, { $set: { worker_state: null } });
    const operation = await started('op-5e6f7a8b9c0d');
    assert.equal(operation.worker_state?.claim_token, 'token-1');
  });

  it('lets a stale claim token neither progress nor finish an operation', async () => {
    await started('op-5e6f7a8b9c0d', 'old-token');
    await started('op-5e6f7a8b9c0d', 'new-token'); // another worker took over

    assert.equal(
      await store.recordProgress('op-5e6f7a8b9c0d', 'old-token', { progress: 90 }),
      false,
    );
    assert.equal(
      await store.finishOperation('op-5e6f7a8b9c0d', 'old-token', 'failed', { message: 'x' }),
      false,
    );
    assert.equal(
      await store.scheduleRetry('op-5e6f7a8b9c0d', 'old-token', {
        retryCount: 1,
        errorMessage: 'x',
        message: 'x',
      }),
      false,
    );
    assert.equal(await store.releaseOperation('op-5e6f7a8b9c0d', 'old-token'), false);
    const current = await store.getOperation('op-5e6f7a8b9c0d');
    assert.equal(current?.status, 'in_progress');
    assert.equal(current?.progress, 0);

    assert.equal(
      await store.finishOperation('op-5e6f7a8b9c0d', 'new-token', 'completed', {
        message: 'Completed',
      }),
      true,
    );
    const done = await store.getOperation('op-5e6f7a8b9c0d');
    assert.equal(done?.status, 'completed');
    assert.equal(done?.progress, 100);
    assert.ok(done?.completed_at instanceof Date);
  });

  it('never moves progress backwards, nor the message that came with a lower one', async () => {
    const id = 'op-5e6f7a8b9c0d';
    await started(id);

    assert.equal(
      await store.recordProgress(id, 'token-1', { progress: 50, message: 'Half' }),
      true,
    );
    assert.equal(
      await store.recordProgress(id, 'token-1', {
        progress: 20,
        message: 'Late news',
        opsRequestPhase: 'Progressing',
        step: 'waiting',
      }),
      true,
    );

    const after = await store.getOperation(id);
    assert.equal(after?.progress, 50);
    assert.equal(after?.message, 'Half');
    assert.equal(after?.ops_request_phase, 'Progressing', 'the other fields are still written');
    assert.equal(after?.worker_state?.step, 'waiting');

    await store.recordProgress(id, 'token-1', { progress: 75, message: 'Most' });
    await store.recordProgress(id, 'token-1', { message: 'Just a note' });
    const latest = await store.getOperation(id);
    assert.equal(latest?.progress, 75);
    assert.equal(latest?.message, 'Just a note');
  });

  it('treats a document without progress as at 0', async () => {
    await started('op-cdcdcdcdcdcd');
    assert.equal(await store.recordProgress('op-cdcdcdcdcdcd', 'token-1', { progress: 10 }), true);
    assert.equal((await store.getOperation('op-cdcdcdcdcdcd'))?.progress, 10);
  });

  it('schedules a retry: queued again, counted, and the old claim can write no more', async () => {
    const id = 'op-0123456789ab';
    await started(id);
    await store.recordProgress(id, 'token-1', { step: 'ops_request_created', attempt: 1 });

    assert.equal(
      await store.scheduleRetry(id, 'token-1', {
        retryCount: 1,
        errorMessage: 'Kubernetes API unavailable',
        message: 'Retry 1 of 3',
      }),
      true,
    );

    const queued = await store.getOperation(id);
    assert.equal(queued?.status, 'queued');
    assert.equal(queued?.retry_count, 1);
    assert.equal(queued?.error_message, 'Kubernetes API unavailable');
    assert.equal(queued?.worker_state?.claim_token, null);
    assert.equal(queued?.worker_state?.step, 'ops_request_created');
    assert.equal(await store.recordProgress(id, 'token-1', { progress: 60 }), false);
    const resumed = await started(id, 'token-2');
    assert.equal(resumed.worker_state?.attempt, 1);
  });

  it('hands an operation back with its checkpoint on shutdown', async () => {
    const id = 'op-5e6f7a8b9c0d';
    await started(id);
    await store.recordProgress(id, 'token-1', { progress: 40, step: 'ops_request_created' });

    assert.equal(await store.releaseOperation(id, 'token-1'), true);

    const released = await store.getOperation(id);
    assert.equal(released?.status, 'in_progress');
    assert.equal(released?.worker_state?.claim_token, null);
    assert.equal(released?.worker_state?.step, 'ops_request_created');
    assert.equal(await store.recordProgress(id, 'token-1', { progress: 50 }), false);
    const next = await started(id, 'token-2');
    assert.equal(next.progress, 40);
  });

  it('cancels any operation that is not final and reports what it was', async () => {
    await started('op-5e6f7a8b9c0d');

    assert.equal(
      await store.cancelOperation('op-5e6f7a8b9c0d', 'Cancelled by admin'),
      'in_progress',
    );
    assert.equal(await store.cancelOperation('op-0123456789ab', 'Cancelled by admin'), 'queued');
    assert.equal(await store.cancelOperation('op-111122223333', 'Cancelled by admin'), null);
    assert.equal(await store.cancelOperation('op-000000000000', 'Cancelled by admin'), null);

    assert.equal(await store.recordProgress('op-5e6f7a8b9c0d', 'token-1', { progress: 90 }), false);
    assert.equal(
      await store.finishOperation('op-5e6f7a8b9c0d', 'token-1', 'completed', { message: 'x' }),
      false,
    );
    const cancelled = await store.getOperation('op-5e6f7a8b9c0d');
    assert.equal(cancelled?.status, 'cancelled');
    assert.equal(cancelled?.message, 'Cancelled by admin');
    assert.equal((await store.getOperation('op-111122223333'))?.status, 'completed');
  });

  it('completes the record of a cancel the platform wrote as a bare status, once', async () => {
    await raw.collection('operations').insertOne({
      ...(await rawDoc('operations', 'op-111122223333')),
      _id: 'op-cccc00000001' as never,
      status: 'cancelled',
      message: 'Waiting for KubeDB to start the change',
      completed_at: null,
    });
    assert.equal(await store.noteCancelled('op-cccc00000001', 'Cancelled'), true);
    const noted = await store.getOperation('op-cccc00000001');
    assert.equal(noted?.message, 'Cancelled');
    assert.ok(noted?.completed_at instanceof Date);
    assert.equal(await store.noteCancelled('op-cccc00000001', 'again'), false, 'already complete');
    assert.equal(await store.noteCancelled('op-111122223333', 'x'), false, 'not cancelled');
  });

  it('fails a queued operation whose document is malformed, where the user looks', async () => {
    await raw.collection('operations').insertOne({
      _id: 'op-badbadbadbad' as never,
      status: 'queued',
      type: 'scale_sideways',
    });
    assert.equal(await store.failInvalidOperation('op-badbadbadbad', 'type is unknown'), true);
    const doc = await rawDoc('operations', 'op-badbadbadbad');
    assert.equal(doc.status, 'failed');
    assert.equal(doc.error_message, 'type is unknown');
    assert.equal(await store.failInvalidOperation('op-badbadbadbad', 'again'), false);
  });

  it('reopens a failed operation for an operator with fresh retries and a new attempt', async () => {
    await started('op-aaaabbbbcccc');
    await store.recordProgress('op-aaaabbbbcccc', 'token-1', {
      step: 'change_requested',
      attempt: 2,
    });
    await store.finishOperation('op-aaaabbbbcccc', 'token-1', 'failed', {
      message: 'Failed',
      errorMessage: 'OpsRequest failed',
    });
    assert.equal(await store.reopenOperation('op-aaaabbbbcccc'), true);
    const reopened = await store.getOperation('op-aaaabbbbcccc');
    assert.equal(reopened?.status, 'queued');
    assert.equal(reopened?.retry_count, 0);
    assert.equal(reopened?.worker_state?.attempt, 3);
    assert.equal(reopened?.worker_state?.step, null);
    assert.equal(reopened?.error_message, null, 'the old failure no longer describes it');
    assert.equal(await store.reopenOperation('op-aaaabbbbcccc'), false, 'queued is not failed');
  });

  it('finds an operation of the same kind that applied its change later and records it', async () => {
    const insert = (id: string, type: string, status: string, appliedAt: Date | null) =>
      raw.collection('operations').insertOne({
        _id: id as never,
        database_id: 'db-samesame0001',
        type,
        desired_state: {},
        status,
        progress: 100,
        created_at: new Date(),
        retry_count: 0,
        max_retries: 3,
        worker_state: { applied_at: appliedAt },
      });
    const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
    await insert('op-000000000a01', 'scale_vertical', 'in_progress', t(10));
    await insert('op-000000000a02', 'scale_vertical', 'completed', t(20));
    await insert('op-000000000a03', 'resume', 'completed', t(30));
    await insert('op-000000000a04', 'scale_vertical', 'failed', t(40));
    await insert('op-000000000a05', 'scale_horizontal', 'in_progress', t(50));

    const find = (types: OperationType[], after: Date) =>
      store.newerAppliedOperation('db-samesame0001', types, after, 'op-000000000a01');
    assert.equal(await find(['scale_vertical'], t(10)), 'op-000000000a02');
    assert.equal(await find(['scale_vertical'], t(25)), null, 'failed ones do not count');
    assert.equal(await find(['pause', 'resume'], t(10)), 'op-000000000a03');
    assert.equal(
      await find(['scale_horizontal'], t(45)),
      'op-000000000a05',
      'one still in progress has recorded, or will record, its result',
    );
  });

  it('records a timeout with its error message', async () => {
    await started('op-aaaabbbbcccc');
    await store.finishOperation('op-aaaabbbbcccc', 'token-1', 'timeout', {
      message: 'Timed out',
      errorMessage: 'No final phase within 30 minutes',
    });
    const timedOut = await store.getOperation('op-aaaabbbbcccc');
    assert.equal(timedOut?.status, 'timeout');
    assert.equal(timedOut?.error_message, 'No final phase within 30 minutes');
  });
});

describe('store: databases', () => {
  it('never touches desired fields the API writes at the same time', async () => {
    // The worker has read the database, then the API changes the desired fields before the
    // worker records what it applied. A replace of the worker's copy would undo the API.
    // (The writes take turns rather than run in parallel: FerretDB 1.24 applies an update as
    // read-modify-write of the whole document, so parallel updates to one document lose
    // fields there whoever sends them; MongoDB applies each update atomically.)
    const id = 'db-a1b2c3d4e5f6';
    const api = raw.collection('databases');
    const seenByWorker = await store.getDatabase(id);

    for (let i = 1; i <= 5; i++) {
      await api.updateOne(
        { _id: id as never },
        { $set: { size: 'db.t3.xlarge', replicas: 10 + i, storage_gb: 100 + i } },
      );
      await store.updateDatabase(id, { current_replicas: i, status: 'scaling' });
    }
    await store.updateDatabase(id, { current_replicas: 3, status: 'running' });

    const after = await store.getDatabase(id);
    assert.equal(seenByWorker?.replicas, 1);
    assert.equal(after?.size, 'db.t3.xlarge');
    assert.equal(after?.replicas, 15);
    assert.equal(after?.storage_gb, 105);
    assert.equal(after?.current_replicas, 3);
    assert.equal(after?.status, 'running');
  });

  it('ignores fields it does not own even if a caller passes them', async () => {
    const id = 'db-0a1b2c3d4e5f';
    await store.updateDatabase(id, { current_replicas: 4, replicas: 1 } as never);
    const after = await store.getDatabase(id);
    assert.equal(after?.replicas, 3);
    assert.equal(after?.current_replicas, 4);
  });
});

describe('store: listing', () => {
  it('lists operations by status and ids, and counts them by status', async () => {
    const queued = await store.listOperations({ status: ['queued'] });
    assert.deepEqual(queued.map((operation) => operation._id).sort(), [
      'op-0123456789ab',
      'op-5e6f7a8b9c0d',
      'op-aaaabbbbcccc',
      'op-cdcdcdcdcdcd',
    ]);
    const byId = await store.listOperations({ ids: ['op-111122223333', 'op-nothere0000'] });
    assert.deepEqual(
      byId.map((operation) => operation.status),
      ['completed'],
    );
    assert.equal((await store.listOperations({}, 2)).length, 2);

    const counts = await store.countOperationsByStatus();
    assert.deepEqual(counts, {
      queued: 4,
      in_progress: 1,
      completed: 1,
      failed: 1,
      cancelled: 1,
      timeout: 1,
    });
  });

  it('leaves a malformed document out of a listing instead of failing it', async () => {
    await raw.collection('operations').insertOne(malformed[1]!.doc as Document);
    const all = await store.listOperations({}, 100);
    assert.equal(all.length, Object.keys(operations).length);
  });

  it('answers a ping', async () => {
    await store.ping();
  });
});
