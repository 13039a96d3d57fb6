/**
 * `audit export`: writes what an auditor needs to check the trail without amisync: the chain as
 * NDJSON, the checkpoints, the batch rows, the public key, and a manifest with counts and the head.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import type { Store } from '../core/store.js';

export interface ExportManifest {
  format: 'amisync-audit-export-v1';
  entries: number;
  batches: number;
  checkpoints: number;
  headSeq: number | null;
  headHash: string | null;
  files: string[];
}

async function writeNdjson<T>(path: string, pages: AsyncIterable<T[]>): Promise<number> {
  const out = createWriteStream(path, { encoding: 'utf8' });
  let count = 0;
  for await (const page of pages) {
    for (const item of page) {
      count += 1;
      if (!out.write(`${JSON.stringify(item)}\n`)) await once(out, 'drain');
    }
  }
  out.end();
  await once(out, 'finish');
  return count;
}

export async function exportAudit(
  store: Store,
  directory: string,
  publicKeyPem: string | null,
): Promise<ExportManifest> {
  await mkdir(directory, { recursive: true });
  const entries = await writeNdjson(
    join(directory, 'audit-log.ndjson'),
    store.iterateAuditEntries(),
  );
  const batches = await writeNdjson(join(directory, 'batches.ndjson'), store.iterateBatches());
  const checkpoints = await store.listCheckpoints();
  await writeFile(join(directory, 'checkpoints.json'), `${JSON.stringify(checkpoints, null, 2)}\n`);
  const files = ['audit-log.ndjson', 'batches.ndjson', 'checkpoints.json'];
  if (publicKeyPem !== null) {
    await writeFile(join(directory, 'public-key.pem'), publicKeyPem);
    files.push('public-key.pem');
  }
  const status = await store.status();
  const head = status.auditEntries > 0 ? await store.getAuditEntry(status.auditEntries) : null;
  const manifest: ExportManifest = {
    format: 'amisync-audit-export-v1',
    entries,
    batches,
    checkpoints: checkpoints.length,
    headSeq: head?.seq ?? null,
    headHash: head?.hash ?? null,
    files: [...files, 'manifest.json'],
  };
  await writeFile(join(directory, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}
