/**
 * Pause and resume (global, or of named sources) and audit verify. Controls call the pipeline's
 * pauseSources and resumeSources, audited with the caller as the actor; verify runs the CLI's
 * verification and keeps the last result for the dashboard and /metrics.
 */
import type { FastifyInstance } from 'fastify';
import { verifyAudit } from '../audit/verify.js';
import { invoiceRowsOf } from '../cli/context.js';
import { pausesOf } from '../core/pause.js';
import { pauseSources, resumeSources } from '../pipeline/controls.js';
import { actorOf, type Caller } from './api-auth.js';
import type { ApiContext } from './api-context.js';
import { addRoute, objectSchema } from './api-routes.js';

interface ControlBody {
  sources?: string[];
  reason?: string;
}

/** Pauses or resumes, as `amisync pause|resume [--source ...] --reason` does. */
export async function control(
  context: ApiContext,
  caller: Caller,
  paused: boolean,
  body: ControlBody,
) {
  const action = { store: context.store, clock: context.clock, actor: actorOf(caller) };
  const request = { sourceIds: body.sources ?? [], reason: body.reason ?? '' };
  const controls = paused
    ? await pauseSources(action, request)
    : await resumeSources(action, request);
  return { controls, pausesInForce: pausesOf(await context.store.listControls()) };
}

/** Verifies the audit trail and keeps the result as the last verification. */
export async function verify(context: ApiContext, caller: Caller) {
  const report = await verifyAudit(context.store, context.publicKey, invoiceRowsOf(context.store));
  context.lastVerify = { report, atMs: context.clock.nowMs(), by: actorOf(caller) };
  return report;
}

export function addControlRoutes(app: FastifyInstance, context: ApiContext): void {
  for (const paused of [true, false]) {
    addRoute<unknown, unknown, ControlBody | undefined>(app, {
      method: 'POST',
      url: paused ? '/api/pause' : '/api/resume',
      permission: 'operate',
      summary: paused
        ? 'emergency pause of the named sources, or of every source (reason required)'
        : "lift the named sources' pauses, or the global one",
      tags: ['controls'],
      schema: {
        body: {
          type: 'object',
          ...(paused ? { required: ['reason'] } : {}),
          properties: {
            sources: {
              type: 'array',
              items: { type: 'string', maxLength: 63 },
              maxItems: 256,
              description: 'the sources; none or absent: every source (global)',
            },
            reason: { type: 'string', maxLength: 1_000 },
          },
          additionalProperties: false,
        },
        response: { 200: objectSchema('the controls written and the pauses now in force') },
      },
      handle: async ({ body, caller }) => control(context, caller, paused, body ?? {}),
    });
  }
  addRoute(app, {
    method: 'POST',
    url: '/api/audit/verify',
    permission: 'audit',
    summary: 'recompute the chain, Merkle roots and signatures; name the first bad entry',
    tags: ['audit'],
    schema: { response: { 200: objectSchema('the verify report, as `audit verify --json`') } },
    handle: async ({ caller }) => verify(context, caller),
  });
  addRoute(app, {
    method: 'GET',
    url: '/api/audit',
    permission: 'read',
    summary: 'the last verification this service ran, and the signed checkpoints',
    tags: ['audit'],
    schema: { response: { 200: objectSchema('last verification and checkpoints') } },
    handle: async () => ({
      lastVerify:
        context.lastVerify === null
          ? null
          : {
              ...context.lastVerify,
              at: new Date(context.lastVerify.atMs).toISOString(),
            },
      checkpoints: await context.store.listCheckpoints(20),
      auditEntries: (await context.store.status()).auditEntries,
    }),
  });
}
