// Goal: a SIGKILL at any moment of `amisync run --once` on a drop folder loses and doubles nothing,
// and no file is ever archived before its delivery committed (ARCH 2.1-2.3).
// Method: the drop simulator fills a folder with every fault on; the built CLI runs it and is
// killed at seeded random moments; after each kill every archived file must be a completed
// delivery; a last run finishes, and the ledger must equal the simulator's truth, balanced.
// AMISYNC_CRASH_KILLS=N kills N times instead of KILLS (the drop grows with it).
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/clock.js';
import { planDrop } from '../../simulator/drop-plan.js';
import { localDropTarget, writeDrop } from '../../simulator/drop-writer.js';
import { Mulberry32 } from '../../simulator/feed-generator.js';
import { openSqliteStore } from '../../store/sqlite/sqlite-store.js';
import {
  archivedButNotCommitted,
  archivedCount,
  CLI_MAIN,
  crashKills,
  runOnce,
  type Exit,
} from '../../test-support/crash-runs.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';
import { ledgerStreams } from '../../test-support/truth-check.js';

const KILLS = crashKills(6);
const KILL_SEED = 0x64726f70;
/** A kill comes once 1..this many more files are archived, then 0..KILL_DELAY_MS_MAX later. */
const KILL_AFTER_FILES_MAX = 4;
const KILL_DELAY_MS_MAX = 40;
/** The test's time grows with the kills. */
const TEST_MS_MAX = 120_000 + KILLS * 6_000;
/** Files the feed is cut into per kill (faults add more): every kill lands before the end. */
const FILES_PER_KILL = 7;

afterAll(removeTempDirs);

describe.skipIf(!existsSync(CLI_MAIN))('directory drop under SIGKILL', () => {
  it(
    'ends equal to the truth, and never archives a file before its commit',
    async () => {
      const folder = tempDir('amisync-drop-crash-');
      const inbox = join(folder, 'inbox');
      mkdirSync(inbox);
      const { files, truth } = planDrop({
        seed: 77,
        meters: 120,
        days: 6,
        startMs: Date.UTC(2026, 0, 5),
        format: 'ndjson',
        files: Math.max(40, KILLS * FILES_PER_KILL),
        retransmitRate: 0.2,
        badRate: 0.02,
        truncateRate: 0.15,
        partialRate: 0,
        firstMtimeMs: Date.UTC(2026, 0, 20),
      });
      await writeDrop(localDropTarget(inbox), files, {
        completion: 'rename',
        temporarySuffix: '.part',
        markerSuffix: '.done',
        paceMs: 0,
        clock: new ManualClock(0),
      });
      const config = join(folder, 'amisync.yaml');
      writeFileSync(
        config,
        [
          'database: ./amisync.db',
          'log: { file: ./amisync.log }',
          'sources:',
          '  - { kind: directory, id: crash-drop, path: ./inbox, filesPerPollMax: 5 }',
        ].join('\n'),
      );
      const random = new Mulberry32(KILL_SEED);
      const killed: Exit[] = [];
      const archive = join(inbox, 'archive');
      for (let kill = 0; kill < KILLS; kill++) {
        const target = archivedCount(archive) + random.nextInt(1, KILL_AFTER_FILES_MAX);
        const delayMs = random.nextInt(0, KILL_DELAY_MS_MAX);
        const exit = await runOnce(config, {
          when: () => archivedCount(archive) >= target,
          delayMs,
        });
        if (exit.signal === 'SIGKILL') killed.push(exit);
        else expect(exit, exit.stderr).toMatchObject({ code: 0 });
        expect(archivedButNotCommitted(join(inbox, 'archive'), join(folder, 'amisync.db'))).toEqual(
          [],
        );
      }
      // The kills landed mid-run: some files were archived, some were still in the inbox.
      expect(killed.length).toBe(KILLS);
      expect(archivedCount(archive)).toBeGreaterThan(KILLS);
      expect(archivedCount(archive)).toBeLessThan(files.length);
      const last = await runOnce(config, null);
      expect(last, last.stderr).toMatchObject({ code: 0, signal: null });
      expect(readdirSync(inbox)).toEqual(['archive']);
      const store = openSqliteStore(join(folder, 'amisync.db'), { nowMs: () => 0 });
      try {
        expect(await ledgerStreams(store)).toEqual(truth.streams);
        const { totals } = await store.status();
        expect(totals.received).toBe(
          totals.accepted +
            totals.duplicates +
            totals.quarantined +
            totals.anomalyHeld +
            totals.deadLettered,
        );
        expect(totals.accepted).toBe(truth.valid);
      } finally {
        await store.close();
      }
    },
    TEST_MS_MAX,
  );
});
