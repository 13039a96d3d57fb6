/**
 * Read routes of the ledger and what brought it: a meter (its streams, quality, open holds and
 * quarantine items) and its series, a meter's ledger rows in a range (paged by a cursor), every
 * version of one interval, deliveries with their conservation counts, the signed checkpoints and
 * a reading's inclusion proof. Each answers what the matching CLI command prints under --json.
 */
import type { FastifyInstance } from 'fastify';
import { LIST_PAGE_ROWS_MAX } from '../core/limits.js';
import type { ApiContext } from './api-context.js';
import { addRoute, objectSchema } from './api-routes.js';
import {
  checkpointsView,
  deliveriesPage,
  deliveryView,
  intervalVersions,
  ledgerPage,
  meterSeries,
  meterView,
  parseUtcInstant,
  readingProof,
} from '../cli/ledger-views.js';

const METER = { type: 'string', minLength: 1, maxLength: 200 } as const;
const CHANNEL = { type: 'string', minLength: 1, maxLength: 100 } as const;
const INSTANT = { type: 'string', maxLength: 40 } as const;
const LIMIT = {
  type: 'integer',
  minimum: 1,
  maximum: LIST_PAGE_ROWS_MAX,
  default: 100,
  description: 'rows per page',
} as const;
const CURSOR = {
  type: 'string',
  minLength: 1,
  maxLength: 400,
  description: "the previous page's nextCursor",
} as const;

interface MeterParams {
  id: string;
}

interface SeriesQuery {
  channel?: string;
  from?: string;
  to?: string;
}

interface LedgerQuery extends SeriesQuery {
  meter: string;
  limit: number;
  cursor?: string;
}

interface VersionsQuery {
  meter: string;
  channel: string;
  start: string;
}

interface DeliveriesQuery {
  source?: string;
  limit: number;
  cursor?: string;
}

function instant(field: string, text: string | undefined): number | undefined {
  return text === undefined ? undefined : parseUtcInstant(`query.${field}`, text);
}

function pageSchema(description: string) {
  return {
    type: 'object',
    description,
    properties: {
      items: { type: 'array', items: { type: 'object', additionalProperties: true } },
      nextCursor: { type: ['string', 'null'] },
    },
    additionalProperties: true,
  } as const;
}

function addMeterRoutes(app: FastifyInstance, context: ApiContext): void {
  const params = {
    type: 'object',
    required: ['id'],
    properties: { id: METER },
  } as const;
  addRoute<unknown, MeterParams, unknown>(app, {
    method: 'GET',
    url: '/api/meters/:id',
    permission: 'read',
    summary: "a meter's streams, their quality in the latest week, open holds, quarantine items",
    tags: ['ledger'],
    schema: { params, response: { 200: objectSchema('the meter') } },
    handle: async ({ params: { id } }) => meterView(context.store, id),
  });
  addRoute<SeriesQuery, MeterParams, unknown>(app, {
    method: 'GET',
    url: '/api/meters/:id/series',
    permission: 'read',
    summary: "one channel's current values on its grid in [from, to) (default: the latest week)",
    tags: ['ledger'],
    schema: {
      params,
      querystring: {
        type: 'object',
        properties: {
          channel: { ...CHANNEL, description: "the meter's first channel when absent" },
          from: { ...INSTANT, description: 'interval start at or after (UTC)' },
          to: { ...INSTANT, description: 'interval start before (UTC)' },
        },
        additionalProperties: false,
      },
      response: { 200: objectSchema('the series and its quality counts') },
    },
    handle: async ({ params: { id }, query }) => {
      const fromMs = instant('from', query.from);
      const toMs = instant('to', query.to);
      return meterSeries(context.store, id, {
        ...(query.channel === undefined ? {} : { channel: query.channel }),
        ...(fromMs === undefined ? {} : { fromMs }),
        ...(toMs === undefined ? {} : { toMs }),
      });
    },
  });
}

