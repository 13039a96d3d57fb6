// Goal: the vendors table keeps a vendor's key id, key hash and meters; names are unique, revoking
// is once, and a delivery is found by its transport id only once it is complete.
// Method: a real SQLite store in a temp directory.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { openSqliteStore } from './sqlite-store.js';

afterAll(removeTempDirs);

const VENDOR = {
  name: 'acme',
  keyId: '00000000000000aa',
  keySha256: 'ab'.repeat(32),
  meters: ['MTR-AAAAAAAA'],
  meterPattern: null,
  anyMeter: false,
  createdAtMs: 1,
};

describe('SQLite vendors', () => {
  it('adds, finds by key id and name, lists, refuses a second of a name, revokes once', async () => {
    const store = openSqliteStore(join(tempDir(), 's.db'), { nowMs: () => 0 });
    try {
      await store.addVendor(VENDOR);
      await store.addVendor({
        ...VENDOR,
        name: 'bolt',
        keyId: '00000000000000bb',
        meters: null,
        anyMeter: true,
      });
      expect(await store.findVendorByKeyId('00000000000000aa')).toEqual({
        ...VENDOR,
        revokedAtMs: null,
      });
      expect((await store.findVendorByName('bolt'))?.anyMeter).toBe(true);
      expect(await store.findVendorByKeyId('ffffffffffffffff')).toBeNull();
      expect((await store.listVendors()).map((vendor) => vendor.name)).toEqual(['acme', 'bolt']);
      await expect(store.addVendor(VENDOR)).rejects.toMatchObject({ code: 'INVALID_STATE' });
      expect(await store.revokeVendor('acme', 5)).toBe(true);
      expect(await store.revokeVendor('acme', 6)).toBe(false);
      expect(await store.revokeVendor('nobody', 6)).toBe(false);
      expect((await store.findVendorByName('acme'))?.revokedAtMs).toBe(5);
    } finally {
      await store.close();
    }
  });

  it('finds a delivery by transport id once complete', async () => {
    const store = openSqliteStore(join(tempDir(), 's.db'), { nowMs: () => 0 });
    try {
      await store.createDelivery({
        id: 'dlv_1',
        sourceId: 'push',
        name: 'acme/k',
        format: 'ndjson',
        formatContext: {},
        startedAtMs: 0,
        transportId: 'idempotency:acme:k',
      });
      expect(await store.findDeliveryByTransportId('push', 'idempotency:acme:k')).toBeNull();
      await store.finishDelivery('dlv_1', 'cd'.repeat(32), 0, 1);
      expect((await store.findDeliveryByTransportId('push', 'idempotency:acme:k'))?.id).toBe(
        'dlv_1',
      );
      expect(await store.findDeliveryByTransportId('other', 'idempotency:acme:k')).toBeNull();
    } finally {
      await store.close();
    }
  });
});
