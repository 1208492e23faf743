// Throwaway real servers for tests, the demo and benchmarks: Debian's redis-server and
// FerretDB (MongoDB wire protocol over SQLite), each on a free loopback port with its data
// in a temporary folder. Installs them first if the machine lacks them.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
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

/** Runs scripts/install-services.sh when redis-server or FerretDB is missing. */
export function ensureInstalled(): void {
  if (onPath('redis-server') && existsSync(ferretdbBinary())) return;
  const script = path.join(REPO_ROOT, 'scripts', 'install-services.sh');
  const result = spawnSync('bash', [script], { stdio: 'inherit' });
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
    stop: () => stopChild(child),
    restart: async () => {
      await stopChild(child);
      await start();
    },
    destroy: async () => {
      await stopChild(child);
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

export async function startFerretDB(): Promise<LocalServer> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dbaas-ferretdb-'));
  const args = [
    '--handler=sqlite',
    `--sqlite-url=file:${dir}/`,
    `--listen-addr=127.0.0.1:${port}`,
    '--telemetry=disable',
    `--state-dir=${dir}`,
    '--debug-addr=-',
    '--log-level=error',
  ];
  return managed('ferretdb', port, dir, `mongodb://127.0.0.1:${port}`, () =>
    spawn(ferretdbBinary(), args, { stdio: ['ignore', 'ignore', 'pipe'] }),
  );
}

export interface Stack {
  redis: LocalServer;
  mongo: LocalServer;
  destroy(): Promise<void>;
}

/** Installs if needed, then starts Redis and FerretDB side by side. */
export async function startStack(options: RedisOptions = {}): Promise<Stack> {
  ensureInstalled();
  const [redis, mongo] = await Promise.all([startRedis(options), startFerretDB()]);
  return {
    redis,
    mongo,
    destroy: async () => {
      await Promise.all([redis.destroy(), mongo.destroy()]);
    },
  };
}
