/**
 * What the push endpoint answers: a 202 with the delivery's receipt, or an RFC 9457 problem
 * (`application/problem+json`) carrying the amisync error code. Errors map to statuses in one
 * place: the error registry (core/errors.ts).
 */
import { STATUS_CODES } from 'node:http';
import { AmisyncError, ERROR_CODES } from '../../core/errors.js';
import type { BatchCounts } from '../../core/store.js';

export interface Reply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Readonly<Record<string, unknown>>;
  /** The amisync error code of a refusal; null for a 202. */
  readonly code: string | null;
}

export interface AcceptedBody {
  deliveryId: string;
  firstDeliveryId: string | null;
  vendor: string;
  /** True when this answers an Idempotency-Key seen before, from the stored delivery. */
  replayed: boolean;
  counts: BatchCounts;
}

export function accepted(body: AcceptedBody): Reply {
  return {
    status: 202,
    headers: { 'content-type': 'application/json' },
    body: { ...body },
    code: null,
  };
}

/** Any error as a problem; an error that is not an AmisyncError is INTERNAL, its text withheld. */
export function problem(
  error: unknown,
  status?: number,
  headers: Record<string, string> = {},
): Reply {
  const known = error instanceof AmisyncError;
  const code = known ? error.code : 'INTERNAL';
  const httpStatus = status ?? ERROR_CODES[code].httpStatus;
  const retryAfterSeconds = known ? error.details.retryAfterSeconds : undefined;
  const extra: Record<string, string> =
    typeof retryAfterSeconds === 'number' ? { 'retry-after': String(retryAfterSeconds) } : {};
  return {
    status: httpStatus,
    headers: { 'content-type': 'application/problem+json', ...extra, ...headers },
    body: {
      type: 'about:blank',
      title: STATUS_CODES[httpStatus] ?? 'Error',
      status: httpStatus,
      detail: known ? error.message : 'an unexpected internal error; see the service log',
      code,
      ...(known ? error.details : {}),
    },
    code,
  };
}
