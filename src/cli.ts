#!/usr/bin/env node
// dbaas-worker's command line: `start` runs the worker, `sim` the KubeDB simulator,
// `enqueue` creates or queues an operation the way the platform's API does, `demo` runs a
// self-contained demonstration, `config` prints the settings table.

import { loadConfig, SETTINGS } from './shared/config.js';
import { ConfigError, errorMessage } from './shared/errors.js';
import { createLogger } from './shared/logger.js';

const USAGE = `usage: dbaas-worker <command> [options]

commands:
  start                 run the worker (settings from environment variables; see README)
  sim [options]         run the KubeDB simulator (see: dbaas-worker sim --help)
  enqueue [options]     create and queue an operation, or queue an existing one
                        (see: dbaas-worker enqueue --help)
  demo [options]        run a self-contained demo: Redis, FerretDB, simulator, worker
                        (see: dbaas-worker demo --help)
  config [--markdown]   print every setting with its default
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'start': {
      const config = loadConfig();
      const logger = createLogger(config.logLevel, { workerId: config.workerId });
      const { runWorkerProcess } = await import('./supervisor/main.js');
      await runWorkerProcess(config, logger);
      return -1;
    }
    case 'sim': {
      // The simulator is its own program (src/sim/main.ts); run it in the foreground.
      const { spawn } = await import('node:child_process');
      const simMain = new URL('./sim/main.js', import.meta.url).pathname;
      const child = spawn(process.execPath, [simMain, ...rest], { stdio: 'inherit' });
      for (const signal of ['SIGINT', 'SIGTERM'] as const) {
        process.on(signal, () => child.kill(signal));
      }
      return new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
    }
    case 'enqueue': {
      const { runEnqueueCli } = await import('./devstack/enqueue.js');
      return runEnqueueCli(rest);
    }
    case 'demo': {
      const { runDemo } = await import('./devstack/demo.js');
      return runDemo(rest);
    }
    case 'config': {
      if (rest.includes('--markdown')) {
        console.log('| Variable | Default | Meaning |\n| --- | --- | --- |');
        for (const s of SETTINGS)
          console.log(`| \`${s.name}\` | ${s.default} | ${s.description} |`);
      } else {
        for (const s of SETTINGS)
          console.log(`${s.name.padEnd(28)} ${s.default}\n    ${s.description}`);
      }
      return 0;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    default:
      console.error(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error: unknown) => {
    if (error instanceof ConfigError) console.error(`dbaas-worker: ${error.message}`);
    else console.error(`dbaas-worker: ${errorMessage(error)}`);
    process.exit(1);
  },
);
