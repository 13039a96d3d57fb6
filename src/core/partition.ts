/**
 * The worker partition of a meter (docs/workers.md): the first four bytes of the SHA-256 of the
 * meter id's UTF-8 bytes, read as a big-endian unsigned integer, modulo the deployment's partition
 * count. It depends on no process, host or library version, so a publisher, every worker and an
 * auditor compute the same partition.
 */
import assert from 'node:assert/strict';
import { hash } from 'node:crypto';

export function partitionOfMeter(meterId: string, partitions: number): number {
  assert.ok(
    Number.isInteger(partitions) && partitions >= 1,
    'partitions must be a positive integer',
  );
  const digest = Buffer.from(hash('sha256', meterId, 'hex'), 'hex');
  return digest.readUInt32BE(0) % partitions;
}

/** The subject partition `partition` is published to: `<prefix>.p<partition>`. */
export function partitionSubject(prefix: string, partition: number): string {
  return `${prefix}.p${partition}`;
}
