// Goal: the meter page reads each stream's series once, though its stream table and its chart
// both show the same window (the read is the page's largest cost at 20 M readings).
// Method: memoSeriesReader over a store whose streamSeries is counted; the same query twice
// reads once, a different window reads again, and both answer the store's points.
import { describe, expect, it } from 'vitest';
import type { SeriesPoint, Store, StreamSeriesQuery } from '../core/store.js';
import { memoSeriesReader } from './ledger-views.js';

describe('memoSeriesReader', () => {
  it('reads each distinct series query once', async () => {
    const asked: StreamSeriesQuery[] = [];
    const store = {
      streamSeries: async (query: StreamSeriesQuery): Promise<SeriesPoint[]> => {
        asked.push(query);
        return [{ intervalStartMs: query.fromMs, valueMicro: 1_500_000, quality: 'actual' }];
      },
    } as unknown as Store;
    const read = memoSeriesReader(store);
    const week = {
      meterId: 'M1',
      channel: 'E',
      fromMs: 0,
      toMs: 900_000,
      intervalMs: 900_000,
      limit: 10,
    };
    const first = await read(week);
    const again = await read({ ...week });
    const other = await read({ ...week, fromMs: 900_000, toMs: 1_800_000 });
    expect(asked).toHaveLength(2);
    expect(again).toEqual(first);
    expect(first[0]?.intervalStartMs).toBe(0);
    expect(other[0]?.intervalStartMs).toBe(900_000);
  });
});
