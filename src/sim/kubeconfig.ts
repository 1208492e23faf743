// A kubeconfig that points at the simulator: its URL, its CA, a bearer token it accepts.

import YAML from 'yaml';

export const CONTEXT_NAME = 'kubedb-sim';

export function buildKubeconfig(url: string, caCert: string, token: string): string {
  return YAML.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: CONTEXT_NAME,
        cluster: {
          server: url,
          'certificate-authority-data': Buffer.from(caCert).toString('base64'),
        },
      },
    ],
    users: [{ name: CONTEXT_NAME, user: { token } }],
    contexts: [
      {
        name: CONTEXT_NAME,
        context: { cluster: CONTEXT_NAME, user: CONTEXT_NAME, namespace: 'default' },
      },
    ],
    'current-context': CONTEXT_NAME,
    preferences: {},
  });
}
