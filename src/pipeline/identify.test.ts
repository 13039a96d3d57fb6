// Goal: identity decides each reading as docs/idempotency-key.md says; stream state stays exact.
// Method: the pure decide/identifyBatch/intervalsToLookUp on hand-built readings, rows and states.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Reading } from '../core/reading.js';
import type { StreamState } from '../core/store.js';
import type { Detector } from '../detect/detect.js';
import {
  asItem,
  asItems,
  asLedgerRow,
  makeReading,
  OTHER_METER,
  slotMs,
  streamStateOf,
  supersededKey,
  TEST_METER,
  versionChain,
  withChanges,
} from '../test-support/reading-builder.js';
import {
  decide,
  identifyBatch,
  intervalsToLookUp,
  streamKey,
  type Decision,
  type Pending,
} from './identify.js';

const STREAM = { meterId: TEST_METER, channel: '1' };

function statesOf(...states: StreamState[]): Map<string, StreamState> {
  return new Map(states.map((state) => [streamKey(state), state]));
}

function holdOf(decision: Decision | undefined) {
  if (decision?.kind !== 'hold') throw new Error(`expected a hold, got ${decision?.kind}`);
  return decision.reject;
}

function acceptOf(decision: Decision | undefined) {
  if (decision?.kind !== 'accept') throw new Error(`expected an accept, got ${decision?.kind}`);
  return decision;
}

