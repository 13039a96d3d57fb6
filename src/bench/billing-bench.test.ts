// Goal: the billing benchmark keeps working as bill run changes. Method: it runs from the build on
// 20 service points; no figure is judged, only that it states the ledger and bills every one
// with one thread and with every core (it fails itself when their totals differ).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../../dist/bench/billing-bench.js', import.meta.url));

describe('the billing benchmark', () => {
  it('states the ledger generated and the invoices per second of each run', () => {
    const result = spawnSync(process.execPath, [SCRIPT], {
      encoding: 'utf8',
      env: { ...process.env, AMISYNC_BENCH_SERVICE_POINTS: '20' },
    });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/20 service points, 1440-minute readings, 620 ledger rows/);
    expect(result.stdout).toMatch(/--threads 1: 20 invoices \(0 held\) .* invoices\/s/);
  });
});
