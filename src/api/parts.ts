/**
 * The parts served beside the API routes, in one list: `serve`, `run` and the demo all serve
 * these.
 */
import type { ServerPart } from './api-server.js';
import { dashboardPart } from './dashboard/dashboard.js';
import { metricsPart } from './metrics.js';

export const OPERATIONS_PARTS: readonly ServerPart[] = [metricsPart, dashboardPart];
