/**
 * Fault injection for the simulated head-end: each kind at its own rate, drawn from its own
 * seeded generator in request order, so a seed and a request sequence give the same faults, and
 * turning faults on changes no reading of the feed (the feed has its own generators).
 *
 * 5xx and 429 faults come in bursts: a draw starts one, and the next 1..FAULT_BURST_MAX requests
 * (the one that drew it included) get the same status.
 */
import assert from 'node:assert/strict';

import { Mulberry32 } from '../feed-generator.js';

export const FAULT_KINDS = [
  'server_error',
  'throttle',
  'html',
  'slow',
  'revoke',
  'token_error',
  'duplicate_page',
  'overlap',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultRates {
  /** Chance a readings request starts a burst of 500/502/503. */
  errorRate?: number;
  /** Chance a readings request starts a burst of 429 with Retry-After. */
  throttleRate?: number;
  /** Chance a readings request gets an HTML error page with status 200. */
  htmlRate?: number;
  /** Chance any response is held back `slowMs` before it is sent. */
  slowRate?: number;
  /** Chance a served page revokes the token that fetched it (later use gets 401). */
  revokeRate?: number;
  /** Chance a token request fails: a 5xx, or a 200 whose body is not a token. */
  tokenErrorRate?: number;
  /** Chance a page's next cursor or link points at the same page again (cursor and link styles). */
  duplicatePageRate?: number;
}

export const FAULT_BURST_MAX = 3;
/** Retry-After of an injected 429 or 503: 1..this many seconds. */
export const FAULT_RETRY_AFTER_SECONDS_MAX = 3;
const SERVER_ERROR_STATUSES = [500, 502, 503] as const;
export const TOKEN_ERROR_SHAPES = [
  'status_500',
  'status_503',
  'html',
  'not_json',
  'no_token',
] as const;
export type TokenErrorShape = (typeof TOKEN_ERROR_SHAPES)[number];
const SALT = 0x52455354;

/** What the head-end does instead of answering a readings request, if anything. */
export type RequestFault =
  | { kind: 'server_error'; status: number; retryAfterSeconds: number | null }
  | { kind: 'throttle'; retryAfterSeconds: number }
  | { kind: 'html' }
  | null;

interface Burst {
  fault: Exclude<RequestFault, null | { kind: 'html' }>;
  left: number;
}

function rate(name: string, value: number | undefined): number {
  const resolved = value ?? 0;
  assert.ok(resolved >= 0 && resolved <= 1, `${name} must be within 0..1, got ${resolved}`);
  return resolved;
}

export class FaultPlan {
  readonly #random: Mulberry32;
  #rates: Required<FaultRates>;
  readonly #counts = new Map<FaultKind, number>(FAULT_KINDS.map((kind) => [kind, 0]));
  #burst: Burst | null = null;

  constructor(seed: number, rates: FaultRates) {
    this.#random = new Mulberry32((seed ^ SALT) >>> 0);
    this.#rates = {
      errorRate: rate('errorRate', rates.errorRate),
      throttleRate: rate('throttleRate', rates.throttleRate),
      htmlRate: rate('htmlRate', rates.htmlRate),
      slowRate: rate('slowRate', rates.slowRate),
      revokeRate: rate('revokeRate', rates.revokeRate),
      tokenErrorRate: rate('tokenErrorRate', rates.tokenErrorRate),
      duplicatePageRate: rate('duplicatePageRate', rates.duplicatePageRate),
    };
  }

  /**
   * Changes the rates from the next draw on (a storm that starts or ends mid-run); a burst under
   * way runs to its end.
   */
  setRates(rates: FaultRates): void {
    this.#rates = {
      errorRate: rate('errorRate', rates.errorRate),
      throttleRate: rate('throttleRate', rates.throttleRate),
      htmlRate: rate('htmlRate', rates.htmlRate),
      slowRate: rate('slowRate', rates.slowRate),
      revokeRate: rate('revokeRate', rates.revokeRate),
      tokenErrorRate: rate('tokenErrorRate', rates.tokenErrorRate),
      duplicatePageRate: rate('duplicatePageRate', rates.duplicatePageRate),
    };
  }

  /** The fault, if any, for the next authenticated readings request. */
  nextRequest(): RequestFault {
    if (this.#burst === null) this.#burst = this.#drawBurst();
    if (this.#burst !== null) {
      const { fault } = this.#burst;
      this.#burst.left -= 1;
      if (this.#burst.left === 0) this.#burst = null;
      this.count(fault.kind);
      return fault;
    }
    if (this.#draw(this.#rates.htmlRate)) {
      this.count('html');
      return { kind: 'html' };
    }
    return null;
  }

  #drawBurst(): Burst | null {
    const left = (): number => this.#random.nextInt(1, FAULT_BURST_MAX);
    if (this.#draw(this.#rates.errorRate)) {
      const status = SERVER_ERROR_STATUSES[this.#random.nextInt(0, 2)] as number;
      const retryAfterSeconds = status === 503 ? this.#retryAfterSeconds() : null;
      return { fault: { kind: 'server_error', status, retryAfterSeconds }, left: left() };
    }
    if (this.#draw(this.#rates.throttleRate)) {
      return {
        fault: { kind: 'throttle', retryAfterSeconds: this.#retryAfterSeconds() },
        left: left(),
      };
    }
    return null;
  }

  #retryAfterSeconds(): number {
    return this.#random.nextInt(1, FAULT_RETRY_AFTER_SECONDS_MAX);
  }

  /** Whether this response is held back. */
  slow(): boolean {
    return this.#drawCounted('slow', this.#rates.slowRate);
  }

  /** Whether the token that fetched this page is revoked after it. */
  revoke(): boolean {
    return this.#drawCounted('revoke', this.#rates.revokeRate);
  }

  /** Whether this page's next pointer repeats the page. */
  duplicatePage(): boolean {
    return this.#drawCounted('duplicate_page', this.#rates.duplicatePageRate);
  }

  /** How this token request fails, if it does. */
  tokenError(): TokenErrorShape | null {
    if (!this.#drawCounted('token_error', this.#rates.tokenErrorRate)) return null;
    return TOKEN_ERROR_SHAPES[this.#random.nextInt(0, TOKEN_ERROR_SHAPES.length - 1)] ?? null;
  }

  count(kind: FaultKind): void {
    this.#counts.set(kind, (this.#counts.get(kind) ?? 0) + 1);
  }

  counts(): Record<FaultKind, number> {
    return Object.fromEntries(this.#counts) as Record<FaultKind, number>;
  }

  #draw(chance: number): boolean {
    return chance > 0 && this.#random.nextFloat() < chance;
  }

  #drawCounted(kind: FaultKind, chance: number): boolean {
    const drawn = this.#draw(chance);
    if (drawn) this.count(kind);
    return drawn;
  }
}
