import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MongoNetworkError, MongoServerError } from 'mongodb';
import { PermanentError, TransientError } from '../src/shared/errors.js';
import { isStoreOutage } from '../src/shared/store-outage.js';

describe('store outages', () => {
  it('are network failures and a backend too busy to write, not faults of an operation', () => {
    assert.equal(isStoreOutage(new MongoNetworkError('connection 3 to 127.0.0.1 closed')), true);
    const busy = new MongoServerError({ errmsg: 'database is locked (5) (SQLITE_BUSY)', code: 1 });
    assert.equal(isStoreOutage(busy), true);
    assert.equal(isStoreOutage(new TransientError('STORE_TRANSIENT', 'redis away')), true);
  });

  it('exclude server errors about the request and every other worker error', () => {
    const bad = new MongoServerError({ errmsg: 'unknown operator: $foo', code: 2 });
    assert.equal(isStoreOutage(bad), false);
    assert.equal(isStoreOutage(new TransientError('KUBE_TRANSIENT', '503')), false);
    assert.equal(isStoreOutage(new PermanentError('REQUEST_INVALID', 'bad size')), false);
    assert.equal(isStoreOutage(new Error('boom')), false);
  });
});
