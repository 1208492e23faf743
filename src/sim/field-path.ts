// Field paths as the API server prints them in errors: `spec.podTemplate.containers[0].name`.

export function childPath(parent: string, key: string): string {
  return parent === '' ? key : `${parent}.${key}`;
}

export function itemPath(parent: string, index: number): string {
  return `${parent}[${index}]`;
}

/** Turns an ajv instancePath (`/spec/containers/0/name`) into a field path. */
export function fromJsonPointer(pointer: string, value: unknown): string {
  let path = '';
  let node: unknown = value;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) {
      path = itemPath(path, Number(key));
      node = node[Number(key)];
    } else {
      path = /^[A-Za-z_$][\w$-]*$/.test(key) ? childPath(path, key) : `${path}[${key}]`;
      node = node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
    }
  }
  return path;
}

export function joinPaths(base: string, relative: string): string {
  if (base === '') return relative;
  if (relative === '') return base;
  return relative.startsWith('[') ? `${base}${relative}` : `${base}.${relative}`;
}
