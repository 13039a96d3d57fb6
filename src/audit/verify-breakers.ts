/**
 * The breakers table against the audit chain: every circuit breaker transition is audited
 * (`breaker.transition`) in the transaction that stores the breaker's new state, so each stored
 * breaker must be in the state its endpoint's last audited transition moved it to, and point at
 * that entry. A breaker closed (or opened) by editing the table shows here.
 */
import type { Store } from '../core/store.js';

export const BREAKER_TRANSITION_KIND = 'breaker.transition';

interface LastTransition {
  readonly seq: number;
  readonly to: string;
}

/** Reads the chain's breaker transitions: the last one of each endpoint. */
export class BreakerTransitions {
  readonly last = new Map<string, LastTransition>();

  read(seq: number, kind: string, payload: string): void {
    if (kind !== BREAKER_TRANSITION_KIND) return;
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(payload) as Record<string, unknown>;
    } catch {
      return;
    }
    const { endpoint, to } = parsed;
    if (typeof endpoint === 'string' && typeof to === 'string') {
      this.last.set(endpoint, { seq, to });
    }
  }
}

export async function verifyBreakerStates(
  store: Store,
  transitions: BreakerTransitions,
  problem: (auditSeq: number | null, reason: string) => void,
): Promise<void> {
  const rows = await store.listBreakerStates();
  const stored = new Set<string>();
  for (const row of rows) {
    stored.add(row.endpoint);
    const last = transitions.last.get(row.endpoint);
    if (last === undefined) {
      problem(null, `breaker ${row.endpoint} is stored ${row.state} but no audit entry moved it`);
    } else if (last.to !== row.state || last.seq !== row.auditSeq) {
      problem(
        last.seq,
        `breaker ${row.endpoint} is stored ${row.state} (entry ${String(row.auditSeq)}) but its ` +
          `last audited transition, entry ${last.seq}, moved it to ${last.to} (changed outside amisync)`,
      );
    }
  }
  for (const [endpoint, last] of transitions.last) {
    if (!stored.has(endpoint)) {
      problem(last.seq, `breaker ${endpoint}'s state is missing from the store (deleted)`);
    }
  }
}
