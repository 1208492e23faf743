// startSimulator: a KubeDB cluster on loopback for tests, demos and load tests. It serves
// the Kubernetes API for KubeDB's database and OpsRequest kinds over HTTPS, plays the
// operator, and hands back a kubeconfig that points at itself.

import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { createControlHandler, type SimulatorControl } from './control-api.js';
import { CrdCatalog, defaultCrdsDir } from './crd-catalog.js';
import { DATABASE_GROUP, ENGINES, OPS_GROUP } from './engines.js';
import { FaultPlan, type Faults } from './faults.js';
import { createApiHandler } from './http-api.js';
import { buildKubeconfig } from './kubeconfig.js';
import { Operator, type OperatorTimings } from './operator.js';
import { Resources, present, storageVersion } from './resources.js';
import { type SeedDatabase, seedManifest } from './seed.js';
import { type SimStats, StatsCounter } from './stats.js';
import { Store, type StoreSnapshot } from './store.js';
import { loadOrCreateTls } from './tls.js';
import { WatchHub, type WatchCutMode } from './watch.js';

export type { Faults, FaultKind, Verb } from './faults.js';
export type { SeedDatabase } from './seed.js';
export type { SimStats } from './stats.js';
export type { WatchCutMode } from './watch.js';
export { seedManifest } from './seed.js';

export interface SimulatorTimings extends OperatorTimings {
  /** How often watch streams that asked for bookmarks get one. */
  bookmarkMs: number;
}

export interface SimulatorOptions {
  /** 0 (default) picks a free port. The server binds 127.0.0.1 only. */
  port?: number;
  /** Folder of CRD YAML files; default: the repo's `crds/`. */
  crdsDir?: string;
  timings?: Partial<SimulatorTimings>;
  faults?: Partial<Faults>;
  /** How many recent changes watches can resume from; older versions get 410 Gone. */
  eventWindow?: number;
  seed?: SeedDatabase[];
  /**
   * Keeps TLS material, token, kubeconfig and objects here across restarts (objects are
   * saved on stop and every few seconds). Without it everything lives in a temp dir that
   * stop() removes.
   */
  stateDir?: string;
  /** Where to write the kubeconfig; default `<stateDir or temp dir>/kubeconfig`. */
  kubeconfigPath?: string;
  logger?: Logger;
}

export interface Simulator {
  /** https://127.0.0.1:PORT */
  url: string;
  /** A kubeconfig (YAML) with the simulator's CA, a token it accepts, one context. */
  kubeconfig: string;
  kubeconfigPath: string;
  stats(): SimStats;
  resetStats(): void;
  faults(): Faults;
  setFaults(faults: Partial<Faults>): void;
  timings(): SimulatorTimings;
  setTimings(timings: Partial<SimulatorTimings>): void;
  seed(databases: SeedDatabase[]): void;
  /** The stored object as served under `version`, or undefined. */
  get(
    group: string,
    version: string,
    plural: string,
    namespace: string,
    name: string,
  ): Record<string, unknown> | undefined;
  /** Stored objects of a plural (any group), optionally in one namespace. */
  list(plural: string, namespace?: string): Array<Record<string, unknown>>;
  /** Closes every open watch stream now; returns how many. */
  cutWatches(mode?: WatchCutMode): number;
  stop(): Promise<void>;
}

export const DEFAULT_TIMINGS: SimulatorTimings = {
  pendingMs: 50,
  progressingMs: 200,
  bookmarkMs: 1000,
};
export const DEFAULT_EVENT_WINDOW = 10_000;

