/**
 * The vendor SLA report over HTTP (`GET /api/sla`, viewer role): what `report sla --format json`
 * writes, for a month in the dictionary's time zone (the current month when none is given), of
 * the sources whose `sla:` targets the service's configuration gives. Reading it raises no alert:
 * breaches are alerted by the service once a day and by `report sla` (docs/reports.md).
 */
import type { FastifyInstance } from 'fastify';
import { Temporal } from 'temporal-polyfill';
import { AmisyncError } from '../core/errors.js';
import { monthWindow } from '../report/sla-days.js';
import { collectSlaReport, type SlaReport } from '../report/sla.js';
import { slaReportJson } from '../cli/views.js';
import type { ApiContext } from './api-context.js';
import { addRoute, objectSchema } from './api-routes.js';

export interface SlaQuery {
  period?: string;
  source?: string;
}

export const MONTH_PATTERN = '^[0-9]{4}-(0[1-9]|1[0-2])$';

/** The month the clock stands in, in the zone: `2026-10`. */
export function currentMonth(nowMs: number, timeZone: string): string {
  return Temporal.Instant.fromEpochMilliseconds(nowMs)
    .toZonedDateTimeISO(timeZone)
    .toPlainDate()
    .toString()
    .slice(0, 7);
}

/** The report of the month asked for (or the current one), of one source or every one. */
export async function slaReportFor(context: ApiContext, query: SlaQuery): Promise<SlaReport> {
  const timeZone = context.dictionary.timeZone ?? 'UTC';
  const month = query.period ?? currentMonth(context.clock.nowMs(), timeZone);
  if (!new RegExp(MONTH_PATTERN).test(month)) {
    throw new AmisyncError('USAGE', 'period must be a month: YYYY-MM', {
      field: 'period',
      rule: 'YYYY-MM',
      value: month,
    });
  }
  const configured = context.slas ?? [];
  const slas =
    query.source === undefined
      ? configured
      : configured.filter((sla) => sla.sourceId === query.source);
  if (query.source !== undefined && slas.length === 0) {
    throw new AmisyncError('NOT_FOUND', `source ${query.source} has no SLA in the configuration`);
  }
  return collectSlaReport(context.store, context.clock, {
    window: monthWindow(month, timeZone),
    slas,
  });
}

export function addSlaRoutes(app: FastifyInstance, context: ApiContext): void {
  addRoute<SlaQuery, unknown, unknown>(app, {
    method: 'GET',
    url: '/api/sla',
    permission: 'read',
    summary: 'vendor SLAs: per source and local day, expected and timely intervals, breaches',
    tags: ['reports'],
    schema: {
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          period: { type: 'string', pattern: MONTH_PATTERN, description: 'YYYY-MM' },
          source: { type: 'string', minLength: 1, maxLength: 200 },
        },
      },
      response: { 200: objectSchema('what `amisync report sla --format json` writes') },
    },
    handle: async ({ query }) => slaReportJson(await slaReportFor(context, query)),
  });
}
