// Goal: the chain links entries so that any edit, deletion or reordering is reported at the first
// bad seq. Method: build chains with nextEntry, tamper with generated positions and fields, and
// stream them through.
import { AssertionError } from 'node:assert/strict';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ChainVerifier,
  computeEntryHash,
  GENESIS_HASH,
  nextEntry,
  type AuditEntry,
  type ChainProblem,
} from './hash-chain.js';

const START_MS = 1_700_000_000_000;

function buildChain(length: number): AuditEntry[] {
  const entries: AuditEntry[] = [];
  for (let index = 0; index < length; index += 1) {
    const previous = entries[index - 1] ?? null;
    const payload = { batchId: `b${index}`, readingCount: index * 3, energyMilliWh: BigInt(index) };
    entries.push(nextEntry(previous, 'batch', payload, START_MS + index * 1000));
  }
  return entries;
}

/** Pushes every entry; returns the first problem, or null when the whole chain verified. */
function verifyAll(entries: readonly AuditEntry[]): ChainProblem | null {
  const verifier = new ChainVerifier();
  for (const entry of entries) {
    const problem = verifier.push(entry);
    if (problem !== null) return problem;
  }
  return null;
}

/** Changes one hex digit, keeping the text lowercase hex of the same length. */
function flipHexDigit(hex: string, position: number): string {
  const digit = hex[position] === '0' ? '1' : '0';
  return hex.slice(0, position) + digit + hex.slice(position + 1);
}

type Edit = (entry: AuditEntry) => AuditEntry;

const EDITS: Record<string, Edit> = {
  seq: (entry) => ({ ...entry, seq: entry.seq + 1 }),
  atMs: (entry) => ({ ...entry, atMs: entry.atMs + 1 }),
  kind: (entry) => ({ ...entry, kind: 'config.change' }),
  payload: (entry) => ({
    ...entry,
    payload: entry.payload.replace('"readingCount":', '"readingCount":1'),
  }),
  prevHash: (entry) => ({ ...entry, prevHash: flipHexDigit(entry.prevHash, 10) }),
  hash: (entry) => ({ ...entry, hash: flipHexDigit(entry.hash, 63) }),
};

describe('computeEntryHash', () => {
  it('hashes the documented text (pinned, so the format cannot drift)', () => {
    const payload =
      '{"merkleRoot":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",' +
      '"readingCount":0}';
    // Computed independently: printf 'amisync-audit-v1\n<64
    // zeros>\n1\n1700000000000\nbatch\n<payload>' piped into sha256sum.
    expect(computeEntryHash(GENESIS_HASH, 1, START_MS, 'batch', payload)).toBe(
      '34089f60249d6a641821df12addb591fe3688b458344c9171648f75d8669be22',
    );
  });

  it('refuses fields that would make the hashed text ambiguous', () => {
    expect(() => computeEntryHash(GENESIS_HASH, 1, 0, 'a\nb', '{}')).toThrow(AssertionError);
    expect(() => computeEntryHash(GENESIS_HASH, 0, 0, 'batch', '{}')).toThrow(AssertionError);
    expect(() => computeEntryHash(GENESIS_HASH, 1, 1.5, 'batch', '{}')).toThrow(AssertionError);
    expect(() => computeEntryHash('ABC', 1, 0, 'batch', '{}')).toThrow(AssertionError);
  });
});

describe('nextEntry', () => {
  it('starts at seq 1 after the genesis hash and links each entry to the one before', () => {
    const [first, second] = buildChain(2);
    expect(first).toMatchObject({ seq: 1, prevHash: GENESIS_HASH, atMs: START_MS, kind: 'batch' });
    expect(second).toMatchObject({ seq: 2, prevHash: first?.hash, atMs: START_MS + 1000 });
    expect(first?.payload).toBe('{"batchId":"b0","energyMilliWh":"0","readingCount":0}');
  });

  it('refuses a payload with no canonical JSON form', () => {
    expect(() => nextEntry(null, 'batch', { value: NaN }, START_MS)).toThrow(AssertionError);
  });
});

describe('ChainVerifier on an untouched chain', () => {
  it('verifies every entry and reports the head and count', () => {
    const entries = buildChain(20);
    const verifier = new ChainVerifier();
    for (const entry of entries) expect(verifier.push(entry)).toBeNull();
    expect(verifier.count()).toBe(20);
    expect(verifier.head()).toEqual({ seq: 20, hash: entries[19]?.hash });
  });

  it('has no head before the first entry', () => {
    expect(new ChainVerifier().head()).toBeNull();
    expect(new ChainVerifier().count()).toBe(0);
  });

  it('continues from a trusted head, reading only the newer entries', () => {
    const entries = buildChain(10);
    const trusted = entries[5];
    if (trusted === undefined) throw new Error('chain too short');
    const verifier = new ChainVerifier({ seq: trusted.seq, hash: trusted.hash });
    for (const entry of entries.slice(6)) expect(verifier.push(entry)).toBeNull();
    expect(verifier.count()).toBe(4);
    expect(verifier.push(entries[0] as AuditEntry)?.seq).toBe(11);
  });
});

