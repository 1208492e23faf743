// Watches on the simulator behave like the API server's: events carry resourceVersions, a
// watch resumes from a version, a version older than the retained window gets 410 Expired,
// bookmarks arrive when asked for, and streams can be cut on purpose.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { type Simulator, startSimulator } from '../src/sim/server.js';

const NS = 'watch-test';
const OPS = { group: 'ops.kubedb.com', version: 'v1alpha1', namespace: NS };
const PATH = `/apis/ops.kubedb.com/v1alpha1/namespaces/${NS}/redisopsrequests`;

let sim: Simulator;
let kc: k8s.KubeConfig;
let api: k8s.CustomObjectsApi;

before(async () => {
  sim = await startSimulator({
    eventWindow: 20,
    timings: { bookmarkMs: 50 },
    // No database exists, so the operator fails these requests at once: more events to see.
    seed: [],
  });
  kc = new k8s.KubeConfig();
  kc.loadFromString(sim.kubeconfig);
  api = kc.makeApiClient(k8s.CustomObjectsApi);
});

after(() => sim.stop());

interface Event {
  type: string;
  object: {
    metadata: { name?: string; resourceVersion: string };
    status?: { code?: number; reason?: string };
  };
}

/** Opens a watch and collects its events until `until` says stop (or the stream ends). */
function collect(
  path: string,
  query: Record<string, string | number | boolean | undefined>,
  until: (events: Event[]) => boolean,
  timeoutMs = 3000,
): Promise<{ events: Event[]; ended: boolean }> {
  const events: Event[] = [];
  return new Promise((resolve, reject) => {
    let controller: AbortController | undefined;
    const timer = setTimeout(() => {
      controller?.abort();
      reject(new Error(`watch timed out with ${JSON.stringify(events.map((e) => e.type))}`));
    }, timeoutMs);
    void new k8s.Watch(kc)
      .watch(
        path,
        query,
        (type, object) => {
          events.push({ type, object });
          if (until(events)) {
            clearTimeout(timer);
            controller?.abort();
            resolve({ events, ended: false });
          }
        },
        () => {
          clearTimeout(timer);
          // Lines already read are still being delivered when the stream reports its end.
          setImmediate(() => resolve({ events, ended: true }));
        },
      )
      .then((c) => (controller = c));
  });
}

function body(name: string, labels: Record<string, string> = {}) {
  return {
    apiVersion: 'ops.kubedb.com/v1alpha1',
    kind: 'RedisOpsRequest',
    metadata: { name, labels },
    spec: { type: 'Restart', databaseRef: { name: 'no-such-redis' } },
  };
}

async function create(name: string, labels: Record<string, string> = {}) {
  return api.createNamespacedCustomObject({
    ...OPS,
    plural: 'redisopsrequests',
    body: body(name, labels),
  });
}

