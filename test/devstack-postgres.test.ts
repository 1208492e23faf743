// The devstack's FerretDB on PostgreSQL (what the benchmarks run against): a working MongoDB
// endpoint whose data survives a restart, and nothing left behind once destroyed.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { MongoClient } from 'mongodb';
import { postgresBinDir, startFerretDB } from '../src/devstack/services.js';

const noPostgres = postgresBinDir() === null && 'PostgreSQL is not installed';

describe('FerretDB on PostgreSQL', { skip: noPostgres }, () => {
  it('stores documents, keeps them across a restart, and destroy removes both servers', async () => {
    const server = await startFerretDB({ store: 'postgresql' });
    let client = await MongoClient.connect(`${server.url}/devstack`);
    try {
      const docs = client.db().collection<{ _id: string; n: number }>('docs');
      await docs.insertMany([
        { _id: 'a', n: 1 },
        { _id: 'b', n: 2 },
      ]);
      await docs.updateOne({ _id: 'a', n: 1 }, { $set: { n: 10 } });
      await client.close();

      await server.restart();
      client = await MongoClient.connect(`${server.url}/devstack`);
      const after = client.db().collection<{ _id: string; n: number }>('docs');
      assert.deepEqual(await after.find().sort({ _id: 1 }).toArray(), [
        { _id: 'a', n: 10 },
        { _id: 'b', n: 2 },
      ]);
    } finally {
      await client.close();
      await server.destroy();
    }
    assert.equal(existsSync(server.dir), false, 'the FerretDB folder is removed');
    await assert.rejects(
      MongoClient.connect(server.url, { serverSelectionTimeoutMS: 500 }),
      'nothing answers on the port any more',
    );
  });
});
