/**
 * Setup for `npm run test:properties-long`: every property runs AMISYNC_PROPERTY_FACTOR times its
 * usual count of cases, from the seed in AMISYNC_PROPERTY_SEED when it is set (else a random one,
 * printed by fast-check on failure). The everyday suite keeps its counts; this is the long form
 * that finds the rare counterexamples before a CI run does.
 */
import { vi } from 'vitest';

vi.mock('fast-check', async (importOriginal) => {
  const actual = await importOriginal<typeof import('fast-check')>();
  const factor = Number(process.env.AMISYNC_PROPERTY_FACTOR ?? '1');
  const seedText = process.env.AMISYNC_PROPERTY_SEED;
  const assert: typeof actual.assert = ((property: never, params?: { numRuns?: number }) => {
    const numRuns = Math.ceil((params?.numRuns ?? 100) * factor);
    const seed = seedText === undefined ? {} : { seed: Number(seedText) };
    return actual.assert(property, { ...params, numRuns, ...seed });
  }) as typeof actual.assert;
  const fc = { ...actual, assert };
  return { ...fc, default: fc };
});
