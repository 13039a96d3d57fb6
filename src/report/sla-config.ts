/**
 * A vendor's SLA as its contract states it, in the configuration file under the source it binds
 * (docs/config.md, "Vendor SLAs"): targets such as "99.5% of expected intervals received within 4
 * hours of the interval's end". Durations and shares are written as text (`4h`, `99.5%`) and kept
 * as exact integers (milliseconds, thousandths of a percent), so that pass and breach are decided
 * without a float.
 */
import { z } from 'zod';

const MS_PER_UNIT: Readonly<Record<string, number>> = {
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** The longest window a target may give: a quarter. */
export const SLA_WITHIN_MS_MAX = 92 * 86_400_000;
/** Targets one source may have, at most. */
export const SLA_TARGETS_MAX = 8;

const WITHIN_PATTERN = /^([1-9][0-9]{0,4})(m|h|d)$/;
const SHARE_PATTERN = /^(100|[0-9]{1,2})(?:\.([0-9]{1,3}))?%$/;

export interface SlaTarget {
  /** As written: `4h`. */
  readonly within: string;
  readonly withinMs: number;
  /** As written: `99.5%`. */
  readonly share: string;
  /** Thousandths of a percent: `99.5%` is 99500, `100%` is 100000. */
  readonly shareMilliPercent: number;
}

export interface SourceSla {
  readonly sourceId: string;
  /** Shortest window first. */
  readonly targets: readonly SlaTarget[];
}

const withinSchema = z
  .string('a duration such as 4h, 90m or 3d')
  .regex(WITHIN_PATTERN, 'a whole number of minutes, hours or days: 90m, 4h, 3d')
  .transform((text) => {
    const match = WITHIN_PATTERN.exec(text);
    return { within: text, withinMs: Number(match?.[1]) * (MS_PER_UNIT[match?.[2] ?? 'm'] ?? 0) };
  })
  .refine((value) => value.withinMs <= SLA_WITHIN_MS_MAX, 'at most 92d');

const shareSchema = z
  .string('a share such as 99.5%')
  .regex(SHARE_PATTERN, 'a percentage with up to 3 decimals and a % sign: 99.5%')
  .transform((text) => {
    const match = SHARE_PATTERN.exec(text);
    const decimals = (match?.[2] ?? '').padEnd(3, '0');
    return { share: text, shareMilliPercent: Number(match?.[1]) * 1000 + Number(decimals) };
  })
  .refine(
    (value) => value.shareMilliPercent > 0 && value.shareMilliPercent <= 100_000,
    'more than 0% and at most 100%',
  );

const targetSchema = z
  .object({ within: withinSchema, share: shareSchema })
  .strict()
  .transform(({ within, share }): SlaTarget => ({ ...within, ...share }));

/** A source's `sla:` mapping. */
export const slaSchema = z
  .object({
    targets: z
      .array(targetSchema, 'a list of targets, each { within: 4h, share: 99.5% }')
      .min(1, 'at least one target')
      .max(SLA_TARGETS_MAX, `at most ${SLA_TARGETS_MAX} targets`)
      .superRefine((targets, context) => {
        const seen = new Set<number>();
        targets.forEach((target, index) => {
          if (seen.has(target.withinMs)) {
            context.addIssue({
              code: 'custom',
              path: [index, 'within'],
              message: `a second target within ${target.within}: one share per window`,
            });
          }
          seen.add(target.withinMs);
        });
      })
      .transform((targets) => [...targets].sort((a, b) => a.withinMs - b.withinMs)),
  })
  .strict();

export type SlaConfig = z.infer<typeof slaSchema>;

/** `4h 99.5%`: how a target is named in tables, alerts and CSV rows. */
export function targetLabel(target: Pick<SlaTarget, 'within' | 'share'>): string {
  return `${target.share} within ${target.within}`;
}
