// Goal: `amisync bill prove INVOICE --out DIR` writes a bundle that the independent checker
// (scripts/check-bill-proof.mjs, node:crypto only) accepts for every invoice of a billed month,
// and that the checker rejects when one reading's value, the tariff or the signature is altered.
// Method: a month billed by the built CLI (billing-fixture: tiered, flat-demand and TOU-demand
// tariffs in New York), each bundle checked in a child process, then copies of one bundle tampered
// with one field each and checked again, naming the check that must fail.
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBillingFixture, type BillingFixture } from '../../test-support/billing-fixture.js';
import { removeTempDirs } from '../../test-support/temp.js';

const CHECKER = fileURLToPath(new URL('../../../scripts/check-bill-proof.mjs', import.meta.url));

afterAll(removeTempDirs);

let fixture: BillingFixture;

beforeAll(() => {
  fixture = buildBillingFixture();
}, 120_000);

interface Report {
  ok: boolean;
  checks: { name: string; ok: boolean; detail: string }[];
}

function checkBundle(dir: string): { status: number | null; report: Report } {
  const run = spawnSync(process.execPath, [CHECKER, dir, '--json'], { encoding: 'utf8' });
  expect(run.stderr).toBe('');
  return { status: run.status, report: JSON.parse(run.stdout) as Report };
}

function failed(report: Report): string[] {
  return report.checks.filter((c) => !c.ok).map((c) => c.name);
}

interface Bundle {
  invoice: { invoiceId: number; totalCents: number };
  readings: { lines: string[]; count: number };
  batches: { leaves: { leafData: string }[] }[];
  servicePoints: { tariffFile: string }[];
  checkpoint: { signature: string };
}

function prove(invoiceId: number): string {
  const out = join(fixture.folder, `proof-${invoiceId}`);
  const run = fixture.cli('bill', 'prove', String(invoiceId), '--out', out, '--json');
  expect(run.status, run.stderr).toBe(0);
  return out;
}

function tampered(source: string, name: string, edit: (dir: string, bundle: Bundle) => void) {
  const dir = join(fixture.folder, `tampered-${name}`);
  cpSync(source, dir, { recursive: true });
  const bundle = JSON.parse(readFileSync(join(dir, 'bundle.json'), 'utf8')) as Bundle;
  edit(dir, bundle);
  writeFileSync(join(dir, 'bundle.json'), JSON.stringify(bundle));
  return checkBundle(dir);
}

/** The line with its valueMicro field (the 8th) raised by one milliwatt-hour. */
function raised(line: string): string {
  const parts = line.split('|');
  parts[7] = String(Number(parts[7]) + 1000);
  return parts.join('|');
}

describe('amisync bill prove and the independent checker', () => {
  it('proves every invoice of the month, and the checker recomputes each total', () => {
    expect(fixture.invoices).toHaveLength(3);
    for (const invoice of fixture.invoices) {
      const dir = prove(invoice.invoiceId);
      const { status, report } = checkBundle(dir);
      expect(failed(report)).toEqual([]);
      expect(status).toBe(0);
      const bundle = JSON.parse(readFileSync(join(dir, 'bundle.json'), 'utf8')) as Bundle;
      expect(bundle.invoice.totalCents).toBe(invoice.totalCents);
      // A month of 15-minute readings of one meter, each proven.
      expect(bundle.readings.count).toBe(31 * 96);
      expect(readdirSync(join(dir, 'raw')).length).toBeGreaterThan(0);
    }
  });

  it('fails when one reading value is altered, in the list or in its leaf as well', () => {
    const source = prove(fixture.invoices[0]!.invoiceId);
    const listOnly = tampered(source, 'reading-list', (_dir, bundle) => {
      bundle.readings.lines[5] = raised(bundle.readings.lines[5]!);
    });
    expect(listOnly.status).toBe(1);
    expect(failed(listOnly.report)).toContain('every reading is a proven line of the audit log');
    const both = tampered(source, 'reading-leaf', (_dir, bundle) => {
      const original = bundle.readings.lines[5]!;
      bundle.readings.lines[5] = raised(original);
      for (const batch of bundle.batches) {
        for (const leaf of batch.leaves) {
          leaf.leafData = leaf.leafData.replace(original, raised(original));
        }
      }
    });
    expect(both.status).toBe(1);
    expect(failed(both.report)).toContain('every leaf leads to its batch ledger root');
    expect(failed(both.report)).toContain('determinants recompute from the readings');
  });

  it('fails when the tariff is altered', () => {
    const source = prove(fixture.invoices[1]!.invoiceId);
    const result = tampered(source, 'tariff', (dir, bundle) => {
      const file = join(dir, bundle.servicePoints[0]!.tariffFile);
      writeFileSync(file, readFileSync(file, 'utf8').replace(/"rate":0\.1/, '"rate":0.2'));
    });
    expect(result.status).toBe(1);
    expect(failed(result.report).some((name) => name.startsWith('tariff of'))).toBe(true);
  });

  it('fails when the checkpoint signature is altered', () => {
    const source = prove(fixture.invoices[2]!.invoiceId);
    const result = tampered(source, 'signature', (_dir, bundle) => {
      const bytes = Buffer.from(bundle.checkpoint.signature, 'base64');
      bytes[10] = (bytes[10] ?? 0) ^ 0x01;
      bundle.checkpoint.signature = bytes.toString('base64');
    });
    expect(result.status).toBe(1);
    expect(failed(result.report)).toEqual(['checkpoint signature']);
  });

  it('fails when the invoice total is altered', () => {
    const source = prove(fixture.invoices[2]!.invoiceId);
    const result = tampered(source, 'total', (_dir, bundle) => {
      bundle.invoice.totalCents += 1;
    });
    expect(result.status).toBe(1);
    expect(failed(result.report)).toContain('the invoice audit entry names this invoice');
  });
});