const SNAPSHOT_FILE = 'objects.json';
const TOKEN_FILE = 'token';
const SNAPSHOT_EVERY_MS = 5000;

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const logger = options.logger ?? pino({ level: 'silent' });
  const catalog = CrdCatalog.load(options.crdsDir ?? defaultCrdsDir());
  const store = new Store(options.eventWindow ?? DEFAULT_EVENT_WINDOW);
  const resources = new Resources(catalog, store);
  const faults = new FaultPlan(options.faults ?? {});
  const stats = new StatsCounter();
  let timings: SimulatorTimings = { ...DEFAULT_TIMINGS, ...options.timings };
  checkTimings(timings);

  const ownDir = options.stateDir ? undefined : mkdtempSync(path.join(os.tmpdir(), 'dbaas-sim-'));
  const dir = options.stateDir ?? ownDir!;
  mkdirSync(dir, { recursive: true });
  const tls = loadOrCreateTls(options.stateDir);
  const token = readOrCreateToken(options.stateDir);
  if (options.stateDir) restoreSnapshot(store, path.join(options.stateDir, SNAPSHOT_FILE));

  const watches = new WatchHub(
    store,
    () => timings.bookmarkMs,
    () => stats.watchOpened(),
    () => stats.watchClosed(),
  );
  const operator = new Operator(resources, catalog, faults, () => timings, logger);
  operator.start();

  const seed = (databases: SeedDatabase[]) => {
    for (const database of databases) seedDatabase(resources, database);
  };
  if (options.seed) seed(options.seed);

  let address = '';
  const control: SimulatorControl = {
    stats: () => ({ ...stats.read(), activeWatches: watches.open }),
    resetStats: () => stats.reset(),
    faults: () => faults.get(),
    setFaults: (f) => {
      faults.set(f);
      scheduleWatchCuts();
    },
    clearFaults: () => {
      faults.reset();
      scheduleWatchCuts();
    },
    timings: () => ({ ...timings }),
    setTimings: (t) => {
      const next = { ...timings, ...(t as Partial<SimulatorTimings>) };
      checkTimings(next);
      timings = next;
    },
    seed,
    cutWatches: (mode) => watches.cut(mode),
    list: (plural, namespace) => listObjects(catalog, store, plural, namespace),
  };
  const api = createApiHandler({
    catalog,
    resources,
    watches,
    stats,
    faults,
    token,
    address: () => address,
    logger,
  });
  const controlApi = createControlHandler(control, logger);

  const server: Server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    const handler = url.pathname.startsWith('/sim/') ? controlApi : api;
    void handler(req, res, url);
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  address = `127.0.0.1:${port}`;
  const url = `https://${address}`;

  let cutTimer: NodeJS.Timeout | undefined;
  function scheduleWatchCuts(): void {
    if (cutTimer) clearInterval(cutTimer);
    cutTimer = undefined;
    const every = faults.get().watchCutEveryMs;
    if (every > 0) cutTimer = setInterval(() => watches.cut('end'), every);
  }
  scheduleWatchCuts();

  const snapshotPath = options.stateDir ? path.join(options.stateDir, SNAPSHOT_FILE) : undefined;
  let savedAt = -1;
  const saveSnapshot = () => {
    if (!snapshotPath || savedAt === store.resourceVersion()) return;
    savedAt = store.resourceVersion();
    writeFileSync(snapshotPath, JSON.stringify(store.snapshot()));
  };
  const snapshotTimer = snapshotPath ? setInterval(saveSnapshot, SNAPSHOT_EVERY_MS) : undefined;

  const kubeconfig = buildKubeconfig(url, tls.caCert, token);
  const kubeconfigPath = options.kubeconfigPath ?? path.join(dir, 'kubeconfig');
  mkdirSync(path.dirname(kubeconfigPath), { recursive: true });
  writeFileSync(kubeconfigPath, kubeconfig, { mode: 0o600 });
  logger.info({ url, kubeconfigPath }, 'sim_started');

  let stopped = false;
  return {
    url,
    kubeconfig,
    kubeconfigPath,
    stats: control.stats,
    resetStats: control.resetStats,
    faults: control.faults,
    setFaults: control.setFaults,
    timings: () => ({ ...timings }),
    setTimings: (t) => control.setTimings(t as Record<string, number>),
    seed,
    get: (group, version, plural, namespace, name) => {
      const type = catalog.find(group, plural);
      const object = store.get(group, plural, namespace, name);
      return type && object ? present(object, type, version) : undefined;
    },
    list: (plural, namespace) => listObjects(catalog, store, plural, namespace),
    cutWatches: (mode) => watches.cut(mode),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      if (cutTimer) clearInterval(cutTimer);
      if (snapshotTimer) clearInterval(snapshotTimer);
      operator.stop();
      watches.cut('end');
      saveSnapshot();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      if (ownDir) rmSync(ownDir, { recursive: true, force: true });
      logger.info({ url }, 'sim_stopped');
    },
  };
}

/** Creates (or replaces) a fixture database and marks it Ready, as KubeDB would. */
function seedDatabase(resources: Resources, database: SeedDatabase): void {
  const manifest = seedManifest(database);
  const type = resources.catalog.find(DATABASE_GROUP, ENGINES[database.engine].plural);
  if (!type) throw new Error(`the CRDs have no ${ENGINES[database.engine].plural}.kubedb.com`);
  const version = manifest.apiVersion.split('/')[1]!;
  const { status, ...body } = manifest;
  const store = resources.store;
  if (store.exists(type.group, type.plural, database.namespace, database.name)) {
    store.remove(type.group, type.plural, database.namespace, database.name);
  }
  resources.create(type, version, database.namespace, body, {
    fieldValidation: 'Strict',
    dryRun: false,
  });
  resources.mutate(type, database.namespace, database.name, (object) => {
    object.status = status;
  });
}

function listObjects(
  catalog: CrdCatalog,
  store: Store,
  plural: string,
  namespace?: string,
): Array<Record<string, unknown>> {
  const types = catalog.types().filter((t) => t.plural === plural);
  return types.flatMap((type) =>
    store
      .list(type.group, type.plural, namespace)
      .map((o) => present(o, type, o.apiVersion.split('/')[1] ?? storageVersion(type))),
  );
}

function readOrCreateToken(stateDir?: string): string {
  const file = stateDir ? path.join(stateDir, TOKEN_FILE) : undefined;
  if (file) {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch {
      // first start in this folder
    }
  }
  const token = randomBytes(24).toString('base64url');
  if (file) writeFileSync(file, token, { mode: 0o600 });
  return token;
}

function restoreSnapshot(store: Store, file: string): void {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return;
  }
  store.restore(JSON.parse(text) as StoreSnapshot);
}

function checkTimings(t: SimulatorTimings): void {
  for (const [name, value] of Object.entries(t)) {
    if (!(Number.isFinite(value) && value >= 0)) {
      throw new RangeError(`timing ${name} must be a number >= 0, got ${String(value)}`);
    }
  }
}

export { OPS_GROUP, DATABASE_GROUP };