describe('decide: one reading against the versions its interval holds', () => {
  const actual = makeReading({ seq: 7, valueMicro: 412_000 });
  const estimate = makeReading({ seq: 3, valueMicro: 400_000, quality: 'estimated' });
  const substituted = makeReading({ seq: 4, valueMicro: 390_000, quality: 'substituted' });

  it('accepts a reading for an empty interval as version 1, superseding nothing', () => {
    expect(decide(asItem(actual), [])).toEqual({ kind: 'accept', version: 1, supersedes: null });
  });

  it('counts an exact retransmission (same key, same content) as a duplicate of that key', () => {
    const decision = decide(asItem({ ...actual }), [asLedgerRow(actual, 1)]);
    expect(decision).toEqual({ kind: 'duplicate', of: actual.idempotencyKey });
  });

  it('holds the same key with other content as identity.conflict naming the ledger key', () => {
    const other = withChanges(actual, { valueMicro: 999_000 });
    const item = asItem(other, 4);
    const reject = holdOf(decide(item, [asLedgerRow(actual, 1)]));
    expect(reject.violations).toHaveLength(1);
    expect(reject.violations[0]).toMatchObject({ code: 'identity.conflict', field: 'record' });
    expect(reject.violations[0]?.value).toContain('0.999000 kWh');
    expect(reject.violations[0]?.message).toContain('0.412000 kWh');
    expect(reject.relatedIdempotencyKey).toBe(actual.idempotencyKey);
    expect(reject.idempotencyKey).toBe(actual.idempotencyKey);
    expect(reject.meterId).toBe(TEST_METER);
    expect(reject.location).toEqual(item.location);
    expect(reject.uncountedSpan).toBe(false);
  });

  it.each<[string, Partial<Reading>]>([
    ['status code', { statusCode: 4 }],
    ['quality', { quality: 'substituted' }],
    ['interval length', { intervalSeconds: 1800 }],
    ['energy by one milliwatt-hour', { valueMicro: 412_001 }],
  ])('treats a different %s under the same key as a conflict', (_name, changes) => {
    const reject = holdOf(decide(asItem(withChanges(actual, changes)), [asLedgerRow(actual, 1)]));
    expect(reject.violations[0]?.code).toBe('identity.conflict');
  });

  it('counts another seq with the same content as a duplicate of the held key', () => {
    const renumbered = makeReading({ seq: 8, valueMicro: 412_000 });
    expect(renumbered.idempotencyKey).not.toBe(actual.idempotencyKey);
    const decision = decide(asItem(renumbered), [asLedgerRow(actual, 1)]);
    expect(decision).toEqual({ kind: 'duplicate', of: actual.idempotencyKey });
  });

  it('counts a renumbered copy of a superseded version as a duplicate of that version', () => {
    const versions = versionChain([estimate, actual]);
    const renumbered = withChanges(estimate, {
      seq: 99,
      idempotencyKey: makeReading({ seq: 99 }).idempotencyKey,
    });
    expect(decide(asItem(renumbered), versions)).toEqual({
      kind: 'duplicate',
      of: estimate.idempotencyKey,
    });
  });

  it.each([
    ['estimated', estimate],
    ['substituted', substituted],
  ])('accepts an actual replacing an %s value as version 2 superseding it', (_name, earlier) => {
    const versions = versionChain([earlier]);
    const decision = acceptOf(decide(asItem(actual), versions));
    expect(decision.version).toBe(2);
    expect(decision.supersedes).toBe(versions[0]);
  });

  it('accepts an actual as version n + 1 after a longer chain, superseding the current', () => {
    const second = makeReading({ seq: 5, valueMicro: 401_000, quality: 'substituted' });
    const versions = [asLedgerRow(estimate, 1), asLedgerRow(second, 2, estimate)];
    // A substituted value can only reach version 2 by an operator's override; the chain is legal.
    const decision = acceptOf(decide(asItem(actual), versions));
    expect(decision.version).toBe(3);
    expect(supersededKey(decision.supersedes)).toBe(second.idempotencyKey);
  });

  it.each<[string, Reading, Reading]>([
    ['an estimate replacing an actual', actual, makeReading({ seq: 9, quality: 'estimated' })],
    [
      'a substituted value replacing an actual',
      actual,
      makeReading({ seq: 9, quality: 'substituted' }),
    ],
    [
      'an actual replacing an actual with another value',
      actual,
      makeReading({ seq: 9, valueMicro: 1 }),
    ],
    [
      'an estimate replacing an estimate',
      estimate,
      makeReading({ seq: 9, quality: 'estimated', valueMicro: 1 }),
    ],
    ['a substituted value replacing an estimate', estimate, substituted],
  ])('holds %s as identity.revision_held naming the current key', (_name, held, arriving) => {
    const reject = holdOf(decide(asItem(arriving), [asLedgerRow(held, 1)]));
    expect(reject.violations.map((v) => v.code)).toEqual(['identity.revision_held']);
    expect(reject.relatedIdempotencyKey).toBe(held.idempotencyKey);
    expect(reject.idempotencyKey).toBe(arriving.idempotencyKey);
  });

  it('compares a revision with the current version, not with a superseded one', () => {
    const versions = versionChain([estimate, actual]);
    const another = makeReading({ seq: 11, valueMicro: 500_000 });
    const reject = holdOf(decide(asItem(another), versions));
    expect(reject.violations[0]?.code).toBe('identity.revision_held');
    expect(reject.relatedIdempotencyKey).toBe(actual.idempotencyKey);
  });

  it('finds a conflict with a superseded version by its key', () => {
    const versions = versionChain([estimate, actual]);
    const changedEstimate = withChanges(estimate, { valueMicro: 1 });
    const reject = holdOf(decide(asItem(changedEstimate), versions));
    expect(reject.violations[0]?.code).toBe('identity.conflict');
    expect(reject.relatedIdempotencyKey).toBe(estimate.idempotencyKey);
  });
});

describe('decide in override mode (an operator accepting a quarantined reading)', () => {
  const actual = makeReading({ seq: 7, valueMicro: 412_000 });

  it('accepts into an empty interval as version 1', () => {
    const decision = decide(asItem(actual), [], true);
    expect(decision).toEqual({ kind: 'accept', version: 1, supersedes: null });
  });

  it.each<[string, Reading]>([
    ['an estimate over an actual', makeReading({ seq: 9, quality: 'estimated' })],
    ['the same key with other content', withChanges(actual, { valueMicro: 1 })],
    ['another actual value', makeReading({ seq: 9, valueMicro: 1 })],
  ])('makes %s the current version', (_name, arriving) => {
    const versions = versionChain([actual]);
    const decision = acceptOf(decide(asItem(arriving), versions, true));
    expect(decision.version).toBe(2);
    expect(decision.supersedes).toBe(versions[0]);
  });

  it('is a duplicate only when the reading already is the current version', () => {
    expect(decide(asItem({ ...actual }), versionChain([actual]), true)).toEqual({
      kind: 'duplicate',
      of: actual.idempotencyKey,
    });
    const estimate = makeReading({ seq: 2, quality: 'estimated' });
    const versions = versionChain([estimate, actual]);
    const decision = acceptOf(decide(asItem({ ...estimate }), versions, true));
    expect(decision.version).toBe(3);
    expect(supersededKey(decision.supersedes)).toBe(actual.idempotencyKey);
  });

  it('moves stream energy by the difference when identifyBatch overrides', () => {
    const state = streamStateOf(STREAM, {
      lastIntervalStartMs: slotMs(0),
      lastSeq: 7,
      currentReadings: 1,
      currentValueMicro: 412_000,
    });
    const lower = makeReading({ seq: 9, valueMicro: 100_000, quality: 'estimated' });
    const ledger = versionChain([actual]);
    const result = identifyBatch(asItems([lower]), statesOf(state), ledger, [], true);
    expect(acceptOf(result.decisions[0]).version).toBe(2);
    expect(result.states.get(streamKey(STREAM))).toMatchObject({
      currentReadings: 1,
      currentValueMicro: 100_000,
      lastSeq: 9,
    });
  });
});

