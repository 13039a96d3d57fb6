/**
 * Operating errors (STYLE 3): one registry of stable codes, each with its CLI exit code and HTTP
 * status. Data errors are not here: they are Reject values (reject.ts). A test keeps this list and
 * docs/errors.md in step.
 */

export const ERROR_CODES = {
  USAGE: { exitCode: 64, httpStatus: 400, summary: 'The command or request was malformed.' },
  INPUT_NOT_FOUND: { exitCode: 66, httpStatus: 404, summary: 'An input file does not exist.' },
  INPUT_UNREADABLE: { exitCode: 74, httpStatus: 422, summary: 'An input could not be read.' },
  FORMAT_UNKNOWN: {
    exitCode: 65,
    httpStatus: 415,
    summary: 'The input format could not be detected; pass --format.',
  },
  CONFIG_INVALID: { exitCode: 78, httpStatus: 500, summary: 'The configuration is invalid.' },
  STORE_UNAVAILABLE: {
    exitCode: 69,
    httpStatus: 503,
    summary: 'The store could not be opened or is busy.',
  },
  STORE_SCHEMA_NEWER: {
    exitCode: 69,
    httpStatus: 503,
    summary: 'The database was written by a newer amisync; upgrade before using it.',
  },
  NOT_FOUND: { exitCode: 3, httpStatus: 404, summary: 'The requested item does not exist.' },
  INVALID_STATE: {
    exitCode: 4,
    httpStatus: 409,
    summary: 'The item is not in a state that allows this action.',
  },
  AUDIT_VERIFY_FAILED: {
    exitCode: 10,
    httpStatus: 500,
    summary: 'The audit trail does not verify: something was edited, deleted or reordered.',
  },
  SIGNING_KEY_INVALID: {
    exitCode: 11,
    httpStatus: 500,
    summary: 'The checkpoint signing key is missing, unreadable or does not match.',
  },
  CONSERVATION_BROKEN: {
    exitCode: 12,
    httpStatus: 500,
    summary: 'A batch does not balance: received differs from the sum of its outcomes.',
  },
  TRANSPORT_UNAVAILABLE: {
    exitCode: 69,
    httpStatus: 502,
    summary: 'A feed could not be reached: connection refused or reset, DNS, a 5xx answer.',
  },
  TRANSPORT_TIMEOUT: {
    exitCode: 75,
    httpStatus: 504,
    summary: 'A feed did not answer within its timeout.',
  },
  TRANSPORT_RATE_LIMITED: {
    exitCode: 75,
    httpStatus: 429,
    summary: 'A feed asked us to slow down (429, or 503 with Retry-After).',
  },
  TRANSPORT_AUTH_FAILED: {
    exitCode: 77,
    httpStatus: 502,
    summary: 'A feed refused our credentials, or its token endpoint gave no usable token.',
  },
  TRANSPORT_PROTOCOL: {
    exitCode: 76,
    httpStatus: 502,
    summary:
      'A feed answered with something its protocol does not allow (a page without records, a cursor that never advances).',
  },
  TRANSPORT_HOST_KEY: {
    exitCode: 77,
    httpStatus: 502,
    summary: 'An SFTP server showed a host key other than the pinned one.',
  },
  UNAUTHENTICATED: {
    exitCode: 77,
    httpStatus: 401,
    summary: 'The request carried no credentials, or credentials that are not valid.',
  },
  FORBIDDEN: {
    exitCode: 77,
    httpStatus: 403,
    summary: "The caller may not do this (a vendor pushing readings of another vendor's meters).",
  },
  PAYLOAD_TOO_LARGE: {
    exitCode: 65,
    httpStatus: 413,
    summary: 'The body is larger than its limit (docs/limits.md).',
  },
  IDEMPOTENCY_KEY_REUSED: {
    exitCode: 65,
    httpStatus: 422,
    summary: 'An Idempotency-Key was sent again with a different body.',
  },
  RATE_LIMITED: {
    exitCode: 75,
    httpStatus: 429,
    summary:
      'The caller sent more requests than its rate limit allows; retry after the time given.',
  },
  SHUTTING_DOWN: {
    exitCode: 75,
    httpStatus: 503,
    summary: 'The service is stopping; the request was not taken and can be sent again.',
  },
  INTERNAL: { exitCode: 70, httpStatus: 500, summary: 'An unexpected internal error.' },
  // HTTP push source (src/sources/http-push).
  PUSH_QUEUE_FULL: {
    exitCode: 75,
    httpStatus: 503,
    summary:
      'The push endpoint holds as many requests waiting to commit as it may; retry after the time given.',
  },
  // Drop folders (directory and SFTP sources).
  DROP_FILE_CHANGED: {
    exitCode: 75,
    httpStatus: 409,
    summary:
      'A dropped file changed or shrank while it was read; it was not archived and is read again at the next poll.',
  },
  // Emergency pause (src/pipeline/controls.ts).
  PAUSED: {
    exitCode: 75,
    httpStatus: 503,
    summary:
      'The source is paused by an operator; nothing was taken. Retry after the time given, or once it is resumed.',
  },
  // Resilience (src/resilience).
  RETRIES_EXHAUSTED: {
    exitCode: 75,
    httpStatus: 503,
    summary:
      'A call failed on every attempt its retry policy allows (or its retry budget was spent); each attempt is listed.',
  },
} as const satisfies Record<string, { exitCode: number; httpStatus: number; summary: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

/**
 * The one error type for operating errors. It carries a stable code; CLI and HTTP map it in one
 * place.
 */
export class AmisyncError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'AmisyncError';
    this.code = code;
    this.details = details;
  }

  get exitCode(): number {
    return ERROR_CODES[this.code].exitCode;
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].httpStatus;
  }

  toJSON(): Record<string, unknown> {
    return { error: this.code, message: this.message, ...this.details };
  }
}
