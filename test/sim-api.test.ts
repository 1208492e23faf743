// The simulator speaks the Kubernetes REST API for KubeDB's kinds the way a real API server
// does: discovery, CRUD with Status errors, strict field validation, schema validation,
// merge patches, optimistic concurrency and the status subresource.

import assert from 'node:assert/strict';
import { request } from 'node:https';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { type Simulator, startSimulator } from '../src/sim/server.js';

const NS = 'api-test';
const OPS = { group: 'ops.kubedb.com', version: 'v1alpha1' };

let sim: Simulator;
let kc: k8s.KubeConfig;
let api: k8s.CustomObjectsApi;

before(async () => {
  sim = await startSimulator({
    seed: [
      { engine: 'mongodb', namespace: NS, name: 'mg-rs', topology: 'replicaset', replicas: 3 },
      { engine: 'postgres', namespace: NS, name: 'pg', replicas: 1 },
    ],
  });
  kc = new k8s.KubeConfig();
  kc.loadFromString(sim.kubeconfig);
  api = kc.makeApiClient(k8s.CustomObjectsApi);
});

after(() => sim.stop());

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

/** A request with exactly the method, headers and body given, for what clients hide. */
function raw(
  method: string,
  path: string,
  options: { body?: unknown; contentType?: string; token?: string | null } = {},
): Promise<RawResponse> {
  const cluster = kc.getCurrentCluster()!;
  const token = options.token === undefined ? kc.getCurrentUser()!.token : options.token;
  const text =
    options.body === undefined
      ? undefined
      : typeof options.body === 'string'
        ? options.body
        : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, sim.url),
      {
        method,
        ca: Buffer.from(cluster.caData!, 'base64'),
        headers: {
          ...(token ? { Authorization: `Bearer ${token}` } : {}),
          ...(text !== undefined
            ? { 'Content-Type': options.contentType ?? 'application/json' }
            : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: body ? (JSON.parse(body) as Record<string, unknown>) : {},
          });
        });
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

function opsRequest(name: string, spec: Record<string, unknown>, kind = 'MongoDBOpsRequest') {
  const labels: Record<string, string> = { 'dbaas.io/operation-id': `op-${name}` };
  return {
    apiVersion: 'ops.kubedb.com/v1alpha1',
    kind,
    metadata: { name, labels },
    spec,
  };
}

interface StatusJson {
  reason: string;
  message: string;
  details: { name: string; causes: Array<{ field: string; reason: string }> };
}

/** client-node throws ApiException with the Status body as a JSON string. */
async function statusOf(call: Promise<unknown>): Promise<{ code: number; body: StatusJson }> {
  try {
    await call;
  } catch (error) {
    const e = error as { code: number; body: string };
    return { code: e.code, body: JSON.parse(e.body) };
  }
  assert.fail('the call succeeded');
}

describe('discovery', () => {
  it('answers /version, /apis and the resource lists of both groups', async () => {
    const version = await raw('GET', '/version');
    assert.equal(version.status, 200);
    assert.equal(version.body.major, '1');

    const groups = (await raw('GET', '/apis')).body.groups as Array<{
      name: string;
      versions: Array<{ version: string }>;
    }>;
    const kubedb = groups.find((g) => g.name === 'kubedb.com')!;
    assert.deepEqual(kubedb.versions.map((v) => v.version).sort(), ['v1', 'v1alpha2']);

    const resources = (await raw('GET', '/apis/ops.kubedb.com/v1alpha1')).body.resources as Array<{
      name: string;
      kind: string;
    }>;
    const names = resources.map((r) => r.name);
    for (const plural of ['mongodbopsrequests', 'postgresopsrequests', 'mysqlopsrequests']) {
      assert.ok(names.includes(plural), plural);
    }
    assert.ok(names.includes('mongodbopsrequests/status'));
  });

  it('returns any namespace as Active', async () => {
    const ns = await raw('GET', '/api/v1/namespaces/anything');
    assert.equal(ns.status, 200);
    assert.equal((ns.body.status as { phase: string }).phase, 'Active');
  });

  it('refuses a request without the kubeconfig token with 401', async () => {
    const res = await raw('GET', '/apis/kubedb.com/v1/namespaces/x/mongodbs', { token: null });
    assert.equal(res.status, 401);
    assert.equal(res.body.reason, 'Unauthorized');
  });

  it('answers unknown resources with a 404 Status', async () => {
    const res = await raw('GET', '/apis/kubedb.com/v1/namespaces/x/kafkas');
    assert.equal(res.status, 404);
    assert.equal(res.body.kind, 'Status');
    assert.equal(res.body.reason, 'NotFound');
  });
});

