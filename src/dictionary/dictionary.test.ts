// Goal: the config is checked strictly, resolved against ARCHITECTURE 5's defaults, fingerprinted.
// Method: parse literal configs and files; compare resolved values and the paths in error messages.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import {
  compilePattern,
  DEFAULT_DICTIONARY,
  dictionaryFingerprint,
  loadDictionary,
  parseDictionary,
} from './dictionary.js';

function errorOf(config: unknown): string {
  try {
    parseDictionary(config);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected the config to be rejected');
}

describe('defaults', () => {
  it('match ARCHITECTURE section 5 and the reference feed specification', () => {
    expect(DEFAULT_DICTIONARY).toEqual({
      meterIdPattern: '^MTR-[A-Z0-9]{8}$',
      channelPattern: '^[A-Za-z0-9]{1,8}$',
      channels: null,
      defaultChannel: '1',
      intervalSecondsAllowed: [300, 900, 1800, 3600],
      defaultIntervalSeconds: 900,
      consumptionKwhMin: 0,
      consumptionKwhMax: 1000,
      statusCodeMax: 255,
      statusBits: { estimated: 1, outage: 2, reverseFlow: 4, tamper: 8, clock: 16 },
      clockSkewToleranceSeconds: 300,
      timeZone: null,
      requireIntervalAlignment: true,
      allowUnknownFields: false,
      channelOverrides: {},
      meterClasses: [],
      formats: {
        nem12: {
          meterIdPattern: '^[A-HJ-NP-Z0-9]{10}$',
          channelPattern: '^[A-HJ-NP-Z][1-9A-HJ-NP-Z]$',
          meterIds: {},
        },
        cmep: {
          meterIdPattern: '^[A-Za-z0-9._-]{1,64}$',
          channelPattern: '^[A-Za-z0-9._-]{1,32}$',
          meterIds: {},
          timeZone: 'UTC',
        },
        'csv-dialect': {
          meterIdPattern: '^[A-Za-z0-9._-]{1,64}$',
          channelPattern: '^[A-Za-z0-9._-]{1,32}$',
          meterIds: {},
        },
        'green-button': {
          meterIdPattern: '^[A-Za-z0-9._:/-]{1,128}$',
          channelPattern: '^[A-Za-z0-9._-]{1,64}$',
          meterIds: {},
        },
        'json-dialect': { meterIdPattern: null, channelPattern: null, meterIds: {} },
      },
      // docs/detectors.md documents each of these.
      detectors: {
        enabled: true,
        spike: { enabled: true, threshold: 4, minDeviation: 1, warmUpDays: 3 },
        zscore: { enabled: true, threshold: 8, minDeviation: 1, warmUpDays: 7, minSamples: 4 },
        mad: { enabled: true, threshold: 16, minDeviation: 1, warmUpDays: 7 },
        iqr: { enabled: true, threshold: 8, minDeviation: 1, warmUpDays: 7 },
        zero_run: { enabled: true, intervals: 16, expectedMin: 0.05, warmUpDays: 7 },
        flat_line: { enabled: true, intervals: 16 },
        reverse_flow: { enabled: true },
        daily_high: { enabled: true, percent: 200, minDeviation: 5, warmUpDays: 7 },
        daily_low: { enabled: true, percent: 80, warmUpDays: 7 },
        tamper: { enabled: true },
        clock: { enabled: true },
      },
    });
  });

  it('are what an empty config resolves to', () => {
    expect(parseDictionary({})).toEqual(DEFAULT_DICTIONARY);
  });

  it('are deeply frozen, as is every parsed dictionary', () => {
    const overrides = { '2': { intervalSecondsAllowed: [900] } };
    const parsed = parseDictionary({ channelOverrides: overrides });
    for (const dictionary of [DEFAULT_DICTIONARY, parsed]) {
      expect(Object.isFrozen(dictionary)).toBe(true);
      expect(Object.isFrozen(dictionary.statusBits)).toBe(true);
      expect(Object.isFrozen(dictionary.intervalSecondsAllowed)).toBe(true);
    }
    expect(Object.isFrozen(parsed.channelOverrides['2']?.intervalSecondsAllowed)).toBe(true);
  });

  it('fill in status bits that a config leaves out', () => {
    const dictionary = parseDictionary({ statusBits: { tamper: 128 } });
    expect(dictionary.statusBits).toEqual({
      estimated: 1,
      outage: 2,
      reverseFlow: 4,
      tamper: 128,
      clock: 16,
    });
  });

  it('leave out the clock bit of a config whose status codes are too narrow for it', () => {
    expect(parseDictionary({ statusCodeMax: 15 }).statusBits.clock).toBe(16);
    expect(() => parseDictionary({ statusCodeMax: 15, statusBits: { clock: 16 } })).toThrow(
      'statusBits.clock: mask 16 is above statusCodeMax',
    );
  });
});

describe('a full config', () => {
  const config = {
    meterIdPattern: '^(MTR|GEN)-[A-Z0-9]{8}$',
    channelPattern: '^[0-9]{1,2}$',
    channels: ['1', '2'],
    defaultChannel: '1',
    intervalSecondsAllowed: [900, 3600],
    defaultIntervalSeconds: 3600,
    consumptionKwhMin: 0,
    consumptionKwhMax: 250.5,
    statusCodeMax: 65535,
    statusBits: { estimated: 256, outage: 512, reverseFlow: 1024, tamper: 2048, clock: 4096 },
    clockSkewToleranceSeconds: 60,
    timeZone: 'America/New_York',
    requireIntervalAlignment: false,
    allowUnknownFields: true,
    channelOverrides: {
      '2': {
        consumptionKwhMin: -50,
        consumptionKwhMax: 0,
        intervalSecondsAllowed: [900],
        detectors: { reverse_flow: { enabled: false }, zero_run: { intervals: 8 } },
      },
    },
    meterClasses: [
      {
        name: 'generator',
        meterIdPattern: '^GEN-.*$',
        consumptionKwhMax: 5000,
        detectors: { enabled: false },
      },
    ],
    formats: {
      nem12: { meterIdPattern: null, channelPattern: '^[EBQ][1-9]$', meterIds: { A: 'MTR-A' } },
      cmep: {
        meterIdPattern: '^[0-9]{8}$',
        channelPattern: null,
        meterIds: {},
        timeZone: 'America/Los_Angeles',
      },
      'csv-dialect': { meterIdPattern: null, channelPattern: null, meterIds: {} },
      'green-button': {
        meterIdPattern: '^[A-Za-z0-9/]{1,128}$',
        channelPattern: null,
        meterIds: { 'RetailCustomer/3/UsagePoint/1': 'MTR-GB000001' },
      },
      'json-dialect': {
        meterIdPattern: '^V-[0-9]{4}$',
        channelPattern: null,
        meterIds: { 'V-0001': 'MTR-VENDOR01' },
      },
    },
    detectors: {
      enabled: true,
      spike: { enabled: true, threshold: 5, minDeviation: 2, warmUpDays: 2 },
      zscore: { enabled: false, threshold: 6, minDeviation: 0.5, warmUpDays: 14, minSamples: 8 },
      mad: { enabled: true, threshold: 12, minDeviation: 1, warmUpDays: 7 },
      iqr: { enabled: true, threshold: 6, minDeviation: 1, warmUpDays: 7 },
      zero_run: { enabled: true, intervals: 24, expectedMin: 0.1, warmUpDays: 7 },
      flat_line: { enabled: true, intervals: 32 },
      reverse_flow: { enabled: true },
      daily_high: { enabled: true, percent: 150, minDeviation: 10, warmUpDays: 7 },
      daily_low: { enabled: false, percent: 90, warmUpDays: 7 },
      tamper: { enabled: true },
      clock: { enabled: false },
    },
  };

  it('resolves to itself', () => {
    expect(parseDictionary(config)).toEqual(config);
  });

  it('has a fingerprint independent of key order, and changed by any value', () => {
    const reordered = Object.fromEntries(Object.entries(config).reverse());
    expect(dictionaryFingerprint(parseDictionary(reordered))).toBe(
      dictionaryFingerprint(parseDictionary(config)),
    );
    const changed = parseDictionary({ ...config, clockSkewToleranceSeconds: 61 });
    expect(dictionaryFingerprint(changed)).not.toBe(dictionaryFingerprint(parseDictionary(config)));
  });
});

describe('formats["green-button"]', () => {
  it('fills in what a config leaves out, and keeps what it says', () => {
    const dictionary = parseDictionary({
      formats: { 'green-button': { meterIds: { 'User/1/UsagePoint/01': 'MTR-GB000001' } } },
    });
    expect(dictionary.formats['green-button']).toEqual({
      ...DEFAULT_DICTIONARY.formats['green-button'],
      meterIds: { 'User/1/UsagePoint/01': 'MTR-GB000001' },
    });
    expect(dictionary.formats.nem12).toEqual(DEFAULT_DICTIONARY.formats.nem12);
  });

  it('accepts href-path meter ids and refuses others by default', () => {
    const meterIds = compilePattern(
      DEFAULT_DICTIONARY.formats['green-button'].meterIdPattern ?? '',
    );
    expect(meterIds.test('RetailCustomer/3/UsagePoint/1')).toBe(true);
    expect(meterIds.test('v1/BillingAccount/1234567890/UsagePoint/NET_USAGE')).toBe(true);
    expect(meterIds.test('a|b')).toBe(false);
    expect(meterIds.test('x'.repeat(129))).toBe(false);
    const channels = compilePattern(
      DEFAULT_DICTIONARY.formats['green-button'].channelPattern ?? '',
    );
    expect(channels.test('01.reverse')).toBe(true);
    expect(channels.test('01/2')).toBe(false);
  });

  it('reports its problems with their paths', () => {
    const message = errorOf({
      formats: { 'green-button': { meterIdPattern: '(', timeZone: 'UTC', meterIds: { a: '' } } },
    });
    expect(message).toContain(
      '  - formats.green-button.meterIdPattern: is not a valid JavaScript regular expression',
    );
    expect(message).toContain('  - formats.green-button.timeZone: unknown key');
    expect(message).toContain('  - formats.green-button.meterIds.a:');
  });
});

describe('dictionaryFingerprint', () => {
  it('of the defaults is the value the README documents', () => {
    const fingerprint = '6e5ea01c985135acb512b1f19e9b17b2cf27f9bd527f1466f677f9e011d3c637';
    expect(dictionaryFingerprint(DEFAULT_DICTIONARY)).toBe(fingerprint);
    expect(dictionaryFingerprint(parseDictionary({ defaultChannel: '1' }))).toBe(fingerprint);
  });
});

describe('config errors list every problem with its path', () => {
  it('reports several shape problems at once', () => {
    const message = errorOf({
      meterIdPattern: 'a)|(b',
      consumptionKwhMax: 0.0000001,
      statusBits: { bogus: 2 },
      timeZone: 'Mars/Olympus_Mons',
      intervalSecondsAllowed: [900, 0],
      extra: true,
      channelOverrides: { '2': { consumptionKwhMax: 'lots', surprise: 1 } },
      meterClasses: [{ name: '', meterIdPattern: '[' }],
    });
    expect(message).toMatch(/^Invalid data dictionary:/);
    for (const path of [
      'meterIdPattern: is not a valid JavaScript regular expression',
      'consumptionKwhMax: the kWh value has digits below 6 decimal places',
      'statusBits.bogus: unknown key',
      'timeZone: is not an IANA time zone name',
      'intervalSecondsAllowed.1:',
      'extra: unknown key',
      'channelOverrides.2.consumptionKwhMax:',
      'channelOverrides.2.surprise: unknown key',
      'meterClasses.0.name:',
      'meterClasses.0.meterIdPattern: is not a valid JavaScript regular expression',
    ]) {
      expect(message).toContain(`  - ${path}`);
    }
  });

  it.each<[string, unknown, string]>([
    ['not an object', [], '(root):'],
    ['wrong type', { requireIntervalAlignment: 'yes' }, 'requireIntervalAlignment:'],
    ['fractional interval', { intervalSecondsAllowed: [900.5] }, 'intervalSecondsAllowed.0:'],
    ['repeated interval', { intervalSecondsAllowed: [900, 900] }, 'intervalSecondsAllowed: must'],
    ['negative tolerance', { clockSkewToleranceSeconds: -1 }, 'clockSkewToleranceSeconds:'],
    ['negative zero bound', { consumptionKwhMin: -0 }, 'consumptionKwhMin: the kWh value is neg'],
    ['offset as zone', { timeZone: '+05:00' }, 'timeZone: is not an IANA time zone name'],
    ['zero mask', { statusBits: { estimated: 0 } }, 'statusBits.estimated:'],
    ['status max too big', { statusCodeMax: 2 ** 31 }, 'statusCodeMax:'],
    [
      'too many classes',
      { meterClasses: Array(65).fill({ name: 'a', meterIdPattern: 'a' }) },
      'meterClasses: Too big',
    ],
  ])('%s', (_name, config, expected) => {
    expect(errorOf(config)).toContain(`  - ${expected}`);
  });

  it.each<[string, unknown, string]>([
    [
      'inverted default range',
      { consumptionKwhMin: 10, consumptionKwhMax: 5 },
      'consumptionKwhMin: the consumption range by default is 10..5 kWh',
    ],
    [
      'inverted override range',
      { channelOverrides: { '2': { consumptionKwhMin: 2000 } } },
      'channelOverrides.2: the consumption range for channel "2" is 2000..1000 kWh',
    ],
    [
      'inverted class range',
      { meterClasses: [{ name: 'x', meterIdPattern: 'X', consumptionKwhMax: -1 }] },
      'meterClasses.0: the consumption range for meter class "x" is 0..-1 kWh',
    ],
    [
      'inverted override-with-class range',
      {
        channelOverrides: { '2': { consumptionKwhMin: 600 } },
        meterClasses: [{ name: 'small', meterIdPattern: 'X', consumptionKwhMax: 500 }],
      },
      'channelOverrides.2: the consumption range for channel "2" with meter class "small"',
    ],
    ['default interval not allowed', { defaultIntervalSeconds: 60 }, 'defaultIntervalSeconds: 60'],
    ['default channel off pattern', { defaultChannel: 'a-b' }, 'defaultChannel: "a-b" does not'],
    ['default channel not listed', { channels: ['2'] }, 'defaultChannel: "1" is not in'],
    ['channel off pattern', { channels: ['1', 'a b'] }, 'channels.1: "a b" does not'],
    ['channel with a bar', { channelPattern: '.+', channels: ['1', 'a|b'] }, 'channels.1:'],
    ['repeated channel', { channels: ['1', '1'] }, 'channels: must not repeat'],
    ['override key off pattern', { channelOverrides: { 'x-y': {} } }, 'channelOverrides.x-y:'],
    [
      'override key not listed',
      { channels: ['1'], channelOverrides: { '2': {} } },
      'channelOverrides.2: "2" is not in the channels allow-list',
    ],
    [
      'mask above status max',
      { statusCodeMax: 15, statusBits: { tamper: 16 } },
      'statusBits.tamper: mask 16 is above statusCodeMax',
    ],
    [
      'repeated class name',
      {
        meterClasses: [
          { name: 'a', meterIdPattern: 'A' },
          { name: 'a', meterIdPattern: 'B' },
        ],
      },
      'meterClasses.1.name: repeats the class name "a"',
    ],
  ])('consistency: %s', (_name, config, expected) => {
    expect(errorOf(config)).toContain(`  - ${expected}`);
  });

  it('refuses an override key "__proto__", which zod would drop silently', () => {
    const config = JSON.parse('{"channelPattern": ".+", "channelOverrides": {"__proto__": {}}}');
    const expected = '  - channelOverrides.__proto__: is not a usable channel name';
    expect(errorOf(config)).toContain(expected);
  });

  it('refuses a top-level "__proto__" key as unknown', () => {
    expect(errorOf(JSON.parse('{"__proto__": {"x": 1}}'))).toContain('__proto__: unknown key');
  });
});

describe('compilePattern', () => {
  it('matches whole values even when the pattern is not anchored', () => {
    const regex = compilePattern('MTR-\\d+');
    expect(regex.test('MTR-12')).toBe(true);
    expect(regex.test('xMTR-12')).toBe(false);
    expect(regex.test('MTR-12y')).toBe(false);
  });

  it('keeps alternatives inside the anchors', () => {
    const regex = compilePattern('^A$|^B$');
    expect(regex.test('A')).toBe(true);
    expect(regex.test('AB')).toBe(false);
  });

  it('refuses a pattern that only compiles once wrapped', () => {
    expect(() => compilePattern('a)|(b')).toThrow(SyntaxError);
  });
});

describe('loadDictionary', () => {
  const directory = mkdtempSync(join(tmpdir(), 'amisync-dictionary-'));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  function write(name: string, text: string): string {
    const path = join(directory, name);
    writeFileSync(path, text);
    return path;
  }

  it('reads and resolves a file', () => {
    const path = write('ok.json', JSON.stringify({ timeZone: 'Europe/Berlin' }));
    expect(loadDictionary(path)).toEqual({ ...DEFAULT_DICTIONARY, timeZone: 'Europe/Berlin' });
  });

  it('names the file when it is not JSON', () => {
    const path = write('broken.json', '{ "timeZone": ');
    expect(() => loadDictionary(path)).toThrow(`Data dictionary ${path} is not valid JSON`);
  });

  it('names the file and every path when the config is wrong', () => {
    const path = write('bad.json', JSON.stringify({ statusCodeMax: -1, bogus: 1 }));
    const lines = ['Invalid data dictionary:', '  - statusCodeMax: ', '  - bogus: unknown key'];
    expect(() => loadDictionary(path)).toThrow(
      new RegExp(`^Data dictionary ${path}: ${lines.join('.*\\n')}$`),
    );
  });

  it('fails plainly on a missing file', () => {
    expect(() => loadDictionary(join(directory, 'absent.json'))).toThrow(/ENOENT/);
  });
});
