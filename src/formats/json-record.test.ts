// Goal: a JSON number that a double cannot carry exactly, or a key given twice, is rejected, not
// silently read one way. Method: hand-made records and random literals, judged alone.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseJsonRecordText } from './json-record.js';

const location = { recordIndex: 0, line: 1, byteOffset: 0, byteLength: 0 };

function verdict(text: string) {
  return parseJsonRecordText(text, location);
}

describe('exact JSON numbers', () => {
  it('finds a literal of 17 digits wherever it starts in the record', () => {
    for (let pad = 0; pad < 20; pad++) {
      const text = `{"a":"${'x'.repeat(pad)}","consumption_kwh":100.000000000000001}`;
      expect(verdict(text).kind, `pad ${pad}`).toBe('reject');
    }
  });

  it.each([
    ['{"meter_id":"MTR-AAAAAAAA","consumption_kwh":100.000000000000001}', 'consumption_kwh'],
    ['{"consumption_kwh":0.1000000000000000055511151231257827}', 'consumption_kwh'],
    ['{"seq":12345678901234567890,"consumption_kwh":1}', 'seq'],
    ['{"consumption_kwh": 2, "seq" :  7.0000000000000000001}', 'seq'],
  ])('rejects %s naming %s', (text, field) => {
    const item = verdict(text);
    expect(item.kind).toBe('reject');
    if (item.kind !== 'reject') return;
    expect(item.reject.violations[0]?.code).toBe('parse.inexact_number');
    expect(item.reject.violations[0]?.field).toBe(field);
  });

  it.each([
    '{"consumption_kwh":1.50000000000000000}',
    '{"consumption_kwh":0.25,"checksum_sha256":"12345678901234567890123456789012aaaa"}',
    '{"consumption_kwh":123456.789012,"status_code":0}',
    '{"consumption_kwh":0.1,"seq":9007199254740991,"status_code":9007199254740994}',
    '{"consumption_kwh":1.5e3,"seq":9007199254740992e0,"x":[1e-7,5e-324]}',
    '{"a":"9007199254740993","b":"1e400 \\" 12345678901234567"}',
  ])('keeps %s', (text) => {
    expect(verdict(text).kind).toBe('record');
  });

  it.each([
    ['{"status_code":9007199254740993}', 'status_code', '9007199254740993'],
    ['{"seq":9007199254740993,"status_code":0}', 'seq', '9007199254740993'],
    ['{"seq":-9007199254740993}', 'seq', '-9007199254740993'],
    ['{"seq":9007199254740993e0}', 'seq', '9007199254740993e0'],
    ['{"consumption_kwh":1e400}', 'consumption_kwh', '1e400'],
    ['{"consumption_kwh":-1E+400}', 'consumption_kwh', '-1E+400'],
    ['{"consumption_kwh":1e-400}', 'consumption_kwh', '1e-400'],
    ['{"consumption_kwh":2.5e-324}', 'consumption_kwh', '2.5e-324'],
    ['{"consumption_kwh":1.0000000000000001}', 'consumption_kwh', '1.0000000000000001'],
    ['{"a":"x\\\\","extra":{"deep":[1,9007199254740993]}}', 'extra', '9007199254740993'],
  ])('rejects %s with the exact literal', (text, field, literal) => {
    const item = verdict(text);
    expect(item.kind).toBe('reject');
    if (item.kind !== 'reject') return;
    expect(item.reject.violations).toHaveLength(1);
    expect(item.reject.violations[0]).toMatchObject({
      code: 'parse.inexact_number',
      field,
      value: literal,
    });
  });

  it('refuses every literal whose double does not read back as its decimal value', () => {
    const digits = (min: number, max: number) =>
      fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max });
    const literal = fc
      .tuple(
        fc.constantFrom('', '-'),
        fc.oneof(fc.constant('0'), fc.tuple(fc.constantFrom(...'123456789'), digits(0, 24))),
        fc.option(digits(1, 24)),
        fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), digits(1, 3))),
      )
      .map(([sign, whole, fraction, exponent]) => {
        const wholeText = typeof whole === 'string' ? whole : whole.join('');
        const fractionText = fraction === null ? '' : `.${fraction}`;
        const exponentText = exponent === null ? '' : exponent.join('');
        return `${sign}${wholeText}${fractionText}${exponentText}`;
      });
    fc.assert(
      fc.property(literal, (text) => {
        const item = verdict(`{"meter_id":"MTR-A","seq":${text},"quality":"actual"}`);
        const exact = Number.isFinite(Number(text)) && sameValue(text, String(Number(text)));
        if (exact) {
          expect(item.kind).toBe('record');
          return;
        }
        expect(item.kind).toBe('reject');
        if (item.kind !== 'reject') return;
        expect(item.reject.violations[0]).toMatchObject({
          code: 'parse.inexact_number',
          field: 'seq',
          value: text,
        });
      }),
      { numRuns: 3000 },
    );
  });
});

/** An independent oracle: both decimals as exact rationals, sign * digits * 10^exponent. */
function sameValue(a: string, b: string): boolean {
  const [digitsA, exponentA, negativeA] = rational(a);
  const [digitsB, exponentB, negativeB] = rational(b);
  if (digitsA === 0n && digitsB === 0n) return true;
  if (negativeA !== negativeB) return false;
  const shift = exponentA < exponentB ? exponentA : exponentB;
  return digitsA * 10n ** (exponentA - shift) === digitsB * 10n ** (exponentB - shift);
}

function rational(text: string): [bigint, bigint, boolean] {
  const match = /^(-?)([0-9]+)(?:\.([0-9]+))?(?:[eE]([-+]?[0-9]+))?$/.exec(text);
  if (match === null) throw new Error(`not a decimal: ${text}`);
  const fraction = match[3] ?? '';
  const exponent = BigInt(match[4] ?? '0') - BigInt(fraction.length);
  return [BigInt(`${match[2] ?? ''}${fraction}`), exponent, match[1] === '-'];
}

describe('duplicate keys', () => {
  it.each([
    ['{"meter_id":"MTR-A","meter_id":"MTR-B","seq":1}', 'meter_id', ''],
    ['{"meter\\u005fid":"MTR-A","seq":1,"meter_id":"MTR-B"}', 'meter_id', ''],
    ['{"seq":1, "seq" :1}', 'seq', ''],
    ['{"a":"\\"b\\":1","extra":{"x":1,"y":[{"z":1,"z":2}]}}', 'z', 'extra'],
    ['{"extra":{"k":1,"k":1}}', 'k', 'extra'],
  ])('rejects %s naming the key %s', (text, key, path) => {
    const item = verdict(text);
    expect(item.kind).toBe('reject');
    if (item.kind !== 'reject') return;
    expect(item.reject.violations).toEqual([
      expect.objectContaining({ code: 'parse.duplicate_key', field: key, value: key }),
    ]);
    if (path !== '') expect(item.reject.violations[0]?.message).toContain(`under ${path}`);
  });

  it.each([
    '{"meter_id":"MTR-A","extra":{"meter_id":"MTR-B"},"list":[{"a":1},{"a":2}]}',
    '{"a":"x:y","b":"\\\\","c":"\\":\\""}',
    '{"Meter_id":1,"meter_id":2,"meter_id ":3}',
  ])('keeps %s: no object repeats a key', (text) => {
    expect(verdict(text).kind).toBe('record');
  });
});
