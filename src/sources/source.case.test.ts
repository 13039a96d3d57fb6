// Goal: every Source keeps the call protocol (deliveries then END, each acknowledged exactly once).
// Method: one suite run against each implementation in SOURCES, on real files in a temp directory.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { END, type Delivery, type Source } from '../core/source.js';
import { removeTempDirs, tempDir } from '../test-support/temp.js';
import { FileSource } from './file/file-source.js';

interface SourceCase {
  name: string;
  /** A source holding exactly these payloads, in order. */
  open(payloads: readonly string[]): Source;
}

const SOURCES: SourceCase[] = [
  {
    name: 'file',
    open(payloads) {
      const dir = tempDir();
      return new FileSource(
        'files',
        payloads.map((payload, index) => {
          const path = join(dir, `delivery-${index}.ndjson`);
          writeFileSync(path, payload);
          return { path, format: 'ndjson' as const };
        }),
      );
    },
  },
];

async function text(delivery: Delivery): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of delivery.bytes()) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts).toString('utf8');
}

const RECEIPT = {
  deliveryId: 'dlv_test',
  counts: {
    received: 1,
    accepted: 1,
    duplicates: 0,
    quarantined: 0,
    conflicts: 0,
    anomalyHeld: 0,
    deadLettered: 0,
    revisions: 0,
  },
  firstDeliveryId: null,
};

afterAll(removeTempDirs);

for (const sourceCase of SOURCES) {
  describe(`Source conformance: ${sourceCase.name}`, () => {
    it('returns every delivery with its bytes, in order, then END', async () => {
      const source = sourceCase.open(['{"a":1}\n', '{"b":2}\n']);
      const signal = new AbortController().signal;
      await source.connect(signal, null);
      const first = await source.read(signal);
      const second = await source.read(signal);
      expect(first).not.toBe(END);
      expect(second).not.toBe(END);
      expect(await text(first as Delivery)).toBe('{"a":1}\n');
      expect(await text(second as Delivery)).toBe('{"b":2}\n');
      expect(await source.read(signal)).toBe(END);
      await source.close();
    });

    it('accepts exactly one acknowledgement per delivery', async () => {
      const source = sourceCase.open(['{"a":1}\n', '{"b":2}\n']);
      const signal = new AbortController().signal;
      await source.connect(signal, null);
      const acked = (await source.read(signal)) as Delivery;
      const nacked = (await source.read(signal)) as Delivery;
      await acked.ack(RECEIPT);
      await expect(acked.ack(RECEIPT)).rejects.toThrow(/twice/);
      await nacked.nack(new Error('could not commit'));
      await expect(nacked.ack(RECEIPT)).rejects.toThrow(/twice/);
      await source.close();
    });
  });
}
