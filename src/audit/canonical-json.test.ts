// Goal: canonicalJson gives one text per value, parses back to that value, and refuses what JSON
// cannot hold. Method: properties over generated JSON values (key order, round trip, idempotence),
// then fixed cases.
import { AssertionError } from 'node:assert/strict';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CANONICAL_JSON_DEPTH_MAX, canonicalJson } from './canonical-json.js';

/** JSON values as JSON.parse returns them: fast-check's may contain -0, which JSON cannot hold. */
const plainJsonValue = fc.jsonValue().map(replaceNegativeZero);

function replaceNegativeZero(value: unknown): unknown {
  if (Object.is(value, -0)) return 0;
  if (Array.isArray(value)) return value.map(replaceNegativeZero);
  if (typeof value === 'object' && value !== null) return mapProperties(value, replaceNegativeZero);
  return value;
}

/** Rebuilds every object with its keys inserted in reverse order. */
function reverseKeyOrder(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseKeyOrder);
  if (typeof value !== 'object' || value === null) return value;
  const entries = Object.entries(value).reverse();
  return fromEntries(entries.map(([key, child]) => [key, reverseKeyOrder(child)]));
}

function mapProperties(value: object, map: (child: unknown) => unknown): object {
  return fromEntries(Object.entries(value).map(([key, child]) => [key, map(child)]));
}

/** Like Object.fromEntries, but a `__proto__` key becomes an own property, as in JSON.parse. */
function fromEntries(entries: readonly (readonly [string, unknown])[]): object {
  const result: Record<string, unknown> = {};
  for (const [key, child] of entries) {
    Object.defineProperty(result, key, { value: child, enumerable: true, writable: true });
  }
  return result;
}

describe('canonicalJson properties', () => {
  it('does not depend on the order in which keys were inserted', () => {
    fc.assert(
      fc.property(plainJsonValue, (value) => {
        expect(canonicalJson(reverseKeyOrder(value))).toBe(canonicalJson(value));
      }),
    );
  });

  it('parses back to an equal value', () => {
    fc.assert(
      fc.property(plainJsonValue, (value) => {
        expect(JSON.parse(canonicalJson(value))).toEqual(value);
      }),
    );
  });

  it('is its own canonical form after a round trip (what the chain verifier relies on)', () => {
    fc.assert(
      fc.property(plainJsonValue, (value) => {
        const text = canonicalJson(value);
        expect(canonicalJson(JSON.parse(text))).toBe(text);
      }),
    );
  });

  it('writes object keys in ascending UTF-16 code unit order', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ unit: 'binary' }), fc.integer()), (record) => {
        const keys = [...canonicalJson(record).matchAll(/"((?:[^"\\]|\\.)*)":/g)].map((match) =>
          JSON.parse(`"${match[1] ?? ''}"`),
        );
        expect(keys).toEqual([...keys].sort());
      }),
    );
  });
});

describe('canonicalJson rendering', () => {
  it('sorts keys, keeps array order and adds no whitespace', () => {
    const value = { b: [3, 1, { d: true, c: null }], a: 'x y' };
    expect(canonicalJson(value)).toBe('{"a":"x y","b":[3,1,{"c":null,"d":true}]}');
  });

  it('orders by code unit, not by code point or integer-like key', () => {
    // U+1F600 is stored as the surrogates D83D DE00, which sort before U+FFFF.
    expect(canonicalJson({ '\uffff': 1, '\u{1f600}': 2 })).toBe('{"\u{1f600}":2,"\uffff":1}');
    // JavaScript enumerates integer-like keys first in numeric order; canonical order is textual.
    expect(canonicalJson({ b: 1, 9: 2, 10: 3 })).toBe('{"10":3,"9":2,"b":1}');
  });

  it('renders bigints as strings of decimal digits', () => {
    expect(canonicalJson(123n)).toBe('"123"');
    expect(canonicalJson({ energyMilliWh: -(2n ** 70n) })).toBe(
      '{"energyMilliWh":"-1180591620717411303424"}',
    );
  });

  it('omits object properties whose value is undefined', () => {
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
  });

  it('renders strings and numbers as JSON.stringify does', () => {
    expect(canonicalJson('line\nbreak "quoted" \u0001 \ud800')).toBe(
      '"line\\nbreak \\"quoted\\" \\u0001 \\ud800"',
    );
    expect(canonicalJson([1e21, 0.1, -5, 1.5e-7])).toBe('[1e+21,0.1,-5,1.5e-7]');
  });

  it('accepts objects without a prototype', () => {
    const record = Object.create(null) as Record<string, unknown>;
    record['z'] = 1;
    record['a'] = 2;
    expect(canonicalJson(record)).toBe('{"a":2,"z":1}');
  });
});

describe('canonicalJson refusals (assertions naming the path)', () => {
  const cycle: Record<string, unknown> = {};
  cycle['self'] = cycle;
  const nestInArrays = (levels: number): unknown => {
    let value: unknown = 0;
    for (let level = 0; level < levels; level += 1) value = [value];
    return value;
  };

  const cases: [string, unknown, string][] = [
    ['top-level undefined', undefined, '$'],
    ['undefined in an array', [1, undefined], '$[1]'],
    ['a hole in a sparse array', [1, , 3], '$[1]'], // eslint-disable-line no-sparse-arrays
    ['a function', { run: () => 1 }, '$.run'],
    ['a symbol', [Symbol('x')], '$[0]'],
    ['NaN', { a: [NaN] }, '$.a[0]'],
    ['Infinity', Infinity, '$'],
    ['-Infinity', [-Infinity], '$[0]'],
    ['-0', { energyMilliWh: -0 }, '$.energyMilliWh'],
    ['a Date', { atMs: new Date(0) }, '$.atMs'],
    ['a Map', [new Map()], '$[0]'],
    ['a Buffer', Buffer.from('x'), '$'],
    ['a cycle', cycle, '$.self'],
  ];

  it.each(cases)('throws on %s', (_label, value, path) => {
    expect(() => canonicalJson(value)).toThrow(AssertionError);
    expect(() => canonicalJson(value)).toThrow(path);
  });

  it(`throws on nesting deeper than ${CANONICAL_JSON_DEPTH_MAX}, and only then`, () => {
    const atLimit = nestInArrays(CANONICAL_JSON_DEPTH_MAX);
    expect(canonicalJson(atLimit)).toBe(`${'['.repeat(256)}0${']'.repeat(256)}`);
    const overLimit = nestInArrays(CANONICAL_JSON_DEPTH_MAX + 1);
    expect(() => canonicalJson(overLimit)).toThrow(AssertionError);
  });
});
