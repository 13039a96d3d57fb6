// Goal: the parallel pipeline reads ahead of the committing thread by READ_AHEAD_BYTES_PER_THREAD
// per parse thread, no less (so the parse threads keep working while a batch commits) and no more
// (so memory stays bounded whatever the delivery's size).
// Method: judgeInParallel over an endless NDJSON input whose chunks are counted as they are pulled,
// with parse threads that take jobs and never answer: the reading stops at the bound; closing the
// pool then fails the waiting delivery with INTERNAL instead of leaving it hanging.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { AmisyncError } from '../core/errors.js';
import { DEFAULT_DICTIONARY } from '../dictionary/dictionary.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';
import { judgeInParallel, ParsePool, READ_AHEAD_BYTES_PER_THREAD } from './parallel-parse.js';

afterAll(removeTempDirs);

const CHUNK_BYTES = 256 * 1024;

/** Whole NDJSON lines, CHUNK_BYTES of them a chunk, for ever; `pulled` counts the bytes taken. */
function endlessFeed(counter: { pulled: number }): AsyncIterable<Uint8Array> {
  const line = '{"meterId":"M-1","channel":"kwh","intervalStart":"2026-01-01T00:00:00Z"}\n';
  const lines = Math.floor(CHUNK_BYTES / line.length);
  const chunk = Buffer.from(line.repeat(lines));
  return {
    async *[Symbol.asyncIterator]() {
      for (;;) {
        counter.pulled += chunk.byteLength;
        yield Buffer.from(chunk);
      }
    },
  };
}

describe('the read-ahead of the parallel pipeline', () => {
  for (const threads of [1, 3]) {
    it(`stops at ${READ_AHEAD_BYTES_PER_THREAD} bytes a parse thread (${threads} threads)`, async () => {
      const dir = tempDir('amisync-read-ahead-');
      const silent = join(dir, 'silent.mjs');
      writeFileSync(
        silent,
        "import { parentPort } from 'node:worker_threads';\nparentPort.on('message', () => {});\n",
      );
      const pool = new ParsePool(threads, pathToFileURL(silent));
      const counter = { pulled: 0 };
      const verdicts = judgeInParallel(
        endlessFeed(counter),
        pool,
        DEFAULT_DICTIONARY,
        new ManualClock(Date.UTC(2026, 1, 1)),
      );
      const first = verdicts.next();
      let settledEarly = false;
      void first.then(
        () => (settledEarly = true),
        () => undefined,
      );
      const bound = threads * READ_AHEAD_BYTES_PER_THREAD;
      await expect.poll(() => counter.pulled, { timeout: 5_000 }).toBeGreaterThanOrEqual(bound);
      await new Promise((resolve) => setTimeout(resolve, 200));
      // At the bound it waits for the oldest job's verdicts, which never come.
      expect(counter.pulled).toBeGreaterThanOrEqual(bound);
      expect(counter.pulled).toBeLessThan(bound + 2 * CHUNK_BYTES);
      expect(settledEarly).toBe(false);
      // Threads that end fail what waits on the pool: the delivery, not a hang.
      await pool.close();
      const error = await first.then(
        () => null,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(AmisyncError);
      expect((error as AmisyncError).code).toBe('INTERNAL');
    });
  }
});
