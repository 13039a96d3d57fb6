// Goal: the ingest text report says when a delivery held no records, and why.
// Method: real deliveries through the real pipeline and store, then the report's lines.
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { InputFormat } from '../../core/parser.js';
import { addCounts, emptyCounts, isConserved } from '../../pipeline/commit.js';
import { openHarness, type Harness } from '../../test-support/ingest-harness.js';
import { removeTempDirs } from '../../test-support/temp.js';
import { ingestLines, type IngestSummary } from './ingest.js';

let harness: Harness;
beforeEach(() => {
  harness = openHarness();
});
afterEach(async () => {
  await harness.close();
});
afterAll(() => removeTempDirs());

async function summaryOf(...deliveries: [string, InputFormat, string][]): Promise<IngestSummary> {
  const summary: IngestSummary = { ...emptyCounts(), conserved: true, files: [], checkpoint: null };
  for (const [file, format, text] of deliveries) {
    const report = await harness.ingest(text, { format, name: file });
    addCounts(summary, report.counts);
    summary.files.push({ ...report, file: `/in/${file}`, note: null });
  }
  summary.conserved = isConserved(summary);
  return summary;
}

describe('ingest report of empty deliveries', () => {
  it('says a blank delivery is empty and quarantined, and a record-less one is empty', async () => {
    const summary = await summaryOf(
      ['blank.ndjson', 'ndjson', ' \n\n'],
      ['none.json', 'json', '[]'],
      ['some.ndjson', 'ndjson', '{"a":1}\n'],
    );
    expect(summary.files.map((file) => file.empty)).toEqual([true, true, false]);
    const lines = ingestLines(summary).filter((line) => line.startsWith('empty delivery'));
    expect(lines).toEqual([
      'empty delivery (blank.ndjson): no records; its 3 bytes are nothing but whitespace, ' +
        'quarantined as one span (parse.empty)',
      'empty delivery (none.json): no records; a well-formed json delivery with none in it',
    ]);
    expect(ingestLines(summary).at(-1)).toMatch(/holds$/);
  });
});
