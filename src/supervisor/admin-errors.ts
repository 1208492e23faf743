// Every error the admin API answers with, in one catalog: clients branch on `error` (the code),
// which never changes; `message` is for people and may be reworded.

export const ADMIN_ERRORS = {
  INVALID_INPUT: { status: 400, meaning: 'a path, query or body field is missing or malformed' },
  INVALID_JSON: { status: 400, meaning: 'the body is not valid JSON' },
  FORBIDDEN_KEY: {
    status: 400,
    meaning: 'the body has a __proto__ or constructor.prototype key, refused for safety',
  },
  UNAUTHORIZED: { status: 401, meaning: 'the bearer token is missing or wrong' },
  ADMIN_DISABLED: { status: 403, meaning: 'ADMIN_TOKEN is not set, so changing routes are off' },
  ROUTE_NOT_FOUND: { status: 404, meaning: 'no route has this method and path' },
  OPERATION_NOT_FOUND: { status: 404, meaning: 'no operation document has this id' },
  DEAD_LETTER_NOT_FOUND: { status: 404, meaning: 'this id is not in the dead-letter set' },
  THREAD_NOT_FOUND: { status: 404, meaning: 'no pool thread has this id' },
  OPERATION_FINAL: { status: 409, meaning: 'the operation already reached a final status' },
  OPERATION_INVALID: {
    status: 422,
    meaning: 'the operation document breaks the platform contract; the message names the field',
  },
  BODY_TOO_LARGE: { status: 413, meaning: 'the body is larger than the admin API accepts' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, meaning: 'the body is not application/json' },
  REQUEST_REJECTED: { status: 400, meaning: 'the HTTP request itself is malformed' },
  REQUEST_TIMEOUT: { status: 408, meaning: 'the request did not arrive in time' },
  HEADERS_TOO_LARGE: {
    status: 431,
    meaning: 'the request line and headers are larger than the server accepts',
  },
  INTERNAL_ERROR: { status: 500, meaning: 'a bug or unexpected fault; the log has details' },
  DEPENDENCY_UNAVAILABLE: { status: 503, meaning: 'Redis or MongoDB did not answer; try again' },
} as const;

export type AdminErrorCode = keyof typeof ADMIN_ERRORS;

/** The JSON body of every error answer. */
export interface AdminErrorBody {
  error: AdminErrorCode;
  message: string;
}

/** Thrown by handlers and hooks; the server's error handler turns it into its answer. */
export class AdminError extends Error {
  readonly code: AdminErrorCode;
  readonly statusCode: number;

  constructor(code: AdminErrorCode, message: string) {
    super(message);
    this.name = 'AdminError';
    this.code = code;
    this.statusCode = ADMIN_ERRORS[code].status;
  }

  body(): AdminErrorBody {
    return { error: this.code, message: this.message };
  }
}
