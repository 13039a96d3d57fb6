/**
 * A real store whose transaction number `failAt` fails as a full disk would, for tests that
 * check nothing is acknowledged before its commit.
 */
import type { Store } from '../core/store.js';

export function failingStore(store: Store, failAt: number): Store {
  let calls = 0;
  return new Proxy(store, {
    get(target, property) {
      // Bound to the store itself: its private fields are not reachable through the proxy.
      const value = Reflect.get(target, property, target) as unknown;
      if (property !== 'transaction') {
        return typeof value === 'function'
          ? (value as (...a: unknown[]) => unknown).bind(target)
          : value;
      }
      return (fn: Parameters<Store['transaction']>[0]) => {
        calls += 1;
        if (calls === failAt) return Promise.reject(new Error('SQLITE_FULL: disk is full'));
        return target.transaction(fn);
      };
    },
  });
}
