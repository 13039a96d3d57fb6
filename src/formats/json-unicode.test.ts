// Goal: a JSON record holding an unpaired surrogate escape anywhere is refused, named precisely.
// Method: records judged alone, the escape in a value, a nested value, an array and a key.
import { describe, expect, it } from 'vitest';
import { isWellFormedText } from '../core/text.js';
import { parseJsonRecordText } from './json-record.js';

const location = { recordIndex: 0, line: 3, byteOffset: 0, byteLength: 0 };
const BASE = '"timestamp_utc":"2026-03-01T00:00:00Z","consumption_kwh":"1.5","status_code":0';

function violationOf(text: string) {
  const item = parseJsonRecordText(text, location);
  expect(item.kind).toBe('reject');
  if (item.kind !== 'reject') throw new Error('accepted');
  return { violation: item.reject.violations[0], meterId: item.reject.meterId };
}

describe('unpaired surrogates in JSON records', () => {
  it.each([
    [`{"meter_id":"\\ud800",${BASE}}`, 'meter_id', '\\ud800'],
    [`{"meter_id":"MTR-AAAA0001","channel":"E\\udfff1",${BASE}}`, 'channel', 'E\\udfff1'],
    [
      `{"meter_id":"MTR-AAAA0001","extra":{"note":["ok","\\udc00"]},${BASE}}`,
      'extra.note[1]',
      '\\udc00',
    ],
    [`{"meter_id":"MTR-AAAA0001","\\ud83d":1,${BASE}}`, 'record', '\\ud83d'],
    [`{"meter_id":"MTR-AAAA0001","quality":"\\ude00\\ud83d",${BASE}}`, 'quality', '\\ude00\\ud83d'],
  ])('refuses %s at %s, showing the escape', (text, field, shown) => {
    const { violation } = violationOf(text);
    expect(violation?.code).toBe('parse.unpaired_surrogate');
    expect(violation?.field).toBe(field);
    expect(violation?.value).toBe(shown);
    expect(violation?.message).toContain('Line 3');
    expect(isWellFormedText(violation?.message ?? '')).toBe(true);
  });

  it('keeps the meter id of a record whose other field is refused', () => {
    const { meterId } = violationOf(`{"meter_id":"MTR-AAAA0001","channel":"\\ud800",${BASE}}`);
    expect(meterId).toBe('MTR-AAAA0001');
  });

  it.each([
    `{"meter_id":"MTR-AAAA0001","channel":"\\ud83d\\ude00",${BASE}}`,
    `{"meter_id":"MTR-AAAA0001","channel":"\\u0000\\uffff\\ufffe",${BASE}}`,
    `{"meter_id":"MTR-AAAA0001","channel":"\\\\ud800",${BASE}}`,
  ])('passes well-formed text to the validator: %s', (text) => {
    expect(parseJsonRecordText(text, location).kind).toBe('record');
  });
});