describe('ChainVerifier finds tampering at the right seq', () => {
  const chainAndPosition = fc
    .integer({ min: 1, max: 25 })
    .chain((length) => fc.tuple(fc.constant(length), fc.integer({ min: 0, max: length - 1 })));

  it('reports an edit of any field of any entry at that entry', () => {
    fc.assert(
      fc.property(
        chainAndPosition,
        fc.constantFrom(...Object.keys(EDITS)),
        ([length, index], field) => {
          const entries = buildChain(length);
          const edit = EDITS[field] as Edit;
          entries[index] = edit(entries[index] as AuditEntry);
          expect(verifyAll(entries)?.seq).toBe(index + 1);
        },
      ),
    );
  });

  it('reports a deleted entry at its seq, unless it was the last (a checkpoint shows that)', () => {
    fc.assert(
      fc.property(chainAndPosition, ([length, index]) => {
        const entries = buildChain(length);
        const original = new ChainVerifier();
        for (const entry of entries) original.push(entry);
        entries.splice(index, 1);
        const problem = verifyAll(entries);
        if (index === length - 1) {
          expect(problem).toBeNull();
          const truncated = new ChainVerifier();
          for (const entry of entries) truncated.push(entry);
          expect(truncated.head()).not.toEqual(original.head());
        } else {
          expect(problem?.seq).toBe(index + 1);
        }
      }),
    );
  });

  it('reports two swapped entries at the earlier position', () => {
    const chainAndTwoPositions = fc
      .integer({ min: 2, max: 25 })
      .chain((length) =>
        fc.tuple(
          fc.constant(length),
          fc.uniqueArray(fc.integer({ min: 0, max: length - 1 }), { minLength: 2, maxLength: 2 }),
        ),
      );
    fc.assert(
      fc.property(chainAndTwoPositions, ([length, positions]) => {
        const [first, second] = [...positions].sort((left, right) => left - right) as [
          number,
          number,
        ];
        const entries = buildChain(length);
        const [earlier, later] = [entries[first] as AuditEntry, entries[second] as AuditEntry];
        entries[first] = later;
        entries[second] = earlier;
        expect(verifyAll(entries)?.seq).toBe(first + 1);
      }),
    );
  });

  it('reports a rewritten entry (with a recomputed hash) at the entry after it', () => {
    const entries = buildChain(8);
    const original = entries[3] as AuditEntry;
    entries[3] = nextEntry(entries[2] ?? null, 'batch', { forged: true }, original.atMs);
    expect(verifyAll(entries)).toEqual({
      seq: 5,
      reason:
        'entry 5: prevHash is not the hash of entry 4 ' +
        '(this prevHash was edited, or the entry before it was replaced)',
    });
  });
});

describe('ChainVerifier reasons', () => {
  const entries = buildChain(10);
  const at = (index: number): AuditEntry => entries[index] as AuditEntry;

  it('names an edited entry', () => {
    const edited = [...entries];
    edited[6] = { ...at(6), payload: '{"batchId":"b6","energyMilliWh":"6","readingCount":99}' };
    expect(verifyAll(edited)).toEqual({
      seq: 7,
      reason: 'entry 7: hash does not match its contents (edited)',
    });
  });

  it('names the entry found where a deleted one should be', () => {
    const withoutSix = entries.filter((entry) => entry.seq !== 6);
    expect(verifyAll(withoutSix)).toEqual({
      seq: 6,
      reason: 'entry 7: expected seq 6 (an entry was deleted or reordered, or this seq was edited)',
    });
  });

  it('names a first entry that does not start from genesis', () => {
    const problem = verifyAll([{ ...at(0), prevHash: flipHexDigit(GENESIS_HASH, 0) }]);
    expect(problem?.reason).toBe(
      'entry 1: prevHash is not the genesis hash ' +
        '(this prevHash was edited, or the entry before it was replaced)',
    );
  });

  it('reports malformed fields instead of throwing', () => {
    const malformed: AuditEntry[] = [
      { ...at(0), seq: '1' as unknown as number },
      { ...at(0), atMs: -1 },
      { ...at(0), kind: 'batch\nx' },
      { ...at(0), hash: at(0).hash.toUpperCase() },
      { ...at(0), payload: 42 as unknown as string },
    ];
    for (const entry of malformed) {
      expect(verifyAll([entry])?.reason).toMatch(/^entry at seq 1: .* \(malformed\)$/);
    }
  });

  it('reports a correctly hashed payload that is not canonical JSON', () => {
    const forge = (payload: string): AuditEntry => {
      const entryHash = computeEntryHash(GENESIS_HASH, 1, START_MS, 'batch', payload);
      const prevHash = GENESIS_HASH;
      return { seq: 1, atMs: START_MS, kind: 'batch', payload, prevHash, hash: entryHash };
    };
    const notCanonical =
      'entry 1: payload is not canonical JSON (written by something other than nextEntry)';
    expect(verifyAll([forge('{"b":1,"a":2}')])?.reason).toBe(notCanonical);
    expect(verifyAll([forge('{"a": 2}')])?.reason).toBe(notCanonical);
    expect(verifyAll([forge('-0')])?.reason).toBe(notCanonical);
    expect(verifyAll([forge('1e999')])?.reason).toBe(notCanonical);
    expect(verifyAll([forge('{"a":')])?.reason).toBe(
      'entry 1: payload is not valid JSON (written by something other than nextEntry)',
    );
  });

  it('stops at the first problem and keeps reporting it', () => {
    const verifier = new ChainVerifier();
    verifier.push(at(0));
    const first = verifier.push(at(2));
    expect(first?.seq).toBe(2);
    expect(verifier.push(at(1))).toBe(first);
    expect(verifier.count()).toBe(1);
    expect(verifier.head()).toEqual({ seq: 1, hash: at(0).hash });
  });
});
