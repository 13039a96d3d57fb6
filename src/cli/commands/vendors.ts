/**
 * `amisync vendors add|list|revoke`: the vendors that push readings, their API keys and meters.
 * A key is printed once, when it is made; the store keeps only its sha256 (see
 * sources/http-push/push-auth.ts for why sha256 and not a slow hash). Adding and revoking are
 * audited; the key itself is never logged or audited.
 */
import type { Command } from 'commander';
import { appendAuditEntry } from '../../audit/record.js';
import { AmisyncError } from '../../core/errors.js';
import { newApiKey } from '../../sources/http-push/push-auth.js';
import { vendorMetersSchema } from '../../sources/http-push/push-config.js';
import type { VendorRow } from '../../core/store.js';
import { openExistingStore, openStore, runtime, type GlobalOptions } from '../context.js';
import { printJson, printLines, table } from '../output.js';
import { action, withStore } from '../command-kit.js';

export interface VendorOptions extends GlobalOptions {
  json?: boolean;
  meters?: string;
  meterPattern?: string;
  anyMeter?: boolean;
}

function metersOf(options: VendorOptions) {
  const parsed = vendorMetersSchema.safeParse({
    name: 'vendor',
    ...(options.meters === undefined
      ? {}
      : { meters: options.meters.split(',').map((meter) => meter.trim()) }),
    ...(options.meterPattern === undefined ? {} : { meterPattern: options.meterPattern }),
    ...(options.anyMeter === true ? { anyMeter: true } : {}),
  });
  if (!parsed.success) {
    const reason = parsed.error.issues.map((issue) => issue.message).join('; ');
    throw new AmisyncError(
      'USAGE',
      `give one of --meters, --meter-pattern, --any-meter: ${reason}`,
    );
  }
  return parsed.data;
}

export interface AddedVendor {
  readonly name: string;
  readonly keyId: string;
  readonly meters: readonly string[] | null;
  readonly meterPattern: string | null;
  readonly anyMeter: boolean;
  readonly createdAtMs: number;
  /** The API key itself: shown once, never stored. */
  readonly apiKey: string;
}

/** Adds a vendor that pushes and makes its API key; audited (without the key). */
export async function addVendor(name: string, options: VendorOptions): Promise<AddedVendor> {
  const meters = metersOf(options);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(name)) {
    throw new AmisyncError('USAGE', 'a vendor name is letters, digits, ., - and _, at most 63');
  }
  const store = await openStore(options, runtime.clock);
  try {
    const { key, keyId, keySha256 } = newApiKey(runtime.random);
    const createdAtMs = runtime.clock.nowMs();
    const vendor = {
      name,
      keyId,
      keySha256,
      meters: meters.meters ?? null,
      meterPattern: meters.meterPattern ?? null,
      anyMeter: meters.anyMeter === true,
      createdAtMs,
    };
    await store.addVendor(vendor);
    const { keySha256: _hash, ...audited } = vendor;
    await appendAuditEntry(store, 'vendor.add', audited, createdAtMs);
    return { ...audited, apiKey: key };
  } finally {
    await store.close();
  }
}

export async function runVendorsAdd(name: string, options: VendorOptions): Promise<void> {
  const added = await addVendor(name, options);
  if (options.json === true) printJson(added);
  else {
    printLines([
      `vendor ${name} added (key id ${added.keyId}); its API key, shown this once:`,
      added.apiKey,
      'Send it as "Authorization: Bearer <key>". Only its sha256 is stored.',
    ]);
  }
}

function scopeText(vendor: VendorRow): string {
  if (vendor.anyMeter) return 'any meter';
  if (vendor.meterPattern !== null) return `meters matching ${vendor.meterPattern}`;
  return `${vendor.meters?.length ?? 0} meters`;
}

export async function runVendorsList(options: VendorOptions): Promise<void> {
  const store = await openExistingStore(options, runtime.clock);
  try {
    const vendors = (await store.listVendors()).map(({ keySha256: _hash, ...vendor }) => vendor);
    if (options.json === true) {
      printJson({ vendors });
      return;
    }
    printLines([
      ...table([
        ['vendor', 'key id', 'meters', 'created', 'revoked'],
        ...vendors.map((vendor) => [
          vendor.name,
          vendor.keyId,
          scopeText({ ...vendor, keySha256: '' }),
          new Date(vendor.createdAtMs).toISOString(),
          vendor.revokedAtMs === null ? '' : new Date(vendor.revokedAtMs).toISOString(),
        ]),
      ]),
    ]);
  } finally {
    await store.close();
  }
}

export async function runVendorsRevoke(name: string, options: VendorOptions): Promise<void> {
  const store = await openExistingStore(options, runtime.clock);
  try {
    const atMs = runtime.clock.nowMs();
    if (!(await store.revokeVendor(name, atMs))) {
      throw new AmisyncError('NOT_FOUND', `no vendor ${name} with a key in force`, {
        vendor: name,
      });
    }
    await appendAuditEntry(store, 'vendor.revoke', { name }, atMs);
    if (options.json === true) printJson({ name, revokedAtMs: atMs });
    else printLines([`vendor ${name}: its API key is revoked; its requests now get 401`]);
  } finally {
    await store.close();
  }
}

export function addVendorsCommands(program: Command): Command {
  const vendors = program
    .command('vendors')
    .description('vendors that push readings, and their keys');
  withStore(vendors.command('add <name>'))
    .description('add a vendor and print its API key once (only its sha256 is stored)')
    .option('--meters <ids>', 'the meters it may push, comma-separated')
    .option('--meter-pattern <regexp>', 'the meters it may push, by a regular expression')
    .option('--any-meter', 'it may push any meter')
    .action(action(async (name: string, options: VendorOptions) => runVendorsAdd(name, options)));
  withStore(vendors.command('list'))
    .description('vendors, their key ids and meters (never their keys)')
    .action(action(async (options: VendorOptions) => runVendorsList(options)));
  withStore(vendors.command('revoke <name>'))
    .description("revoke a vendor's API key")
    .action(
      action(async (name: string, options: VendorOptions) => runVendorsRevoke(name, options)),
    );
  return vendors;
}
