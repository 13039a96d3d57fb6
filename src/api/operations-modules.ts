/**
 * The operations server's modules (fastify, prom-client and the routes), loaded when a command
 * serves the API: every other command starts without them, a few hundred milliseconds sooner.
 */
import type { listenOperations } from './api-server.js';
import type { OperationsMetrics } from './metrics.js';
import type { OPERATIONS_PARTS } from './parts.js';

export interface OperationsModules {
  readonly listenOperations: typeof listenOperations;
  readonly OperationsMetrics: typeof OperationsMetrics;
  readonly OPERATIONS_PARTS: typeof OPERATIONS_PARTS;
}

export async function loadOperations(): Promise<OperationsModules> {
  const [server, metrics, parts] = await Promise.all([
    import('./api-server.js'),
    import('./metrics.js'),
    import('./parts.js'),
  ]);
  return {
    listenOperations: server.listenOperations,
    OperationsMetrics: metrics.OperationsMetrics,
    OPERATIONS_PARTS: parts.OPERATIONS_PARTS,
  };
}
