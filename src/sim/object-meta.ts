// The API server's own checks on `metadata`, which no CRD schema expresses: names must be
// DNS subdomains, label keys and values have a grammar and a length limit.

import type { StatusCause } from './status.js';

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const ANNOTATIONS_MAX_BYTES = 256 * 1024;

export function validateObjectMeta(metadata: Record<string, unknown>): StatusCause[] {
  const causes: StatusCause[] = [];
  const name = metadata.name;
  if (typeof name !== 'string' || name === '') {
    causes.push({
      reason: 'FieldValueRequired',
      message: 'Required value: name or generateName is required',
      field: 'metadata.name',
    });
  } else if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    causes.push({
      reason: 'FieldValueInvalid',
      message:
        `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case ` +
        "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric " +
        'character',
      field: 'metadata.name',
    });
  }
  causes.push(...checkMap(metadata.labels, 'metadata.labels', true));
  causes.push(...checkMap(metadata.annotations, 'metadata.annotations', false));
  const annotationBytes = JSON.stringify(metadata.annotations ?? {}).length;
  if (annotationBytes > ANNOTATIONS_MAX_BYTES) {
    causes.push({
      reason: 'FieldValueTooLong',
      message: `Too long: must have at most ${ANNOTATIONS_MAX_BYTES} bytes`,
      field: 'metadata.annotations',
    });
  }
  return causes;
}

function checkMap(map: unknown, field: string, isLabels: boolean): StatusCause[] {
  if (map === undefined || map === null) return [];
  if (typeof map !== 'object' || Array.isArray(map)) {
    return [{ reason: 'FieldValueTypeInvalid', message: 'must be an object', field }];
  }
  const causes: StatusCause[] = [];
  for (const [key, value] of Object.entries(map as Record<string, unknown>)) {
    const keyProblem = qualifiedNameProblem(key);
    if (keyProblem) {
      causes.push({
        reason: 'FieldValueInvalid',
        message: `Invalid value: "${key}": ${keyProblem}`,
        field,
      });
    }
    if (typeof value !== 'string') {
      causes.push({
        reason: 'FieldValueTypeInvalid',
        message: `Invalid value: ${JSON.stringify(value)}: must be a string`,
        field: `${field}[${key}]`,
      });
      continue;
    }
    if (isLabels && (value.length > 63 || !LABEL_VALUE.test(value))) {
      causes.push({
        reason: 'FieldValueInvalid',
        message:
          `Invalid value: "${value}": a valid label must be an empty string or consist of ` +
          "alphanumeric characters, '-', '_' or '.', and must start and end with an " +
          'alphanumeric character (at most 63 characters)',
        field,
      });
    }
  }
  return causes;
}

/** Label and annotation keys: an optional DNS-subdomain prefix, a slash, a short name. */
function qualifiedNameProblem(key: string): string | undefined {
  const parts = key.split('/');
  if (parts.length > 2) return 'a qualified name must have at most one "/"';
  const name = parts.length === 2 ? parts[1]! : parts[0]!;
  const prefix = parts.length === 2 ? parts[0]! : undefined;
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    return 'prefix part must be a lowercase RFC 1123 subdomain';
  }
  if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME.test(name)) {
    return (
      "name part must consist of alphanumeric characters, '-', '_' or '.', and must start " +
      'and end with an alphanumeric character (at most 63 characters)'
    );
  }
  return undefined;
}
