// Goal: the pure decisions of a drop folder (pattern, completeness, order, format, names) hold.
// Method: listings built by hand, planned at chosen times, in each completion mode.
import { describe, expect, it } from 'vitest';
import {
  archiveNameOf,
  dropDeliveryId,
  formatOfName,
  globToRegExp,
  planPoll,
  type DropEntry,
  type DropRules,
} from './drop-files.js';

const RULES: DropRules = {
  pattern: '*',
  completion: 'rename',
  markerSuffix: '.done',
  temporarySuffix: '.part',
};

function entry(name: string, sizeBytes = 10, mtimeMs = 1_000): DropEntry {
  return { name, sizeBytes, mtimeMs };
}

const names = (entries: readonly DropEntry[]): string[] => entries.map((e) => e.name);

describe('globToRegExp', () => {
  it('knows *, ? and {a,b}, and nothing else', () => {
    const glob = globToRegExp('reads-??.{ndjson,csv}');
    expect(glob.test('reads-01.ndjson')).toBe(true);
    expect(glob.test('reads-01.csv')).toBe(true);
    expect(glob.test('reads-001.csv')).toBe(false);
    expect(glob.test('reads-01.json')).toBe(false);
    expect(globToRegExp('a+b(1).csv').test('a+b(1).csv')).toBe(true);
    expect(globToRegExp('*.csv').test('x.csv.part')).toBe(false);
  });
});

describe('planPoll', () => {
  const time = { nowMs: 0, stableMs: 100 };

  it('takes files oldest first, ties by name, never temporary or marker files', () => {
    const listing = [entry('b', 10, 2), entry('c', 10, 1), entry('a', 10, 2)];
    listing.push(entry('d.part', 10, 0), entry('a.done', 0, 0));
    const plan = planPoll(listing, RULES, new Map(), time);
    expect(names(plan.ready)).toEqual(['c', 'a', 'b']);
    expect(plan.waiting).toBe(0);
  });

  it('in marker mode waits for the marker', () => {
    const rules = { ...RULES, completion: 'marker' as const };
    const plan = planPoll(
      [entry('x.csv'), entry('y.csv'), entry('y.csv.done')],
      rules,
      new Map(),
      time,
    );
    expect(names(plan.ready)).toEqual(['y.csv']);
    expect(plan.waiting).toBe(1);
  });

  it('in stable mode takes a file unchanged for the stable time, and restarts the wait on a change', () => {
    const rules = { ...RULES, completion: 'stable' as const };
    const first = planPoll([entry('s', 10, 1)], rules, new Map(), { nowMs: 0, stableMs: 100 });
    expect(first.ready).toEqual([]);
    const early = planPoll([entry('s', 10, 1)], rules, first.observed, {
      nowMs: 50,
      stableMs: 100,
    });
    expect(early.ready).toEqual([]);
    const grown = planPoll([entry('s', 20, 2)], rules, early.observed, {
      nowMs: 100,
      stableMs: 100,
    });
    expect(grown.ready).toEqual([]);
    const late = planPoll([entry('s', 20, 2)], rules, grown.observed, {
      nowMs: 150,
      stableMs: 100,
    });
    expect(late.ready).toEqual([]);
    const stable = planPoll([entry('s', 20, 2)], rules, late.observed, {
      nowMs: 200,
      stableMs: 100,
    });
    expect(names(stable.ready)).toEqual(['s']);
  });
});

describe('names and formats', () => {
  it('reads the format from the extension, in any case', () => {
    expect(formatOfName('a.NDJSON')).toBe('ndjson');
    expect(formatOfName('a.jsonl')).toBe('ndjson');
    expect(formatOfName('a.nem13')).toBe('nem12');
    expect(formatOfName('a.xml')).toBe('green-button');
    expect(formatOfName('a.txt')).toBeNull();
    expect(formatOfName('.csv')).toBeNull();
  });

  it('identifies a file by name and sha256, and archives a taken name under its hash', () => {
    const sha = 'ab'.repeat(32);
    expect(dropDeliveryId('a.csv', sha)).toBe(`a.csv#sha256:${sha}`);
    expect(archiveNameOf('a.csv', sha, false)).toBe('a.csv');
    expect(archiveNameOf('a.csv', sha, true)).toBe(`${'ab'.repeat(8)}-a.csv`);
  });
});
