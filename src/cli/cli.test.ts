// Goal: the built CLI keeps the contract scripts rely on: JSON, exit codes, decimals, audit.
// Method: run dist/cli/main.js in child processes on temporary feed files and databases.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tamperFile } from '../test-support/attacker.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';
import { cliSync, jsonOf, type CliRun as Run } from '../test-support/cli-sync.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(ROOT, 'dist', 'cli', 'main.js');
const ACTOR = 'cli-test';
/** Monday 2025-01-06T00:00:00Z: far enough in the past for any test machine's clock. */
const T0_MS = Date.UTC(2025, 0, 6);
const INTERVAL_MS = 900_000;

interface Counts {
  received: number;
  accepted: number;
  duplicates: number;
  quarantined: number;
  conflicts: number;
  anomalyHeld: number;
  deadLettered: number;
}

interface IngestJson extends Counts {
  conserved: boolean;
  files: { uncountedSpans: number; note: string | null; counts: Counts }[];
}

interface Violation {
  code: string;
  field: string;
  value: string;
  message: string;
}

interface Action {
  action: string;
  outcome: string;
  actor: string;
  justification: string;
}

interface QuarantineItem {
  id: number;
  status: string;
  location: { line: number };
  violations: Violation[];
  currentViolations: Violation[];
}

interface ShowJson extends QuarantineItem {
  raw: {
    text: string;
    base64: string;
    bytes: number;
    sha256: string;
    previewBytes: number;
    truncated: boolean;
  };
  actions: Action[];
}

interface ReplayJson {
  tried: number;
  replayed: number;
  accepted: number;
  stillQuarantined: number;
  outcomes: { quarantineId: number; outcome: string }[];
}

interface VerifyJson {
  ok: boolean;
  firstProblem: { auditSeq: number | null; reason: string } | null;
}

interface AuditEntry {
  seq: number;
  kind: string;
  payload: string;
}

function cli(args: readonly string[], cwd: string = ROOT): Run {
  return cliSync(args, { cwd, env: { AMISYNC_ACTOR: ACTOR } });
}

const parsed = jsonOf;

/** Runs a command that must succeed and returns its JSON output. */
function ok<T>(args: readonly string[]): T {
  const run = cli([...args, '--json']);
  expect(run.status, run.stderr).toBe(0);
  return parsed<T>(run);
}

function intervalStart(slot: number): string {
  return new Date(T0_MS + slot * INTERVAL_MS).toISOString().replace('.000Z', 'Z');
}

/** One NDJSON record; every value is raw JSON text, so `1e309` or `-0` reach the parser as sent. */
function record(meter: string, slot: number, kwh: string, extra: Record<string, string> = {}) {
  const fields: Record<string, string> = {
    meter_id: JSON.stringify(meter),
    timestamp_utc: JSON.stringify(intervalStart(slot)),
    consumption_kwh: kwh,
    status_code: '0',
    seq: String(slot + 1),
    ...extra,
  };
  const members = Object.entries(fields).map(([name, value]) => `${JSON.stringify(name)}:${value}`);
  return `{${members.join(',')}}`;
}

/** A fresh working directory with a database path and a feed file of these lines. */
function workspace(lines: readonly string[], fileName = 'feed.ndjson') {
  const dir = tempDir('amisync-cli-');
  const file = join(dir, fileName);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return { dir, file, db: join(dir, 'amisync.db') };
}

function conservationHolds(counts: Counts): boolean {
  const outcomes =
    counts.accepted +
    counts.duplicates +
    counts.quarantined +
    counts.anomalyHeld +
    counts.deadLettered;
  return counts.received === outcomes;
}

function listQuarantine(db: string): QuarantineItem[] {
  return ok<{ items: QuarantineItem[] }>(['quarantine', 'list', '--db', db]).items;
}

function itemAtLine(items: readonly QuarantineItem[], line: number): QuarantineItem {
  const item = items.find((candidate) => candidate.location.line === line);
  if (item === undefined) throw new Error(`no quarantine item at line ${line}`);
  return item;
}

function ledgerCsv(db: string): { header: string[]; rows: Record<string, string>[] } {
  const run = cli(['ledger', 'export', '--db', db, '--format', 'csv']);
  expect(run.status, run.stderr).toBe(0);
  const [headerLine = '', ...lines] = run.stdout.split('\n').filter((text) => text !== '');
  const header = headerLine.split(',');
  const rows = lines.map((text) => {
    const cells = text.split(',');
    return Object.fromEntries(header.map((name, index) => [name, cells[index] ?? '']));
  });
  return { header, rows };
}

function auditEntries(db: string): AuditEntry[] {
  const out = join(tempDir('amisync-cli-audit-'), 'export');
  const run = cli(['audit', 'export', '--db', db, '--out', out]);
  expect(run.status, run.stderr).toBe(0);
  return readFileSync(join(out, 'audit-log.ndjson'), 'utf8')
    .split('\n')
    .filter((text) => text !== '')
    .map((text) => JSON.parse(text) as AuditEntry);
}

function payloadOf(entry: AuditEntry): Record<string, unknown> {
  return JSON.parse(entry.payload) as Record<string, unknown>;
}

beforeAll(() => {
  if (existsSync(MAIN)) return;
  const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
  expect(build.status, build.stderr).toBe(0);
});

afterAll(removeTempDirs);