describe('identifyBatch: collisions inside one batch', () => {
  it('counts the second of two identical readings as a duplicate', () => {
    const reading = makeReading({ seq: 1 });
    const result = identifyBatch(asItems([reading, { ...reading }]), new Map(), []);
    expect(result.decisions).toEqual([
      { kind: 'accept', version: 1, supersedes: null },
      { kind: 'duplicate', of: reading.idempotencyKey },
    ]);
    expect(result.states.get(streamKey(STREAM))).toMatchObject({
      currentReadings: 1,
      currentValueMicro: reading.valueMicro,
    });
  });

  it('accepts an estimate then its actual as a revision superseding the pending estimate', () => {
    const estimate = makeReading({ seq: 1, quality: 'estimated', valueMicro: 300_000 });
    const actual = makeReading({ seq: 2, valueMicro: 320_000 });
    const result = identifyBatch(asItems([estimate, actual]), new Map(), []);
    expect(result.decisions[0]).toEqual({ kind: 'accept', version: 1, supersedes: null });
    const revision = acceptOf(result.decisions[1]);
    expect(revision.version).toBe(2);
    expect(revision.supersedes).toEqual<Pending>({ reading: estimate, version: 1 });
    expect(result.states.get(streamKey(STREAM))).toMatchObject({
      currentReadings: 1,
      currentValueMicro: 320_000,
    });
  });

  it('holds an estimate that follows its actual in the same batch', () => {
    const actual = makeReading({ seq: 1, valueMicro: 320_000 });
    const estimate = makeReading({ seq: 2, quality: 'estimated', valueMicro: 300_000 });
    const result = identifyBatch(asItems([actual, estimate]), new Map(), []);
    expect(result.decisions[0]?.kind).toBe('accept');
    const reject = holdOf(result.decisions[1]);
    expect(reject.violations[0]?.code).toBe('identity.revision_held');
    expect(reject.relatedIdempotencyKey).toBe(actual.idempotencyKey);
    expect(reject.location.recordIndex).toBe(1);
    expect(result.states.get(streamKey(STREAM))?.currentValueMicro).toBe(320_000);
  });

  it('holds a same-key reading with other content that follows in the same batch', () => {
    const first = makeReading({ seq: 4, valueMicro: 1_000 });
    const second = withChanges(first, { valueMicro: 2_000 });
    const result = identifyBatch(asItems([first, second]), new Map(), []);
    expect(holdOf(result.decisions[1]).violations[0]?.code).toBe('identity.conflict');
    expect(result.states.get(streamKey(STREAM))?.currentValueMicro).toBe(1_000);
  });

  it('keeps streams apart: the same slot and seq on another meter or channel is new', () => {
    const a = makeReading({ seq: 1 });
    const b = makeReading({ seq: 1, meterId: OTHER_METER });
    const c = makeReading({ seq: 1, channel: 'E2' });
    const result = identifyBatch(asItems([a, b, c]), new Map(), []);
    expect(result.decisions.map((d) => d.kind)).toEqual(['accept', 'accept', 'accept']);
    expect(result.states.size).toBe(3);
  });
});

