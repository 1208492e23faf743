// The simulator's etcd: objects keyed by group/plural/namespace/name, one resourceVersion
// counter for everything (so versions order all changes, as etcd revisions do), and a
// bounded log of recent changes that watches replay from. A watch asking for a version older
// than the log still holds gets 410 Gone, which is how clients learn to relist.

import { randomUUID } from 'node:crypto';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  generateName?: string;
  [key: string]: unknown;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  [key: string]: unknown;
}

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface Change {
  type: ChangeType;
  resourceVersion: number;
  group: string;
  plural: string;
  namespace: string;
  object: KubeObject;
  /** The object before a MODIFIED change, so filtered watches can see it leave their view. */
  previous?: KubeObject;
}

export interface StoreSnapshot {
  resourceVersion: number;
  objects: Array<{ group: string; plural: string; object: KubeObject }>;
}

export class Store {
  private revision: number;
  private readonly objects = new Map<
    string,
    { group: string; plural: string; object: KubeObject }
  >();
  // Retained changes are changes[start..]; the array is compacted once the dead head is long.
  private changes: Change[] = [];
  private start = 0;
  private droppedUpTo = 0;
  private readonly listeners = new Set<(change: Change) => void>();

  constructor(
    private eventWindow: number,
    firstRevision = 1000,
  ) {
    this.revision = firstRevision;
  }

  resourceVersion(): number {
    return this.revision;
  }

  setEventWindow(size: number): void {
    this.eventWindow = Math.max(1, size);
    this.trim();
  }

  get(group: string, plural: string, namespace: string, name: string): KubeObject | undefined {
    const entry = this.objects.get(key(group, plural, namespace, name));
    return entry ? structuredClone(entry.object) : undefined;
  }

  /** Objects of one resource, in namespace/name order; all namespaces when none is given. */
  list(group: string, plural: string, namespace?: string): KubeObject[] {
    const prefix =
      namespace === undefined ? `${group}/${plural}/` : key(group, plural, namespace, '');
    return [...this.objects.entries()]
      .filter(([k]) => k.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, entry]) => structuredClone(entry.object));
  }

  /** Every plural that has objects, across groups: for the control API and snapshots. */
  entries(): Array<{ group: string; plural: string; object: KubeObject }> {
    return [...this.objects.values()].map((e) => ({ ...e, object: structuredClone(e.object) }));
  }

  exists(group: string, plural: string, namespace: string, name: string): boolean {
    return this.objects.has(key(group, plural, namespace, name));
  }

  /** Stores a new object, stamping uid, creationTimestamp and a fresh resourceVersion. */
  create(group: string, plural: string, object: KubeObject): KubeObject {
    const stored = copy(object);
    this.revision += 1;
    stored.metadata.uid = stored.metadata.uid ?? randomUUID();
    stored.metadata.creationTimestamp = stored.metadata.creationTimestamp ?? timestamp();
    stored.metadata.resourceVersion = String(this.revision);
    const namespace = stored.metadata.namespace ?? '';
    this.objects.set(key(group, plural, namespace, stored.metadata.name), {
      group,
      plural,
      object: stored,
    });
    this.record({ type: 'ADDED', group, plural, namespace, object: stored });
    return structuredClone(stored);
  }

  /** Replaces a stored object; the caller has already checked preconditions. */
  replace(group: string, plural: string, object: KubeObject): KubeObject {
    const namespace = object.metadata.namespace ?? '';
    const k = key(group, plural, namespace, object.metadata.name);
    const previous = this.objects.get(k)?.object;
    const stored = copy(object);
    this.revision += 1;
    stored.metadata.resourceVersion = String(this.revision);
    this.objects.set(k, { group, plural, object: stored });
    this.record({ type: 'MODIFIED', group, plural, namespace, object: stored, previous });
    return structuredClone(stored);
  }

  remove(group: string, plural: string, namespace: string, name: string): KubeObject | undefined {
    const k = key(group, plural, namespace, name);
    const entry = this.objects.get(k);
    if (!entry) return undefined;
    this.objects.delete(k);
    this.revision += 1;
    const removed = structuredClone(entry.object);
    removed.metadata.resourceVersion = String(this.revision);
    this.record({ type: 'DELETED', group, plural, namespace, object: removed });
    return structuredClone(removed);
  }

  /** Changes after `resourceVersion`, or 'expired' when some were already dropped. */
  changesAfter(resourceVersion: number): Change[] | 'expired' {
    if (resourceVersion < this.droppedUpTo) return 'expired';
    let low = this.start;
    let high = this.changes.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (this.changes[mid]!.resourceVersion <= resourceVersion) low = mid + 1;
      else high = mid;
    }
    return this.changes.slice(low);
  }

  subscribe(listener: (change: Change) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  snapshot(): StoreSnapshot {
    return { resourceVersion: this.revision, objects: this.entries() };
  }

  /** Loads a snapshot; watches from before it get 410 and relist, as after an etcd restore. */
  restore(snapshot: StoreSnapshot): void {
    this.objects.clear();
    for (const entry of snapshot.objects) {
      const { group, plural, object } = entry;
      this.objects.set(key(group, plural, object.metadata.namespace ?? '', object.metadata.name), {
        group,
        plural,
        object: structuredClone(object),
      });
    }
    this.revision = Math.max(this.revision, snapshot.resourceVersion) + 1;
    this.changes = [];
    this.start = 0;
    this.droppedUpTo = this.revision;
  }

  private record(change: Omit<Change, 'resourceVersion'>): void {
    const full: Change = { ...change, resourceVersion: this.revision };
    this.changes.push(full);
    this.trim();
    for (const listener of this.listeners) listener(full);
  }

  private trim(): void {
    const excess = this.changes.length - this.start - this.eventWindow;
    if (excess <= 0) return;
    this.start += excess;
    this.droppedUpTo = this.changes[this.start - 1]!.resourceVersion;
    if (this.start > this.eventWindow) {
      this.changes = this.changes.slice(this.start);
      this.start = 0;
    }
  }
}

/** A JSON copy: unlike structuredClone it never keeps two fields pointing at one object. */
function copy(object: KubeObject): KubeObject {
  return JSON.parse(JSON.stringify(object)) as KubeObject;
}

function key(group: string, plural: string, namespace: string, name: string): string {
  return `${group}/${plural}/${namespace}/${name}`;
}

/** RFC 3339 to the second, as Kubernetes writes metav1.Time. */
export function timestamp(date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