describe('amisync ingest', () => {
  const good = [0, 1, 2].map((slot) => record('MTR-CLI00001', slot, '0.5'));
  const bad = record('MTR-CLI00001', 3, '"12abc"');

  it('prints conserved counts as one JSON object; the same file again accepts nothing', () => {
    const { db, file } = workspace([...good, good[0] ?? '', bad]);
    const first = ok<IngestJson>(['ingest', file, '--db', db]);
    expect(first).toMatchObject({
      received: 5,
      accepted: 3,
      duplicates: 1,
      quarantined: 1,
      conflicts: 0,
      anomalyHeld: 0,
      deadLettered: 0,
      conserved: true,
    });
    expect(conservationHolds(first)).toBe(true);
    const second = ok<IngestJson>(['ingest', file, '--db', db]);
    expect(second.accepted).toBe(0);
    expect(second.received).toBe(5);
    expect(second.duplicates).toBe(4);
    expect(conservationHolds(second)).toBe(true);
  });

  it('commits the good records of a file that mixes good and bad ones', () => {
    const { db, file } = workspace([good[0] ?? '', bad, good[1] ?? '', good[2] ?? '']);
    const summary = ok<IngestJson>(['ingest', file, '--db', db]);
    expect(summary).toMatchObject({ received: 4, accepted: 3, quarantined: 1 });
    const starts = ledgerCsv(db).rows.map((row) => row.interval_start_utc);
    expect(starts).toEqual([0, 1, 2].map(intervalStart));
  });

  it('reports a truncated JSON array with a note about the uncounted span', () => {
    const array = `[\n${good.join(',\n')}\n]\n`;
    const { db, file } = workspace([array.slice(0, -30)], 'upload.json');
    const summary = ok<IngestJson>(['ingest', file, '--db', db]);
    expect(summary).toMatchObject({ received: 3, accepted: 2, quarantined: 1, conserved: true });
    expect(summary.files[0]?.uncountedSpans).toBe(1);
    expect(summary.files[0]?.note).toMatch(/unparseable span/);
    expect(summary.files[0]?.note).toMatch(/counted once/);
  });

  it('exits 66 with INPUT_NOT_FOUND for a missing file, and creates no database', () => {
    const { dir, db } = workspace([]);
    const run = cli(['ingest', join(dir, 'missing.ndjson'), '--db', db, '--json']);
    expect(run.status).toBe(66);
    expect(parsed<{ error: string; message: string }>(run)).toMatchObject({
      error: 'INPUT_NOT_FOUND',
    });
    expect(existsSync(db)).toBe(false);
  });

  it('exits 74 with INPUT_UNREADABLE for a directory given as a file', () => {
    const { dir, db } = workspace([]);
    const run = cli(['ingest', dir, '--db', db, '--json']);
    expect(run.status).toBe(74);
    expect(parsed<{ error: string }>(run).error).toBe('INPUT_UNREADABLE');
    expect(existsSync(db)).toBe(false);
  });

  it('exits 65 with FORMAT_UNKNOWN for a file whose format cannot be detected', () => {
    const { dir, db } = workspace([]);
    const file = join(dir, 'feed.bin');
    writeFileSync(file, Buffer.from([0x00, 0x01, 0x02, 0xff, 0xfe, 0x7f, 0x80, 0x0a, 0x1b]));
    const run = cli(['ingest', file, '--db', db, '--json']);
    expect(run.status).toBe(65);
    expect(parsed<{ error: string }>(run).error).toBe('FORMAT_UNKNOWN');
  });
});

interface BadCase {
  name: string;
  line: string;
  code: string;
  field: string;
  value: string;
}

const METER = 'MTR-CLI00002';
const BAD_CASES: BadCase[] = [
  {
    name: '"12abc"',
    line: record(METER, 0, '"12abc"'),
    code: 'consumption.not_decimal',
    field: 'consumption_kwh',
    value: '12abc',
  },
  {
    name: 'an empty string',
    line: record(METER, 1, '""'),
    code: 'consumption.not_decimal',
    field: 'consumption_kwh',
    value: '',
  },
  {
    name: '"NaN"',
    line: record(METER, 2, '"NaN"'),
    code: 'consumption.not_finite',
    field: 'consumption_kwh',
    value: 'NaN',
  },
  {
    name: '"Infinity"',
    line: record(METER, 3, '"Infinity"'),
    code: 'consumption.not_finite',
    field: 'consumption_kwh',
    value: 'Infinity',
  },
  {
    name: '-0',
    line: record(METER, 5, '-0'),
    code: 'consumption.negative_zero',
    field: 'consumption_kwh',
    value: '-0',
  },
  {
    name: '0.0000001',
    line: record(METER, 6, '0.0000001'),
    code: 'consumption.precision',
    field: 'consumption_kwh',
    value: '1e-7',
  },
  {
    name: 'a timestamp without offset',
    line: record(METER, 7, '1', { timestamp_utc: JSON.stringify(intervalStart(7).slice(0, -1)) }),
    code: 'timestamp.no_offset',
    field: 'timestamp_utc',
    value: intervalStart(7).slice(0, -1),
  },
  {
    name: 'a meter id off the pattern',
    line: record('MTR-bad!', 8, '1'),
    code: 'meter_id.pattern',
    field: 'meter_id',
    value: 'MTR-bad!',
  },
  {
    name: 'status 256',
    line: record(METER, 9, '1', { status_code: '256' }),
    code: 'status_code.range',
    field: 'status_code',
    value: '256',
  },
  {
    name: 'seq -1',
    line: record(METER, 10, '1', { seq: '-1' }),
    code: 'seq.range',
    field: 'seq',
    value: '-1',
  },
  {
    name: 'a checksum mismatch',
    line: record(METER, 11, '1', { checksum_sha256: JSON.stringify('ab'.repeat(32)) }),
    code: 'checksum.mismatch',
    field: 'checksum_sha256',
    value: 'ab'.repeat(32),
  },
  {
    name: 'an unknown field',
    line: record(METER, 12, '1', { foo: '"bar"' }),
    code: 'field.unknown',
    field: 'foo',
    value: 'bar',
  },
];
/** 1e309 is written literally: JSON.parse reads it as Infinity. */
const HUGE_LINE = record(METER, 4, '1e309');
const TWO_FAULTS_LINE = record(METER, 13, '"abc"', { status_code: '300' });
const GOOD_LINE = record(METER, 14, '2.5');

