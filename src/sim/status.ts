// Kubernetes answers every failure with a `Status` object; clients branch on `code` and
// `reason`, so the simulator throws `ApiError` and the HTTP layer renders it as that body.

export interface StatusCause {
  reason: string;
  message: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusDetails,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  toStatus(): StatusBody {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

/** `mongodbopsrequests.ops.kubedb.com "name"`: how the API server names an object. */
export function qualifiedName(plural: string, group: string, name: string): string {
  return `${plural}.${group} "${name}"`;
}

export function notFound(plural: string, group: string, name: string): ApiError {
  return new ApiError(404, 'NotFound', `${qualifiedName(plural, group, name)} not found`, {
    name,
    group,
    kind: plural,
  });
}

export function alreadyExists(plural: string, group: string, name: string): ApiError {
  return new ApiError(
    409,
    'AlreadyExists',
    `${qualifiedName(plural, group, name)} already exists`,
    { name, group, kind: plural },
  );
}

export function conflict(plural: string, group: string, name: string): ApiError {
  return new ApiError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualifiedName(plural, group, name)}: the object has ` +
      'been modified; please apply your changes to the latest version and try again',
    { name, group, kind: plural },
  );
}

export function badRequest(message: string): ApiError {
  return new ApiError(400, 'BadRequest', message);
}

/** 422: the body decoded but breaks the schema; one cause per offending field. */
export function invalid(
  kind: string,
  group: string,
  name: string,
  causes: StatusCause[],
): ApiError {
  const listed = causes.map((c) => `${c.field ?? ''}: ${c.message}`).join(', ');
  const message =
    causes.length === 1
      ? `${kind}.${group} "${name}" is invalid: ${listed}`
      : `${kind}.${group} "${name}" is invalid: [${listed}]`;
  return new ApiError(422, 'Invalid', message, { name, group, kind, causes });
}

export function resourceNotFound(): ApiError {
  return new ApiError(404, 'NotFound', 'the server could not find the requested resource');
}
