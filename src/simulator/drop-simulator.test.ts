// Goal: what the drop simulator writes, read by a drop source, ends in the ledger exactly as its
// truth says, with every drop fault on (repeated files, torn files, files still being written).
// Method: plan and write the files into a real folder, drain it with the directory source through
// runSource into a real SQLite store, and compare streams and conservation counts with the truth.
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CountingRandom, ManualClock } from '../core/clock.js';
import { DEFAULT_DICTIONARY } from '../dictionary/dictionary.js';
import { runSource } from '../pipeline/run-source.js';
import { directorySourceKind } from '../sources/directory/directory-source.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import { testSourceContext } from '../test-support/source-context.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';
import { ledgerStreams } from '../test-support/truth-check.js';
import { planDrop, type DropFormat } from './drop-plan.js';
import { localDropTarget, writeDrop, type DropCompletion } from './drop-writer.js';

const START_MS = Date.UTC(2026, 0, 5);

afterAll(removeTempDirs);

function plan(format: DropFormat, seed: number) {
  return planDrop({
    seed,
    meters: 7,
    days: 2,
    startMs: START_MS,
    format,
    files: 12,
    retransmitRate: 0.3,
    badRate: 0.03,
    truncateRate: 0.3,
    partialRate: 0.3,
    firstMtimeMs: Date.UTC(2026, 0, 8),
  });
}

describe('drop simulator', () => {
  it('plans repeated, torn and partial files from a seed, the same each time', () => {
    const first = plan('ndjson', 4);
    const names = first.files.map((file) => file.name);
    expect(names.some((name) => name.endsWith('-copy.ndjson'))).toBe(true);
    expect(names.some((name) => name.endsWith('-resent.ndjson'))).toBe(true);
    expect(first.files.some((file) => file.partial)).toBe(true);
    expect(plan('ndjson', 4)).toEqual(first);
    const mtimes = first.files.map((file) => file.mtimeMs);
    expect(mtimes).toEqual([...mtimes].sort((a, b) => a - b));
  });

  it.each([
    { format: 'ndjson' as const, completion: 'rename' as const },
    { format: 'csv' as const, completion: 'marker' as const },
    { format: 'ndjson' as const, completion: 'stable' as const },
  ])(
    'a $format drop read in $completion mode ends equal to its truth',
    async ({ format, completion }: { format: DropFormat; completion: DropCompletion }) => {
      const root = tempDir('amisync-drop-sim-');
      const inbox = join(root, 'inbox');
      mkdirSync(inbox);
      const { files, truth } = plan(format, 11);
      expect(files.filter((file) => /-(resent|copy)\./.test(file.name)).length).toBeGreaterThan(2);
      const clock = new ManualClock(Date.UTC(2026, 0, 10));
      await writeDrop(localDropTarget(inbox), files, {
        completion,
        temporarySuffix: '.part',
        markerSuffix: '.done',
        paceMs: 0,
        clock,
      });
      const store = openSqliteStore(join(root, 'store.db'), { nowMs: () => clock.nowMs() });
      const config = directorySourceKind.schema.parse({
        kind: 'directory',
        id: 'sim',
        path: inbox,
        completion,
        pollIntervalMs: 1000,
      });
      const source = directorySourceKind.create(config, testSourceContext(store, { clock }));
      const options = {
        store,
        dictionary: DEFAULT_DICTIONARY,
        clock,
        random: new CountingRandom(),
      };
      const draining = runSource(source, options);
      if (completion === 'stable') {
        // The first poll lists the folder for real, then sleeps on the manual clock.
        for (let turn = 0; turn < 2_000 && clock.pendingSleeps === 0; turn++) {
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        await clock.advance(1000);
      }
      const reports = await draining;
      expect(reports).toHaveLength(files.length);
      expect(readdirSync(inbox)).toEqual(['archive']);
      expect(await ledgerStreams(store)).toEqual(truth.streams);
      const { totals } = await store.status();
      expect(totals.received).toBe(truth.received);
      expect(totals.duplicates).toBe(truth.duplicates);
      expect(totals.accepted).toBe(truth.valid);
      expect(totals.quarantined).toBe(truth.invalid + truth.conflicts);
      expect(totals.received).toBe(
        totals.accepted +
          totals.duplicates +
          totals.quarantined +
          totals.anomalyHeld +
          totals.deadLettered,
      );
      await store.close();
    },
  );
});
