// Goal: interval starts parse to the right UTC instant or the right reject code, DST included.
// Method: tables per code, New York's 2026 DST transitions, fast-check against Date.parse.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { formatUtcSeconds } from './identity.js';
import { parseTimestamp, timestampToEpochMsOrNaN } from './timestamp.js';

const NEW_YORK = 'America/New_York';

function codeOf(value: unknown, timeZone: string | null = null): string {
  const parsed = parseTimestamp(value, timeZone);
  return parsed.ok ? 'ok' : parsed.code;
}

describe('parseTimestamp with an offset', () => {
  it.each([
    ['2026-01-01T00:15:00Z', Date.UTC(2026, 0, 1, 0, 15)],
    ['2026-01-01T00:15:00+01:00', Date.UTC(2025, 11, 31, 23, 15)],
    ['2026-01-01T00:15:00-05:30', Date.UTC(2026, 0, 1, 5, 45)],
    ['2026-01-01T00:15:00-00:00', Date.UTC(2026, 0, 1, 0, 15)],
    ['2026-01-01T00:15:00.000Z', Date.UTC(2026, 0, 1, 0, 15)],
    ['2026-01-01T00:15:00.000000000+14:00', Date.UTC(2025, 11, 31, 10, 15)],
    ['2024-02-29T12:00:00Z', Date.UTC(2024, 1, 29, 12)],
    ['2000-02-29T00:00:00Z', Date.UTC(2000, 1, 29)],
    ['2000-01-01T00:00:00Z', Date.UTC(2000, 0, 1)],
    ['2199-12-31T23:59:59Z', Date.UTC(2199, 11, 31, 23, 59, 59)],
  ])('%s', (text, epochMs) => {
    expect(parseTimestamp(text, null)).toEqual({ ok: true, epochMs });
    expect(parseTimestamp(text, NEW_YORK)).toEqual({ ok: true, epochMs });
  });
});

describe('parseTimestamp rejects with the right code', () => {
  it.each([
    '',
    'garbage',
    '2026-02-30T00:00:00Z',
    '2023-02-29T00:00:00Z',
    '2100-02-29T00:00:00Z',
    '2026-04-31T00:00:00Z',
    '2026-13-01T00:00:00Z',
    '2026-00-01T00:00:00Z',
    '2026-01-00T00:00:00Z',
    '2026-01-01T24:00:00Z',
    '2026-01-01T23:60:00Z',
    '2026-01-01T23:59:60Z',
    '2026-01-01 00:00:00Z',
    '2026-01-01t00:00:00Z',
    '2026-01-01T00:00:00z',
    '2026-01-01T00:00Z',
    '2026-1-01T00:00:00Z',
    '2026-01-01T00:00:00+0100',
    '2026-01-01T00:00:00+24:00',
    '2026-01-01T00:00:00+01:60',
    '2026-01-01T00:00:00+1:00',
    '2026-01-01T00:00:00ZZ',
    '2026-01-01T00:00:00.Z',
    '2026-01-01T00:00:00.0000000000Z',
    '2026-01-01T00:00:00 ',
    '+2026-01-01T00:00:00Z',
    '2O26-01-01T00:00:00Z',
  ])('timestamp.format: %j', (text) => {
    expect(codeOf(text)).toBe('timestamp.format');
  });

  it.each([
    '1999-12-31T23:59:59Z',
    '2200-01-01T00:00:00Z',
    '0000-01-01T00:00:00Z',
    '9999-12-31T23:59:59Z',
    '2000-01-01T00:30:00+01:00',
    '2199-12-31T23:30:00-01:00',
  ])('timestamp.range: %s', (text) => {
    expect(codeOf(text)).toBe('timestamp.range');
  });

  it.each(['2026-01-01T00:15:00.5Z', '2026-01-01T00:15:00.000000001Z', '2026-01-01T00:15:00.1'])(
    'timestamp.alignment (not a whole second): %s',
    (text) => {
      expect(codeOf(text, NEW_YORK)).toBe('timestamp.alignment');
    },
  );

  it('timestamp.no_offset when the dictionary sets no time zone', () => {
    expect(codeOf('2026-01-01T00:15:00', null)).toBe('timestamp.no_offset');
  });

  it.each<[unknown]>([[123], [null], [undefined], [{}], [true]])('field.type: %s', (value) => {
    expect(codeOf(value)).toBe('field.type');
  });

  it('gives a message naming the zone for DST rejects', () => {
    const parsed = parseTimestamp('2026-11-01T01:30:00', NEW_YORK);
    expect(parsed).toMatchObject({ ok: false, code: 'timestamp.dst_ambiguous' });
    if (!parsed.ok) expect(parsed.message).toContain(NEW_YORK);
  });
});

