// Every error the worker raises on purpose carries a stable code and says whether trying
// again can help. Callers branch on `retryable`, never on message text.

export const ERROR_CODES = {
  CONFIG_INVALID: 'a setting has a value the worker does not accept',
  DOCUMENT_INVALID: 'a MongoDB document does not have the shape the platform contract fixes',
  OPERATION_NOT_FOUND: 'the queued id has no operation document',
  DATABASE_NOT_FOUND: 'the operation names a database that does not exist',
  PROVIDER_UNAVAILABLE: 'the provider is missing, inactive or in maintenance',
  KUBECONFIG_INVALID: 'the kubeconfig cannot be parsed or names no usable cluster',
  REQUEST_INVALID: 'the operation asks for something that cannot be done as written',
  UNSUPPORTED: 'this worker does not perform this kind of operation',
  KUBE_TRANSIENT: 'the Kubernetes API failed in a way that may pass',
  KUBE_REJECTED: 'the Kubernetes API refused the request; sending it again will not help',
  OPS_REQUEST_FAILED: 'KubeDB reported the OpsRequest as failed',
  TIMEOUT: 'the operation did not finish within its time limit',
  CLAIM_LOST: 'another worker owns the operation now',
  CANCELLED: 'the operation was cancelled',
  STORE_TRANSIENT: 'MongoDB or Redis failed in a way that may pass',
} as const;
export type ErrorCode = keyof typeof ERROR_CODES;

export class WorkerError extends Error {
  readonly code: ErrorCode;
  /** True when the same attempt may succeed later; false when it never will as written. */
  readonly retryable: boolean;
  /** What a user or operator can do about it. */
  readonly hint?: string;
  readonly details?: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    message: string,
    options: {
      retryable: boolean;
      hint?: string;
      details?: Record<string, unknown>;
      cause?: unknown;
    },
  ) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable;
    this.hint = options.hint;
    this.details = options.details;
  }

  /** The message with its hint, as it should appear in an operation's `error_message`. */
  describe(): string {
    return this.hint ? `${this.message}. ${this.hint}` : this.message;
  }
}

/** A failure that may pass: network, timeouts, 429, 5xx, conflicts. */
export class TransientError extends WorkerError {
  constructor(
    code: ErrorCode,
    message: string,
    options: { hint?: string; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(code, message, { ...options, retryable: true });
  }
}

/** A failure that will repeat however often it is tried. */
export class PermanentError extends WorkerError {
  constructor(
    code: ErrorCode,
    message: string,
    options: { hint?: string; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(code, message, { ...options, retryable: false });
  }
}

/** A document that breaks the platform contract; names the collection, id and field. */
export class DocumentValidationError extends PermanentError {
  readonly collection: string;
  readonly documentId: string;
  readonly field: string;

  constructor(collection: string, documentId: string, field: string, problem: string) {
    super('DOCUMENT_INVALID', `${collection} ${documentId}: field '${field}' ${problem}`, {
      hint: `Fix the '${field}' field of the document and queue the operation again`,
      details: { collection, documentId, field },
    });
    this.collection = collection;
    this.documentId = documentId;
    this.field = field;
  }
}

/** A setting with a bad value; stops the process at start-up. */
export class ConfigError extends WorkerError {
  constructor(variable: string, value: string, accepted: string) {
    super('CONFIG_INVALID', `${variable}=${JSON.stringify(value)} is not valid: ${accepted}`, {
      retryable: false,
    });
  }
}

/** Treats anything that is not a WorkerError as transient: unknown faults deserve a retry. */
export function isRetryable(error: unknown): boolean {
  return error instanceof WorkerError ? error.retryable : true;
}

export function errorMessage(error: unknown): string {
  if (error instanceof WorkerError) return error.describe();
  if (error instanceof Error) return error.message;
  return String(error);
}