describe('identifyBatch: the feed sequence number', () => {
  it('records a gap and a regression with the expected and received seq', () => {
    const readings = [1, 2, 5, 3].map((seq, slot) => makeReading({ seq, slot }));
    const result = identifyBatch(asItems(readings), new Map(), []);
    expect(result.sequenceEvents).toEqual([
      { ...STREAM, kind: 'gap', expectedSeq: 3, receivedSeq: 5, intervalStartMs: slotMs(2) },
      { ...STREAM, kind: 'regression', expectedSeq: 6, receivedSeq: 3, intervalStartMs: slotMs(3) },
    ]);
    expect(result.states.get(streamKey(STREAM))).toMatchObject({
      lastSeq: 5,
      seqGaps: 1,
      seqRegressions: 1,
    });
  });

  it('continues from the loaded state and adds to its counters', () => {
    const state = streamStateOf(STREAM, {
      lastIntervalStartMs: slotMs(3),
      lastSeq: 10,
      seqGaps: 2,
      seqRegressions: 1,
    });
    const readings = [11, 14, 14].map((seq, index) => makeReading({ seq, slot: 4 + index }));
    const result = identifyBatch(asItems(readings), statesOf(state), []);
    expect(result.sequenceEvents.map((e) => [e.kind, e.expectedSeq, e.receivedSeq])).toEqual([
      ['gap', 12, 14],
      ['regression', 15, 14],
    ]);
    expect(result.states.get(streamKey(STREAM))).toMatchObject({
      lastSeq: 14,
      seqGaps: 3,
      seqRegressions: 2,
    });
  });

  it('leaves seq 0 (a feed without sequence numbers) untracked', () => {
    const result = identifyBatch(
      asItems([0, 0, 0].map((seq, slot) => makeReading({ seq, slot }))),
      new Map(),
      [],
    );
    expect(result.decisions.map((d) => d.kind)).toEqual(['accept', 'accept', 'accept']);
    expect(result.sequenceEvents).toEqual([]);
    expect(result.states.get(streamKey(STREAM))).toMatchObject({ lastSeq: null, seqGaps: 0 });
    const tracked = streamStateOf(STREAM, { lastIntervalStartMs: slotMs(0), lastSeq: 4 });
    const after = identifyBatch(asItems([makeReading({ seq: 0, slot: 1 })]), statesOf(tracked), []);
    expect(after.sequenceEvents).toEqual([]);
    expect(after.states.get(streamKey(STREAM))?.lastSeq).toBe(4);
  });

  it('moves the sequence only for readings that enter the ledger', () => {
    const first = makeReading({ seq: 1, slot: 0 });
    const conflict = withChanges(first, { valueMicro: 1 });
    const renumbered = withChanges(first, {
      seq: 40,
      idempotencyKey: makeReading({ seq: 40 }).idempotencyKey,
    });
    const result = identifyBatch(asItems([first, conflict, renumbered]), new Map(), []);
    expect(result.decisions.map((d) => d.kind)).toEqual(['accept', 'hold', 'duplicate']);
    expect(result.sequenceEvents).toEqual([]);
    expect(result.states.get(streamKey(STREAM))?.lastSeq).toBe(1);
  });
});

