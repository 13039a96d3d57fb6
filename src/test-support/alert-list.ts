/** An alert raiser for tests that keeps every alert raised, in order, stamped by `nowMs`. */
import type { Alert, AlertRaiser } from '../core/alert.js';

export interface AlertList extends AlertRaiser {
  readonly raised: Alert[];
}

export function alertList(nowMs: () => number = Date.now): AlertList {
  const raised: Alert[] = [];
  return {
    raised,
    raise(input) {
      const alert = { ...input, atMs: nowMs() };
      raised.push(alert);
      return alert;
    },
  };
}
