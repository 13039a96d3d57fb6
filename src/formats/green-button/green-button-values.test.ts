// Goal: the mapping's leaves are exact: unit conversion never rounds, dates and hrefs give stable
// ids and versions, codes map as documented. Method: examples and fast-check over values.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UNITS } from '../../core/reading.js';
import { shiftDecimalPoint } from '../nem12/nem12-values.js';
import { scaledValue } from './espi-units.js';
import {
  CANONICAL_UNITS,
  atomDateDigits,
  canonicalUnit,
  convertedValue,
  durationSeconds,
  epochSecondsToMs,
  flowDirectionSuffix,
  hrefPath,
  lastSegment,
  meterIdOfHref,
  pathBefore,
  qualityDetailOf,
  qualityOf,
  readingTypeCommodity,
  serviceKindCommodity,
} from './green-button-values.js';

describe('units', () => {
  it('maps only to canonical units, by powers of ten', () => {
    for (const [uom, [unit, shift]] of Object.entries(CANONICAL_UNITS)) {
      expect(Object.hasOwn(UNITS, unit), uom).toBe(true);
      expect([0, -3]).toContain(shift);
    }
    expect(canonicalUnit('72')).toEqual(['kWh', -3]);
    expect(canonicalUnit('128')).toEqual(['gal', 0]);
    expect(canonicalUnit('132')).toBeNull();
    expect(canonicalUnit('constructor')).toBeNull();
  });

  it('converts exactly: back in the sent unit it is the scaled value', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }),
        fc.integer({ min: -12, max: 12 }),
        (value, multiplier) => {
          const converted = convertedValue(String(value), String(multiplier), -3);
          expect(converted).not.toBeNull();
          expect(shiftDecimalPoint(converted ?? '', 3)).toBe(
            scaledValue(String(value), String(multiplier)),
          );
        },
      ),
    );
  });

  it('refuses multipliers ESPI does not have, and reads an absent one as none', () => {
    expect(convertedValue('5', null, -3)).toBe('0.005');
    expect(convertedValue('5', '13', 0)).toBeNull();
    expect(convertedValue('5', '1.5', 0)).toBeNull();
    expect(convertedValue('5', 'k', 0)).toBeNull();
  });
});

describe('codes', () => {
  it('maps commodities and service kinds, telling absent from not held', () => {
    expect(readingTypeCommodity('1')).toBe('electricity');
    expect(readingTypeCommodity('2')).toBe('electricity');
    expect(readingTypeCommodity('7')).toBe('gas');
    expect(readingTypeCommodity('9')).toBe('water');
    expect(readingTypeCommodity('0')).toBeUndefined();
    expect(readingTypeCommodity(null)).toBeUndefined();
    expect(readingTypeCommodity('10')).toBeNull();
    expect(serviceKindCommodity('0')).toBe('electricity');
    expect(serviceKindCommodity('1')).toBe('gas');
    expect(serviceKindCommodity('2')).toBe('water');
    expect(serviceKindCommodity('4')).toBeNull();
    expect(serviceKindCommodity(null)).toBeUndefined();
  });

  it('takes the worst quality of several codes and refuses undefined ones', () => {
    expect(qualityOf([])).toBe('actual');
    expect(qualityOf(['0', '14', '18', '19'])).toBe('actual');
    expect(qualityOf(['0', '7'])).toBe('substituted');
    expect(qualityOf(['7', '17'])).toBe('estimated');
    for (const code of ['8', '9', '10', '11', '12', '13', '15', '16', '17']) {
      expect(qualityOf([code]), code).toBe('estimated');
    }
    expect(qualityOf(['1'])).toBeNull();
    expect(qualityOf(['0', 'x'])).toBeNull();
    expect(qualityDetailOf(['8', '19', '8'])).toBe('q8 q19');
    expect(qualityDetailOf([])).toBeNull();
  });

  it('names flow directions that are not forward', () => {
    expect(flowDirectionSuffix(null)).toBe('');
    expect(flowDirectionSuffix('1')).toBe('');
    expect(flowDirectionSuffix('19')).toBe('.reverse');
    expect(flowDirectionSuffix('4')).toBe('.net');
    expect(flowDirectionSuffix('99')).toBe('.flow99');
  });
});

describe('times and versions', () => {
  it('reads whole epoch seconds only', () => {
    expect(epochSecondsToMs('1700000000')).toEqual({ ok: true, ms: 1_700_000_000_000 });
    expect(epochSecondsToMs('1721154384.66136')).toEqual({ ok: false, fractional: true });
    expect(epochSecondsToMs('-1')).toEqual({ ok: false, fractional: false });
    expect(epochSecondsToMs('1e9')).toEqual({ ok: false, fractional: false });
    expect(epochSecondsToMs('99999999999999999')).toEqual({ ok: false, fractional: false });
    expect(durationSeconds('3600')).toBe(3600);
    expect(durationSeconds('0')).toBeNull();
    expect(durationSeconds('3600.0')).toBeNull();
  });

  it('turns Atom dates into UTC digits', () => {
    expect(atomDateDigits('2012-10-24T07:00:00Z')).toBe(20121024070000);
    expect(atomDateDigits('2011-11-30T12:00:00.000Z')).toBe(20111130120000);
    expect(atomDateDigits('2024-07-16T10:26:24')).toBe(20240716102624);
    expect(atomDateDigits('2024-06-21')).toBe(20240621000000);
    expect(atomDateDigits('2024-01-01T01:30:00+02:00')).toBe(20231231233000);
    expect(atomDateDigits('2024-01-01T23:30:00-0130')).toBe(20240102010000);
    expect(atomDateDigits(' 2024-06-21T10:00Z ')).toBe(20240621100000);
    expect(atomDateDigits('2023-02-29T00:00:00Z')).toBeNull();
    expect(atomDateDigits('2024-06-21T24:00:00Z')).toBeNull();
    expect(atomDateDigits('June 21, 2024')).toBeNull();
  });
});

describe('hrefs', () => {
  it('compares resources by path', () => {
    expect(hrefPath('https://host.example/a/b/?x=1#y')).toBe('a/b');
    expect(hrefPath('/a/b')).toBe('a/b');
    expect(hrefPath('a/b/')).toBe('a/b');
    expect(pathBefore('a/MeterReading/01/IntervalBlock/7', 'IntervalBlock')).toBe(
      'a/MeterReading/01',
    );
    expect(pathBefore('IntervalBlock/7', 'IntervalBlock')).toBeNull();
  });

  it('gives meter ids as paths after the REST root, and channels as last segments', () => {
    const base = 'https://services.greenbuttondata.org/DataCustodian/espi/1_1/resource';
    expect(meterIdOfHref(`${base}/RetailCustomer/3/UsagePoint/1`)).toBe(
      'RetailCustomer/3/UsagePoint/1',
    );
    expect(meterIdOfHref('/v1/BillingAccount/1234567890/UsagePoint/NET_USAGE')).toBe(
      'v1/BillingAccount/1234567890/UsagePoint/NET_USAGE',
    );
    expect(meterIdOfHref('User/1111111/UsagePoint/01')).toBe('User/1111111/UsagePoint/01');
    expect(meterIdOfHref('https://host.example/')).toBeNull();
    expect(lastSegment(`${base}/RetailCustomer/3/UsagePoint/1/MeterReading/01`)).toBe('01');
    expect(lastSegment('/')).toBeNull();
  });
});
