/**
 * Dead-letter routes: list, show, replay (through the normal pipeline) and discard (justification
 * required). Actions call the pipeline functions the CLI calls, with the caller as the actor.
 */
import type { FastifyInstance } from 'fastify';
import { AmisyncError } from '../core/errors.js';
import { DEAD_LETTER_STATUSES, type DeadLetterStatus } from '../core/store.js';
import { discardDeadLetter, replayDeadLetter } from '../pipeline/dead-letters.js';
import { actorOf } from './api-auth.js';
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
import { deadLetterJson, pageOf } from '../cli/views.js';

interface DeadLetterQuery extends PageQuery {
  status?: DeadLetterStatus;
  source?: string;
}

const TAGS = ['dead letters'];

export function addDeadLetterRoutes(app: FastifyInstance, context: ApiContext): void {
  addRoute<DeadLetterQuery, unknown, unknown>(app, {
    method: 'GET',
    url: '/api/dead-letters',
    permission: 'read',
    summary: 'dead letters in id order, filtered',
    tags: TAGS,
    schema: {
      querystring: {
        type: 'object',
        properties: {
          status: { type: 'string', enum: [...DEAD_LETTER_STATUSES] },
          source: { type: 'string', maxLength: 100 },
          ...PAGE_PROPERTIES,
        },
        additionalProperties: false,
      },
      response: { 200: listSchema('a page of dead letters, as `dead-letters list --json`') },
    },
    handle: async ({ query }) => {
      const fetched = await context.store.listDeadLetters({
        limit: query.limit + 1,
        ...(query.status === undefined ? {} : { status: query.status }),
        ...(query.source === undefined ? {} : { sourceId: query.source }),
        ...(query.after === undefined ? {} : { afterId: query.after }),
      });
      const page = pageOf(fetched, query.limit);
      return { items: page.items.map(deadLetterJson), nextAfter: page.nextAfter };
    },
  });
  addRoute<unknown, IdParams, unknown>(app, {
    method: 'GET',
    url: '/api/dead-letters/:id',
    permission: 'read',
    summary: 'one dead letter: every attempt and any decision',
    tags: TAGS,
    schema: { params: ID_PARAMS, response: { 200: objectSchema('the dead letter') } },
    handle: async ({ params }) => {
      const row = await context.store.getDeadLetter(params.id);
      if (row === null) {
        throw new AmisyncError('NOT_FOUND', `dead letter ${params.id} does not exist`);
      }
      return deadLetterJson(row);
    },
  });
  addRoute<unknown, IdParams, { justification?: string } | undefined>(app, {
    method: 'POST',
    url: '/api/dead-letters/:id/replay',
    permission: 'operate',
    summary: 'ingest its bytes through the normal pipeline (identity absorbs repeats)',
    tags: TAGS,
    schema: {
      params: ID_PARAMS,
      body: {
        type: 'object',
        properties: { justification: { type: 'string', maxLength: 4_000 } },
        additionalProperties: false,
      },
      response: { 200: objectSchema('the replay report, with the new delivery and its counts') },
    },
    handle: async ({ params, body, caller }) =>
      replayDeadLetter(
        {
          store: context.store,
          clock: context.clock,
          random: context.random,
          dictionary: context.dictionary,
          actor: actorOf(caller),
        },
        params.id,
        body?.justification,
      ),
  });
  addRoute<unknown, IdParams, { justification: string }>(app, {
    method: 'POST',
    url: '/api/dead-letters/:id/discard',
    permission: 'operate',
    summary: 'mark it discarded; its row and bytes are kept (justification required)',
    tags: TAGS,
    schema: {
      params: ID_PARAMS,
      body: {
        type: 'object',
        required: ['justification'],
        properties: { justification: TEXT_10 },
        additionalProperties: false,
      },
      response: { 200: objectSchema('the discard report') },
    },
    handle: async ({ params, body, caller }) =>
      discardDeadLetter(
        { store: context.store, clock: context.clock, actor: actorOf(caller) },
        params.id,
        body.justification,
      ),
  });
}
