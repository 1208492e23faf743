// k6: queues existing operations through POST /v1/operations/{id}/enqueue, a bounded number
// of times. Enqueue is idempotent: an operation already queued answers `already_queued`.
//
//   ADMIN_TOKEN=... IDS=op-0123456789ab,op-0123456789ac k6 run test/load/admin-enqueue.js
//   ADMIN_TOKEN=... IDS_FILE=./ids.txt ROUNDS=3 VUS=5 k6 run test/load/admin-enqueue.js
//
// IDS_FILE holds one operation id per line (blank lines and # comments skipped); k6 opens
// it relative to this script unless the path is absolute. Every id is enqueued ROUNDS times
// (default 1, at most 100), by VUS virtual users (default 5, at most 50), within 5 minutes.
// PRIORITY, if set, is sent as the body's priority. A final operation answers 409, which
// counts as expected here; anything else but 200 fails the check.

import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';
import { Counter } from 'k6/metrics';

const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const TOKEN = __ENV.ADMIN_TOKEN || '';
const ROUNDS = Math.max(1, Math.min(100, Number(__ENV.ROUNDS) || 1));
const VUS = Math.max(1, Math.min(50, Number(__ENV.VUS) || 5));
const PRIORITY = __ENV.PRIORITY === undefined ? undefined : Number(__ENV.PRIORITY);
const ID_PATTERN = /^op-[0-9a-f]{12}$/;

function readIds() {
  const text = __ENV.IDS_FILE ? open(__ENV.IDS_FILE) : (__ENV.IDS || '').replace(/,/g, '\n');
  return text
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter((line) => line !== '');
}

const ids = readIds();
if (!TOKEN) throw new Error('set ADMIN_TOKEN: enqueue needs the bearer token');
if (ids.length === 0) throw new Error('set IDS (comma-separated) or IDS_FILE (one id a line)');
const malformed = ids.filter((id) => !ID_PATTERN.test(id));
if (malformed.length > 0) throw new Error(`not operation ids: ${malformed.slice(0, 5)}`);
if (PRIORITY !== undefined && !Number.isFinite(PRIORITY)) throw new Error('PRIORITY: a number');

export const options = {
  scenarios: {
    enqueue: {
      executor: 'shared-iterations',
      vus: Math.min(VUS, ids.length * ROUNDS),
      iterations: ids.length * ROUNDS,
      maxDuration: '5m',
    },
  },
  thresholds: {
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
    http_req_duration: ['p(95)<300'],
  },
};

const results = new Counter('enqueue_results');
const params = {
  headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
  tags: { route: 'enqueue' },
  responseCallback: http.expectedStatuses(200, 409),
};
const body = JSON.stringify(PRIORITY === undefined ? {} : { priority: PRIORITY });

export default function () {
  const id = ids[exec.scenario.iterationInTest % ids.length];
  const response = http.post(`${BASE_URL}/v1/operations/${id}/enqueue`, body, params);
  const result = response.status === 200 ? response.json('result') : response.json('error');
  results.add(1, { result: String(result) });

  check(response, {
    'enqueue: 200, or 409 for a final operation': (r) => r.status === 200 || r.status === 409,
  });
}
