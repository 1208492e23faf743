// Runs the simulator on its own, as `dbaas-worker sim` (or node dist/src/sim/main.js):
//   dbaas-worker sim --port 0 --seed seed.json [--state-dir DIR] [--kubeconfig FILE]
// Prints the kubeconfig's path as the first line on stdout (logs go to stderr) and runs
// until SIGINT/SIGTERM. Every flag also reads an environment variable (SIM_PORT...).

import { parseArgs } from 'node:util';
import { destination, pino } from 'pino';
import type { FaultKind, Faults, Verb } from './faults.js';
import type { SeedDatabase } from './seed.js';
import { readSeedFile, SeedFileError } from './seed-file.js';
import { type SimulatorOptions, startSimulator } from './server.js';

const FLAGS = {
  port: { env: 'SIM_PORT', help: 'port on 127.0.0.1 (0 = any free port)' },
  seed: { env: 'SIM_SEED', help: 'JSON file: [SeedDatabase] or {"databases":[...]}' },
  'state-dir': { env: 'SIM_STATE_DIR', help: 'keep TLS, token, kubeconfig, objects here' },
  kubeconfig: { env: 'SIM_KUBECONFIG', help: 'write the kubeconfig to this file' },
  crds: { env: 'SIM_CRDS_DIR', help: 'folder of CRD YAML files (default: the repo crds/)' },
  'pending-ms': { env: 'SIM_PENDING_MS', help: 'OpsRequest time in Pending (default 50)' },
  'progressing-ms': { env: 'SIM_PROGRESSING_MS', help: 'time in Progressing (default 200)' },
  'bookmark-ms': { env: 'SIM_BOOKMARK_MS', help: 'watch bookmark interval (default 1000)' },
  'event-window': { env: 'SIM_EVENT_WINDOW', help: 'changes kept for watch resumes' },
  'error-rate': { env: 'SIM_ERROR_RATE', help: 'fraction of API requests failed (0..1)' },
  'error-kinds': { env: 'SIM_ERROR_KINDS', help: 'comma list of 500,503,429,403,reset' },
  'error-verbs': { env: 'SIM_ERROR_VERBS', help: 'comma list of verbs to fail (default all)' },
  'retry-after': { env: 'SIM_RETRY_AFTER', help: 'Retry-After seconds on 429 (default 1)' },
  'latency-ms': { env: 'SIM_LATENCY_MS', help: 'added to every API request' },
  'watch-cut-ms': { env: 'SIM_WATCH_CUT_MS', help: 'close all watch streams this often' },
  'ops-fail-rate': { env: 'SIM_OPS_FAIL_RATE', help: 'fraction of OpsRequests that fail' },
  'ops-fail-pattern': { env: 'SIM_OPS_FAIL_PATTERN', help: 'regex: OpsRequest names that fail' },
  'ops-stuck-pattern': { env: 'SIM_OPS_STUCK_PATTERN', help: 'regex: names that stay Progressing' },
  'log-level': { env: 'SIM_LOG_LEVEL', help: 'pino level for stderr logs (default info)' },
} as const;

type Flag = keyof typeof FLAGS;

function usage(): string {
  const lines = Object.entries(FLAGS).map(
    ([flag, { env, help }]) => `  --${flag.padEnd(18)} ${env.padEnd(22)} ${help}`,
  );
  return `usage: dbaas-worker sim [flags]\n${lines.join('\n')}\n`;
}

export function optionsFromArgs(
  argv: string[],
  env: Record<string, string | undefined>,
): SimulatorOptions & { logLevel: string } {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...Object.fromEntries(Object.keys(FLAGS).map((f) => [f, { type: 'string' as const }])),
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(usage());
    process.exit(0);
  }
  const read = (flag: Flag): string | undefined =>
    (values as Record<string, string | undefined>)[flag] ?? env[FLAGS[flag].env];
  const number = (flag: Flag): number | undefined => {
    const text = read(flag);
    if (text === undefined || text === '') return undefined;
    const value = Number(text);
    if (!Number.isFinite(value)) throw new Error(`--${flag} must be a number, got ${text}`);
    return value;
  };
  const list = (flag: Flag) =>
    read(flag)
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean);

  const faults: Partial<Faults> = {
    errorRate: number('error-rate'),
    errorKinds: list('error-kinds')?.map((k) => (k === 'reset' ? k : Number(k)) as FaultKind),
    errorVerbs: list('error-verbs') as Verb[] | undefined,
    retryAfterSeconds: number('retry-after'),
    latencyMs: number('latency-ms'),
    watchCutEveryMs: number('watch-cut-ms'),
    opsFailRate: number('ops-fail-rate'),
    opsFailPattern: read('ops-fail-pattern'),
    opsStuckPattern: read('ops-stuck-pattern'),
  };
  const seedFile = read('seed');
  const seed: SeedDatabase[] | undefined = seedFile ? readSeedFile(seedFile) : undefined;
  return {
    port: number('port') ?? 0,
    crdsDir: read('crds'),
    stateDir: read('state-dir'),
    kubeconfigPath: read('kubeconfig'),
    eventWindow: number('event-window'),
    timings: {
      pendingMs: number('pending-ms'),
      progressingMs: number('progressing-ms'),
      bookmarkMs: number('bookmark-ms'),
    },
    faults,
    seed,
    logLevel: read('log-level') ?? 'info',
  };
}

async function main(): Promise<void> {
  let options: ReturnType<typeof optionsFromArgs>;
  try {
    options = optionsFromArgs(process.argv.slice(2), process.env);
  } catch (error) {
    // Bad input exits 2, as the CLI does; a bad seed file is one line, without the flags.
    const message = (error as Error).message;
    process.stderr.write(
      error instanceof SeedFileError
        ? `dbaas-worker sim: ${message}\n`
        : `dbaas-worker sim: ${message}\n${usage()}`,
    );
    process.exit(2);
  }
  const logger = pino({ level: options.logLevel }, destination(2));
  const timings = Object.fromEntries(
    Object.entries(options.timings ?? {}).filter(([, v]) => v !== undefined),
  );
  let sim: Awaited<ReturnType<typeof startSimulator>>;
  try {
    sim = await startSimulator({ ...options, timings, logger });
  } catch (error) {
    // A port in use, an unreadable state folder: one line, as for bad flags.
    process.stderr.write(`dbaas-worker sim: cannot start: ${(error as Error).message}\n`);
    process.exit(1);
  }
  process.stdout.write(`${sim.kubeconfigPath}\n`);
  logger.info({ url: sim.url, kubeconfigPath: sim.kubeconfigPath }, 'sim_ready');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'sim_stopping');
    void sim.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

// Runs only as the entry point, so `optionsFromArgs` can be imported by the CLI and tests.
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  await main();
}