describe('amisync ingest of typed formats', () => {
  const FIXTURES = join(ROOT, 'test', 'fixtures');

  it('reads a NEM12 file named .csv as NEM12, and keeps kVArh apart from kWh', () => {
    const { dir, db } = workspace([]);
    const file = join(dir, 'meters.csv');
    copyFileSync(
      join(FIXTURES, 'nem12', 'valid', 'nemreader-Example_NEM12_multiple_meters.csv'),
      file,
    );
    // The example's values repeat for hours, which flat_line rightly holds; this test is about the
    // format and the units, so its dictionary turns detection off.
    const dictionary = join(dir, 'no-detectors.json');
    writeFileSync(dictionary, JSON.stringify({ detectors: { enabled: false } }));
    const summary = ok<IngestJson & { files: { format: string }[] }>([
      'ingest',
      file,
      '--db',
      db,
      '--dictionary',
      dictionary,
    ]);
    expect(summary.files[0]?.format).toBe('nem12');
    expect(summary).toMatchObject({ received: 1152, accepted: 1152, quarantined: 0 });
    const status = ok<{ ledger: { energyKwh: string; byUnit: { unit: string; value: string }[] } }>(
      ['status', '--db', db],
    );
    expect(status.ledger.energyKwh).toBe('26.880000');
    expect(status.ledger.byUnit.map((t) => `${t.unit} ${t.value}`)).toEqual([
      'kVArh 19.200000',
      'kWh 26.880000',
    ]);
    // The kWh total sums the export channel B1 with E1 and E2; the split by channel shows it apart.
    const byChannel = ok<{
      ledger: { byChannel: { channel: string; unit: string; value: string; readings: number }[] };
    }>(['status', '--db', db]).ledger.byChannel;
    expect(byChannel.map((t) => `${t.channel} ${t.unit} ${t.value} ${t.readings}`)).toEqual([
      'K2 kVArh 9.600000 192',
      'Q1 kVArh 9.600000 192',
      'B1 kWh 5.760000 384',
      'E1 kWh 1.920000 192',
      'E2 kWh 19.200000 192',
    ]);
    expect(cli(['status', '--db', db]).stdout).toContain(
      'kWh by channel (the total sums every kWh channel, export ones included): ' +
        'B1 5.760000 (384 readings), E1 1.920000 (192 readings), E2 19.200000 (192 readings)',
    );
    const csv = cli(['ledger', 'export', '--db', db, '--format', 'csv']);
    const kvarh = csv.stdout.split('\n').find((line) => line.includes(',kVArh,'));
    // A kVArh reading leaves consumption_kwh empty and carries its value in its own unit.
    expect(kvarh).toMatch(
      /^NCDE001111,Q1,[^,]+,900,,actual,0,\d+,1,[0-9a-f]{64},electricity,kVArh,0\.050000,A$/,
    );
    expect(ok<VerifyJson>(['audit', 'verify', '--db', db]).ok).toBe(true);
  });

  it('needs a dialect for --format csv-dialect, and refuses a bad one before reading', () => {
    const { dir, db } = workspace([]);
    const file = join(dir, 'export.csv');
    copyFileSync(join(FIXTURES, 'csv-dialect', 'headerless-pipe-fixed-offset.csv'), file);
    const missing = cli(['ingest', file, '--format', 'csv-dialect', '--db', db, '--json']);
    expect(missing.status).toBe(64);
    const badDialect = join(dir, 'bad.json');
    writeFileSync(badDialect, '{"name": "x"}');
    const bad = cli([
      'ingest',
      file,
      '--format',
      'csv-dialect',
      '--dialect',
      badDialect,
      '--db',
      db,
    ]);
    expect(bad.status).toBe(78);
    expect(bad.stderr).toMatch(/CSV dialect/);
    const dialect = join(FIXTURES, 'csv-dialect', 'headerless-pipe-fixed-offset.dialect.json');
    const good = ok<IngestJson>([
      'ingest',
      file,
      '--format',
      'csv-dialect',
      '--dialect',
      dialect,
      '--db',
      db,
    ]);
    expect(good).toMatchObject({ received: 8, accepted: 8 });
  });

  it('tests a JSON dialect (YAML) on a saved API page, with --records-path for another shape', () => {
    const { dir, db } = workspace([]);
    const dialect = join(dir, 'vendor.yaml');
    writeFileSync(
      dialect,
      [
        'name: vendor-headend',
        'recordsPath: data.readings',
        'fields:',
        '  meterId: meterNumber',
        '  timestamp: intervalStart',
        '  value: value',
        '  unit: uom',
        '  quality: { field: qualityFlag, map: { A: actual, E: estimated } }',
        '  intervalSeconds: { constant: 900 }',
        '  sequence: sequence',
        'timeZone: null',
        'timestampMarks: start',
        '',
      ].join('\n'),
    );
    const reading = (slot: number, value: string) => ({
      meterNumber: 'MTR-00000001',
      intervalStart: intervalStart(slot),
      value,
      uom: 'Wh',
      qualityFlag: 'A',
      sequence: slot + 1,
    });
    const readings = [reading(0, '310.5'), reading(1, '12abc'), reading(2, '1')];
    const page = join(dir, 'page.json');
    writeFileSync(page, JSON.stringify({ data: { readings }, next: 'c2' }));
    const args = (file: string, ...more: string[]) => [
      'ingest',
      file,
      '--format',
      'json-dialect',
      '--db',
      db,
      ...more,
    ];
    expect(cli(args(page)).status).toBe(64);
    const badDialect = join(dir, 'bad.yaml');
    writeFileSync(badDialect, 'name: x\nfields: { meterId: "" }\n');
    const bad = cli(args(page, '--dialect', badDialect));
    expect(bad.status).toBe(78);
    expect(bad.stderr).toMatch(/JSON dialect/);
    expect(bad.stderr).toMatch(/fields\.meterId/);
    const good = ok<IngestJson>(args(page, '--dialect', dialect));
    expect(good).toMatchObject({ received: 3, accepted: 2, quarantined: 1 });
    const other = join(dir, 'other.json');
    writeFileSync(other, JSON.stringify({ items: [reading(3, '2')] }));
    const moved = ok<IngestJson>(args(other, '--dialect', dialect, '--records-path', 'items'));
    expect(moved).toMatchObject({ received: 1, accepted: 1 });
    const html = join(dir, 'error.html');
    writeFileSync(html, '<html><body>Bad Gateway</body></html>');
    const notJson = ok<IngestJson>(args(html, '--dialect', dialect));
    expect(notJson).toMatchObject({ received: 1, quarantined: 1, conserved: true });
  });
});

