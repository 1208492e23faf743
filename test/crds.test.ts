import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const published = path.resolve(repo, '../shared/kubedb-crds');

describe('vendored KubeDB CRDs', () => {
  it('are byte-for-byte the published ones, so validation follows KubeDB exactly', (t) => {
    if (!existsSync(published)) {
      t.skip('no ../shared/kubedb-crds beside this checkout to compare with');
      return;
    }
    const ours = readdirSync(path.join(repo, 'crds')).sort();
    assert.deepEqual(ours, readdirSync(published).sort());
    for (const file of ours) {
      const same = readFileSync(path.join(repo, 'crds', file)).equals(
        readFileSync(path.join(published, file)),
      );
      assert.ok(same, `${file} differs from the published CRD`);
    }
  });
});
