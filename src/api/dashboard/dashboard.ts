/**
 * The dashboard: server-rendered pages on the API's own functions, served by the same process.
 * Pages need a token like the API (the login page puts it in an HttpOnly, SameSite=Strict cookie);
 * actions are plain HTML forms (htmx boosts them) that call what the API routes call, audited with
 * the caller's token name, and come back to the page with the outcome.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AmisyncError } from '../../core/errors.js';
import { pausesOf } from '../../core/pause.js';
import {
  ANOMALY_STATUSES,
  QUARANTINE_STATUSES,
  type AnomalyStatus,
  type QuarantineStatus,
} from '../../core/store.js';
import {
  authenticate,
  authorize,
  ROLE_PERMISSIONS,
  SESSION_COOKIE,
  type Caller,
  type Permission,
} from '../api-auth.js';
import type { ApiContext } from '../api-context.js';
import { ID_PARAMS, type IdParams } from '../api-routes.js';
import { asAmisyncError } from '../problem.js';
import { anomalyOf, anomalySeries, decideAnomaly } from '../routes-anomalies.js';
import { control, verify } from '../routes-controls.js';
import { decideItem, quarantineItem, replayItem } from '../routes-quarantine.js';
import { sourcesOverview } from '../routes-status.js';
import { addAssetRoutes } from './dashboard-assets.js';
import { page, type Frame } from './dashboard-html.js';
import {
  anomalyBody,
  anomalyListBody,
  auditBody,
  loginBody,
  overviewBody,
  quarantineItemBody,
  quarantineListBody,
  slaBody,
} from './dashboard-pages.js';
import { slaReportFor } from '../routes-sla.js';
import { breakerReports } from '../../cli/views.js';
import { meterBody, meterPageView, proveSection } from './dashboard-meter.js';

/** A browser session lasts a working day; then the token is asked for again. */
const SESSION_SECONDS = 12 * 3_600;
const PAGE_ROWS = 200;

type Form = Record<string, string | undefined>;
type Query = Record<string, string | undefined>;

const PAGE = { permission: 'read', page: true, hide: true } as const;

function can(caller: Caller | null, permission: Permission): boolean {
  return caller !== null && ROLE_PERMISSIONS[caller.role].includes(permission);
}

function frameOf(request: FastifyRequest, title: string, path: string): Frame {
  const query = request.query as Query;
  return { title, path, caller: request.caller, notice: query.notice, error: query.error };
}

