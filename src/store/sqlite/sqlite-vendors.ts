/**
 * Vendors of the push endpoint in the SQLite store: their key ids, the sha256 of their keys and the
 * meters each may push. Kept apart from the engine file so that its role reads in one place.
 */
import type Database from 'better-sqlite3';
import { AmisyncError } from '../../core/errors.js';
import type { VendorInsert, VendorRow } from '../../core/store.js';

type Row = Record<string, unknown>;
type Prepare = (sql: string) => Database.Statement;

const VENDOR_COLUMNS = `name, key_id, key_sha256, meters, meter_pattern, any_meter, created_at_ms,
  revoked_at_ms`;

function vendorFrom(row: Row): VendorRow {
  const meters = (row.meters as string | null) ?? null;
  return {
    name: row.name as string,
    keyId: row.key_id as string,
    keySha256: row.key_sha256 as string,
    meters: meters === null ? null : (JSON.parse(meters) as string[]),
    meterPattern: (row.meter_pattern as string | null) ?? null,
    anyMeter: row.any_meter === 1,
    createdAtMs: row.created_at_ms as number,
    revokedAtMs: (row.revoked_at_ms as number | null) ?? null,
  };
}

export function insertVendor(prepare: Prepare, vendor: VendorInsert): void {
  const existing = prepare('SELECT name FROM vendors WHERE name = ?').get(vendor.name);
  if (existing !== undefined) {
    throw new AmisyncError('INVALID_STATE', `a vendor named ${vendor.name} exists already`, {
      vendor: vendor.name,
    });
  }
  prepare(
    `INSERT INTO vendors (name, key_id, key_sha256, meters, meter_pattern, any_meter,
       created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    vendor.name,
    vendor.keyId,
    vendor.keySha256,
    vendor.meters === null ? null : JSON.stringify(vendor.meters),
    vendor.meterPattern,
    vendor.anyMeter ? 1 : 0,
    vendor.createdAtMs,
  );
}

export function selectVendors(prepare: Prepare): VendorRow[] {
  return (prepare(`SELECT ${VENDOR_COLUMNS} FROM vendors ORDER BY name`).all() as Row[]).map(
    vendorFrom,
  );
}

export function selectVendorBy(
  prepare: Prepare,
  column: 'key_id' | 'name',
  value: string,
): VendorRow | null {
  const row = prepare(`SELECT ${VENDOR_COLUMNS} FROM vendors WHERE ${column} = ?`).get(value) as
    Row | undefined;
  return row === undefined ? null : vendorFrom(row);
}

export function markVendorRevoked(prepare: Prepare, name: string, atMs: number): boolean {
  const result = prepare(
    'UPDATE vendors SET revoked_at_ms = ? WHERE name = ? AND revoked_at_ms IS NULL',
  ).run(atMs, name);
  return result.changes === 1;
}