describe('watch', () => {
  it('streams ADDED, MODIFIED and DELETED with increasing resourceVersions', async () => {
    const list = await api.listNamespacedCustomObject({ ...OPS, plural: 'redisopsrequests' });
    const watching = collect(
      PATH,
      { resourceVersion: list.metadata.resourceVersion, fieldSelector: 'metadata.name=w1' },
      (events) => events.some((e) => e.type === 'DELETED'),
    );
    await create('w1');
    // The operator fails it (no database): Pending, then Failed.
    await waitFor(() => phase('w1') === 'Failed');
    await api.deleteNamespacedCustomObject({ ...OPS, plural: 'redisopsrequests', name: 'w1' });
    const { events } = await watching;
    assert.deepEqual(
      events.map((e) => e.type),
      ['ADDED', 'MODIFIED', 'MODIFIED', 'DELETED'],
    );
    const versions = events.map((e) => Number(e.object.metadata.resourceVersion));
    assert.deepEqual(
      [...versions].sort((a, b) => a - b),
      versions,
    );
    assert.ok(versions[0]! > Number(list.metadata.resourceVersion));
  });

  it('without a resourceVersion starts with ADDED for what exists', async () => {
    await create('existing-1');
    const { events } = await collect(
      PATH,
      { fieldSelector: 'metadata.name=existing-1' },
      (e) => e.length >= 1,
    );
    assert.equal(events[0]!.type, 'ADDED');
    assert.equal(events[0]!.object.metadata.name, 'existing-1');
  });

  it('resumes from a resourceVersion with only the later changes', async () => {
    const first = await create('resume-1');
    await create('resume-2');
    const { events } = await collect(
      PATH,
      { resourceVersion: first.metadata.resourceVersion, labelSelector: '' },
      (e) => e.some((x) => x.object.metadata.name === 'resume-2' && x.type === 'ADDED'),
    );
    assert.ok(!events.some((e) => e.type === 'ADDED' && e.object.metadata.name === 'resume-1'));
    assert.ok(
      events.every(
        (e) => Number(e.object.metadata.resourceVersion) > Number(first.metadata.resourceVersion),
      ),
    );
  });

  it('answers a resourceVersion older than the event window with a 410 Expired ERROR event', async () => {
    const old = await create('old-1');
    for (let i = 0; i < 25; i += 1) {
      await api.patchNamespacedCustomObject(
        {
          ...OPS,
          plural: 'redisopsrequests',
          name: 'old-1',
          body: { metadata: { labels: { n: String(i) } } },
        },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
    }
    const { events } = await collect(PATH, { resourceVersion: old.metadata.resourceVersion }, (e) =>
      e.some((x) => x.type === 'ERROR'),
    );
    assert.deepEqual(
      events.map((e) => e.type),
      ['ERROR'],
    );
    const status = events[0]!.object as unknown as { kind: string; code: number; reason: string };
    assert.equal(status.kind, 'Status');
    assert.equal(status.code, 410);
    assert.equal(status.reason, 'Expired');
  });

  it('sends BOOKMARK events with the current resourceVersion when asked', async () => {
    const list = await api.listNamespacedCustomObject({ ...OPS, plural: 'redisopsrequests' });
    const { events } = await collect(
      PATH,
      { resourceVersion: list.metadata.resourceVersion, allowWatchBookmarks: true },
      (e) => e.filter((x) => x.type === 'BOOKMARK').length >= 2,
    );
    const bookmark = events.find((e) => e.type === 'BOOKMARK')!;
    assert.ok(
      Number(bookmark.object.metadata.resourceVersion) >= Number(list.metadata.resourceVersion),
    );
  });

  it('shows an object leaving a label-selected view as DELETED', async () => {
    await create('leaves', { view: 'in' });
    const watching = collect(PATH, { labelSelector: 'view=in' }, (e) =>
      e.some((x) => x.type === 'DELETED'),
    );
    await new Promise((r) => setTimeout(r, 50));
    await api.patchNamespacedCustomObject(
      {
        ...OPS,
        plural: 'redisopsrequests',
        name: 'leaves',
        body: { metadata: { labels: { view: 'out' } } },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    const { events } = await watching;
    assert.equal(events[0]!.type, 'ADDED');
    const last = events.at(-1)! as Event & { object: { metadata: { labels?: object } } };
    assert.equal(last.type, 'DELETED');
    assert.deepEqual(last.object.metadata.labels, { view: 'out' });
    assert.equal(
      sim.get('ops.kubedb.com', 'v1alpha1', 'redisopsrequests', NS, 'leaves') !== undefined,
      true,
    );
  });

  it('cutWatches ends open streams and activeWatches counts them', async () => {
    const list = await api.listNamespacedCustomObject({ ...OPS, plural: 'redisopsrequests' });
    const streams = [1, 2, 3].map(() =>
      collect(PATH, { resourceVersion: list.metadata.resourceVersion }, () => false),
    );
    await waitFor(() => sim.stats().activeWatches === 3);
    assert.equal(sim.cutWatches(), 3);
    const results = await Promise.all(streams);
    assert.ok(results.every((r) => r.ended));
    await waitFor(() => sim.stats().activeWatches === 0);
  });

  it('a silent cut keeps streams open but delivers nothing more', async () => {
    const list = await api.listNamespacedCustomObject({ ...OPS, plural: 'redisopsrequests' });
    let delivered = 0;
    const controller = await new k8s.Watch(kc).watch(
      PATH,
      { resourceVersion: list.metadata.resourceVersion },
      () => (delivered += 1),
      () => {},
    );
    await waitFor(() => sim.stats().activeWatches === 1);
    assert.equal(sim.cutWatches('silent'), 1);
    await create('unseen');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(delivered, 0);
    assert.equal(sim.stats().activeWatches, 1);
    controller.abort();
    await waitFor(() => sim.stats().activeWatches === 0);
  });

  it('a watch with timeoutSeconds ends by itself', async () => {
    const list = await api.listNamespacedCustomObject({ ...OPS, plural: 'redisopsrequests' });
    const started = Date.now();
    const { ended } = await collect(
      PATH,
      { resourceVersion: list.metadata.resourceVersion, timeoutSeconds: 1 },
      () => false,
    );
    assert.equal(ended, true);
    assert.ok(Date.now() - started >= 900);
  });
});

function phase(name: string): string | undefined {
  const object = sim.get('ops.kubedb.com', 'v1alpha1', 'redisopsrequests', NS, name) as
    { status?: { phase?: string } } | undefined;
  return object?.status?.phase;
}

async function waitFor(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
