/**
 * The `resilience:` settings of the configuration file: top-level defaults for every source
 * (retry, retryBudget, breaker, quarantineSpike, alerts.webhook) and a source's own `resilience:`
 * overriding retry, retryBudget and breaker for that source alone. Every key is optional; what is
 * not given takes the documented default (docs/resilience.md).
 */
import { z } from 'zod';
import {
  BREAKER_COOLDOWN_MS_MAX,
  RETRY_ATTEMPTS_MAX,
  RETRY_ATTEMPTS_MIN,
  RETRY_DELAY_MS_MAX,
} from '../core/limits.js';
import { BREAKER_DEFAULTS, type BreakerSettings } from './breaker.js';
import { QUARANTINE_SPIKE_DEFAULTS, type QuarantineSpikeSettings } from './quarantine-spike.js';
import { RETRY_BUDGET_DEFAULTS, type RetryBudgetSettings } from './retry-budget.js';
import { RETRY_DEFAULTS, type RetrySettings } from './retry.js';
import type { ResilienceSettings } from './resilient-source.js';

const WINDOW_MS_MAX = 24 * 3_600_000;
const share = z.number().min(0).max(1);
const windowMs = z.number().int().min(1_000).max(WINDOW_MS_MAX);

const retrySchema = z
  .object({
    attempts: z.number().int().min(RETRY_ATTEMPTS_MIN).max(RETRY_ATTEMPTS_MAX).optional(),
    baseDelayMs: z.number().int().min(0).max(RETRY_DELAY_MS_MAX).optional(),
    delayMsMax: z.number().int().min(0).max(RETRY_DELAY_MS_MAX).optional(),
  })
  .strict();

const retryBudgetSchema = z
  .object({
    windowMs: windowMs.optional(),
    ratio: share.optional(),
    minRetries: z.number().int().min(0).max(10_000).optional(),
  })
  .strict();

const breakerSchema = z
  .object({
    windowMs: windowMs.optional(),
    minimumCalls: z.number().int().min(1).max(1_000_000).optional(),
    failureRateMax: share.optional(),
    slowCallMs: z.number().int().min(1).max(3_600_000).nullable().optional(),
    cooldownMs: z.number().int().min(0).max(BREAKER_COOLDOWN_MS_MAX).optional(),
    cooldownMultiplier: z.number().min(1).max(10).optional(),
    cooldownMsMax: z.number().int().min(0).max(BREAKER_COOLDOWN_MS_MAX).optional(),
  })
  .strict();

const quarantineSpikeSchema = z
  .object({
    windowMs: windowMs.optional(),
    shareMax: share.optional(),
    minimumRecords: z.number().int().min(1).max(100_000_000).optional(),
  })
  .strict();

const webhookSchema = z
  .object({
    url: z.url({ protocol: /^https?$/ }),
    /** An environment variable holding the Authorization header's value, never the value. */
    authorizationEnv: z.string().min(1).optional(),
    timeoutMs: z.number().int().min(100).max(120_000).optional(),
  })
  .strict();

/** A source's own `resilience:`. */
export const sourceResilienceSchema = z
  .object({
    retry: retrySchema.optional(),
    retryBudget: retryBudgetSchema.optional(),
    breaker: breakerSchema.optional(),
  })
  .strict();

/** The top-level `resilience:`. */
export const resilienceSchema = sourceResilienceSchema
  .extend({
    quarantineSpike: quarantineSpikeSchema.optional(),
    alerts: z.object({ webhook: webhookSchema.optional() }).strict().optional(),
  })
  .strict();

export type SourceResilienceConfig = z.infer<typeof sourceResilienceSchema>;
export type ResilienceConfig = z.infer<typeof resilienceSchema>;
export type WebhookConfig = z.infer<typeof webhookSchema>;

/** Drops keys whose value is undefined, so a spread keeps the default under them. */
function given<T extends object>(
  value: T | undefined,
): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value ?? {}).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}

/** One source's settings: its own overrides over the top level over the defaults. */
export function settingsFor(
  top: ResilienceConfig | undefined,
  own: SourceResilienceConfig | undefined,
): ResilienceSettings {
  const retry: RetrySettings = { ...RETRY_DEFAULTS, ...given(top?.retry), ...given(own?.retry) };
  const base = Math.min(retry.baseDelayMs, retry.delayMsMax);
  const breaker: BreakerSettings = {
    ...BREAKER_DEFAULTS,
    ...given(top?.breaker),
    ...given(own?.breaker),
  };
  const retryBudget: RetryBudgetSettings = {
    ...RETRY_BUDGET_DEFAULTS,
    ...given(top?.retryBudget),
    ...given(own?.retryBudget),
  };
  return {
    retry: { ...retry, baseDelayMs: base },
    retryBudget,
    breaker: { ...breaker, cooldownMsMax: Math.max(breaker.cooldownMs, breaker.cooldownMsMax) },
  };
}

export function quarantineSpikeFor(top: ResilienceConfig | undefined): QuarantineSpikeSettings {
  return { ...QUARANTINE_SPIKE_DEFAULTS, ...given(top?.quarantineSpike) };
}