describe('amisync quarantine of bad values', () => {
  const lines = [...BAD_CASES.map((c) => c.line), HUGE_LINE, TWO_FAULTS_LINE, GOOD_LINE];
  let db = '';
  let items: QuarantineItem[] = [];

  beforeAll(() => {
    const space = workspace(lines);
    db = space.db;
    const summary = ok<IngestJson>(['ingest', space.file, '--db', db]);
    expect(summary).toMatchObject({ received: lines.length, accepted: 1 });
    expect(summary.quarantined).toBe(lines.length - 1);
    items = listQuarantine(db);
  });

  for (const [index, bad] of BAD_CASES.entries()) {
    it(`quarantines ${bad.name} as ${bad.code} with its field and value`, () => {
      const item = itemAtLine(items, index + 1);
      expect(item.status).toBe('open');
      expect(item.violations).toEqual([
        expect.objectContaining({ code: bad.code, field: bad.field, value: bad.value }),
      ]);
      expect(item.currentViolations).toEqual(item.violations);
    });
  }

  it('quarantines a literal 1e309 as parse.inexact_number', () => {
    const item = itemAtLine(items, BAD_CASES.length + 1);
    expect(item.violations).toEqual([
      expect.objectContaining({ code: 'parse.inexact_number', field: 'consumption_kwh' }),
    ]);
  });

  it('shows the value of a literal 1e309 as sent, not Infinity or null', () => {
    const item = itemAtLine(items, BAD_CASES.length + 1);
    expect(item.violations[0]?.value).toBe('1e309');
  });

  it('shows totals and conserved true in status --json', () => {
    const status = ok<{
      totals: Counts;
      conserved: boolean;
      ledger: { readings: number; energyKwh: string };
      quarantine: { open: number };
    }>(['status', '--db', db]);
    expect(status.conserved).toBe(true);
    expect(status.totals).toMatchObject({
      received: lines.length,
      accepted: 1,
      quarantined: lines.length - 1,
    });
    expect(conservationHolds(status.totals)).toBe(true);
    expect(status.ledger).toMatchObject({ readings: 1, energyKwh: '2.500000' });
    expect(status.quarantine.open).toBe(lines.length - 1);
  });

  it('shows the raw bytes (text and base64) and every reason in quarantine show', () => {
    const line = lines.indexOf(TWO_FAULTS_LINE) + 1;
    const item = itemAtLine(items, line);
    const shown = ok<ShowJson>(['quarantine', 'show', String(item.id), '--db', db]);
    expect(shown.raw.text).toBe(TWO_FAULTS_LINE);
    expect(shown.raw.base64).toBe(Buffer.from(TWO_FAULTS_LINE, 'utf8').toString('base64'));
    expect(shown.raw.bytes).toBe(Buffer.byteLength(TWO_FAULTS_LINE));
    const reasons = shown.violations.map((v) => [v.code, v.field, v.value]);
    expect(reasons).toEqual(
      expect.arrayContaining([
        ['consumption.not_decimal', 'consumption_kwh', 'abc'],
        ['status_code.range', 'status_code', '300'],
      ]),
    );
    expect(shown.violations).toHaveLength(2);
    for (const violation of shown.violations) expect(violation.message.length).toBeGreaterThan(0);
    expect(shown.actions).toEqual([]);
  });
});

