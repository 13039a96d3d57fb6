/**
 * The dashboard's static files, read once from installed npm packages (htmx, uPlot) and from this
 * folder (its stylesheet and script), and served under /assets/: nothing is fetched from the
 * network at run time and nothing is built. Its own stylesheet and script are in
 * dashboard-static.ts, so that the compiler carries them into dist/.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { FastifyInstance } from 'fastify';
import { DASHBOARD_CSS, DASHBOARD_JS } from './dashboard-static.js';

const require = createRequire(import.meta.url);

interface Asset {
  readonly body: string;
  readonly type: string;
}

function packageFile(path: string): string {
  return readFileSync(require.resolve(path), 'utf8');
}

/** Each file by its name under /assets/. */
export function loadDashboardAssets(): ReadonlyMap<string, Asset> {
  const js = 'text/javascript; charset=utf-8';
  const css = 'text/css; charset=utf-8';
  return new Map([
    ['htmx.min.js', { body: packageFile('htmx.org/dist/htmx.min.js'), type: js }],
    ['uPlot.iife.min.js', { body: packageFile('uplot/dist/uPlot.iife.min.js'), type: js }],
    ['uPlot.min.css', { body: packageFile('uplot/dist/uPlot.min.css'), type: css }],
    ['dashboard.css', { body: DASHBOARD_CSS, type: css }],
    ['dashboard.js', { body: DASHBOARD_JS, type: js }],
  ]);
}

export function addAssetRoutes(app: FastifyInstance): void {
  const assets = loadDashboardAssets();
  app.get<{ Params: { name: string } }>(
    '/assets/:name',
    { config: { hide: true } },
    async (request, reply) => {
      const asset = assets.get(request.params.name);
      if (asset === undefined) return reply.callNotFound();
      return reply
        .type(asset.type)
        .header('cache-control', 'public, max-age=3600')
        .send(asset.body);
    },
  );
}
