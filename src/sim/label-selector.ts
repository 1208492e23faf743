// `labelSelector` and `fieldSelector` query parameters, in the grammar kubectl and
// client-node send: `a=b,c!=d,e in (x,y),f notin (z),g,!h`.

import { badRequest } from './status.js';

type Requirement =
  | { key: string; op: 'in'; values: string[] }
  | { key: string; op: 'notin'; values: string[] }
  | { key: string; op: 'exists' }
  | { key: string; op: 'notexists' };

export type Selector = (labels: Record<string, string>) => boolean;

export function parseLabelSelector(text: string | null): Selector {
  if (!text || text.trim() === '') return () => true;
  const requirements = splitTerms(text).map(parseTerm);
  return (labels) => requirements.every((r) => matches(r, labels));
}

/** Only `metadata.name` and `metadata.namespace` are selectable fields on custom resources. */
export function parseFieldSelector(
  text: string | null,
): (meta: { name: string; namespace?: string }) => boolean {
  if (!text || text.trim() === '') return () => true;
  const terms = splitTerms(text).map((term) => {
    const m = /^\s*(metadata\.name|metadata\.namespace)\s*(==|=|!=)\s*(.*?)\s*$/.exec(term);
    if (!m)
      throw badRequest(
        `"${term.trim()}" is not a known field selector: only "metadata.name", "metadata.namespace"`,
      );
    return { field: m[1]!, negate: m[2] === '!=', value: m[3]! };
  });
  return (meta) =>
    terms.every((t) => {
      const actual = t.field === 'metadata.name' ? meta.name : (meta.namespace ?? '');
      return t.negate ? actual !== t.value : actual === t.value;
    });
}

/** Splits on commas that are not inside an `in (...)` value list. */
function splitTerms(text: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth += 1;
    if (ch === ')') depth -= 1;
    if (ch === ',' && depth === 0) {
      terms.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  terms.push(current);
  return terms.filter((t) => t.trim() !== '');
}

function parseTerm(raw: string): Requirement {
  const term = raw.trim();
  const set = /^([^\s!=()]+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(term);
  if (set) {
    const values = set[3]!
      .split(',')
      .map((v) => v.trim())
      .filter((v) => v !== '');
    return { key: set[1]!, op: set[2] as 'in' | 'notin', values };
  }
  const equality = /^([^\s!=()]+)\s*(==|=|!=)\s*([^\s!=()]*)$/.exec(term);
  if (equality) {
    const op = equality[2] === '!=' ? 'notin' : 'in';
    return { key: equality[1]!, op, values: [equality[3]!] };
  }
  const exists = /^(!?)([^\s!=()]+)$/.exec(term);
  if (exists) return { key: exists[2]!, op: exists[1] ? 'notexists' : 'exists' };
  throw badRequest(`unable to parse requirement: "${term}"`);
}

function matches(r: Requirement, labels: Record<string, string>): boolean {
  const has = Object.hasOwn(labels, r.key);
  switch (r.op) {
    case 'exists':
      return has;
    case 'notexists':
      return !has;
    case 'in':
      return has && r.values.includes(labels[r.key]!);
    case 'notin':
      return !has || !r.values.includes(labels[r.key]!);
  }
}
