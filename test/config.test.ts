import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig, mongodbDatabaseName, redactUrl } from '../src/shared/config.js';
import { ConfigError } from '../src/shared/errors.js';

describe('configuration', () => {
  it('uses documented defaults when nothing is set', () => {
    const config = loadConfig({});
    assert.equal(config.redisUrl, 'redis://127.0.0.1:6379/0');
    assert.equal(config.mongodbDatabase, 'kubedb_dbaas');
    assert.equal(config.concurrency, 64);
    assert.equal(config.adminToken, null);
    assert.equal(config.timeoutsMs.scale_vertical, 1_800_000);
  });

  it('takes the MongoDB database from MONGODB_DATABASE, then the URL path', () => {
    assert.equal(mongodbDatabaseName('mongodb://h:1/fromurl', 'explicit'), 'explicit');
    assert.equal(mongodbDatabaseName('mongodb://h:1/fromurl?x=1'), 'fromurl');
    assert.equal(mongodbDatabaseName('mongodb://h:1'), 'kubedb_dbaas');
  });

  it('rejects a bad value naming the variable, the value and what is accepted', () => {
    assert.throws(
      () => loadConfig({ WORKER_CONCURRENCY: 'lots' }),
      (error: unknown) =>
        error instanceof ConfigError &&
        /WORKER_CONCURRENCY="lots"/.test(error.message) &&
        /whole number from 1 to 20000/.test(error.message),
    );
    assert.throws(() => loadConfig({ HORIZONTAL_SCALING_MODE: 'both' }), /ops-request, patch/);
    assert.throws(() => loadConfig({ REDIS_URL: 'http://x' }), /REDIS_URL/);
    assert.throws(() => loadConfig({ WORKER_TIMEOUT_EXPAND_STORAGE: '0' }), /EXPAND_STORAGE/);
  });

  it('never echoes a short admin token or a URL password in its errors', () => {
    assert.throws(
      () => loadConfig({ ADMIN_TOKEN: 'short-secret' }),
      (error: unknown) => error instanceof Error && !error.message.includes('short-secret'),
    );
    assert.equal(redactUrl('mongodb://u:hunter2@h:1/db'), 'mongodb://u:***@h:1/db');
  });
});
