// The six KubeDB engines the simulator plays: their kinds, plurals and main container name.

export const ENGINE_NAMES = [
  'postgres',
  'mysql',
  'mariadb',
  'mongodb',
  'redis',
  'elasticsearch',
] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

export const DATABASE_GROUP = 'kubedb.com';
export const OPS_GROUP = 'ops.kubedb.com';
export const OPS_VERSION = 'v1alpha1';

export interface EngineInfo {
  engine: EngineName;
  kind: string;
  plural: string;
  opsKind: string;
  opsPlural: string;
  /** The database container in the pod template, whose resources VerticalScaling sets. */
  container: string;
  defaultVersion: string;
}

export const ENGINES: Record<EngineName, EngineInfo> = {
  postgres: info('postgres', 'Postgres', 'postgreses', 'postgres', '16.1'),
  mysql: info('mysql', 'MySQL', 'mysqls', 'mysql', '8.0.35'),
  mariadb: info('mariadb', 'MariaDB', 'mariadbs', 'mariadb', '10.11.2'),
  mongodb: info('mongodb', 'MongoDB', 'mongodbs', 'mongodb', '6.0.12'),
  redis: info('redis', 'Redis', 'redises', 'redis', '7.2.3'),
  elasticsearch: info(
    'elasticsearch',
    'Elasticsearch',
    'elasticsearches',
    'elasticsearch',
    'xpack-8.11.1',
  ),
};

function info(
  engine: EngineName,
  kind: string,
  plural: string,
  container: string,
  defaultVersion: string,
): EngineInfo {
  return {
    engine,
    kind,
    plural,
    opsKind: `${kind}OpsRequest`,
    opsPlural: `${kind.toLowerCase()}opsrequests`,
    container,
    defaultVersion,
  };
}

export function engineByKind(kind: string): EngineInfo | undefined {
  return Object.values(ENGINES).find((e) => e.kind === kind);
}

export function engineByOpsKind(kind: string): EngineInfo | undefined {
  return Object.values(ENGINES).find((e) => e.opsKind === kind);
}