describe('amisync quarantine replay', () => {
  const lines = [
    record('MTR-CLI00003', 0, '1500'),
    record('MTR-CLI00003', 1, '"12abc"'),
    record('MTR-CLI00003', 2, '1200'),
  ];
  let db = '';
  let dictionary = '';
  let ids: number[] = [];

  beforeAll(() => {
    const space = workspace(lines);
    db = space.db;
    dictionary = join(space.dir, 'dictionary.json');
    writeFileSync(dictionary, `${JSON.stringify({ consumptionKwhMax: 2000 })}\n`);
    ok<IngestJson>(['ingest', space.file, '--db', db]);
    const items = listQuarantine(db);
    ids = [1, 2, 3].map((line) => itemAtLine(items, line).id);
    expect(itemAtLine(items, 1).violations[0]?.code).toBe('consumption.range');
  });

  it('accepts a range reject once the dictionary allows it, and records every replay', () => {
    const [rangeId = 0, textId = 0, otherRangeId = 0] = ids;
    const replay = ok<ReplayJson>([
      'quarantine',
      'replay',
      String(rangeId),
      '--db',
      db,
      '--dictionary',
      dictionary,
    ]);
    expect(replay).toMatchObject({ tried: 1, replayed: 1, accepted: 1, stillQuarantined: 0 });
    expect(replay.outcomes[0]).toMatchObject({ quarantineId: rangeId, outcome: 'accepted' });
    const shown = ok<ShowJson>(['quarantine', 'show', String(rangeId), '--db', db]);
    expect(shown.status).toBe('replayed');
    expect(shown.actions).toEqual([expect.objectContaining({ action: 'replay', actor: ACTOR })]);
    expect(ledgerCsv(db).rows.map((row) => row.consumption_kwh)).toEqual(['1500.000000']);

    const still = ok<ReplayJson>([
      'quarantine',
      'replay',
      String(textId),
      '--db',
      db,
      '--dictionary',
      dictionary,
    ]);
    expect(still).toMatchObject({ tried: 1, replayed: 0, accepted: 0, stillQuarantined: 1 });
    const open = ok<ShowJson>(['quarantine', 'show', String(textId), '--db', db]);
    expect(open.status).toBe('open');
    expect(open.currentViolations.map((v) => v.code)).toEqual(['consumption.not_decimal']);
    expect(open.actions).toEqual([
      expect.objectContaining({ action: 'replay', outcome: 'open', actor: ACTOR }),
    ]);

    const replayAll = ['quarantine', 'replay', '--all', '--db', db, '--dictionary', dictionary];
    const all = ok<ReplayJson>(replayAll);
    expect(all).toMatchObject({ tried: 2, replayed: 1, accepted: 1, stillQuarantined: 1 });
    const byId = new Map(all.outcomes.map((o) => [o.quarantineId, o.outcome]));
    expect(byId.get(otherRangeId)).toBe('accepted');
    expect(byId.get(textId)).toBe('still-invalid');
    const kwh = ledgerCsv(db).rows.map((row) => row.consumption_kwh);
    expect(kwh).toEqual(['1500.000000', '1200.000000']);

    const entries = auditEntries(db);
    const replayOf = entries.filter((e) => e.kind === 'batch').map((e) => payloadOf(e).replayOf);
    expect(replayOf).toEqual(expect.arrayContaining([rangeId, otherRangeId]));
    const stillInvalid = entries.filter((e) => e.kind === 'quarantine.replay');
    expect(stillInvalid.map((e) => payloadOf(e).quarantine)).toEqual([textId, textId]);
    expect(ok<VerifyJson>(['audit', 'verify', '--db', db]).ok).toBe(true);
  });

  it('takes any positive --limit for replay --all, and refuses anything else', () => {
    const replayAll = ['quarantine', 'replay', '--all', '--db', db, '--dictionary', dictionary];
    expect(ok<ReplayJson>([...replayAll, '--limit', '5000']).replayed).toBeGreaterThanOrEqual(0);
    for (const limit of ['0', '-1', '1.5', 'many']) {
      const refused = cli([...replayAll, '--limit', limit, '--json']);
      expect(refused.status, limit).toBe(64);
      expect(parsed<{ error: string }>(refused).error).toBe('USAGE');
    }
  });

  it('records the dictionary a replay used in the audit chain', () => {
    const replayAll = ['quarantine', 'replay', '--all', '--db', db, '--dictionary', dictionary];
    const replay = ok<ReplayJson>(replayAll);
    expect(replay.replayed).toBeGreaterThanOrEqual(0);
    const configs = auditEntries(db)
      .filter((e) => e.kind === 'config')
      .map((e) => payloadOf(e).dictionary as { consumptionKwhMax: number });
    expect(configs.map((c) => c.consumptionKwhMax)).toContain(2000);
  });
});

describe('amisync quarantine accept and reject', () => {
  const lines = [
    record('MTR-CLI00004', 0, '1.25'),
    record('MTR-CLI00004', 0, '1.75'),
    record('MTR-CLI00004', 1, '"12abc"'),
  ];

  it('needs a justification, moves items once, and audits every action', () => {
    const space = workspace(lines);
    const db = space.db;
    const summary = ok<IngestJson>(['ingest', space.file, '--db', db]);
    expect(summary).toMatchObject({ accepted: 1, quarantined: 2, conflicts: 1 });
    const items = listQuarantine(db);
    const conflictId = itemAtLine(items, 2).id;
    const invalidId = itemAtLine(items, 3).id;
    expect(itemAtLine(items, 2).violations[0]?.code).toBe('identity.conflict');

    const bare = cli(['quarantine', 'accept', String(conflictId), '--db', db, '--json']);
    expect(bare.status).toBe(64);
    expect(parsed<{ error: string }>(bare).error).toBe('USAGE');

    const why = 'vendor confirmed the corrected reading';
    ok(['quarantine', 'accept', String(conflictId), '--db', db, '--justification', why]);
    const ledger = ledgerCsv(db).rows;
    expect(ledger).toHaveLength(1);
    expect(ledger[0]).toMatchObject({ consumption_kwh: '1.750000', version: '2' });

    const closing = 'meter was decommissioned';
    ok(['quarantine', 'reject', String(invalidId), '--db', db, '--justification', closing]);

    for (const [decision, id] of [
      ['reject', invalidId],
      ['accept', invalidId],
      ['accept', conflictId],
      ['reject', conflictId],
    ] as const) {
      const again = cli([
        'quarantine',
        decision,
        String(id),
        '--db',
        db,
        '--justification',
        'acting on a closed item',
        '--json',
      ]);
      expect(again.status, `${decision} ${id}`).toBe(4);
      expect(parsed<{ error: string }>(again).error).toBe('INVALID_STATE');
    }

    const accepted = ok<ShowJson>(['quarantine', 'show', String(conflictId), '--db', db]);
    expect(accepted.status).toBe('accepted');
    expect(accepted.actions).toEqual([
      expect.objectContaining({
        action: 'accept',
        outcome: 'accepted',
        actor: ACTOR,
        justification: why,
      }),
    ]);
    const rejected = ok<ShowJson>(['quarantine', 'show', String(invalidId), '--db', db]);
    expect(rejected.status).toBe('rejected');
    expect(rejected.actions).toEqual([
      expect.objectContaining({
        action: 'reject',
        outcome: 'rejected',
        actor: ACTOR,
        justification: closing,
      }),
    ]);

    const entries = auditEntries(db);
    const override = entries.find(
      (e) => e.kind === 'batch' && payloadOf(e).overrideOf === conflictId,
    );
    expect(override && payloadOf(override)).toMatchObject({ actor: ACTOR, justification: why });
    const reject = entries.find((e) => e.kind === 'quarantine.reject');
    expect(reject && payloadOf(reject)).toMatchObject({
      quarantine: invalidId,
      actor: ACTOR,
      justification: closing,
    });
    expect(ok<VerifyJson>(['audit', 'verify', '--db', db]).ok).toBe(true);
  });
});