function sendPage(reply: FastifyReply, frame: Frame, body: string) {
  return reply
    .type('text/html; charset=utf-8')
    .header(
      'content-security-policy',
      "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
        "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    )
    .header('x-content-type-options', 'nosniff')
    .send(page(frame, body));
}

/** Only a path of this site: never another origin (`//evil`, `https://...`), nor a control. */
function safeNext(next: string | undefined): string {
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point.
  return next !== undefined && /^\/(?![/\\])[^\u0000-\u001f\u007f]*$/.test(next) ? next : '/';
}

/** The page of an item, when its id is one; else the list. */
function itemPath(list: string, idText: string): string {
  return /^[1-9][0-9]{0,15}$/.test(idText) ? `${list}/${idText}` : list;
}

function withMessage(path: string, key: 'notice' | 'error', text: string): string {
  return `${path}${path.includes('?') ? '&' : '?'}${key}=${encodeURIComponent(text)}`;
}

/**
 * Runs a form's action for a caller whose role grants `permission`, then sends the browser back
 * to `back` with the outcome: a notice, or the error's sentence (a short note, a decided item).
 */
async function act(
  request: FastifyRequest,
  reply: FastifyReply,
  permission: Permission,
  back: string,
  run: (caller: Caller) => Promise<string>,
) {
  try {
    const caller = request.caller;
    if (caller === null) throw new AmisyncError('UNAUTHENTICATED', 'log in first');
    authorize(caller, permission);
    return reply.redirect(withMessage(back, 'notice', await run(caller)), 303);
  } catch (error) {
    const known = asAmisyncError(error);
    if (known.code === 'INTERNAL') throw error;
    return reply.redirect(withMessage(back, 'error', `${known.code}: ${known.message}`), 303);
  }
}

function addSessionRoutes(app: FastifyInstance, context: ApiContext): void {
  app.get('/login', { config: { hide: true } }, async (request, reply) => {
    if (context.open) return reply.redirect('/', 303);
    const query = request.query as Query;
    const frame = { title: 'Log in', path: '/login', caller: null, error: query.error };
    return sendPage(reply, frame, loginBody(safeNext(query.next)));
  });
  app.post('/login', { config: { hide: true } }, async (request, reply) => {
    const form = (request.body ?? {}) as Form;
    const next = safeNext(form.next);
    try {
      await authenticate(context.store, form.token?.trim() ?? null);
    } catch (error) {
      const message = asAmisyncError(error).message;
      return reply.redirect(
        withMessage(`/login?next=${encodeURIComponent(next)}`, 'error', message),
        303,
      );
    }
    const cookie =
      `${SESSION_COOKIE}=${encodeURIComponent(form.token?.trim() ?? '')}; HttpOnly; ` +
      `SameSite=Strict; Path=/; Max-Age=${SESSION_SECONDS}`;
    return reply.header('set-cookie', cookie).redirect(next, 303);
  });
  app.post('/logout', { config: { hide: true } }, async (_request, reply) =>
    reply
      .header('set-cookie', `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`)
      .redirect('/login', 303),
  );
}

function addOverview(app: FastifyInstance, context: ApiContext): void {
  app.get('/', { config: PAGE }, async (request, reply) => {
    // The worklists' counts only: the whole status (ledger and conservation totals) is not shown.
    const counts = await context.store.worklistCounts();
    const view = {
      sources: await sourcesOverview(context),
      globalPause:
        pausesOf(await context.store.listControls()).find((p) => p.sourceId === null) ?? null,
      breakers: await breakerReports(context.store),
      ...counts,
      canOperate: can(request.caller, 'operate'),
    };
    return sendPage(reply, frameOf(request, 'Overview', '/'), overviewBody(view));
  });
  const controlRoute = (url: string, paused: boolean, scoped: boolean) =>
    app.post(url, { config: PAGE }, async (request, reply) => {
      const source = scoped ? (request.params as { id: string }).id : null;
      const form = (request.body ?? {}) as Form;
      return act(request, reply, 'operate', '/', async (caller) => {
        await control(context, caller, paused, {
          sources: source === null ? [] : [source],
          ...(form.reason === undefined ? {} : { reason: form.reason }),
        });
        const scope = source === null ? 'every source' : `source ${source}`;
        return `${paused ? 'paused' : 'resumed'} ${scope}`;
      });
    });
  controlRoute('/sources/:id/pause', true, true);
  controlRoute('/sources/:id/resume', false, true);
  controlRoute('/pause', true, false);
  controlRoute('/resume', false, false);
}

function statusOf<S extends string>(text: string | undefined, all: readonly S[], fallback: S) {
  if (text === 'any') return undefined;
  return all.includes(text as S) ? (text as S) : fallback;
}

function addQuarantinePages(app: FastifyInstance, context: ApiContext): void {
  app.get('/quarantine', { config: PAGE }, async (request, reply) => {
    const query = request.query as Query;
    const status = statusOf<QuarantineStatus>(query.status, QUARANTINE_STATUSES, 'open');
    const code = query.code?.trim() ?? '';
    const meter = query.meter?.trim() ?? '';
    const rows = await context.store.listQuarantine({
      limit: PAGE_ROWS,
      ...(status === undefined ? {} : { status }),
      ...(code === '' ? {} : { code }),
    });
    const shown = meter === '' ? rows : rows.filter((row) => row.meterId === meter);
    const filter = { status: status ?? 'any', code, meter };
    const body = quarantineListBody(filter, shown);
    return sendPage(reply, frameOf(request, 'Quarantine', '/quarantine'), body);
  });
  app.get(
    '/quarantine/:id',
    { config: PAGE, schema: { params: ID_PARAMS } },
    async (request, reply) => {
      const { id } = request.params as IdParams;
      const item = await quarantineItem(context, id);
      const body = quarantineItemBody(item, can(request.caller, 'operate'));
      return sendPage(reply, frameOf(request, `Quarantine item ${id}`, '/quarantine'), body);
    },
  );
  app.post('/quarantine/:id/:action', { config: PAGE }, async (request, reply) => {
    const { id: idText, action } = request.params as { id: string; action: string };
    const id = Number(idText);
    const justification = ((request.body ?? {}) as Form).justification ?? '';
    return act(request, reply, 'operate', itemPath('/quarantine', idText), async (caller) => {
      if (!Number.isSafeInteger(id) || id < 1) throw new AmisyncError('USAGE', 'not an item id');
      if (action === 'replay') {
        const report = await replayItem(context, caller, id);
        const outcome = report.outcomes[0]?.outcome ?? 'nothing to replay';
        return `item ${id} replayed: ${outcome}`;
      }
      if (action !== 'accept' && action !== 'reject') {
        throw new AmisyncError('NOT_FOUND', `no action ${action}`);
      }
      await decideItem(context, caller, action, id, justification);
      return `item ${id} ${action === 'accept' ? 'accepted' : 'rejected'}`;
    });
  });
}

function addAnomalyPages(app: FastifyInstance, context: ApiContext): void {
  app.get('/anomalies', { config: PAGE }, async (request, reply) => {
    const query = request.query as Query;
    const status = statusOf<AnomalyStatus>(query.status, ANOMALY_STATUSES, 'held');
    const rows = await context.store.listAnomalies({
      limit: PAGE_ROWS,
      ...(status === undefined ? {} : { status }),
    });
    const body = anomalyListBody(rows, status ?? 'any');
    return sendPage(reply, frameOf(request, 'Anomaly ledger', '/anomalies'), body);
  });
  app.get(
    '/anomalies/:id',
    { config: PAGE, schema: { params: ID_PARAMS } },
    async (request, reply) => {
      const { id } = request.params as IdParams;
      const row = await anomalyOf(context, id);
      const series = await anomalySeries(context, id);
      const body = anomalyBody(row, series, can(request.caller, 'operate'));
      return sendPage(reply, frameOf(request, `Held reading ${id}`, '/anomalies'), body);
    },
  );
  app.post('/anomalies/:id/:action', { config: PAGE }, async (request, reply) => {
    const { id: idText, action } = request.params as { id: string; action: string };
    const id = Number(idText);
    const note = ((request.body ?? {}) as Form).note ?? '';
    return act(request, reply, 'operate', itemPath('/anomalies', idText), async (caller) => {
      if (action !== 'release' && action !== 'reject') {
        throw new AmisyncError('NOT_FOUND', `no action ${action}`);
      }
      await decideAnomaly(context, caller, action, id, note);
      return `hold ${id} ${action === 'release' ? 'released into the ledger' : 'rejected'}`;
    });
  });
}

function addAuditPage(app: FastifyInstance, context: ApiContext): void {
  app.get('/audit', { config: PAGE }, async (request, reply) => {
    const body = auditBody({
      lastVerify: context.lastVerify,
      auditEntries: (await context.store.status()).auditEntries,
      checkpoints: (await context.store.listCheckpoints(5)).reverse(),
      canVerify: can(request.caller, 'audit'),
    });
    const prove = await proveSection(context, (request.query as Query).key);
    return sendPage(reply, frameOf(request, 'Audit', '/audit'), `${body}\n${prove}`);
  });
  app.post('/audit/verify', { config: PAGE }, async (request, reply) =>
    act(request, reply, 'audit', '/audit', async (caller) => {
      const report = await verify(context, caller);
      return report.ok ? 'audit trail verified' : 'audit verify FAILED';
    }),
  );
}

function addMeterPage(app: FastifyInstance, context: ApiContext): void {
  app.get(
    '/meters/:id',
    {
      config: PAGE,
      schema: {
        params: {
          type: 'object',
          required: ['id'],
          properties: { id: { type: 'string', minLength: 1, maxLength: 200 } },
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const view = await meterPageView(context, id, request.query as Query);
      return sendPage(reply, frameOf(request, `Meter ${id}`, '/meters'), meterBody(view));
    },
  );
}

function addSlaPage(app: FastifyInstance, context: ApiContext): void {
  app.get('/sla', { config: PAGE }, async (request, reply) => {
    const query = request.query as Query;
    const period =
      query.period === undefined || query.period === '' ? {} : { period: query.period };
    const source =
      query.source === undefined || query.source === '' ? {} : { source: query.source };
    const frame = frameOf(request, 'Vendor SLAs', '/sla');
    try {
      const report = await slaReportFor(context, { ...period, ...source });
      const sourceIds = (context.slas ?? []).map((sla) => sla.sourceId);
      return await sendPage(reply, frame, slaBody(report, sourceIds, query.source ?? ''));
    } catch (error) {
      const known = asAmisyncError(error);
      if (known.code === 'INTERNAL') throw error;
      return sendPage(reply, { ...frame, error: `${known.code}: ${known.message}` }, '');
    }
  });
}

/** Form posts arrive URL-encoded: read as a flat record of strings. */
function addFormParser(app: FastifyInstance): void {
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(String(body))));
    },
  );
}

export function dashboardPart(app: FastifyInstance, context: ApiContext): void {
  addFormParser(app);
  addAssetRoutes(app);
  addSessionRoutes(app, context);
  addOverview(app, context);
  addQuarantinePages(app, context);
  addAnomalyPages(app, context);
  addAuditPage(app, context);
  addSlaPage(app, context);
  addMeterPage(app, context);
}
