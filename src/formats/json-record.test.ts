// Goal: a JSON number that a double cannot carry exactly is rejected, not silently rounded.
// Method: records with long literals, and with long digit runs that are not numbers, judged alone.
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
    ['{"consumption_kwh": 2, "consumption_kwh" :  7.0000000000000000001}', 'consumption_kwh'],
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
    '{"consumption_kwh":1e309,"checksum_sha256":"12345678901234567890123456789012"}',
  ])('keeps %s', (text) => {
    expect(verdict(text).kind).toBe('record');
  });
});
