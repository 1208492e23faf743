// The discovery documents clients read before they talk to a resource: /version, /api,
// /apis, /apis/{group}, /apis/{group}/{version}, and the namespaces they may look up.

import type { CrdCatalog, ResourceType } from './crd-catalog.js';

export const SERVER_VERSION = {
  major: '1',
  minor: '30',
  gitVersion: 'v1.30.0-kubedb-sim',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2024-01-01T00:00:00Z',
  goVersion: 'go1.22.0',
  compiler: 'gc',
  platform: 'linux/amd64',
};

const VERBS = ['delete', 'deletecollection', 'get', 'list', 'patch', 'create', 'update', 'watch'];

export function apiVersions(address: string): object {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: address }],
  };
}

export function coreResources(): object {
  return {
    kind: 'APIResourceList',
    groupVersion: 'v1',
    resources: [
      {
        name: 'namespaces',
        singularName: 'namespace',
        namespaced: false,
        kind: 'Namespace',
        verbs: ['get'],
        shortNames: ['ns'],
      },
    ],
  };
}

/** Every namespace exists and is Active: the simulator does not model namespaces. */
export function namespace(name: string): object {
  return {
    kind: 'Namespace',
    apiVersion: 'v1',
    metadata: {
      name,
      uid: `00000000-0000-4000-8000-${Buffer.from(name).toString('hex').padEnd(12, '0').slice(0, 12)}`,
      resourceVersion: '1',
      creationTimestamp: '2024-01-01T00:00:00Z',
      labels: { 'kubernetes.io/metadata.name': name },
    },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  };
}

export function groupList(catalog: CrdCatalog): object {
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: [...catalog.groups().entries()].map(([name, versions]) => apiGroup(name, versions)),
  };
}

export function group(catalog: CrdCatalog, name: string): object | undefined {
  const versions = catalog.groups().get(name);
  return versions ? { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(name, versions) } : undefined;
}

function apiGroup(name: string, versions: string[]): object {
  const listed = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
  return { name, versions: listed, preferredVersion: listed[0] };
}

export function resourceList(
  catalog: CrdCatalog,
  groupName: string,
  version: string,
): object | undefined {
  const types = catalog
    .types()
    .filter((t) => t.group === groupName && t.versions.some((v) => v.served && v.name === version));
  if (types.length === 0) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: `${groupName}/${version}`,
    resources: types.flatMap((t) => describe(t, version)),
  };
}

function describe(type: ResourceType, version: string): object[] {
  const main = {
    name: type.plural,
    singularName: type.singular,
    namespaced: type.namespaced,
    kind: type.kind,
    verbs: VERBS,
    shortNames: type.shortNames,
    categories: type.categories,
    storageVersionHash: Buffer.from(`${type.group}/${type.plural}`).toString('base64').slice(0, 11),
  };
  const statusVersion = type.versions.find((v) => v.name === version);
  if (!statusVersion?.statusSubresource) return [main];
  return [
    main,
    {
      name: `${type.plural}/status`,
      singularName: '',
      namespaced: type.namespaced,
      kind: type.kind,
      verbs: ['get', 'patch', 'update'],
    },
  ];
}
