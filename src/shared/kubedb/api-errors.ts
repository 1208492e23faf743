// Turns a Kubernetes API failure into a WorkerError whose type says whether trying again
// can help. The decision rests on the HTTP status and the Status body's `reason` field,
// never on message text; the API server's own message is kept in ours so the operation's
// error_message says what the cluster objected to.

import { STATUS_CODES } from 'node:http';
import { PermanentError, TransientError, WorkerError } from '../errors.js';

/** The body of a Kubernetes API error (kind: Status). */
export interface KubeStatus {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { name?: string; kind?: string; causes?: Array<{ field?: string; message?: string }> };
}

/** Structured facts about a failed request, in WorkerError.details. */
export interface KubeErrorDetails {
  [key: string]: unknown;
  statusCode?: number;
  /** The Status reason, e.g. NotFound, AlreadyExists, Conflict, Invalid, Forbidden. */
  reason?: string;
  retryAfterMs?: number;
  verb: string;
  target: string;
}

export function asStatus(body: unknown): KubeStatus | null {
  return typeof body === 'object' && body !== null && (body as KubeStatus).kind === 'Status'
    ? (body as KubeStatus)
    : null;
}

/** Retry-After in milliseconds (seconds or an HTTP date), or undefined. */
export function retryAfterMs(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

// Known shortcoming: 401 is permanent. Tokens are re-read from the kubeconfig every minute
// (transport.ts), so a token rotated under a running worker may fail one operation that a
// retry a minute later would have carried.
function isTransientStatus(statusCode: number, reason: string | undefined): boolean {
  if (statusCode === 429 || statusCode === 408 || statusCode >= 500) return true;
  // An update that lost a race with another writer; AlreadyExists is handled by the caller.
  return statusCode === 409 && reason !== 'AlreadyExists';
}

function hintFor(statusCode: number, verb: string, target: string): string {
  switch (statusCode) {
    case 401:
      return "Check the credentials in the provider's kubeconfig (or the worker's own)";
    case 403:
      return `Allow the worker's Kubernetes user to ${verb} ${target.split(' ')[0]} there`;
    case 404:
      return (
        "Check the database's kubedb_resource_name and namespace, and that KubeDB's CRDs are " +
        'installed (older KubeDB releases need KUBEDB_API_VERSION=v1alpha2)'
      );
    case 400:
    case 422:
      return 'KubeDB does not accept the change as sent; see the reason above';
    default:
      return 'The worker retries with backoff';
  }
}

/** The error for an HTTP response that is not a success. */
export function responseError(
  verb: string,
  target: string,
  statusCode: number,
  body: unknown,
  headers: Record<string, string | string[] | undefined>,
): WorkerError {
  const status = asStatus(body);
  const reason = status?.reason;
  const causes = status?.details?.causes
    ?.map((cause) => [cause.field, cause.message].filter(Boolean).join(': '))
    .filter(Boolean);
  const said =
    status?.message ||
    (typeof body === 'string' && body.trim() ? body.trim().slice(0, 500) : undefined) ||
    STATUS_CODES[statusCode] ||
    'no message';
  const because =
    causes && causes.length > 0 && !said.includes(causes[0]!) ? ` (${causes.join('; ')})` : '';
  const message =
    `${verb} ${target}: ${said}${because} ` + `[HTTP ${statusCode}${reason ? ` ${reason}` : ''}]`;
  const details: KubeErrorDetails = {
    statusCode,
    reason,
    verb,
    target,
    retryAfterMs: retryAfterMs(headers['retry-after']),
  };
  const hint = hintFor(statusCode, verb, target);
  return isTransientStatus(statusCode, reason)
    ? new TransientError('KUBE_TRANSIENT', message, { hint, details })
    : new PermanentError('KUBE_REJECTED', message, { hint, details });
}

/** Node's codes for a server certificate the kubeconfig does not trust. */
const UNTRUSTED_CERTIFICATE =
  /^(ERR_TLS_CERT_ALTNAME_INVALID|CERT_.*|.*SELF_SIGNED.*|UNABLE_TO_(GET|VERIFY)_.*)$/;

/**
 * The error for a request that got no HTTP answer: refused, reset, timed out (transient),
 * or a server certificate the kubeconfig does not trust or TLS material in it that OpenSSL
 * cannot load (permanent: it will not change by itself, and retrying only delays the
 * message that says what to fix).
 */
export function networkError(
  verb: string,
  target: string,
  cause: unknown,
  timeoutMs?: number,
): WorkerError {
  const code = (cause as { code?: string } | null)?.code;
  if (code && UNTRUSTED_CERTIFICATE.test(code)) {
    return new PermanentError(
      'KUBECONFIG_INVALID',
      `${verb} ${target}: the API server's certificate is not trusted (${code})`,
      {
        hint:
          "Put the cluster's CA in the kubeconfig's certificate-authority-data, or set " +
          "the provider's verify_ssl to false",
        details: { verb, target, network: code },
        cause,
      },
    );
  }
  if (code && /^ERR_OSSL_/.test(code)) {
    // OpenSSL could not load the kubeconfig's own TLS material: it will not load next time
    // either, so this is no network trouble to retry.
    return new PermanentError(
      'KUBECONFIG_INVALID',
      `${verb} ${target}: the kubeconfig's certificates or key cannot be used (${code})`,
      {
        hint:
          'Store PEM certificates and a matching key, base64-encoded, in ' +
          'certificate-authority-data, client-certificate-data and client-key-data',
        details: { verb, target, network: code },
        cause,
      },
    );
  }
  const message =
    timeoutMs !== undefined
      ? `${verb} ${target}: no answer within ${timeoutMs} ms`
      : `${verb} ${target}: ${code ?? (cause instanceof Error ? cause.message : String(cause))}`;
  return new TransientError('KUBE_TRANSIENT', message, {
    hint: 'The Kubernetes API could not be reached; the worker retries with backoff',
    details: { verb, target, network: code ?? 'timeout' },
    cause,
  });
}

/** The Status reason of a WorkerError from this module, e.g. 'NotFound'. */
export function kubeReason(error: unknown): string | undefined {
  return error instanceof WorkerError ? (error.details as KubeErrorDetails)?.reason : undefined;
}

export function kubeStatusCode(error: unknown): number | undefined {
  return error instanceof WorkerError ? (error.details as KubeErrorDetails)?.statusCode : undefined;
}
