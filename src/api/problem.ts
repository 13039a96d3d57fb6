/**
 * Errors as RFC 9457 problem details, with the codes and HTTP statuses of the one registry
 * (core/errors.ts) that the CLI maps to exit codes: every failed call answers
 * `application/problem+json` with `type`, `title`, `status`, `detail`, `instance` and `code`.
 */
import { AmisyncError, ERROR_CODES, type ErrorCode } from '../core/errors.js';

export const PROBLEM_MEDIA_TYPE = 'application/problem+json';

export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly instance: string;
  readonly code: ErrorCode;
  readonly [extension: string]: unknown;
}

/** The `type` URI of a code: stable, and the code's entry in docs/errors.md names it. */
export function problemType(code: ErrorCode): string {
  return `urn:amisync:error:${code}`;
}

interface ValidationIssue {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

interface FrameworkError {
  code?: string;
  statusCode?: number;
  message?: string;
  validation?: ValidationIssue[];
  validationContext?: string;
}

/** A request that failed its route's schema: which field, which rule, and what it must be. */
function validationError(error: FrameworkError): AmisyncError {
  const issue = error.validation?.[0] ?? {};
  const where = error.validationContext ?? 'request';
  const missing = issue.params?.missingProperty;
  const path = (issue.instancePath ?? '').replace(/^\//, '').replaceAll('/', '.');
  const field = typeof missing === 'string' ? (path === '' ? missing : `${path}.${missing}`) : path;
  const sentence = `${where}${field === '' ? '' : `.${field}`} ${issue.message ?? 'is invalid'}`;
  return new AmisyncError('USAGE', sentence, {
    field: `${where}${field === '' ? '' : `.${field}`}`,
    rule: issue.keyword ?? 'schema',
    ...(issue.params === undefined ? {} : { constraint: issue.params }),
  });
}

/** Any error a route or the framework throws, as an operating error with a stable code. */
export function asAmisyncError(error: unknown): AmisyncError {
  if (error instanceof AmisyncError) return error;
  const framework = (error ?? {}) as FrameworkError;
  if (Array.isArray(framework.validation)) return validationError(framework);
  if (framework.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return new AmisyncError('PAYLOAD_TOO_LARGE', framework.message ?? 'the body is too large');
  }
  const status = framework.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    return new AmisyncError('USAGE', framework.message ?? 'the request is malformed', {
      reason: framework.code ?? null,
    });
  }
  return new AmisyncError('INTERNAL', framework.message ?? String(error));
}

/** The problem document of an error, for the request at `instance`. */
export function problemOf(error: AmisyncError, instance: string): Problem {
  const { error: _code, message: _message, ...details } = error.toJSON();
  return {
    ...details,
    type: problemType(error.code),
    title: ERROR_CODES[error.code].summary,
    status: error.httpStatus,
    detail: error.message,
    instance,
    code: error.code,
  };
}

/** The problem schema, for the OpenAPI document's error answers. */
export const PROBLEM_SCHEMA = {
  type: 'object',
  description: 'RFC 9457 problem details; `code` is the error code of docs/errors.md',
  required: ['type', 'title', 'status', 'detail', 'code'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    instance: { type: 'string' },
    code: { type: 'string', enum: Object.keys(ERROR_CODES) },
  },
  additionalProperties: true,
} as const;