describe('identifyBatch: stream state', () => {
  it('counts current readings and energy across new readings and revisions', () => {
    const estimate = makeReading({ slot: 1, seq: 2, quality: 'estimated', valueMicro: 200_000 });
    const loaded = streamStateOf(STREAM, {
      lastIntervalStartMs: slotMs(1),
      lastSeq: 2,
      currentReadings: 2,
      currentValueMicro: 300_000,
    });
    const revision = makeReading({ slot: 1, seq: 3, valueMicro: 250_000 });
    const next = makeReading({ slot: 2, seq: 4, valueMicro: 50_000 });
    const ledger = versionChain([estimate]);
    const result = identifyBatch(asItems([revision, next]), statesOf(loaded), ledger);
    expect(acceptOf(result.decisions[0]).version).toBe(2);
    expect(result.states.get(streamKey(STREAM))).toEqual({
      ...loaded,
      lastIntervalStartMs: slotMs(2),
      lastSeq: 4,
      currentReadings: 3,
      currentValueMicro: 400_000,
    });
  });

  it('never moves the high-water mark backwards', () => {
    const loaded = streamStateOf(STREAM, { lastIntervalStartMs: slotMs(9), lastSeq: 1 });
    const late = makeReading({ slot: 2, seq: 2 });
    const result = identifyBatch(asItems([late]), statesOf(loaded), []);
    expect(result.states.get(streamKey(STREAM))?.lastIntervalStartMs).toBe(slotMs(9));
  });

  it('copies the loaded states and never mutates them', () => {
    const loaded = streamStateOf(STREAM, { lastIntervalStartMs: slotMs(0), lastSeq: 1 });
    const snapshot = structuredClone(loaded);
    const states = statesOf(loaded);
    const result = identifyBatch(asItems([makeReading({ slot: 1, seq: 2 })]), states, []);
    expect(loaded).toEqual(snapshot);
    expect(result.states.get(streamKey(STREAM))).not.toBe(loaded);
  });

  it('keeps energy equal to the sum of the current versions over any decided sequence', () => {
    const arbitraryReading = fc.record({
      slot: fc.integer({ min: 0, max: 3 }),
      seq: fc.integer({ min: 0, max: 6 }),
      valueMicro: fc.constantFrom(0, 1, 1_000, 250_000),
      quality: fc.constantFrom('actual' as const, 'estimated' as const, 'substituted' as const),
    });
    fc.assert(
      fc.property(
        fc.array(fc.array(arbitraryReading, { maxLength: 6 }), { maxLength: 4 }),
        (batches) => {
          const ledger = new Map<number, { reading: Reading; version: number }[]>();
          let states = new Map<string, StreamState>();
          for (const batch of batches) {
            const readings = batch.map((spec) => makeReading(spec));
            const existing = intervalsToLookUp(readings, states).flatMap((ref) =>
              (ledger.get(ref.intervalStartMs) ?? []).map((v) => asLedgerRow(v.reading, v.version)),
            );
            const result = identifyBatch(asItems(readings), states, existing);
            result.decisions.forEach((decision, index) => {
              const reading = readings[index] as Reading;
              if (decision.kind !== 'accept') return;
              const versions = ledger.get(reading.intervalStartMs) ?? [];
              versions.push({ reading, version: decision.version });
              ledger.set(reading.intervalStartMs, versions);
            });
            states = result.states;
          }
          const current = [...ledger.values()].map((versions) => versions[versions.length - 1]);
          const energy = current.reduce((sum, v) => sum + (v?.reading.valueMicro ?? 0), 0);
          const state = states.get(streamKey(STREAM)) ?? streamStateOf(STREAM);
          expect(state.currentReadings).toBe(ledger.size);
          expect(state.currentValueMicro).toBe(energy);
          for (const versions of ledger.values()) {
            expect(versions.map((v) => v.version)).toEqual(versions.map((_, i) => i + 1));
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('identifyBatch: one commodity and unit per stream', () => {
  it('holds a reading in another unit than its stream carried, and leaves the state alone', () => {
    const kwh = makeReading({ slot: 0, seq: 1 });
    const kvarh = { ...makeReading({ slot: 1, seq: 2 }), unit: 'kVArh' as const };
    const gas = {
      ...makeReading({ slot: 2, seq: 3 }),
      commodity: 'gas' as const,
      unit: 'kWh' as const,
    };
    const result = identifyBatch(asItems([kwh, kvarh, gas]), new Map(), []);
    expect(result.decisions.map((d) => d.kind)).toEqual(['accept', 'hold', 'hold']);
    const held = result.decisions[1];
    if (held?.kind !== 'hold') throw new Error('expected a hold');
    expect(held.reject.violations[0]).toMatchObject({
      code: 'identity.unit_changed',
      field: 'unit',
      value: 'kVArh',
    });
    expect(result.states.get(streamKey(STREAM))).toMatchObject({
      unit: 'kWh',
      commodity: 'electricity',
      currentReadings: 1,
      currentValueMicro: kwh.valueMicro,
    });
  });

  it('starts a new stream in the unit of its first reading', () => {
    const first = { ...makeReading({ slot: 0, seq: 1 }), unit: 'kVArh' as const };
    const second = { ...makeReading({ slot: 1, seq: 2 }), unit: 'kVArh' as const };
    const result = identifyBatch(asItems([first, second]), new Map(), []);
    expect(result.decisions.map((d) => d.kind)).toEqual(['accept', 'accept']);
    expect(result.states.get(streamKey(STREAM))?.unit).toBe('kVArh');
  });
});

describe('intervalsToLookUp: the high-water mark', () => {
  it('names only readings at or before their stream mark, each interval once', () => {
    const states = statesOf(streamStateOf(STREAM, { lastIntervalStartMs: slotMs(5) }));
    const readings = [
      makeReading({ slot: 3, seq: 1 }),
      makeReading({ slot: 5, seq: 2 }),
      makeReading({ slot: 6, seq: 3 }),
      makeReading({ slot: 3, seq: 4 }),
      makeReading({ slot: 1, seq: 5, meterId: OTHER_METER }),
      makeReading({ slot: 1, seq: 6, channel: 'E2' }),
    ];
    expect(intervalsToLookUp(readings, states)).toEqual([
      { ...STREAM, intervalStartMs: slotMs(3) },
      { ...STREAM, intervalStartMs: slotMs(5) },
    ]);
  });

  it('names nothing for a stream whose ledger holds nothing yet', () => {
    const states = statesOf(streamStateOf(STREAM, { lastIntervalStartMs: null }));
    expect(intervalsToLookUp([makeReading({ slot: 0 })], states)).toEqual([]);
    expect(intervalsToLookUp([makeReading({ slot: 0 })], new Map())).toEqual([]);
  });
});

describe('identifyBatch with detectors', () => {
  const bigOnly: Detector = {
    name: 'big',
    inspect: (reading) =>
      reading.valueMicro > 900_000 ? [{ detector: 'big', message: 'over 0.9 kWh' }] : [],
  };

  it('turns an accept into an anomaly and leaves the state untouched', () => {
    const loaded = streamStateOf(STREAM, {
      lastIntervalStartMs: slotMs(0),
      lastSeq: 1,
      currentReadings: 1,
      currentValueMicro: 10_000,
    });
    const spike = makeReading({ slot: 1, seq: 2, valueMicro: 950_000 });
    const result = identifyBatch(asItems([spike, { ...spike }]), statesOf(loaded), [], [bigOnly]);
    const anomaly = { kind: 'anomaly', findings: [{ detector: 'big', message: 'over 0.9 kWh' }] };
    // The copy is a duplicate of the hold: a held reading is never a first value to bill.
    expect(result.decisions).toEqual([anomaly, { kind: 'duplicate', of: spike.idempotencyKey }]);
    expect(result.states.get(streamKey(STREAM))).toEqual(loaded);
    expect(result.sequenceEvents).toEqual([]);
  });

  it('inspects revisions too, and keeps the superseded value current when it holds one', () => {
    const estimate = makeReading({ seq: 1, quality: 'estimated', valueMicro: 100_000 });
    const loaded = streamStateOf(STREAM, {
      lastIntervalStartMs: slotMs(0),
      lastSeq: 1,
      currentReadings: 1,
      currentValueMicro: 100_000,
    });
    const actual = makeReading({ seq: 2, valueMicro: 960_000 });
    const result = identifyBatch(asItems([actual]), statesOf(loaded), versionChain([estimate]), [
      bigOnly,
    ]);
    expect(result.decisions[0]?.kind).toBe('anomaly');
    expect(result.states.get(streamKey(STREAM))).toEqual(loaded);
  });

  it('runs only on readings identity would accept, with the state so far', () => {
    const seen: [number, number][] = [];
    const spy: Detector = {
      name: 'spy',
      inspect: (reading, _profile, view) => {
        seen.push([reading.seq, view.stream.currentReadings]);
        return [];
      },
    };
    const a = makeReading({ slot: 0, seq: 1 });
    const b = makeReading({ slot: 1, seq: 2 });
    const conflict = withChanges(a, { valueMicro: 1 });
    const result = identifyBatch(asItems([a, { ...a }, conflict, b]), new Map(), [], [spy]);
    expect(result.decisions.map((d) => d.kind)).toEqual(['accept', 'duplicate', 'hold', 'accept']);
    expect(seen).toEqual([
      [1, 0],
      [2, 1],
    ]);
  });
});
