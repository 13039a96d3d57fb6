/**
 * Anomaly ledger routes: list, show, the meter's series around a held reading with the flagged
 * points, release and reject (each with a note). Actions call the pipeline functions the CLI calls.
 */
import type { FastifyInstance } from 'fastify';
import { AmisyncError } from '../core/errors.js';
import { API_SERIES_POINTS_MAX, LIST_PAGE_ROWS_MAX } from '../core/limits.js';
import { ANOMALY_STATUSES, type AnomalyStatus } from '../core/store.js';
import { rejectAnomaly, releaseAnomaly } from '../pipeline/anomalies.js';
import { actorOf, type Caller } from './api-auth.js';
import type { ApiContext } from './api-context.js';
import {
  addRoute,
  ID_PARAMS,
  listSchema,
  objectSchema,
  PAGE_PROPERTIES,
  TEXT_10,
  type IdParams,
  type PageQuery,
} from './api-routes.js';
import { anomalyJson, pageOf } from '../cli/views.js';

interface AnomalyQuery extends PageQuery {
  status?: AnomalyStatus;
  meter?: string;
  detector?: string;
  from?: string;
  to?: string;
}

const TAGS = ['anomalies'];

function instantOf(field: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) {
    throw new AmisyncError('USAGE', `query.${field} must be a UTC date or instant`, {
      field: `query.${field}`,
      rule: 'format',
      value: text,
    });
  }
  return ms;
}

export async function anomalyOf(context: ApiContext, id: number) {
  const row = await context.store.getAnomaly(id);
  if (row === null) throw new AmisyncError('NOT_FOUND', `anomaly ${id} does not exist`);
  return row;
}

/**
 * The held reading's stream around it (half the points before, half after) and the holds of that
 * stream in the same window: what the anomaly page charts.
 */
export async function anomalySeries(context: ApiContext, id: number) {
  const row = await anomalyOf(context, id);
  const { meterId, channel, intervalStartMs, intervalSeconds } = row.reading;
  const intervalMs = intervalSeconds * 1000;
  const fromMs = intervalStartMs - (API_SERIES_POINTS_MAX / 2) * intervalMs;
  const toMs = intervalStartMs + (API_SERIES_POINTS_MAX / 2) * intervalMs;
  const series = await context.store.streamSeries({
    meterId,
    channel,
    fromMs,
    toMs,
    intervalMs,
    limit: API_SERIES_POINTS_MAX,
  });
  const holds = await context.store.listAnomalies({
    meterId,
    fromMs,
    toMs,
    limit: LIST_PAGE_ROWS_MAX,
  });
  return {
    anomalyId: id,
    meterId,
    channel,
    unit: row.reading.unit,
    fromMs,
    toMs,
    series,
    flags: holds
      .filter((hold) => hold.reading.channel === channel)
      .map((hold) => ({
        anomalyId: hold.id,
        intervalStartMs: hold.reading.intervalStartMs,
        valueMicro: hold.reading.valueMicro,
        status: hold.status,
        detectors: [...new Set(hold.findings.map((finding) => finding.detector))],
      })),
  };
}

/** Releases or rejects a hold with a note, as `anomalies release|reject ID --note` does. */
export function decideAnomaly(
  context: ApiContext,
  caller: Caller,
  decision: 'release' | 'reject',
  id: number,
  note: string,
) {
  const action = { store: context.store, clock: context.clock, actor: actorOf(caller) };
  return decision === 'release'
    ? releaseAnomaly(action, id, note)
    : rejectAnomaly(action, id, note);
}

export function addAnomalyRoutes(app: FastifyInstance, context: ApiContext): void {
  addRoute<AnomalyQuery, unknown, unknown>(app, {
    method: 'GET',
    url: '/api/anomalies',
    permission: 'read',
    summary: 'held and decided readings in id order, filtered',
    tags: TAGS,
    schema: {
      querystring: {
        type: 'object',
        properties: {
          status: { type: 'string', enum: [...ANOMALY_STATUSES] },
          meter: { type: 'string', maxLength: 200 },
          detector: { type: 'string', maxLength: 100 },
          from: { type: 'string', maxLength: 40, description: 'interval start at or after (UTC)' },
          to: { type: 'string', maxLength: 40, description: 'interval start before (UTC)' },
          ...PAGE_PROPERTIES,
        },
        additionalProperties: false,
      },
      response: { 200: listSchema('a page of holds, as `anomalies list --json`') },
    },
    handle: async ({ query }) => {
      const fromMs = instantOf('from', query.from);
      const toMs = instantOf('to', query.to);
      const fetched = await context.store.listAnomalies({
        limit: query.limit + 1,
        ...(query.status === undefined ? {} : { status: query.status }),
        ...(query.meter === undefined ? {} : { meterId: query.meter }),
        ...(query.detector === undefined ? {} : { detector: query.detector }),
        ...(fromMs === undefined ? {} : { fromMs }),
        ...(toMs === undefined ? {} : { toMs }),
        ...(query.after === undefined ? {} : { afterId: query.after }),
      });
      const page = pageOf(fetched, query.limit);
      return { items: page.items.map(anomalyJson), nextAfter: page.nextAfter };
    },
  });
  addRoute<unknown, IdParams, unknown>(app, {
    method: 'GET',
    url: '/api/anomalies/:id',
    permission: 'read',
    summary: 'one held reading: its findings, where it came from and any decision',
    tags: TAGS,
    schema: { params: ID_PARAMS, response: { 200: objectSchema('the hold') } },
    handle: async ({ params }) => anomalyJson(await anomalyOf(context, params.id)),
  });
  addRoute<unknown, IdParams, unknown>(app, {
    method: 'GET',
    url: '/api/anomalies/:id/series',
    permission: 'read',
    summary: "the meter channel's ledger series around the hold, and the flagged points",
    tags: TAGS,
    schema: { params: ID_PARAMS, response: { 200: objectSchema('series and flags') } },
    handle: async ({ params }) => anomalySeries(context, params.id),
  });
  for (const decision of ['release', 'reject'] as const) {
    addRoute<unknown, IdParams, { note: string }>(app, {
      method: 'POST',
      url: `/api/anomalies/:id/${decision}`,
      permission: 'operate',
      summary:
        decision === 'release'
          ? 'move the reading into the billing ledger as a new version (note required)'
          : 'keep the reading out of the ledger for good (note required)',
      tags: TAGS,
      schema: {
        params: ID_PARAMS,
        body: {
          type: 'object',
          required: ['note'],
          properties: { note: TEXT_10 },
          additionalProperties: false,
        },
        response: { 200: objectSchema(`the ${decision} report`) },
      },
      handle: async ({ params, body, caller }) =>
        decideAnomaly(context, caller, decision, params.id, body.note),
    });
  }
}
