// Goal: the built `amisync ledger show|versions`, `deliveries list|show` and `audit checkpoints`
// print what the store holds, page by cursor, give --json, and exit with the documented codes.
// Method: ingest a feed, an estimate and the actual that revises it into a temporary SQLite file
// with a signed checkpoint, then run dist/cli/main.js on it in child processes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateSigningKey } from '../../audit/checkpoint.js';
import { writeCheckpoint } from '../../audit/record.js';
import { ERROR_CODES } from '../../core/errors.js';
import { heldFeed, heldRecord, HELD_METER } from '../../test-support/held-readings.js';
import { currentLedgerRows, openHarness } from '../../test-support/ingest-harness.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { toNdjsonText } from '../../test-support/wire-text.js';
import { cliSync } from '../../test-support/cli-sync.js';

const REVISED_METER = 'MTR-DDDD0004';
let db = '';
let expectedKeys: string[] = [];

beforeAll(async () => {
  const harness = openHarness();
  db = harness.path;
  await harness.ingest(toNdjsonText(heldFeed()), { name: 'held' });
  const estimate = { ...heldRecord(0, 1, '1.25', REVISED_METER), quality: 'estimated' };
  await harness.ingest(toNdjsonText([estimate]), { name: 'estimate' });
  const actual = { ...heldRecord(0, 2, '1', REVISED_METER), quality: 'actual' };
  await harness.ingest(toNdjsonText([actual]), { name: 'actual' });
  const { key } = loadOrCreateSigningKey(`${tempDir('amisync-views-cli-')}/key.pem`);
  await writeCheckpoint(harness.store, key, harness.clock.nowMs());
  expectedKeys = (await currentLedgerRows(harness))
    .filter((row) => row.meterId === HELD_METER)
    .sort((a, b) => a.intervalStartMs - b.intervalStartMs)
    .map((row) => row.idempotencyKey);
  await harness.close();
});

afterAll(removeTempDirs);

function cli(...args: string[]) {
  return cliSync([...args, '--db', db]);
}

function cliJson(...args: string[]) {
  const result = cli(...args, '--json');
  expect(result.status, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as Record<string, ReturnType<typeof JSON.parse>>;
}

describe('ledger show and versions', () => {
  it('pages through a meter by cursor, every current reading once, in time order', () => {
    const keys: string[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 20; pages++) {
      const more: string[] = cursor === null ? [] : ['--cursor', cursor];
      const page = cliJson('ledger', 'show', '--meter', HELD_METER, '--limit', '2', ...more);
      keys.push(...page.items.map((row: { idempotencyKey: string }) => row.idempotencyKey));
      cursor = page.nextCursor;
      if (cursor === null) break;
    }
    expect(expectedKeys.length).toBeGreaterThan(2);
    expect(keys).toEqual(expectedKeys);
    const text = cli('ledger', 'show', '--meter', HELD_METER, '--limit', '2');
    expect(text.status).toBe(0);
    expect(text.stdout).toContain(expectedKeys[0]);
    expect(text.stdout).toMatch(/more: --cursor \S+/);
  });

  it('lists both versions of the revised interval, newest first', () => {
    const start = heldRecord(0, 1, '1').timestamp_utc as string;
    const view = cliJson(
      'ledger',
      'versions',
      '--meter',
      REVISED_METER,
      '--channel',
      '1',
      '--start',
      start,
    );
    const versions = view.versions as { version: number; quality: string; value: string }[];
    expect(versions.map((v) => [v.version, v.quality, v.value])).toEqual([
      [2, 'actual', '1.000000'],
      [1, 'estimated', '1.250000'],
    ]);
  });

  it('exits with the usage code without a meter and not-found for an empty interval', () => {
    expect(cli('ledger', 'show').status).toBe(ERROR_CODES.USAGE.exitCode);
    const missing = cli(
      'ledger',
      'versions',
      '--meter',
      REVISED_METER,
      '--channel',
      '1',
      '--start',
      '2020-01-01',
    );
    expect(missing.status).toBe(ERROR_CODES.NOT_FOUND.exitCode);
  });
});

describe('deliveries and checkpoints', () => {
  it('lists the deliveries newest first and shows one with its conservation', () => {
    const page = cliJson('deliveries', 'list');
    const names = page.items.map((d: { name: string }) => d.name);
    expect(names).toEqual(['actual', 'estimate', 'held']);
    const held = page.items[2] as { id: string; counts: Record<string, number> };
    const shown = cliJson('deliveries', 'show', held.id);
    expect(shown.counts).toEqual(held.counts);
    expect(shown.counts.received).toBe(heldFeed().length);
    const text = cli('deliveries', 'show', held.id);
    expect(text.stdout).toContain(`received ${heldFeed().length} = accepted`);
    expect(text.stdout).toContain('conserved');
    expect(cli('deliveries', 'show', 'dlv_nope').status).toBe(ERROR_CODES.NOT_FOUND.exitCode);
  });

  it('lists the signed checkpoints', () => {
    const view = cliJson('audit', 'checkpoints');
    expect(view.total).toBe(1);
    expect(view.checkpoints[0].signature).toMatch(/^[0-9a-f]+$|^[A-Za-z0-9+/=]+$/);
  });
});
