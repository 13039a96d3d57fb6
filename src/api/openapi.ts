/**
 * The OpenAPI 3.1 document of the API, generated from the JSON schemas the routes declare (the same
 * schemas that validate each request), so the document cannot drift from what the server checks.
 */
import type { RouteOptions } from 'fastify';
import { PROBLEM_MEDIA_TYPE, PROBLEM_SCHEMA } from './problem.js';

type Schema = Record<string, unknown>;

/** What a route declares beyond its JSON schemas, for the document. */
export interface RouteDocs {
  readonly summary?: string;
  readonly tags?: readonly string[];
  readonly permission?: string;
  /** Routes of the dashboard's pages and assets are not part of the API. */
  readonly hide?: boolean;
}

interface DocumentedRoute {
  readonly method: string;
  readonly url: string;
  readonly schema: Schema;
  readonly docs: RouteDocs;
}

/** Collects routes as they are registered (a fastify `onRoute` hook). */
export class RouteCatalogue {
  readonly #routes: DocumentedRoute[] = [];

  add(route: RouteOptions): void {
    const docs = (route.config ?? {}) as RouteDocs;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      if (method === 'HEAD' || docs.hide === true) continue;
      this.#routes.push({
        method: method.toLowerCase(),
        url: route.url,
        schema: (route.schema ?? {}) as Schema,
        docs,
      });
    }
  }

  get routes(): readonly DocumentedRoute[] {
    return this.#routes;
  }
}

function parametersOf(schema: Schema): Schema[] {
  const parameters: Schema[] = [];
  for (const [where, key] of [
    ['path', 'params'],
    ['query', 'querystring'],
  ] as const) {
    const part = schema[key] as
      { properties?: Record<string, Schema>; required?: string[] } | undefined;
    for (const [name, property] of Object.entries(part?.properties ?? {})) {
      parameters.push({
        name,
        in: where,
        required: where === 'path' || (part?.required ?? []).includes(name),
        schema: property,
        ...(typeof property.description === 'string' ? { description: property.description } : {}),
      });
    }
  }
  return parameters;
}

function responsesOf(schema: Schema): Schema {
  const responses: Schema = {};
  for (const [status, body] of Object.entries((schema.response ?? {}) as Record<string, Schema>)) {
    responses[status] = {
      description: (body.description as string | undefined) ?? 'the answer',
      content: { 'application/json': { schema: body } },
    };
  }
  responses.default = {
    description: 'an error (401 without a valid token, 403 when the role may not, ...)',
    content: { [PROBLEM_MEDIA_TYPE]: { schema: PROBLEM_SCHEMA } },
  };
  return responses;
}

function operationOf(route: DocumentedRoute): Schema {
  const body = route.schema.body as Schema | undefined;
  const permission = route.docs.permission;
  return {
    summary: route.docs.summary ?? `${route.method.toUpperCase()} ${route.url}`,
    ...(route.docs.tags === undefined ? {} : { tags: [...route.docs.tags] }),
    ...(permission === undefined ? {} : { 'x-amisync-permission': permission }),
    parameters: parametersOf(route.schema),
    ...(body === undefined
      ? {}
      : { requestBody: { required: true, content: { 'application/json': { schema: body } } } }),
    responses: responsesOf(route.schema),
  };
}

/** `/api/quarantine/:id` as OpenAPI writes it: `/api/quarantine/{id}`. */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

export function openApiDocument(catalogue: RouteCatalogue, version: string): Schema {
  const paths: Record<string, Record<string, Schema>> = {};
  for (const route of catalogue.routes) {
    const path = openApiPath(route.url);
    paths[path] = { ...paths[path], [route.method]: operationOf(route) };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'amisync operations API',
      version,
      description:
        'Status, quarantine, anomalies, dead letters, pauses, breakers and audit of one amisync ' +
        'database. Every call needs a bearer token (amisync tokens add); see docs/api.md.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    },
    security: [{ bearer: [] }],
    paths,
  };
}