describe('amisync ledger export', () => {
  it('writes one CSV row per current reading with exact six-decimal kWh', () => {
    const meter = 'MTR-CLI00005';
    const { db, file } = workspace([
      record(meter, 0, '0.1'),
      record(meter, 1, '123.456789'),
      record(meter, 2, '0.5', { status_code: '1', seq: '3' }),
      record(meter, 3, '7'),
      record(meter, 2, '0.75', { status_code: '0', seq: '5' }),
      record(meter, 4, '"0.000001"'),
    ]);
    const summary = ok<IngestJson>(['ingest', file, '--db', db]);
    expect(summary).toMatchObject({ received: 6, accepted: 6 });
    const { header, rows } = ledgerCsv(db);
    expect(header).toEqual(
      expect.arrayContaining([
        'meter_id',
        'channel',
        'interval_start_utc',
        'interval_seconds',
        'consumption_kwh',
        'quality',
        'idempotency_key',
      ]),
    );
    expect(rows.map((row) => [row.interval_start_utc, row.consumption_kwh, row.quality])).toEqual([
      [intervalStart(0), '0.100000', 'actual'],
      [intervalStart(1), '123.456789', 'actual'],
      [intervalStart(2), '0.750000', 'actual'],
      [intervalStart(3), '7.000000', 'actual'],
      [intervalStart(4), '0.000001', 'actual'],
    ]);
    for (const row of rows) {
      expect(row).toMatchObject({ meter_id: meter, channel: '1', interval_seconds: '900' });
      expect(row.idempotency_key).toMatch(/^[0-9a-f]{64}$/);
    }
    const status = ok<{ ledger: { readings: number; energyKwh: string } }>(['status', '--db', db]);
    expect(status.ledger).toEqual(
      expect.objectContaining({ readings: rows.length, energyKwh: '131.306790' }),
    );
  });
});

describe('amisync audit', () => {
  const meter = 'MTR-CLI00006';
  let db = '';
  let dir = '';

  beforeAll(() => {
    const space = workspace([0, 1, 2, 3].map((slot) => record(meter, slot, '0.25')));
    db = space.db;
    dir = space.dir;
    ok<IngestJson>(['ingest', space.file, '--db', db]);
  });

  it('verifies a fresh ledger, proves a reading, and refuses an unknown key', () => {
    const verify = cli(['audit', 'verify', '--db', db, '--json']);
    expect(verify.status).toBe(0);
    expect(parsed<VerifyJson>(verify)).toMatchObject({ ok: true, firstProblem: null });
    const key = ledgerCsv(db).rows[1]?.idempotency_key ?? '';
    const proof = ok<{ verified: boolean; proofs: { checks: Record<string, boolean> }[] }>([
      'audit',
      'prove',
      key,
      '--db',
      db,
    ]);
    expect(proof.verified).toBe(true);
    expect(Object.values(proof.proofs[0]?.checks ?? {})).not.toContain(false);
    const unknown = cli(['audit', 'prove', 'f'.repeat(64), '--db', db, '--json']);
    expect(unknown.status).toBe(3);
    expect(parsed<{ error: string }>(unknown).error).toBe('NOT_FOUND');
  });

  it('exports the chain, checkpoints, public key and manifest for an auditor', () => {
    const out = join(dir, 'audit-export');
    const run = cli(['audit', 'export', '--db', db, '--out', out, '--json']);
    expect(run.status, run.stderr).toBe(0);
    const files = ['audit-log.ndjson', 'checkpoints.json', 'public-key.pem', 'manifest.json'];
    for (const name of files) {
      expect(existsSync(join(out, name)), name).toBe(true);
    }
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as {
      entries: number;
      checkpoints: number;
      files: string[];
    };
    expect(manifest.entries).toBeGreaterThan(0);
    expect(manifest.checkpoints).toBeGreaterThan(0);
    expect(manifest.files).toEqual(
      expect.arrayContaining(['audit-log.ndjson', 'checkpoints.json', 'public-key.pem']),
    );
    expect(readFileSync(join(out, 'public-key.pem'), 'utf8')).toMatch(/BEGIN PUBLIC KEY/);
    // An auditor verifies with the exported public key alone; a file that is no key is refused.
    const verify = ok<{ checkpoints: number; checkpointsVerified: number }>([
      ...['audit', 'verify', '--db', db, '--public-key', join(out, 'public-key.pem')],
    ]);
    expect(verify.checkpointsVerified).toBe(manifest.checkpoints);
    const notKey = cli(['audit', 'verify', '--db', db, '--public-key', join(out, 'manifest.json')]);
    expect(notKey.status).toBe(11);
  });

  it('exits 10 and names the entry after a ledger row is tampered in the file', () => {
    const reader = new Database(db, { readonly: true });
    const target = reader
      .prepare(
        `SELECT l.id AS id, b.audit_seq AS seq FROM ledger l JOIN batches b ON b.id = l.batch_id
         ORDER BY l.id LIMIT 1 OFFSET 2`,
      )
      .get() as { id: number; seq: number };
    reader.close();
    const copy = join(dir, 'tampered.db');
    copyFileSync(db, copy);
    copyFileSync(`${db}.signing-key.pem`, `${copy}.signing-key.pem`);
    tamperFile(copy, (attacked) => {
      attacked.prepare('UPDATE ledger SET value_micro = 1 WHERE id = ?').run(target.id);
    });
    const run = cli(['audit', 'verify', '--db', copy, '--json']);
    expect(run.status).toBe(10);
    const report = parsed<VerifyJson>(run);
    expect(report.ok).toBe(false);
    expect(report.firstProblem?.auditSeq).toBe(target.seq);
    const text = cli(['audit', 'verify', '--db', copy]);
    expect(text.status).toBe(10);
    expect(text.stdout).toContain(`FAILED at entry ${target.seq}`);
  });
});

