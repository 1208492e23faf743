// `npm test`: starts a real Redis and a real FerretDB on free loopback ports, runs every
// compiled test file with node's test runner, then stops both. Each test file gets its own
// Redis database number and MongoDB database (see test/support/services.ts).
//
//   npm test                 all tests
//   npm test -- queue store  only files whose path contains one of the words

import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStack } from '../src/devstack/services.js';

const here = path.dirname(fileURLToPath(import.meta.url));

function testFiles(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((name) => {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) return testFiles(full);
      return name.endsWith('.test.js') ? [full] : [];
    })
    .sort();
}

const filters = process.argv.slice(2);
const files = testFiles(here).filter(
  (file) => filters.length === 0 || filters.some((word) => file.includes(word)),
);
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}

const stack = await startStack();
const redisDatabases = Object.fromEntries(files.map((file, index) => [file, index + 1]));
let code = 1;
try {
  const child = spawn(
    process.execPath,
    [
      '--test',
      `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 2}`,
      '--test-reporter=spec',
      ...files,
    ],
    {
      stdio: 'inherit',
      env: {
        ...process.env,
        TEST_REDIS_URL: stack.redis.url,
        TEST_MONGODB_URL: stack.mongo.url,
        TEST_REDIS_DATABASES: JSON.stringify(redisDatabases),
      },
    },
  );
  code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
} finally {
  await stack.destroy();
}
process.exit(code);
