// Goal: the built `amisync anomalies list|show|release|reject` and `status` let an operator find,
// inspect and decide held readings, with JSON, exit codes and kWh that match the ledgers.
// Method: hold readings with stand-in detectors on a temporary SQLite file, then run
// dist/cli/main.js on it in child processes and read what each command prints.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { heldFeed, OTHER_HELD_METER, TEST_DETECTORS } from '../../test-support/held-readings.js';
import { openHarness } from '../../test-support/ingest-harness.js';
import { removeTempDirs } from '../../test-support/temp.js';
import { toNdjsonText } from '../../test-support/wire-text.js';
import { cliSync } from '../../test-support/cli-sync.js';

afterAll(removeTempDirs);

let db = '';

beforeAll(async () => {
  const harness = openHarness();
  await harness.ingest(toNdjsonText(heldFeed()), { detectors: TEST_DETECTORS });
  await harness.close();
  db = harness.path;
});

function cli(...args: string[]) {
  return cliSync([...args, '--db', db], { env: { AMISYNC_ACTOR: 'cli-operator' } });
}

function json<T>(...args: string[]): T {
  const run = cli(...args, '--json');
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  return JSON.parse(run.stdout) as T;
}

interface Item {
  id: number;
  status: string;
  value: string;
  intervalStart: string;
  reading: { meterId: string };
  findings: { detector: string }[];
  decision: { actor: string; note: string } | null;
}

interface StatusJson {
  conserved: boolean;
  ledger: { energyKwh: string };
  anomalies: {
    held: number;
    heldKwh: string;
    released: number;
    rejected: number;
    byDetector: { detector: string; held: number; heldKwh: string }[];
  };
}

describe('amisync anomalies', () => {
  const held = () => json<{ items: Item[]; nextAfter: number | null }>('anomalies', 'list');
  const ids = (...args: string[]) =>
    json<{ items: Item[] }>('anomalies', 'list', ...args).items.map((item) => item.id);

  it('lists, filters, pages and shows held readings', () => {
    const all = held();
    expect(all.items.map((item) => [item.value, item.status])).toEqual([
      ['40.000000', 'held'],
      ['0.000000', 'held'],
      ['25.000000', 'held'],
    ]);
    expect(all.nextAfter).toBeNull();
    const [spike, zero, other] = all.items as [Item, Item, Item];
    expect(ids('--detector', 'test.zero')).toEqual([zero.id]);
    expect(ids('--meter', OTHER_HELD_METER)).toEqual([other.id]);
    expect(ids('--from', spike.intervalStart, '--to', zero.intervalStart)).toEqual([spike.id]);
    const page = json<{ items: Item[]; nextAfter: number }>('anomalies', 'list', '--limit', '2');
    expect(page.nextAfter).toBe(zero.id);
    expect(ids('--after', String(page.nextAfter))).toEqual([other.id]);
    expect(cli('anomalies', 'list', '--status', 'open').status).toBe(64);
    expect(cli('anomalies', 'list', '--from', 'yesterday').status).toBe(64);
    const text = cli('anomalies', 'list');
    expect(text.stdout).toContain('test.spike');

    const shown = json<Item>('anomalies', 'show', String(spike.id));
    expect(shown.findings.map((f) => f.detector)).toEqual(['test.spike']);
    expect(cli('anomalies', 'show', String(spike.id)).stdout).toMatch(
      /test\.spike: above 10 kWh[\s\S]*awaiting review/,
    );
    expect(cli('anomalies', 'show', '999').status).toBe(3);
  });

  it('releases and rejects with a note, and status shows the backlog move', () => {
    const [spike, zero, other] = held().items as [Item, Item, Item];

    const before = json<StatusJson>('status');
    expect(before.anomalies).toMatchObject({
      held: 3,
      heldKwh: '65.000000',
      byDetector: [
        { detector: 'test.spike', held: 2, heldKwh: '65.000000' },
        { detector: 'test.zero', held: 1, heldKwh: '0.000000' },
      ],
    });
    expect(before.ledger.energyKwh).toBe('2.500000');
    expect(cli('status').stdout).toContain('anomalies: 3 held (65.000000 kWh kept from billing)');

    expect(cli('anomalies', 'release', String(spike.id), '--note', 'ok').status).toBe(64);
    expect(cli('anomalies', 'release', String(spike.id)).status).toBe(64);
    const released = json<{ outcome: string; version: number }>(
      'anomalies',
      'release',
      String(spike.id),
      '--note',
      'field verified: meter healthy',
    );
    expect(released).toMatchObject({ outcome: 'released', version: 1 });
    const rejected = cli(
      'anomalies',
      'reject',
      String(zero.id),
      '--note',
      'meter replaced 2026-10-03',
      '--actor',
      'field-crew',
    );
    expect(rejected.stdout).toContain(`anomaly ${zero.id} rejected`);
    const again = cli('anomalies', 'reject', String(zero.id), '--note', 'meter replaced again');
    expect(again.status).toBe(4);
    expect(again.stderr).toContain('rejected, not held');

    const after = json<StatusJson>('status');
    expect(after.ledger.energyKwh).toBe('42.500000');
    expect(after.anomalies).toMatchObject({
      held: 1,
      heldKwh: '25.000000',
      released: 1,
      rejected: 1,
    });
    expect(after.conserved).toBe(true);
    expect(json<Item>('anomalies', 'show', String(zero.id)).decision).toMatchObject({
      actor: 'field-crew',
      note: 'meter replaced 2026-10-03',
    });
    expect(json<Item>('anomalies', 'show', String(spike.id)).decision).toMatchObject({
      actor: 'cli-operator',
    });
    expect(ids('--status', 'held')).toEqual([other.id]);
    expect(json<{ ok: boolean }>('audit', 'verify').ok).toBe(true);
  });
});
