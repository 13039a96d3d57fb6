/**
 * Reads a store's current ledger in the simulator's truth shape, so a test can compare what landed
 * with what the simulator says must land, stream by stream and to the milli-watt-hour.
 */
import type { Store } from '../core/store.js';
import { formatKwh, type TruthStream } from '../simulator/truth.js';

export async function ledgerStreams(store: Store): Promise<TruthStream[]> {
  const streams = new Map<
    string,
    { meterId: string; channel: string; readings: number; milliWh: bigint }
  >();
  for await (const page of store.iterateCurrentLedger()) {
    for (const row of page) {
      const key = `${row.meterId}\u0000${row.channel}`;
      const stream = streams.get(key) ?? {
        meterId: row.meterId,
        channel: row.channel,
        readings: 0,
        milliWh: 0n,
      };
      stream.readings += 1;
      stream.milliWh += BigInt(row.valueMicro);
      streams.set(key, stream);
    }
  }
  return [...streams.values()]
    .sort((a, b) => (a.meterId < b.meterId ? -1 : a.meterId > b.meterId ? 1 : 0))
    .map(({ milliWh, ...stream }) => ({ ...stream, kwh: formatKwh(milliWh) }));
}
