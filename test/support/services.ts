// What a test file needs to reach the real servers that test/run.ts started: its own Redis
// database number and its own MongoDB database, so test files can run in parallel.

import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

export interface TestServices {
  redisUrl: string;
  mongodbUrl: string;
  mongodbDatabase: string;
}

/** Call with `import.meta.url` of the test file. */
export function testServices(moduleUrl: string): TestServices {
  const redisBase = process.env.TEST_REDIS_URL;
  const mongoBase = process.env.TEST_MONGODB_URL;
  if (!redisBase || !mongoBase) {
    throw new Error('run tests with `npm test`: it starts Redis and FerretDB for them');
  }
  const file = fileURLToPath(moduleUrl);
  const databases = JSON.parse(process.env.TEST_REDIS_DATABASES ?? '{}') as Record<string, number>;
  const redisDb = databases[file] ?? 1 + (randomBytes(2).readUInt16BE() % 1000);
  const name = file
    .split('/')
    .pop()!
    .replace(/\.test\.js$/, '')
    .replace(/[^a-z0-9]/gi, '_');
  const mongodbDatabase = `t_${name}_${randomBytes(3).toString('hex')}`;
  return {
    redisUrl: `${redisBase}/${redisDb}`,
    mongodbUrl: `${mongoBase}/${mongodbDatabase}`,
    mongodbDatabase,
  };
}