describe('create, get, list, delete', () => {
  it('creates an OpsRequest with server fields and schema defaults filled in', async () => {
    const created = await api.createNamespacedCustomObject({
      ...OPS,
      namespace: NS,
      plural: 'mongodbopsrequests',
      fieldValidation: 'Strict',
      body: opsRequest('restart-1', {
        type: 'Restart',
        databaseRef: { name: 'mg-rs' },
        restart: {},
      }),
    });
    assert.match(created.metadata.uid, /^[0-9a-f-]{36}$/);
    assert.match(created.metadata.resourceVersion, /^\d+$/);
    assert.equal(created.metadata.generation, 1);
    assert.match(created.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(created.metadata.namespace, NS);
    assert.equal(created.spec.apply, 'IfReady', 'schema default applied');

    const read = await api.getNamespacedCustomObject({
      ...OPS,
      namespace: NS,
      plural: 'mongodbopsrequests',
      name: 'restart-1',
    });
    assert.equal(read.metadata.uid, created.metadata.uid);
  });

  it('answers a second create of the same name with 409 AlreadyExists', async () => {
    const body = opsRequest('dup', { type: 'Restart', databaseRef: { name: 'mg-rs' } });
    await api.createNamespacedCustomObject({
      ...OPS,
      namespace: NS,
      plural: 'mongodbopsrequests',
      body,
    });
    const { code, body: status } = await statusOf(
      api.createNamespacedCustomObject({
        ...OPS,
        namespace: NS,
        plural: 'mongodbopsrequests',
        body,
      }),
    );
    assert.equal(code, 409);
    assert.equal(status.reason, 'AlreadyExists');
    assert.equal(status.details.name, 'dup');
  });

  it('names an object from generateName', async () => {
    const created = await api.createNamespacedCustomObject({
      ...OPS,
      namespace: NS,
      plural: 'mongodbopsrequests',
      body: {
        apiVersion: 'ops.kubedb.com/v1alpha1',
        kind: 'MongoDBOpsRequest',
        metadata: { generateName: 'gen-' },
        spec: { type: 'Restart', databaseRef: { name: 'mg-rs' } },
      },
    });
    assert.match(created.metadata.name, /^gen-[a-z0-9]{5}$/);
  });

  it('lists by label selector (=, !=, in, notin, exists) and by metadata.name', async () => {
    for (const [name, tier] of [
      ['sel-a', 'gold'],
      ['sel-b', 'silver'],
      ['sel-c', 'bronze'],
    ]) {
      const body = opsRequest(
        name!,
        { type: 'Restart', databaseRef: { name: 'pg' } },
        'PostgresOpsRequest',
      );
      body.metadata.labels = { ...body.metadata.labels, tier: tier!, suite: 'selectors' };
      await api.createNamespacedCustomObject({
        ...OPS,
        namespace: NS,
        plural: 'postgresopsrequests',
        body,
      });
    }
    const names = async (labelSelector?: string, fieldSelector?: string) => {
      const list = await api.listNamespacedCustomObject({
        ...OPS,
        namespace: NS,
        plural: 'postgresopsrequests',
        labelSelector,
        fieldSelector,
      });
      return (list.items as Array<{ metadata: { name: string } }>).map((i) => i.metadata.name);
    };
    assert.deepEqual(await names('suite=selectors,tier=gold'), ['sel-a']);
    assert.deepEqual(await names('suite==selectors,tier!=gold'), ['sel-b', 'sel-c']);
    assert.deepEqual(await names('tier in (gold, bronze)'), ['sel-a', 'sel-c']);
    assert.deepEqual(await names('suite,tier notin (gold)'), ['sel-b', 'sel-c']);
    assert.deepEqual(await names('!tier'), []);
    assert.deepEqual(await names(undefined, 'metadata.name=sel-b'), ['sel-b']);
  });

  it('lists across namespaces on the cluster-wide path with a resourceVersion', async () => {
    const list = await raw('GET', '/apis/kubedb.com/v1/mongodbs');
    assert.equal(list.status, 200);
    assert.equal(list.body.kind, 'MongoDBList');
    assert.match((list.body.metadata as { resourceVersion: string }).resourceVersion, /^\d+$/);
    assert.ok((list.body.items as unknown[]).length >= 1);
  });

  it('deletes, then answers 404 NotFound', async () => {
    const body = opsRequest('to-delete', { type: 'Restart', databaseRef: { name: 'mg-rs' } });
    await api.createNamespacedCustomObject({
      ...OPS,
      namespace: NS,
      plural: 'mongodbopsrequests',
      body,
    });
    const deleted = await api.deleteNamespacedCustomObject({
      ...OPS,
      namespace: NS,
      plural: 'mongodbopsrequests',
      name: 'to-delete',
    });
    assert.equal(deleted.status, 'Success');
    const { code, body: status } = await statusOf(
      api.getNamespacedCustomObject({
        ...OPS,
        namespace: NS,
        plural: 'mongodbopsrequests',
        name: 'to-delete',
      }),
    );
    assert.equal(code, 404);
    assert.equal(status.reason, 'NotFound');
    assert.equal(status.message, 'mongodbopsrequests.ops.kubedb.com "to-delete" not found');
  });

  it('works through KubernetesObjectApi, which finds plurals by discovery', async () => {
    const objects = kc.makeApiClient(k8s.KubernetesObjectApi);
    const created = await objects.create({
      apiVersion: 'ops.kubedb.com/v1alpha1',
      kind: 'RedisOpsRequest',
      metadata: { name: 'via-object-api', namespace: NS },
      spec: { type: 'Restart', databaseRef: { name: 'nope' } },
    } as k8s.KubernetesObject);
    assert.equal(created.metadata?.name, 'via-object-api');
    const read = await objects.read({
      apiVersion: 'ops.kubedb.com/v1alpha1',
      kind: 'RedisOpsRequest',
      metadata: { name: 'via-object-api', namespace: NS },
    });
    assert.equal(read.metadata?.uid, created.metadata?.uid);
  });
});

describe('field validation', () => {
  const cases = [
    {
      plural: 'mongodbopsrequests',
      body: opsRequest('strict-mg', {
        type: 'VerticalScaling',
        databaseRef: { name: 'mg-rs' },
        verticalScaling: { replicaSet: { resources: {}, cpu: '1' } },
        extra: true,
      }),
      unknown: ['spec.verticalScaling.replicaSet.cpu', 'spec.extra'],
    },
    {
      plural: 'postgresopsrequests',
      body: opsRequest(
        'strict-pg',
        {
          type: 'HorizontalScaling',
          databaseRef: { name: 'pg' },
          horizontalScaling: { member: 3 },
        },
        'PostgresOpsRequest',
      ),
      unknown: ['spec.horizontalScaling.member'],
    },
    {
      plural: 'redisopsrequests',
      body: {
        ...opsRequest(
          'strict-rd',
          { type: 'Restart', databaseRef: { name: 'rd' } },
          'RedisOpsRequest',
        ),
        metadata: { name: 'strict-rd', owner: 'me' },
      },
      unknown: ['metadata.owner'],
    },
  ];

  for (const c of cases) {
    it(`Strict refuses unknown fields of a ${c.body.kind} with 400, naming each`, async () => {
      const { code, body } = await statusOf(
        api.createNamespacedCustomObject({
          ...OPS,
          namespace: NS,
          plural: c.plural,
          fieldValidation: 'Strict',
          body: c.body,
        }),
      );
      assert.equal(code, 400);
      assert.equal(body.reason, 'BadRequest');
      assert.match(body.message, /strict decoding error/);
      for (const field of c.unknown)
        assert.ok(body.message.includes(`unknown field "${field}"`), field);
    });
  }

  it('refuses unknown fields of a database resource too', async () => {
    const res = await raw(
      'POST',
      `/apis/kubedb.com/v1/namespaces/${NS}/mongodbs?fieldValidation=Strict`,
      {
        body: {
          apiVersion: 'kubedb.com/v1',
          kind: 'MongoDB',
          metadata: { name: 'mg-typo' },
          spec: { version: '6.0.12', replica: 3, storage: { size: '1Gi' } },
        },
      },
    );
    assert.equal(res.status, 400);
    assert.match(
      String(res.body.message),
      /unknown field "spec.replica", unknown field "spec.storage.size"/,
    );
  });

  it('without Strict drops unknown fields and says so in Warning headers', async () => {
    const res = await raw(
      'POST',
      `/apis/ops.kubedb.com/v1alpha1/namespaces/${NS}/mongodbopsrequests`,
      {
        body: opsRequest('warned', { type: 'Restart', databaseRef: { name: 'mg-rs' }, bogus: 1 }),
      },
    );
    assert.equal(res.status, 201);
    assert.equal((res.body.spec as Record<string, unknown>).bogus, undefined);
    assert.match(String(res.headers.warning), /unknown field \\"spec.bogus\\"/);
  });

  const invalid = [
    {
      what: 'a wrong type',
      plural: 'mongodbopsrequests',
      body: opsRequest('bad-type', {
        type: 'HorizontalScaling',
        databaseRef: { name: 'mg-rs' },
        horizontalScaling: { replicas: '5' },
      }),
      field: 'spec.horizontalScaling.replicas',
      reason: 'FieldValueTypeInvalid',
    },
    {
      what: 'a value outside the enum',
      plural: 'mysqlopsrequests',
      body: opsRequest(
        'bad-enum',
        {
          type: 'VolumeExpansion',
          databaseRef: { name: 'my' },
          volumeExpansion: { mode: 'Sideways', mysql: '2Gi' },
        },
        'MySQLOpsRequest',
      ),
      field: 'spec.volumeExpansion.mode',
      reason: 'FieldValueNotSupported',
    },
    {
      what: 'a missing required field',
      plural: 'elasticsearchopsrequests',
      body: opsRequest('no-ref', { type: 'Restart' }, 'ElasticsearchOpsRequest'),
      field: 'spec.databaseRef',
      reason: 'FieldValueRequired',
    },
    {
      what: 'a quantity that breaks the pattern',
      plural: 'mariadbopsrequests',
      body: opsRequest(
        'bad-quantity',
        {
          type: 'VolumeExpansion',
          databaseRef: { name: 'md' },
          volumeExpansion: { mode: 'Online', mariadb: '10 gigs' },
        },
        'MariaDBOpsRequest',
      ),
      field: 'spec.volumeExpansion.mariadb',
      reason: 'FieldValueInvalid',
    },
    {
      what: 'a label value with spaces',
      plural: 'mongodbopsrequests',
      body: {
        ...opsRequest('bad-label', { type: 'Restart', databaseRef: { name: 'mg-rs' } }),
        metadata: { name: 'bad-label', labels: { op: 'not valid' } },
      },
      field: 'metadata.labels',
      reason: 'FieldValueInvalid',
    },
  ];

  for (const c of invalid) {
    it(`answers ${c.what} with 422 Invalid naming ${c.field}, whatever fieldValidation`, async () => {
      for (const fieldValidation of ['Strict', 'Ignore']) {
        const { code, body } = await statusOf(
          api.createNamespacedCustomObject({
            ...OPS,
            namespace: NS,
            plural: c.plural,
            fieldValidation,
            body: c.body,
          }),
        );
        assert.equal(code, 422);
        assert.equal(body.reason, 'Invalid');
        const cause = body.details.causes.find((x) => x.field === c.field);
        assert.ok(cause, `no cause for ${c.field}: ${JSON.stringify(body.details.causes)}`);
        assert.equal(cause.reason, c.reason);
      }
    });
  }

  it('answers a body whose apiVersion or kind does not match the URL with 400', async () => {
    const wrongVersion = await raw('POST', `/apis/kubedb.com/v1/namespaces/${NS}/postgreses`, {
      body: {
        apiVersion: 'kubedb.com/v1alpha2',
        kind: 'Postgres',
        metadata: { name: 'x' },
        spec: { version: '16' },
      },
    });
    assert.equal(wrongVersion.status, 400);
    assert.match(String(wrongVersion.body.message), /does not match the expected API version/);
    const wrongKind = await raw('POST', `/apis/kubedb.com/v1/namespaces/${NS}/postgreses`, {
      body: {
        apiVersion: 'kubedb.com/v1',
        kind: 'MySQL',
        metadata: { name: 'x' },
        spec: { version: '8' },
      },
    });
    assert.equal(wrongKind.status, 400);
  });

  it('answers a body that is not JSON with 400', async () => {
    const res = await raw('POST', `/apis/kubedb.com/v1/namespaces/${NS}/postgreses`, {
      body: '{nope',
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.kind, 'Status');
  });
});

describe('patch and update', () => {
  const mongodb = {
    group: 'kubedb.com',
    version: 'v1',
    namespace: NS,
    plural: 'mongodbs',
    name: 'mg-rs',
  };
  const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

  it('merge-patches a database and bumps its generation', async () => {
    const before = sim.get('kubedb.com', 'v1', 'mongodbs', NS, 'mg-rs') as {
      metadata: { generation: number; resourceVersion: string };
    };
    const patched = await api.patchNamespacedCustomObject(
      { ...mongodb, fieldValidation: 'Strict', body: { spec: { replicas: 5 } } },
      mergePatch,
    );
    assert.equal(patched.spec.replicas, 5);
    assert.equal(patched.metadata.generation, before.metadata.generation + 1);
    assert.ok(Number(patched.metadata.resourceVersion) > Number(before.metadata.resourceVersion));
  });

  it('refuses an unknown field in a strict merge patch with 400', async () => {
    const { code } = await statusOf(
      api.patchNamespacedCustomObject(
        { ...mongodb, fieldValidation: 'Strict', body: { spec: { replica: 5 } } },
        mergePatch,
      ),
    );
    assert.equal(code, 400);
  });

  it('treats client-node default patches as JSON patch, which needs a list (400)', async () => {
    const { code, body } = await statusOf(
      api.patchNamespacedCustomObject({ ...mongodb, body: { spec: { replicas: 4 } } }),
    );
    assert.equal(code, 400);
    assert.match(body.message, /jsonpatch/);
    const listPatch = await api.patchNamespacedCustomObject({
      ...mongodb,
      body: [{ op: 'replace', path: '/spec/replicas', value: 4 }],
    });
    assert.equal(listPatch.spec.replicas, 4);
  });

  it('refuses strategic merge patch for custom resources with 415', async () => {
    const res = await raw('PATCH', `/apis/kubedb.com/v1/namespaces/${NS}/mongodbs/mg-rs`, {
      body: { spec: { replicas: 3 } },
      contentType: 'application/strategic-merge-patch+json',
    });
    assert.equal(res.status, 415);
    assert.equal(res.body.reason, 'UnsupportedMediaType');
  });

  it('refuses a replace with a stale resourceVersion with 409 Conflict', async () => {
    const current = await api.getNamespacedCustomObject(mongodb);
    const stale = structuredClone(current);
    await api.patchNamespacedCustomObject(
      { ...mongodb, body: { metadata: { labels: { touched: 'yes' } } } },
      mergePatch,
    );
    stale.spec.replicas = 7;
    const { code, body } = await statusOf(
      api.replaceNamespacedCustomObject({ ...mongodb, body: stale }),
    );
    assert.equal(code, 409);
    assert.equal(body.reason, 'Conflict');
    const fresh = await api.getNamespacedCustomObject(mongodb);
    fresh.spec.replicas = 7;
    const replaced = await api.replaceNamespacedCustomObject({ ...mongodb, body: fresh });
    assert.equal(replaced.spec.replicas, 7);
  });

  it('refuses a replace without resourceVersion with 422', async () => {
    const current = await api.getNamespacedCustomObject(mongodb);
    delete current.metadata.resourceVersion;
    const { code, body } = await statusOf(
      api.replaceNamespacedCustomObject({ ...mongodb, body: current }),
    );
    assert.equal(code, 422);
    assert.equal(body.details.causes[0]?.field, 'metadata.resourceVersion');
  });

  it('keeps status out of main-resource writes when the CRD has a status subresource', async () => {
    const body = {
      ...opsRequest('status-sub', { type: 'Restart', databaseRef: { name: 'missing-db' } }),
      status: { phase: 'Successful' },
    };
    const created = await raw(
      'POST',
      `/apis/ops.kubedb.com/v1alpha1/namespaces/${NS}/mongodbopsrequests`,
      {
        body,
      },
    );
    assert.equal(created.status, 201);
    assert.equal(created.body.status, undefined);
  });

  it('changes only status through the status subresource, without a new generation', async () => {
    const path = `/apis/kubedb.com/v1/namespaces/${NS}/postgreses/pg/status`;
    const before = (await raw('GET', path)).body as { metadata: { generation: number } };
    const patched = await raw('PATCH', path, {
      body: { status: { phase: 'Critical' }, spec: { replicas: 9 } },
      contentType: 'application/merge-patch+json',
    });
    assert.equal(patched.status, 200);
    const object = patched.body as {
      status: { phase: string };
      spec: { replicas: number };
      metadata: { generation: number };
    };
    assert.equal(object.status.phase, 'Critical');
    assert.equal(object.spec.replicas, 1, 'spec is not written through /status');
    assert.equal(object.metadata.generation, before.metadata.generation);
  });

  it('stores nothing for dryRun=All but still validates', async () => {
    const path = `/apis/ops.kubedb.com/v1alpha1/namespaces/${NS}/mongodbopsrequests`;
    const dry = await raw('POST', `${path}?dryRun=All&fieldValidation=Strict`, {
      body: opsRequest('dry', { type: 'Restart', databaseRef: { name: 'mg-rs' } }),
    });
    assert.equal(dry.status, 201);
    assert.equal(sim.get('ops.kubedb.com', 'v1alpha1', 'mongodbopsrequests', NS, 'dry'), undefined);
    const invalid = await raw('POST', `${path}?dryRun=All`, {
      body: opsRequest('dry', { type: 'Nope', databaseRef: { name: 'mg-rs' } }),
    });
    assert.equal(invalid.status, 422);
  });

  it('holds an object with finalizers until they are removed', async () => {
    const path = `/apis/ops.kubedb.com/v1alpha1/namespaces/${NS}/mongodbopsrequests`;
    const body = opsRequest('final', { type: 'Restart', databaseRef: { name: 'mg-rs' } });
    await raw('POST', path, {
      body: { ...body, metadata: { ...body.metadata, finalizers: ['kubedb.com/test'] } },
    });
    const deleting = await raw('DELETE', `${path}/final`);
    assert.equal(deleting.status, 200);
    assert.match(
      String((deleting.body.metadata as { deletionTimestamp?: string }).deletionTimestamp),
      /Z$/,
    );
    assert.notEqual(
      sim.get('ops.kubedb.com', 'v1alpha1', 'mongodbopsrequests', NS, 'final'),
      undefined,
    );
    await raw('PATCH', `${path}/final`, {
      body: { metadata: { finalizers: null } },
      contentType: 'application/merge-patch+json',
    });
    assert.equal(
      sim.get('ops.kubedb.com', 'v1alpha1', 'mongodbopsrequests', NS, 'final'),
      undefined,
    );
  });
});
