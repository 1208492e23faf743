import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { SETTINGS } from '../src/shared/config.js';
import { queueKeys } from '../src/shared/queue-keys.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('documents every setting with its default, as `dbaas-worker config --markdown` prints', () => {
    for (const setting of SETTINGS) {
      const row = `| \`${setting.name}\` | ${setting.default} | ${setting.description} |`;
      assert.ok(readme.includes(row), `README lacks the row for ${setting.name}`);
    }
  });

  it('lists every Redis key the worker uses', () => {
    for (const key of Object.values(queueKeys)) {
      const name = typeof key === 'function' ? key('{database_id}', '{type}') : key;
      const pattern = name.startsWith('operations:lease:')
        ? 'operations:lease:{operation_id}'
        : name;
      assert.ok(readme.includes(`\`${pattern}\``), `README lacks the key ${pattern}`);
    }
  });
});
