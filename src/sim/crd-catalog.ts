// The CustomResourceDefinitions the simulator serves, read from KubeDB's published YAML.
// The database CRDs are megabytes each and YAML parsing costs about a second apiece, so
// start-up reads only each file's header (names, versions) and the full schema is parsed on
// the first request that needs it, then kept for the life of the process (a parsed copy is
// also cached as JSON in the OS temp dir, keyed by the file's hash, for the next process).

import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

export type JsonSchema = Record<string, unknown>;

export interface ResourceVersion {
  name: string;
  served: boolean;
  storage: boolean;
  statusSubresource: boolean;
}

export interface ResourceType {
  group: string;
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  categories: string[];
  namespaced: boolean;
  versions: ResourceVersion[];
  file: string;
}

interface CrdDocument {
  spec: {
    group: string;
    scope?: string;
    names: {
      kind: string;
      listKind?: string;
      plural: string;
      singular?: string;
      shortNames?: string[];
      categories?: string[];
    };
    versions?: Array<{
      name: string;
      served?: boolean;
      storage?: boolean;
      subresources?: { status?: unknown };
      schema?: { openAPIV3Schema?: JsonSchema };
    }>;
  };
}

/** The repo's `crds/` folder, found from this module's place in `dist/src/sim/`. */
export function defaultCrdsDir(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../crds');
}

export class CrdCatalog {
  private readonly byPlural = new Map<string, ResourceType>();
  private readonly schemas = new Map<string, Map<string, JsonSchema>>();

  private constructor(readonly dir: string) {}

  /** One catalog per folder per process: several simulators in one test share the parse. */
  static load(dir: string = defaultCrdsDir()): CrdCatalog {
    const resolved = path.resolve(dir);
    const cached = catalogs.get(resolved);
    if (cached) return cached;
    const catalog = new CrdCatalog(resolved);
    const files = readdirSync(resolved).filter((f) => /\.ya?ml$/.test(f));
    for (const file of files.sort()) {
      const type = readHeader(path.join(resolved, file));
      if (type) catalog.byPlural.set(`${type.group}/${type.plural}`, type);
    }
    if (catalog.byPlural.size === 0) {
      throw new Error(`no CustomResourceDefinitions found in ${resolved}: pass crdsDir`);
    }
    catalogs.set(resolved, catalog);
    return catalog;
  }

  types(): ResourceType[] {
    return [...this.byPlural.values()];
  }

  find(group: string, plural: string): ResourceType | undefined {
    return this.byPlural.get(`${group}/${plural}`);
  }

  findByKind(kind: string): ResourceType | undefined {
    return this.types().find((t) => t.kind === kind);
  }

  groups(): Map<string, string[]> {
    const groups = new Map<string, string[]>();
    for (const type of this.types()) {
      const versions = groups.get(type.group) ?? [];
      for (const v of type.versions) {
        if (v.served && !versions.includes(v.name)) versions.push(v.name);
      }
      groups.set(type.group, versions);
    }
    return groups;
  }

  /** The openAPIV3Schema of one served version; parses the file on first use. */
  schema(type: ResourceType, version: string): JsonSchema {
    let versions = this.schemas.get(type.file);
    if (!versions) {
      versions = new Map();
      const doc = parseFull(type.file);
      for (const v of doc.spec.versions ?? []) {
        versions.set(v.name, v.schema?.openAPIV3Schema ?? { type: 'object' });
      }
      this.schemas.set(type.file, versions);
    }
    const schema = versions.get(version);
    if (!schema) throw new Error(`${type.kind} has no version ${version}`);
    return schema;
  }
}

const catalogs = new Map<string, CrdCatalog>();

/**
 * Reads names and versions without parsing the multi-megabyte schema: everything before
 * `spec.versions` is tiny YAML, and each version's own keys sit at a fixed indentation in
 * controller-gen output. Anything unexpected falls back to a full parse.
 */
function readHeader(file: string): ResourceType | undefined {
  const text = readFileSync(file, 'utf8');
  const at = text.indexOf('\n  versions:');
  const headText = at >= 0 ? text.slice(0, at) : text;
  const head = YAML.parse(headText) as Partial<CrdDocument> & { kind?: string };
  if (head?.kind !== 'CustomResourceDefinition' || !head.spec?.names) return undefined;
  let versions = at >= 0 ? scanVersions(text.slice(at)) : [];
  if (versions.length === 0) {
    versions = (parseFull(file).spec.versions ?? []).map((v) => ({
      name: v.name,
      served: v.served ?? false,
      storage: v.storage ?? false,
      statusSubresource: v.subresources?.status !== undefined,
    }));
  }
  const { group, names } = head.spec;
  return {
    group,
    kind: names.kind,
    listKind: names.listKind ?? `${names.kind}List`,
    plural: names.plural,
    singular: names.singular ?? names.kind.toLowerCase(),
    shortNames: names.shortNames ?? [],
    categories: names.categories ?? [],
    namespaced: (head.spec.scope ?? 'Namespaced') === 'Namespaced',
    versions,
    file,
  };
}

function scanVersions(text: string): ResourceVersion[] {
  const versions: ResourceVersion[] = [];
  let current: ResourceVersion | undefined;
  let inSubresources = false;
  for (const line of text.split('\n')) {
    if (/^ {2}- /.test(line)) {
      current = { name: '', served: false, storage: false, statusSubresource: false };
      versions.push(current);
    }
    if (!current) continue;
    const key = /^ {2}[- ] {1}(\w+):\s*(.*)$/.exec(line);
    if (key) {
      inSubresources = key[1] === 'subresources';
      if (key[1] === 'name') current.name = key[2]!.trim();
      if (key[1] === 'served') current.served = key[2]!.trim() === 'true';
      if (key[1] === 'storage') current.storage = key[2]!.trim() === 'true';
      continue;
    }
    if (inSubresources && /^ {6}status:/.test(line)) current.statusSubresource = true;
    if (/^\S/.test(line)) break;
  }
  return versions.filter((v) => v.name !== '');
}

function parseFull(file: string): CrdDocument {
  const text = readFileSync(file, 'utf8');
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 32);
  const cacheDir = path.join(os.tmpdir(), 'dbaas-sim-crd-cache');
  const cacheFile = path.join(cacheDir, `${hash}.json`);
  try {
    return JSON.parse(readFileSync(cacheFile, 'utf8')) as CrdDocument;
  } catch {
    // Not cached yet (or unreadable): parse the YAML and try to leave a copy behind.
  }
  const doc = YAML.parse(text) as CrdDocument;
  try {
    mkdirSync(cacheDir, { recursive: true });
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(doc));
    renameSync(tmp, cacheFile);
  } catch {
    // A read-only temp dir only costs the next process the YAML parse again.
  }
  return doc;
}
