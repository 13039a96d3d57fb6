/**
 * Quarantine routes: list, show (with the record's raw bytes in base64), replay, accept and
 * reject. Each action calls the pipeline function the CLI calls, with the caller as the actor.
 */
import type { FastifyInstance } from 'fastify';
import { AmisyncError } from '../core/errors.js';
import { API_RAW_BYTES_MAX } from '../core/limits.js';
import { QUARANTINE_STATUSES, type QuarantineStatus } from '../core/store.js';
import { acceptQuarantined, rejectQuarantined, replayQuarantine } from '../pipeline/quarantine.js';
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
import { pageOf } from '../cli/views.js';

interface QuarantineQuery extends PageQuery {
  status?: QuarantineStatus;
  code?: string;
  delivery?: string;
}

const TAGS = ['quarantine'];
const JUSTIFICATION_BODY = {
  type: 'object',
  required: ['justification'],
  properties: { justification: TEXT_10 },
  additionalProperties: false,
} as const;

/** One item with its delivery, actions and raw bytes (whole up to API_RAW_BYTES_MAX). */
export async function quarantineItem(context: ApiContext, id: number) {
  const store = context.store;
  const row = await store.getQuarantine(id);
  if (row === null) throw new AmisyncError('NOT_FOUND', `quarantine item ${id} does not exist`);
  const { byteOffset, byteLength } = row.location;
  const kept = Math.min(byteLength, API_RAW_BYTES_MAX);
  const bytes = await store.readDeliveryBytes(row.deliveryId, byteOffset, kept);
  const delivery = await store.getDelivery(row.deliveryId);
  return {
    ...row,
    delivery:
      delivery === null
        ? null
        : { id: delivery.id, name: delivery.name, sourceId: delivery.sourceId },
    raw: {
      bytes: byteLength,
      sha256: row.rawSha256,
      base64: Buffer.from(bytes).toString('base64'),
      base64Bytes: kept,
      truncated: kept < byteLength,
    },
    actions: await store.listQuarantineActions(row.id),
  };
}

function actionContext(context: ApiContext, caller: Caller) {
  return {
    store: context.store,
    dictionary: context.dictionary,
    clock: context.clock,
    actor: actorOf(caller),
  };
}

/** Replays one item through the current dictionary, as `quarantine replay ID` does. */
export function replayItem(context: ApiContext, caller: Caller, id: number) {
  return replayQuarantine(actionContext(context, caller), [id], 1);
}

/** Accepts (an override) or rejects one item with a justification. */
export function decideItem(
  context: ApiContext,
  caller: Caller,
  decision: 'accept' | 'reject',
  id: number,
  justification: string,
) {
  const action = actionContext(context, caller);
  return decision === 'accept'
    ? acceptQuarantined(action, id, justification)
    : rejectQuarantined(action, id, justification);
}

export function addQuarantineRoutes(app: FastifyInstance, context: ApiContext): void {
  addRoute<QuarantineQuery, unknown, unknown>(app, {
    method: 'GET',
    url: '/api/quarantine',
    permission: 'read',
    summary: 'quarantine items in id order, filtered',
    tags: TAGS,
    schema: {
      querystring: {
        type: 'object',
        properties: {
          status: { type: 'string', enum: [...QUARANTINE_STATUSES] },
          code: { type: 'string', maxLength: 200, description: 'first rule violated' },
          delivery: { type: 'string', maxLength: 200, description: 'only this delivery' },
          ...PAGE_PROPERTIES,
        },
        additionalProperties: false,
      },
      response: { 200: listSchema('a page of items, as `quarantine list --json`') },
    },
    handle: async ({ query }) => {
      const fetched = await context.store.listQuarantine({
        limit: query.limit + 1,
        ...(query.status === undefined ? {} : { status: query.status }),
        ...(query.code === undefined ? {} : { code: query.code }),
        ...(query.delivery === undefined ? {} : { deliveryId: query.delivery }),
        ...(query.after === undefined ? {} : { afterId: query.after }),
      });
      return pageOf(fetched, query.limit);
    },
  });
  addRoute<unknown, IdParams, unknown>(app, {
    method: 'GET',
    url: '/api/quarantine/:id',
    permission: 'read',
    summary: 'one item: every reason, its raw bytes in base64, its history',
    tags: TAGS,
    schema: { params: ID_PARAMS, response: { 200: objectSchema('the item') } },
    handle: async ({ params }) => quarantineItem(context, params.id),
  });
  addRoute<unknown, IdParams, unknown>(app, {
    method: 'POST',
    url: '/api/quarantine/:id/replay',
    permission: 'operate',
    summary: "replay the item's kept bytes through the current dictionary",
    tags: TAGS,
    schema: { params: ID_PARAMS, response: { 200: objectSchema('the replay report') } },
    handle: async ({ params, caller }) => replayItem(context, caller, params.id),
  });
  for (const decision of ['accept', 'reject'] as const) {
    addRoute<unknown, IdParams, { justification: string }>(app, {
      method: 'POST',
      url: `/api/quarantine/:id/${decision}`,
      permission: 'operate',
      summary:
        decision === 'accept'
          ? 'override: accept the item into the ledger (justification required)'
          : 'close the item for good (justification required)',
      tags: TAGS,
      schema: {
        params: ID_PARAMS,
        body: JUSTIFICATION_BODY,
        response: { 200: objectSchema(`the ${decision} report`) },
      },
      handle: async ({ params, body, caller }) =>
        decideItem(context, caller, decision, params.id, body.justification),
    });
  }
}