function addLedgerQueryRoutes(app: FastifyInstance, context: ApiContext): void {
  addRoute<LedgerQuery, unknown, unknown>(app, {
    method: 'GET',
    url: '/api/ledger',
    permission: 'read',
    summary: "a meter's current ledger rows in [from, to), oldest first, paged by a cursor",
    tags: ['ledger'],
    schema: {
      querystring: {
        type: 'object',
        required: ['meter'],
        properties: {
          meter: METER,
          channel: { ...CHANNEL, description: 'only this channel' },
          from: { ...INSTANT, description: "interval start at or after (UTC); the meter's first" },
          to: { ...INSTANT, description: "interval start before (UTC); after the meter's last" },
          limit: LIMIT,
          cursor: CURSOR,
        },
        additionalProperties: false,
      },
      response: { 200: pageSchema('a page of ledger rows, as `ledger show --json`') },
    },
    handle: async ({ query }) => {
      const fromMs = instant('from', query.from);
      const toMs = instant('to', query.to);
      return ledgerPage(context.store, {
        meterId: query.meter,
        limit: query.limit,
        ...(query.channel === undefined ? {} : { channel: query.channel }),
        ...(fromMs === undefined ? {} : { fromMs }),
        ...(toMs === undefined ? {} : { toMs }),
        ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
      });
    },
  });
  addRoute<VersionsQuery, unknown, unknown>(app, {
    method: 'GET',
    url: '/api/ledger/versions',
    permission: 'read',
    summary: 'every version of one interval (revisions kept, never overwritten), newest first',
    tags: ['ledger'],
    schema: {
      querystring: {
        type: 'object',
        required: ['meter', 'channel', 'start'],
        properties: {
          meter: METER,
          channel: CHANNEL,
          start: { ...INSTANT, description: 'the interval start (UTC)' },
        },
        additionalProperties: false,
      },
      response: { 200: objectSchema('the versions, as `ledger versions --json`') },
    },
    handle: async ({ query }) =>
      intervalVersions(context.store, {
        meterId: query.meter,
        channel: query.channel,
        intervalStartMs: parseUtcInstant('query.start', query.start),
      }),
  });
}

function addDeliveryRoutes(app: FastifyInstance, context: ApiContext): void {
  addRoute<DeliveriesQuery, unknown, unknown>(app, {
    method: 'GET',
    url: '/api/deliveries',
    permission: 'read',
    summary: 'deliveries newest first, with their content hash and conservation counts',
    tags: ['deliveries'],
    schema: {
      querystring: {
        type: 'object',
        properties: {
          source: { type: 'string', minLength: 1, maxLength: 200, description: 'only this source' },
          limit: LIMIT,
          cursor: CURSOR,
        },
        additionalProperties: false,
      },
      response: { 200: pageSchema('a page of deliveries, as `deliveries list --json`') },
    },
    handle: async ({ query }) =>
      deliveriesPage(context.store, {
        limit: query.limit,
        ...(query.source === undefined ? {} : { sourceId: query.source }),
        ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
      }),
  });
  addRoute<unknown, { id: string }, unknown>(app, {
    method: 'GET',
    url: '/api/deliveries/:id',
    permission: 'read',
    summary: 'one delivery: source, received time, content hash, counts, transport metadata',
    tags: ['deliveries'],
    schema: {
      params: {
        type: 'object',
        required: ['id'],
        properties: { id: { type: 'string', minLength: 1, maxLength: 200 } },
      },
      response: { 200: objectSchema('the delivery, as `deliveries show --json`') },
    },
    handle: async ({ params }) => deliveryView(context.store, params.id),
  });
}

function addAuditReadRoutes(app: FastifyInstance, context: ApiContext): void {
  addRoute<{ limit: number }, unknown, unknown>(app, {
    method: 'GET',
    url: '/api/audit/checkpoints',
    permission: 'read',
    summary: 'the signed checkpoints of the audit chain head, newest first',
    tags: ['audit'],
    schema: {
      querystring: {
        type: 'object',
        properties: { limit: LIMIT },
        additionalProperties: false,
      },
      response: { 200: objectSchema('checkpoints, as `audit checkpoints --json`') },
    },
    handle: async ({ query }) => checkpointsView(context.store, query.limit),
  });
  addRoute<unknown, { key: string }, unknown>(app, {
    method: 'GET',
    url: '/api/audit/proofs/:key',
    permission: 'read',
    summary: "a reading's inclusion proof by its idempotency key, checked",
    tags: ['audit'],
    schema: {
      params: {
        type: 'object',
        required: ['key'],
        properties: { key: { type: 'string', minLength: 1, maxLength: 100 } },
      },
      response: { 200: objectSchema('the proof, as `audit prove --json`') },
    },
    handle: async ({ params }) => readingProof(context.store, params.key, context.publicKey),
  });
}

export function addLedgerRoutes(app: FastifyInstance, context: ApiContext): void {
  addMeterRoutes(app, context);
  addLedgerQueryRoutes(app, context);
  addDeliveryRoutes(app, context);
  addAuditReadRoutes(app, context);
}
