// Goal: no input, however hostile, crashes ingestion, loses or doubles a record, stores text it
// cannot hash faithfully, or leaves a database that `audit verify` rejects.
// Method: fast-check damages a valid delivery of every reader (bytes, and one field replaced by
// arbitrary text) and ingests each input into a fresh SQLite store, checking every promise.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  applyDamages,
  byteDamage,
  checkDelivery,
  damagesFor,
  fuzzSeeds,
  type Seed,
} from '../test-support/fuzz.js';
import { removeTempDirs } from '../test-support/temp.js';

afterAll(removeTempDirs);

/** Inputs per reader and kind of damage: small here; `npm run fuzz` sets a large number. */
const RUNS = Number(process.env.AMISYNC_FUZZ_RUNS ?? '12');
const SEED =
  process.env.AMISYNC_FUZZ_SEED === undefined
    ? {}
    : { seed: Number(process.env.AMISYNC_FUZZ_SEED) };
let inputs = 0;

afterAll(() => {
  if (RUNS > 100) process.stdout.write(`fuzz: ${inputs} inputs checked\n`);
});

async function check(seed: Seed, bytes: Buffer): Promise<void> {
  inputs += 1;
  await checkDelivery(seed, bytes);
}

describe.each(fuzzSeeds().map((seed) => [seed.name, seed] as const))(
  'fuzzing %s',
  (_name, seed) => {
    it('keeps every promise for the valid seed itself', async () => {
      await check(seed, seed.bytes);
    });

    it('keeps every promise when fields hold arbitrary text and bytes are damaged', async () => {
      await fc.assert(
        fc.asyncProperty(damagesFor(seed), async (damages) => {
          await check(seed, applyDamages(seed, damages));
        }),
        { numRuns: RUNS, ...SEED },
      );
    });

    it('keeps every promise for arbitrary bytes', async () => {
      const bytes = fc.oneof(
        fc.uint8Array({ maxLength: 2048 }),
        fc.array(byteDamage, { minLength: 1, maxLength: 6 }).map((d) => applyDamages(seed, d)),
      );
      await fc.assert(
        fc.asyncProperty(bytes, async (input) => {
          await check(seed, Buffer.from(input));
        }),
        { numRuns: RUNS, ...SEED },
      );
    });
  },
);

describe('the defect that started this harness', () => {
  it('refuses a meter id escaped as an unpaired surrogate, and audit verify still passes', async () => {
    const seed = fuzzSeeds().find((s) => s.name === 'ndjson') as Seed;
    const line =
      '{"meter_id":"\\ud800","timestamp_utc":"2026-03-01T00:00:00Z",' +
      '"consumption_kwh":"1.5","status_code":0}\n';
    await check(seed, Buffer.from(line));
    expect(inputs).toBeGreaterThan(0);
  });
});
