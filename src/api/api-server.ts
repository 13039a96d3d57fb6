/**
 * The operations server: the HTTP API (JSON, problem details, OpenAPI at /openapi.json), served by
 * `amisync serve` for a database and by `amisync run` beside its sources.
 *
 * Every route needs a token (bearer, or the dashboard's session cookie) unless the server is
 * started open; a route names the permission it needs and the caller's role must grant it. An
 * error of any route answers RFC 9457 problem details with the CLI's error codes (problem.ts).
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { AmisyncError } from '../core/errors.js';
import {
  authenticate,
  authorize,
  OPEN_CALLER,
  presentedToken,
  type Caller,
  type Permission,
} from './api-auth.js';
import type { ApiContext } from './api-context.js';
import { openApiDocument, RouteCatalogue } from './openapi.js';
import { asAmisyncError, PROBLEM_MEDIA_TYPE, problemOf } from './problem.js';
import { addAnomalyRoutes } from './routes-anomalies.js';
import { addControlRoutes } from './routes-controls.js';
import { addDeadLetterRoutes } from './routes-dead-letters.js';
import { addQuarantineRoutes } from './routes-quarantine.js';
import { addSlaRoutes } from './routes-sla.js';
import { addLedgerRoutes } from './routes-ledger.js';
import { addStatusRoutes } from './routes-status.js';

export const API_VERSION = '0.1.0';

/** Extra parts (metrics, dashboard) that register their routes on the same server. */
export type ServerPart = (app: FastifyInstance, context: ApiContext) => void;

interface RouteConfig {
  permission?: Permission;
  /** A dashboard page: an unauthenticated visit is sent to the login page, not given a 401. */
  page?: boolean;
}

/** JSON with bigints as decimal strings (kWh totals are exact integers of milliwatt-hours). */
export function jsonText(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

async function callerOf(context: ApiContext, request: FastifyRequest): Promise<Caller> {
  if (context.open) return OPEN_CALLER;
  const token = presentedToken(request.headers.authorization, request.headers.cookie);
  return authenticate(context.store, token);
}

/** The authentication and authorization of every route that names a permission. */
async function guard(context: ApiContext, request: FastifyRequest, reply: FastifyReply) {
  const config = request.routeOptions.config as RouteConfig;
  if (config.permission === undefined) return;
  try {
    request.caller = await callerOf(context, request);
  } catch (error) {
    if (config.page === true && asAmisyncError(error).code === 'UNAUTHENTICATED') {
      const next = encodeURIComponent(request.url);
      return reply.redirect(`/login?next=${next}`, 303);
    }
    throw error;
  }
  authorize(request.caller, config.permission);
}

function sendProblem(error: unknown, request: FastifyRequest, reply: FastifyReply) {
  const known = asAmisyncError(error);
  const problem = problemOf(known, request.url);
  if (known.code === 'INTERNAL') request.log.error({ err: error }, 'internal error');
  void reply.status(problem.status).type(PROBLEM_MEDIA_TYPE).send(jsonText(problem));
}

export function createApiServer(
  context: ApiContext,
  parts: readonly ServerPart[] = [],
): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
  const catalogue = new RouteCatalogue();
  app.addHook('onRoute', (route) => catalogue.add(route));
  app.decorateRequest('caller', null);
  // Schemas validate and document; answers are written by one serializer that carries bigints.
  app.setSerializerCompiler(() => jsonText);
  app.setReplySerializer(jsonText);
  app.addHook('onRequest', async (request, reply) => guard(context, request, reply));
  app.setErrorHandler((error, request, reply) => sendProblem(error, request, reply));
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      new AmisyncError('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`),
      request,
      reply,
    ),
  );
  addStatusRoutes(app, context);
  addQuarantineRoutes(app, context);
  addAnomalyRoutes(app, context);
  addDeadLetterRoutes(app, context);
  addControlRoutes(app, context);
  addSlaRoutes(app, context);
  addLedgerRoutes(app, context);
  for (const part of parts) part(app, context);
  app.get('/openapi.json', { config: { permission: 'read', hide: true } }, async () =>
    openApiDocument(catalogue, API_VERSION),
  );
  return app;
}

/** A listening operations server: its base URL and how to stop it. */
export interface OperationsServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Starts the server on host:port (port 0 takes any free port). */
export async function listenOperations(
  context: ApiContext,
  options: { host: string; port: number; parts?: readonly ServerPart[] },
): Promise<OperationsServer> {
  const app = createApiServer(context, options.parts ?? []);
  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return { url: `http://${host}:${port}`, port, close: () => app.close() };
}