describe('amisync demo', () => {
  it('runs end to end, exits 0 and prints verified', () => {
    const dir = tempDir('amisync-cli-demo-');
    const run = cli(['demo', '--dir', dir, '--meters', '40', '--days', '2']);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/audit verify: verified/);
    expect(run.stdout).toMatch(/conservation: holds/);
    expect(run.stdout).toMatch(/audit prove [0-9a-f]+\.\.\.: verified/);
    expect(run.stdout).toMatch(/independent oracle: .* -> equal/);
    expect(run.stdout).toMatch(/kVArh; oracle [0-9.]+ kVArh -> equal/);
    expect(run.stdout).toMatch(/distributor-NEM12\.csv +\d+/);
  });
});

function sha256Hex(bytes: string | Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Any control character a terminal acts on, or a bidi override, other than the line breaks. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u;

describe('amisync quarantine show of a record larger than RECORD_BYTES_MAX', () => {
  const SIZE_BYTES = 5 * 1024 * 1024;
  const pad = 'x'.repeat(SIZE_BYTES);
  const big = record('MTR-CLI00009', 1, '1.5', { pad: JSON.stringify(pad) });
  const space = workspace([record('MTR-CLI00009', 0, '1.25'), big]);
  let id = 0;

  beforeAll(() => {
    const summary = ok<IngestJson>(['ingest', space.file, '--db', space.db]);
    expect(summary).toMatchObject({ accepted: 1, quarantined: 1 });
    id = itemAtLine(listQuarantine(space.db), 2).id;
  });

  it('prints a bounded preview with the full size and sha256, in text and --json', () => {
    const shown = cli(['quarantine', 'show', String(id), '--db', space.db, '--json']);
    expect(shown.status, shown.stderr).toBe(0);
    expect(shown.stdout.length).toBeLessThan(64 * 1024);
    const json = parsed<ShowJson>(shown);
    expect(json.violations[0]?.code).toBe('parse.record_too_large');
    expect(json.violations[0]?.message).toMatch(/not parsed.*kept in the raw store/);
    expect(json.raw).toMatchObject({
      bytes: Buffer.byteLength(big),
      sha256: sha256Hex(big),
      previewBytes: 4096,
      truncated: true,
    });
    expect(json.raw.text).toBe(big.slice(0, 4096));

    const text = cli(['quarantine', 'show', String(id), '--db', space.db]);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout.length).toBeLessThan(16 * 1024);
    expect(text.stdout).toContain(`raw: ${Buffer.byteLength(big)} bytes, sha256 ${sha256Hex(big)}`);
    expect(text.stdout).toContain('first 4096 bytes (--raw-out FILE writes them all)');
  });

  it('writes exactly the record bytes with --raw-out, across raw chunks', () => {
    const out = join(space.dir, 'record.raw');
    const run = cli(['quarantine', 'show', String(id), '--db', space.db, '--raw-out', out]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout.length).toBeLessThan(16 * 1024);
    const written = readFileSync(out);
    expect(written.byteLength).toBe(Buffer.byteLength(big));
    expect(sha256Hex(written)).toBe(sha256Hex(big));
  });
});

describe('amisync text output of vendor text with control characters', () => {
  // A valid record whose meter id holds an OSC title sequence, CR LF, a bell and a bidi override,
  // and a line that is not JSON holding raw ESC, CR and NUL bytes; the file name holds ESC too.
  const hostile = 'MTR-\u001b]0;owned\u0007\r\nX\u202eY\u0085';
  const rawLine = '{"meter_id":"\u001b[2J\r\u0000","timestamp_utc":';
  const space = workspace([record(hostile, 0, '1.25'), rawLine], 'feed-\u001b[31m.ndjson');
  let ids: number[] = [];

  beforeAll(() => {
    ok<IngestJson>(['ingest', space.file, '--db', space.db]);
    ids = listQuarantine(space.db).map((item) => item.id);
    expect(ids).toHaveLength(2);
  });

  it('escapes them in quarantine list, one table line per row', () => {
    const run = cli(['quarantine', 'list', '--db', space.db]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).not.toMatch(RAW_CONTROL);
    expect(run.stdout.trimEnd().split('\n')).toHaveLength(1 + ids.length);
    expect(run.stdout).toContain('MTR-\\x1b]0;owned\\x07\\r\\nX\\u202eY\\x85');
  });

  it('escapes them in quarantine show: reasons, raw preview and delivery name', () => {
    for (const id of ids) {
      const run = cli(['quarantine', 'show', String(id), '--db', space.db]);
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout).not.toMatch(RAW_CONTROL);
      expect(run.stdout).toContain('feed-\\x1b[31m.ndjson');
    }
    const raw = cli(['quarantine', 'show', String(ids[1]), '--db', space.db]);
    expect(raw.stdout).toContain('raw: {"meter_id":"\\x1b[2J\\r\\x00","timestamp_utc":');
    const json = ok<ShowJson>(['quarantine', 'show', String(ids[1]), '--db', space.db]);
    expect(json.raw.text).toBe(rawLine);
  });
});

