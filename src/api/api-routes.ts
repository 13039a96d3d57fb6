/**
 * How an API route is declared: its method and path, the permission it needs, its JSON schemas
 * (which validate each request and make the OpenAPI document) and a handler that receives the
 * validated input and the caller.
 */
import type { FastifyInstance } from 'fastify';
import { LIST_PAGE_ROWS_MAX } from '../core/limits.js';
import type { Caller, Permission } from './api-auth.js';

export interface RouteInput<Query, Params, Body> {
  readonly query: Query;
  readonly params: Params;
  readonly body: Body;
  readonly caller: Caller;
}

export interface ApiRoute<Query = unknown, Params = unknown, Body = unknown> {
  readonly method: 'GET' | 'POST';
  readonly url: string;
  readonly permission: Permission;
  readonly summary: string;
  readonly tags: readonly string[];
  readonly schema: Readonly<Record<string, unknown>>;
  readonly handle: (input: RouteInput<Query, Params, Body>) => Promise<unknown>;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the authentication hook before any handler runs; null on public routes. */
    caller: Caller | null;
  }
}

export function addRoute<Query, Params, Body>(
  app: FastifyInstance,
  route: ApiRoute<Query, Params, Body>,
): void {
  app.route({
    method: route.method,
    url: route.url,
    schema: route.schema,
    config: { permission: route.permission, summary: route.summary, tags: route.tags },
    handler: async (request) => {
      if (request.caller === null) throw new Error('an API route ran without a caller');
      return route.handle({
        query: request.query as Query,
        params: request.params as Params,
        body: request.body as Body,
        caller: request.caller,
      });
    },
  });
}

/** `/:id` of a list's item: a positive integer. */
export const ID_PARAMS = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER } },
} as const;

export interface IdParams {
  id: number;
}

/** The paging every list takes: `limit` rows after the item `after`. */
export const PAGE_PROPERTIES = {
  limit: {
    type: 'integer',
    minimum: 1,
    maximum: LIST_PAGE_ROWS_MAX,
    default: 100,
    description: 'rows per page',
  },
  after: { type: 'integer', minimum: 1, description: 'page after this id' },
} as const;

export interface PageQuery {
  limit: number;
  after?: number;
}

/** A list answer: its items and the next page's `after`. */
export function listSchema(description: string) {
  return {
    type: 'object',
    description,
    properties: {
      items: { type: 'array', items: { type: 'object', additionalProperties: true } },
      nextAfter: { type: ['integer', 'null'] },
    },
  } as const;
}

/** An answer documented by its description only; its fields are those of the CLI's `--json`. */
export function objectSchema(description: string) {
  return { type: 'object', description, additionalProperties: true } as const;
}

/** A justification or note in a body: at least 10 characters, as the CLI asks. */
export const TEXT_10 = { type: 'string', minLength: 10, maxLength: 4_000 } as const;
