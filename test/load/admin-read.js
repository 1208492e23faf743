// k6: reads the admin API at a fixed, bounded rate: actors, queue sizes and /metrics.
//
//   k6 run test/load/admin-read.js
//   BASE_URL=http://127.0.0.1:8080 RATE=50 DURATION=1m k6 run test/load/admin-read.js
//
// RATE is iterations per second (each one GETs the three routes), at most 500. DURATION is
// a k6 duration, at most 10 minutes. Read routes need no token.

import http from 'k6/http';
import { check } from 'k6';

const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const RATE = Math.max(1, Math.min(500, Number(__ENV.RATE) || 20));
const DURATION = __ENV.DURATION || '30s';
const MAX_DURATION_SECONDS = 600;

function seconds(duration) {
  const units = { ms: 0.001, s: 1, m: 60, h: 3600 };
  let total = 0;
  for (const [, amount, unit] of duration.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(amount) * units[unit];
  }
  return total;
}

if (!(seconds(DURATION) > 0) || seconds(DURATION) > MAX_DURATION_SECONDS) {
  throw new Error(`DURATION=${DURATION} must be a k6 duration from 1s to 10m`);
}

export const options = {
  scenarios: {
    read: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: Math.min(50, RATE),
      maxVUs: Math.min(100, RATE * 2),
      gracefulStop: '5s',
    },
  },
  thresholds: {
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
    'http_req_duration{route:actors}': ['p(95)<200'],
    'http_req_duration{route:queue}': ['p(95)<200'],
    'http_req_duration{route:metrics}': ['p(95)<500'],
  },
};

const requests = [
  ['GET', `${BASE_URL}/v1/actors`, null, { tags: { route: 'actors' } }],
  ['GET', `${BASE_URL}/v1/queue`, null, { tags: { route: 'queue' } }],
  ['GET', `${BASE_URL}/metrics`, null, { tags: { route: 'metrics' } }],
];

export default function () {
  const [actors, queue, metrics] = http.batch(requests);

  check(actors, {
    'actors: 200': (r) => r.status === 200,
    'actors: lists actors': (r) => Array.isArray(r.json('actors')),
  });
  check(queue, {
    'queue: 200': (r) => r.status === 200,
    'queue: has pending': (r) => typeof r.json('pending') === 'number',
  });
  check(metrics, {
    'metrics: 200': (r) => r.status === 200,
    'metrics: has dbaas_queue_depth': (r) => r.body.includes('dbaas_queue_depth '),
  });
}
