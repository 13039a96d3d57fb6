// Goal: the partition of a meter is the documented function (sha256, first four bytes big-endian,
// mod P), stable and spread over every partition. Method: recompute it independently for known
// ids, and count a few thousand ids per partition.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { partitionOfMeter, partitionSubject } from './partition.js';

function reference(meterId: string, partitions: number): number {
  const digest = createHash('sha256').update(Buffer.from(meterId, 'utf8')).digest();
  return (
    (digest[0]! * 2 ** 24 + digest[1]! * 2 ** 16 + digest[2]! * 2 ** 8 + digest[3]!) % partitions
  );
}

describe('partitionOfMeter', () => {
  it('is sha256 of the id, first four bytes big-endian, modulo the partition count', () => {
    for (const id of ['MTR-0A1B2C3D', 'MTR-ZZZZ0000', '', 'MTR-Ä']) {
      for (const partitions of [1, 2, 6, 64, 4096]) {
        expect(partitionOfMeter(id, partitions)).toBe(reference(id, partitions));
      }
    }
    // A test vector an auditor can recompute by hand: sha256("MTR-0A1B2C3D") starts with these.
    const head = createHash('sha256').update('MTR-0A1B2C3D').digest().readUInt32BE(0);
    expect(partitionOfMeter('MTR-0A1B2C3D', 1000)).toBe(head % 1000);
  });

  it('spreads meters over every partition', () => {
    const counts = new Array<number>(8).fill(0);
    for (let index = 0; index < 4000; index++) {
      const id = `MTR-${index.toString(16).toUpperCase().padStart(8, '0')}`;
      counts[partitionOfMeter(id, 8)]! += 1;
    }
    for (const count of counts) expect(count).toBeGreaterThan(400);
  });

  it('names the subject of a partition', () => {
    expect(partitionSubject('meters.readings', 3)).toBe('meters.readings.p3');
  });
});