describe('amisync usage errors, closed output and store URLs', () => {
  const space = workspace([record('MTR-CLI00010', 0, '1.25')]);

  it('shows an example of --raw-out in quarantine show --help', () => {
    const run = cli(['quarantine', 'show', '--help']);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('amisync quarantine show 12 --raw-out record.bin');
  });

  it('exits 64 with USAGE, JSON on stdout under --json, for every commander error', () => {
    for (const args of [
      ['no-such-command'],
      ['status', '--no-such-option'],
      ['quarantine', 'show'],
      ['quarantine'],
      ['ingest', space.file, '--format', 'no-such-format'],
      ['ledger', 'export', '--format', 'xml'],
      ['audit', 'export', '--db', space.db],
    ]) {
      const run = cli([...args, '--json']);
      expect(run.status, args.join(' ')).toBe(64);
      const error = parsed<{ error: string; message: string }>(run);
      expect(error.error, args.join(' ')).toBe('USAGE');
      expect(run.stderr, args.join(' ')).toMatch(/^amisync: USAGE: /);
      const text = cli(args);
      expect(text.status, args.join(' ')).toBe(64);
      expect(text.stdout, args.join(' ')).toBe('');
    }
    expect(cli(['--help']).status).toBe(0);
    expect(cli(['--version']).status).toBe(0);
  });

  it('ends quietly with exit 0 when the reader of stdout goes away', () => {
    const demo = tempDir('amisync-cli-epipe-');
    const built = cli(['demo', '--dir', demo, '--meters', '5', '--days', '1']);
    expect(built.status, built.stderr).toBe(0);
    const db = join(demo, 'demo.db');
    for (const args of [
      ['ledger', 'export', '--db', db, '--format', 'csv'],
      ['quarantine', 'list', '--db', db, '--json', '--limit', '1000'],
      ['quarantine', 'list', '--db', db, '--limit', '1000'],
    ]) {
      // The output is far larger than a pipe's buffer, so the CLI writes after head has gone.
      const run = spawnSync(
        'bash',
        [
          '-c',
          '"$@" | head -1 > /dev/null; exit "${PIPESTATUS[0]}"',
          'bash',
          process.execPath,
          MAIN,
          ...args,
        ],
        { encoding: 'utf8' },
      );
      expect(run.stderr, args.join(' ')).toBe('');
      expect(run.status, args.join(' ')).toBe(0);
    }
  });

  it('refuses a --db URL of an engine it lacks, with USAGE, and creates nothing', () => {
    const dir = tempDir('amisync-cli-url-');
    for (const args of [
      ['status', '--db', 'mysql://user:hunter2@host/ledger'],
      ['ingest', space.file, '--db', 'mysql://user:hunter2@host/ledger'],
      ['quarantine', 'list', '--db', 'sqlite://amisync.db'],
    ]) {
      const run = cli([...args, '--json'], dir);
      expect(run.status, args.join(' ')).toBe(64);
      const error = parsed<{ error: string; message: string }>(run);
      expect(error.error).toBe('USAGE');
      expect(error.message).toMatch(/no store engine for (mysql|sqlite)/);
      expect(run.stderr).not.toContain('hunter2');
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it('asks for --signing-key with a postgres:// --db before connecting, creating nothing', () => {
    const dir = tempDir('amisync-cli-url-');
    // Port 9 (discard) has no server: the check must come before any connection is tried.
    const url = 'postgres://user:hunter2@127.0.0.1:9/ledger';
    const run = cli(['ingest', space.file, '--db', url, '--json'], dir);
    expect(run.status).toBe(64);
    const error = parsed<{ error: string; message: string }>(run);
    expect(error.error).toBe('USAGE');
    expect(error.message).toContain('pass --signing-key PATH or set AMISYNC_SIGNING_KEY');
    expect(run.stdout + run.stderr).not.toContain('hunter2');
    expect(error.message).toContain('postgres://user:***@127.0.0.1:9/ledger');
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('amisync quarantine paging, replay words and accepting a held reading', () => {
  const meter = 'MTR-CLI00011';

  it('says there is more, and how to get it, when a page of quarantine list is full', () => {
    const space = workspace([1, 2, 3].map((slot) => record(meter, slot, '"12abc"')));
    ok<IngestJson>(['ingest', space.file, '--db', space.db]);
    const [first, second, third] = listQuarantine(space.db).map((item) => item.id);
    const page = cli(['quarantine', 'list', '--db', space.db, '--limit', '2']);
    expect(page.stdout.trimEnd().split('\n').at(-1)).toBe(`more: --after ${second}`);
    const last = cli([
      'quarantine',
      'list',
      '--db',
      space.db,
      '--limit',
      '2',
      '--after',
      `${second}`,
    ]);
    expect(last.stdout).toContain(`${third}  `);
    expect(last.stdout).not.toContain('more:');
    const json = ok<{ nextAfter: number | null }>([
      'quarantine',
      'list',
      '--db',
      space.db,
      '--limit',
      '2',
    ]);
    expect(json.nextAfter).toBe(second);
    const all = ok<{ nextAfter: number | null }>(['quarantine', 'list', '--db', space.db]);
    expect(all.nextAfter).toBeNull();
    expect(first).toBeLessThan(second ?? 0);
  });

  it('counts as replayed in replay --all exactly what status counts as replayed', () => {
    const space = workspace([
      record(meter, 0, '1500'),
      record(meter, 1, '1600'),
      record(meter, 2, '"12abc"'),
    ]);
    const dictionary = join(space.dir, 'dictionary.json');
    writeFileSync(dictionary, `${JSON.stringify({ consumptionKwhMax: 2000 })}\n`);
    ok<IngestJson>(['ingest', space.file, '--db', space.db]);
    const args = ['quarantine', 'replay', '--all', '--db', space.db, '--dictionary', dictionary];
    const run = cli(args);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^tried 3 open items: 2 replayed \(2 accepted into the ledger/);
    expect(run.stdout).toMatch(/, 1 still open\n$/);
    const status = cli(['status', '--db', space.db]);
    expect(status.stdout).toContain('quarantine: 1 open, 2 replayed,');
    const json = ok<{ quarantine: { replayed: number } }>(['status', '--db', space.db]);
    expect(json.quarantine.replayed).toBe(2);
  });

  it('says so when an accepted item is a reading the ledger already holds', () => {
    const good = record(meter, 5, '1.5');
    const withUnknownField = record(meter, 5, '1.5', { foo: '"bar"' });
    const space = workspace([good, withUnknownField]);
    ok<IngestJson>(['ingest', space.file, '--db', space.db]);
    const id = itemAtLine(listQuarantine(space.db), 2).id;
    const why = 'the vendor adds a harmless field';
    const run = cli(['quarantine', 'accept', String(id), '--db', space.db, '--justification', why]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/the ledger already held this reading .*nothing was added/);
    expect(run.stdout).not.toContain('accepted into the ledger');
    expect(ledgerCsv(space.db).rows).toHaveLength(1);
  });
});
