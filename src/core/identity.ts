/**
 * The idempotency key (ARCH 2.3): lowercase hex sha256 of the UTF-8 string
 * `v1|meterId|channel|intervalStartUtc|seq`, where intervalStartUtc is `YYYY-MM-DDTHH:MM:SSZ`.
 * docs/idempotency-key.md gives the same definition with test vectors, so anyone can recompute a
 * key.
 */
import { hash } from 'node:crypto';
import { isWellFormedText } from './text.js';

export const IDEMPOTENCY_KEY_VERSION = 'v1';

/** Recently formatted instants: a batch holds many meters' readings for the same few intervals. */
const FORMATTED_CACHE_ENTRIES_MAX = 4096;
const formatted = new Map<number, string>();

/**
 * `YYYY-MM-DDTHH:MM:SSZ` for an epoch-millisecond instant; sub-second parts must already be zero.
 */
export function formatUtcSeconds(epochMs: number): string {
  let text = formatted.get(epochMs);
  if (text === undefined) {
    text = new Date(epochMs).toISOString().slice(0, 19) + 'Z';
    if (formatted.size >= FORMATTED_CACHE_ENTRIES_MAX) formatted.clear();
    formatted.set(epochMs, text);
  }
  return text;
}

export function idempotencyKeyInput(
  meterId: string,
  channel: string,
  intervalStartMs: number,
  seq: number,
): string {
  const start = formatUtcSeconds(intervalStartMs);
  return `${IDEMPOTENCY_KEY_VERSION}|${meterId}|${channel}|${start}|${seq}`;
}

export function idempotencyKey(
  meterId: string,
  channel: string,
  intervalStartMs: number,
  seq: number,
): string {
  return hash('sha256', idempotencyKeyInput(meterId, channel, intervalStartMs, seq), 'hex');
}

/**
 * Whether `text` may stand for a meter id or channel in an idempotency key: it must not hold the
 * key's separator `|`, and must be well-formed Unicode, or the key hashed would not be the key of
 * the text stored (core/text.ts).
 */
export function isKeyableText(text: string): boolean {
  return !text.includes('|') && isWellFormedText(text);
}
