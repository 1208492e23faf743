// Throwaway real servers for tests, the demo and benchmarks: Debian's redis-server and
// FerretDB (MongoDB wire protocol over SQLite), each on a free loopback port with its data
// in a temporary folder. Installs them first if the machine lacks them.
//
// Benchmarks can put FerretDB on PostgreSQL instead (`store: 'postgresql'`): on SQLite every
// update scans its whole collection and writes are serialized, so end-to-end figures there
// measure FerretDB; on PostgreSQL updates by _id go through an index, as on a real MongoDB.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  realpathSync,
  rmSync,
} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const FERRETDB_VERSION = 'v1.24.2';
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export interface LocalServer {
  url: string;
  port: number;
  dir: string;
  /** Stops the process (SIGTERM) and keeps its data folder. */
  stop(): Promise<void>;
  /** Stops and starts it again on the same port with the same data. */
  restart(): Promise<void>;
  /** Stops it and removes its data folder. */
  destroy(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function cacheDir(): string {
  return process.env.DBAAS_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'dbaas-worker');
}

function ferretdbBinary(): string {
  return process.env.FERRETDB_BIN ?? path.join(cacheDir(), 'bin', `ferretdb-${FERRETDB_VERSION}`);
}

function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** Where the MongoDB documents live: FerretDB's SQLite handler, or its PostgreSQL one. */
export type MongoStore = 'sqlite' | 'postgresql';

/**
 * PostgreSQL's server binaries: PG_BIN_DIR, else where `initdb` on the PATH links to, else the newest
 * Debian package under /usr/lib/postgresql/N/bin. Null when none is found.
 */
export function postgresBinDir(): string | null {
  const fromEnv = process.env.PG_BIN_DIR;
  if (fromEnv) return fromEnv;
  const found = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' });
  // Resolved, because a PATH may link initdb alone (createdb is needed too).
  if (found.status === 0 && found.stdout.trim()) {
    return path.dirname(realpathSync(found.stdout.trim()));
  }
  const debian = '/usr/lib/postgresql';
  if (!existsSync(debian)) return null;
  const versions = readdirSync(debian)
    .filter((name) => existsSync(path.join(debian, name, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(debian, versions[0], 'bin') : null;
}

/** Runs scripts/install-services.sh when redis-server, FerretDB (or PostgreSQL) is missing. */
export function ensureInstalled(options: { postgres?: boolean } = {}): void {
  const postgresReady = !options.postgres || postgresBinDir() !== null;
  if (onPath('redis-server') && existsSync(ferretdbBinary()) && postgresReady) return;
  const script = path.join(REPO_ROOT, 'scripts', 'install-services.sh');
  const args = options.postgres ? [script, '--postgres'] : [script];
  const result = spawnSync('bash', args, { stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`${script} failed with exit code ${result.status}`);
}

async function waitForPort(port: number, child: ChildProcess, name: string, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${name} did not open port ${port} within ${ms} ms`);
}

function stopChild(child: ChildProcess | null, signal: NodeJS.Signals = 'SIGTERM') {
  return new Promise<void>((resolve) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

function managed(
  name: string,
  port: number,
  dir: string,
  url: string,
  launch: () => ChildProcess,
  stopSignal: NodeJS.Signals = 'SIGTERM',
): Promise<LocalServer> {
  let child: ChildProcess | null = null;
  const start = async () => {
    child = launch();
    child.stderr?.on('data', (chunk: Buffer) => {
      if (process.env.DEVSTACK_VERBOSE) process.stderr.write(`[${name}] ${chunk}`);
    });
    await waitForPort(port, child, name);
  };
  const server: LocalServer = {
    url,
    port,
    dir,
    stop: () => stopChild(child, stopSignal),
    restart: async () => {
      await stopChild(child, stopSignal);
      await start();
    },
    destroy: async () => {
      await stopChild(child, stopSignal);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return start().then(() => server);
}

export interface RedisOptions {
  /** Append-only persistence, as production runs it; off by default for speed. */
  appendOnly?: boolean;
  databases?: number;
}

export async function startRedis(options: RedisOptions = {}): Promise<LocalServer> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dbaas-redis-'));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    options.appendOnly ? 'yes' : 'no',
    '--appendfsync',
    'everysec',
    '--databases',
    String(options.databases ?? 1024),
    '--daemonize',
    'no',
    '--loglevel',
    'warning',
  ];
  return managed('redis', port, dir, `redis://127.0.0.1:${port}`, () =>
    spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] }),
  );
}

/** Above what the worker's MongoDB clients (100 per client, one client per thread) can open. */
const POSTGRES_MAX_CONNECTIONS = 600;

/**
 * The user PostgreSQL runs as. initdb and postgres refuse to run as root, so as root both run
 * as the `postgres` system user (Debian's package creates it), else as `nobody`; any other
 * user runs them as itself.
 */
function postgresUser(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  for (const name of ['postgres', 'nobody']) {
    const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
    if (uid.status === 0 && gid.status === 0) {
      return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
    }
  }
  throw new Error('running as root, and neither a postgres nor a nobody user exists to run initdb');
}

/**
 * A throwaway PostgreSQL cluster in a temporary folder, on a free loopback port (its unix
 * socket inside the folder), trusting local connections from user `ferretdb`, with a
 * `ferretdb` database. Durability is traded for speed (fsync and synchronous_commit off),
 * as befits a server whose data is deleted afterwards.
 */
export async function startPostgres(): Promise<LocalServer> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL not found; run scripts/install-services.sh --postgres');
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dbaas-postgres-'));
  const data = path.join(dir, 'data');
  mkdirSync(data, { mode: 0o700 });
  const user = postgresUser();
  if (user) {
    chownSync(dir, user.uid, user.gid);
    chownSync(data, user.uid, user.gid);
  }
  const asUser = user ? { uid: user.uid, gid: user.gid } : {};
  const init = spawnSync(
    path.join(bin, 'initdb'),
    ['-D', data, '-U', 'ferretdb', '--auth=trust', '--encoding=UTF8', '--no-sync'],
    { ...asUser, encoding: 'utf8', cwd: dir },
  );
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed (${init.status}): ${init.stderr}`);
  }
  const args = [
    '-D',
    data,
    '-p',
    String(port),
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    `unix_socket_directories=${dir}`,
    '-c',
    'fsync=off',
    '-c',
    'synchronous_commit=off',
    '-c',
    'full_page_writes=off',
    '-c',
    `max_connections=${POSTGRES_MAX_CONNECTIONS}`,
  ];
  const url = `postgres://ferretdb@127.0.0.1:${port}/ferretdb`;
  const server = await managed(
    'postgres',
    port,
    dir,
    url,
    () =>
      spawn(path.join(bin, 'postgres'), args, {
        ...asUser,
        cwd: dir,
        stdio: ['ignore', 'ignore', 'pipe'],
      }),
    // SIGINT is PostgreSQL's fast shutdown; SIGTERM would wait for every client to leave.
    'SIGINT',
  );
  // The port opens before recovery ends ("the database system is starting up"): retry.
  let created = spawnSync('true', { encoding: 'utf8' });
  for (let attempt = 0; attempt < 50; attempt++) {
    created = spawnSync(
      path.join(bin, 'createdb'),
      ['-h', dir, '-p', String(port), '-U', 'ferretdb', 'ferretdb'],
      { ...asUser, encoding: 'utf8', cwd: dir },
    );
    if (created.status === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (created.status !== 0) {
    await server.destroy();
    throw new Error(`createdb failed (${created.status}): ${created.stderr ?? created.error}`);
  }
  return server;
}

function ferretdbArgs(port: number, dir: string, handler: string[]): string[] {
  return [
    ...handler,
    `--listen-addr=127.0.0.1:${port}`,
    '--telemetry=disable',
    `--state-dir=${dir}`,
    '--debug-addr=-',
    '--log-level=error',
  ];
}

/**
 * FerretDB on its own PostgreSQL (startPostgres). stop, restart and destroy act on both
 * servers; destroy removes both folders.
 */
async function startFerretDBOnPostgres(): Promise<LocalServer> {
  const postgres = await startPostgres();
  try {
    const port = await freePort();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dbaas-ferretdb-'));
    // FerretDB caps its PostgreSQL pool at 50 connections unless told otherwise, and with more
    // concurrent MongoDB requests than that it stalled for good in a 5,000-operation run (all
    // 50 connections idle, ping unanswered); a pool wider than the clients' own pools avoids it.
    const poolMax = POSTGRES_MAX_CONNECTIONS - 20;
    const args = ferretdbArgs(port, dir, [
      '--handler=postgresql',
      `--postgresql-url=${postgres.url}?pool_max_conns=${poolMax}`,
    ]);
    const ferretdb = await managed('ferretdb', port, dir, `mongodb://127.0.0.1:${port}`, () =>
      spawn(ferretdbBinary(), args, { stdio: ['ignore', 'ignore', 'pipe'] }),
    );
    return {
      ...ferretdb,
      stop: async () => {
        await ferretdb.stop();
        await postgres.stop();
      },
      restart: async () => {
        await ferretdb.stop();
        await postgres.restart();
        await ferretdb.restart();
      },
      destroy: async () => {
        await ferretdb.destroy();
        await postgres.destroy();
      },
    };
  } catch (error) {
    await postgres.destroy();
    throw error;
  }
}

export interface FerretDBOptions {
  /** sqlite (the default, for tests and the demo) or postgresql (for benchmarks). */
  store?: MongoStore;
}

export async function startFerretDB(options: FerretDBOptions = {}): Promise<LocalServer> {
  if (options.store === 'postgresql') return startFerretDBOnPostgres();
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dbaas-ferretdb-'));
  const args = ferretdbArgs(port, dir, ['--handler=sqlite', `--sqlite-url=file:${dir}/`]);
  return managed('ferretdb', port, dir, `mongodb://127.0.0.1:${port}`, () =>
    spawn(ferretdbBinary(), args, { stdio: ['ignore', 'ignore', 'pipe'] }),
  );
}

export interface Stack {
  redis: LocalServer;
  mongo: LocalServer;
  destroy(): Promise<void>;
}

export interface StackOptions extends RedisOptions, FerretDBOptions {}

/** Installs if needed, then starts Redis and FerretDB side by side. */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  ensureInstalled({ postgres: options.store === 'postgresql' });
  const [redis, mongo] = await Promise.all([
    startRedis(options),
    startFerretDB({ store: options.store }),
  ]);
  return {
    redis,
    mongo,
    destroy: async () => {
      await Promise.all([redis.destroy(), mongo.destroy()]);
    },
  };
}