describe('naive local times in America/New_York', () => {
  it('rejects the spring-forward gap as non-existent', () => {
    expect(codeOf('2026-03-08T02:30:00', NEW_YORK)).toBe('timestamp.dst_nonexistent');
    expect(codeOf('2026-03-08T02:00:00', NEW_YORK)).toBe('timestamp.dst_nonexistent');
  });

  it('rejects the fall-back overlap as ambiguous', () => {
    expect(codeOf('2026-11-01T01:30:00', NEW_YORK)).toBe('timestamp.dst_ambiguous');
    expect(codeOf('2026-11-01T01:00:00', NEW_YORK)).toBe('timestamp.dst_ambiguous');
  });

  it.each([
    ['2026-01-15T12:00:00', Date.UTC(2026, 0, 15, 17)],
    ['2026-07-01T12:00:00', Date.UTC(2026, 6, 1, 16)],
    ['2026-03-08T01:59:59', Date.UTC(2026, 2, 8, 6, 59, 59)],
    ['2026-03-08T03:00:00', Date.UTC(2026, 2, 8, 7)],
    ['2026-11-01T00:59:59', Date.UTC(2026, 10, 1, 4, 59, 59)],
    ['2026-11-01T02:00:00', Date.UTC(2026, 10, 1, 7)],
    ['2026-01-15T12:00:00.000', Date.UTC(2026, 0, 15, 17)],
  ])('reads an ordinary local time: %s', (text, epochMs) => {
    expect(parseTimestamp(text, NEW_YORK)).toEqual({ ok: true, epochMs });
  });

  it('reads a half-hour zone', () => {
    const epochMs = Date.UTC(2026, 0, 1, 6, 30);
    expect(parseTimestamp('2026-01-01T12:00:00', 'Asia/Kolkata')).toEqual({ ok: true, epochMs });
  });
});

const SECONDS_2001 = Date.UTC(2001, 0, 1) / 1000;
const SECONDS_2199 = Date.UTC(2199, 0, 1) / 1000;

describe('parseTimestamp against Date.parse', () => {
  it('maps a wall time with any offset to the same instant as Date.parse', () => {
    const offsetMinutes = fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 });
    fc.assert(
      fc.property(
        fc.integer({ min: SECONDS_2001, max: SECONDS_2199 }),
        offsetMinutes,
        fc.constantFrom('', '.0', '.000', '.000000000'),
        (epochSeconds, offset, fraction) => {
          const epochMs = epochSeconds * 1000;
          const wall = new Date(epochMs + offset * 60_000).toISOString().slice(0, 19);
          const magnitude = Math.abs(offset);
          const hours = String(Math.floor(magnitude / 60)).padStart(2, '0');
          const minutes = String(magnitude % 60).padStart(2, '0');
          const text = `${wall}${fraction}${offset < 0 ? '-' : '+'}${hours}:${minutes}`;
          expect(parseTimestamp(text, null)).toEqual({ ok: true, epochMs });
          expect(Date.parse(text)).toBe(epochMs);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('timestampToEpochMsOrNaN is NaN exactly when parseTimestamp rejects', () => {
    const texts = ['2026-01-01T00:00:00Z', '2026-03-08T02:30:00', 'x', '2026-01-01T00:00:00.5Z'];
    for (const text of texts) {
      const parsed = parseTimestamp(text, NEW_YORK);
      expect(timestampToEpochMsOrNaN(text, NEW_YORK)).toEqual(parsed.ok ? parsed.epochMs : NaN);
    }
  });
});

describe('parseTimestamp and core formatUtcSeconds', () => {
  it('round-trip every whole second of the accepted range', () => {
    fc.assert(
      fc.property(fc.integer({ min: SECONDS_2001, max: SECONDS_2199 }), (epochSeconds) => {
        const epochMs = epochSeconds * 1000;
        expect(parseTimestamp(formatUtcSeconds(epochMs), null)).toEqual({ ok: true, epochMs });
      }),
      { numRuns: 3000 },
    );
  });

  it('round-trip across day, month and leap-year boundaries', () => {
    let epochMs = Date.UTC(2027, 11, 31, 23, 0);
    for (let step = 0; step < 200; step += 1) {
      expect(parseTimestamp(formatUtcSeconds(epochMs), null)).toEqual({ ok: true, epochMs });
      epochMs += 900_000;
    }
    const leapDay = Date.UTC(2024, 1, 29, 23, 59, 59);
    expect(parseTimestamp('2024-02-29T23:59:59Z', null)).toEqual({ ok: true, epochMs: leapDay });
  });
});
