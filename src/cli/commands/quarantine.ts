/**
 * `amisync quarantine list|show|replay|accept|reject`.
 */
import { QUIET_PROGRESS, startProgress } from '../progress.js';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { AmisyncError } from '../../core/errors.js';
import { RAW_CHUNK_BYTES_MAX, SHOW_PREVIEW_BYTES_MAX } from '../../core/limits.js';
import {
  QUARANTINE_STATUSES,
  type QuarantineRow,
  type QuarantineStatus,
  type Store,
} from '../../core/store.js';
import {
  acceptQuarantined,
  rejectQuarantined,
  replayQuarantine,
  type AcceptReport,
  type RejectReport,
  type ReplayReport,
} from '../../pipeline/quarantine.js';
import {
  actorFor,
  dictionaryFor,
  openExistingStore,
  openReadView,
  runtime,
  type GlobalOptions,
} from '../context.js';
import { printJson, printLines, table } from '../output.js';
import { parseListLimit, parseRowId } from '../command-kit.js';
import { pageOf } from '../views.js';

type Options = GlobalOptions & { json?: boolean };

function parseId(text: string): number {
  return parseRowId(text, 'a quarantine id');
}

/** Replay reads open items a page at a time, so its limit is any positive count. */
function parseReplayLimit(text: string): number {
  const limit = Number(text);
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new AmisyncError('USAGE', '--limit must be a whole number of at least 1');
  }
  return limit;
}

export async function runQuarantineList(
  options: Options & {
    status?: string;
    code?: string;
    delivery?: string;
    limit?: string;
    after?: string;
  },
) {
  if (
    options.status !== undefined &&
    !(QUARANTINE_STATUSES as readonly string[]).includes(options.status)
  ) {
    throw new AmisyncError('USAGE', `--status must be one of ${QUARANTINE_STATUSES.join(', ')}`);
  }
  const limit = parseListLimit(options.limit);
  const store = await openReadView(options, runtime.clock);
  try {
    // One row past the page tells whether there is more, without a count over the whole table.
    const fetched = await store.listQuarantine({
      limit: limit + 1,
      ...(options.status === undefined ? {} : { status: options.status as QuarantineStatus }),
      ...(options.code === undefined ? {} : { code: options.code }),
      ...(options.delivery === undefined ? {} : { deliveryId: options.delivery }),
      ...(options.after === undefined ? {} : { afterId: parseId(options.after) }),
    });
    const { items: rows, nextAfter } = pageOf(fetched, limit);
    if (options.json === true) {
      printJson({ items: rows, nextAfter });
      return;
    }
    printLines([
      ...table([
        ['id', 'status', 'delivery', 'line', 'repeats', 'meter', 'reasons'],
        ...rows.map((row) => [
          String(row.id),
          row.status,
          row.deliveryId,
          String(row.location.line),
          String(row.repeats),
          row.meterId ?? '-',
          row.currentViolations.map((v) => `${v.field}:${v.code}=${String(v.value)}`).join('; '),
        ]),
      ]),
      ...(nextAfter === null ? [] : [`more: --after ${nextAfter}`]),
    ]);
  } finally {
    await store.close();
  }
}

/** The start of a record, cut before an incomplete UTF-8 sequence rather than inside it. */
function previewOf(bytes: Uint8Array): string {
  return new TextDecoder('utf-8').decode(bytes, { stream: true });
}

/**
 * Streams a record's kept bytes to `path` a raw chunk at a time, so that memory stays bounded
 * whatever the record's size, and returns their sha256.
 */
async function writeRecordBytes(store: Store, row: QuarantineRow, path: string): Promise<string> {
  const hasher = createHash('sha256');
  const out = createWriteStream(path);
  const failed = once(out, 'error').then(([error]) => Promise.reject(error as Error));
  failed.catch(() => undefined);
  const { byteOffset, byteLength } = row.location;
  for (let at = 0; at < byteLength; at += RAW_CHUNK_BYTES_MAX) {
    const length = Math.min(RAW_CHUNK_BYTES_MAX, byteLength - at);
    const piece = await store.readDeliveryBytes(row.deliveryId, byteOffset + at, length);
    hasher.update(piece);
    if (!out.write(piece)) await Promise.race([once(out, 'drain'), failed]);
  }
  out.end();
  await Promise.race([once(out, 'finish'), failed]);
  return hasher.digest('hex');
}

async function writeRawOut(store: Store, row: QuarantineRow, path: string) {
  let sha256: string;
  try {
    sha256 = await writeRecordBytes(store, row, path);
  } catch (error) {
    if (error instanceof AmisyncError) throw error;
    throw new AmisyncError('USAGE', `cannot write ${path}: ${(error as Error).message}`);
  }
  if (sha256 !== row.rawSha256) {
    throw new AmisyncError(
      'AUDIT_VERIFY_FAILED',
      `the bytes of quarantine ${row.id} written to ${path} have sha256 ${sha256}, not the ` +
        `${row.rawSha256} recorded when they were quarantined; run audit verify`,
    );
  }
  return { path, bytes: row.location.byteLength, sha256 };
}

export async function runQuarantineShow(id: string, options: Options & { rawOut?: string }) {
  const store = await openReadView(options, runtime.clock);
  try {
    const row = await store.getQuarantine(parseId(id));
    if (row === null) throw new AmisyncError('NOT_FOUND', `quarantine item ${id} does not exist`);
    const { byteOffset, byteLength } = row.location;
    const previewBytes = Math.min(byteLength, SHOW_PREVIEW_BYTES_MAX);
    const head = await store.readDeliveryBytes(row.deliveryId, byteOffset, previewBytes);
    const rawOut =
      options.rawOut === undefined ? null : await writeRawOut(store, row, options.rawOut);
    const delivery = await store.getDelivery(row.deliveryId);
    const actions = await store.listQuarantineActions(row.id);
    const truncated = previewBytes < byteLength;
    const report = {
      ...row,
      delivery:
        delivery === null
          ? null
          : { id: delivery.id, name: delivery.name, sha256: delivery.sha256 },
      // text and base64 hold the first previewBytes bytes only; bytes and sha256 are the record's.
      raw: {
        bytes: byteLength,
        sha256: row.rawSha256,
        previewBytes,
        truncated,
        text: previewOf(head),
        base64: Buffer.from(head).toString('base64'),
      },
      rawOut,
      actions,
    };
    if (options.json === true) {
      printJson(report);
      return;
    }
    printLines([
      `quarantine ${row.id} (${row.status}) from ${delivery?.name ?? row.deliveryId}, line ` +
        `${row.location.line}, bytes ${byteOffset}+${byteLength}`,
      ...row.currentViolations.map(
        (v) => `  ${v.field} ${v.code}: ${v.message} (value: ${String(v.value)})`,
      ),
      `raw: ${byteLength} bytes, sha256 ${row.rawSha256}` +
        (rawOut === null ? '' : `, all written to ${rawOut.path}`),
      truncated
        ? `raw, first ${previewBytes} bytes (--raw-out FILE writes them all): ${report.raw.text}`
        : `raw: ${report.raw.text}`,
      ...actions.map((a) => `  ${a.action} by ${a.actor}: ${a.outcome} - ${a.justification}`),
    ]);
  } finally {
    await store.close();
  }
}

export async function runQuarantineReplay(
  id: string | undefined,
  options: Options & { all?: boolean; limit?: string },
) {
  if ((id === undefined) === (options.all !== true)) {
    throw new AmisyncError('USAGE', 'give one quarantine id, or --all');
  }
  const store = await openExistingStore(options, runtime.clock);
  let progress = QUIET_PROGRESS;
  try {
    const limit =
      options.limit === undefined ? Number.POSITIVE_INFINITY : parseReplayLimit(options.limit);
    if (id === undefined) {
      const open = (await store.status()).quarantine.open;
      progress = startProgress({
        label: 'replay',
        total: Math.min(open, limit),
        unit: 'items',
        json: options.json === true,
      });
    }
    const report = await replayQuarantine(
      { store, dictionary: dictionaryFor(options), clock: runtime.clock, actor: actorFor(options) },
      id === undefined ? 'all' : [parseId(id)],
      limit,
      (tried) => progress.update(tried),
    );
    progress.stop();
    const words = replayWords(report);
    if (options.json === true) printJson({ ...report, ...words });
    else printLines([replaySentence(report, words)]);
  } finally {
    progress.stop();
    await store.close();
  }
}

/**
 * "Replayed" means what `status` counts: items a replay resolved (their status is now replayed).
 * The pipeline's report counts every item it tried as replayed; the CLI names that count `tried`.
 */
function replayWords(report: ReplayReport) {
  return {
    tried: report.replayed,
    replayed: report.replayed - report.stillQuarantined,
    stillOpen: report.stillQuarantined,
    newlyQuarantined: report.outcomes.reduce((n, o) => n + o.newQuarantineIds.length, 0),
  };
}

function replaySentence(report: ReplayReport, words: ReturnType<typeof replayWords>): string {
  const reparsed = words.replayed - report.accepted - report.duplicates - report.anomalyHeld;
  return (
    `tried ${words.tried} open items: ${words.replayed} replayed (${report.accepted} accepted ` +
    `into the ledger, ${report.duplicates} already in the ledger, ${report.anomalyHeld} held as ` +
    `anomalies, ${reparsed} unparseable spans read again, ${words.newlyQuarantined} new items ` +
    `quarantined from them), ${words.stillOpen} still open`
  );
}

export async function runQuarantineDecision(
  decision: 'accept' | 'reject',
  id: string,
  justification: string,
  options: Options,
) {
  const store = await openExistingStore(options, runtime.clock);
  try {
    const context = {
      store,
      dictionary: dictionaryFor(options),
      clock: runtime.clock,
      actor: actorFor(options),
    };
    const report =
      decision === 'accept'
        ? await acceptQuarantined(context, parseId(id), justification)
        : await rejectQuarantined(context, parseId(id), justification);
    if (options.json === true) printJson(report);
    else printLines([decisionSentence(id, report)]);
  } finally {
    await store.close();
  }
}

function decisionSentence(id: string, report: AcceptReport | RejectReport): string {
  if (!('outcome' in report)) return `quarantine ${id} rejected`;
  if (report.outcome === 'accepted') {
    return `quarantine ${id} accepted into the ledger as version ${report.version ?? '?'}`;
  }
  // The item is closed as accepted, but the ledger already held this very reading: nothing changed.
  return (
    `quarantine ${id} accepted; the ledger already held this reading ` +
    `(${report.idempotencyKey}), so nothing was added`
  );
}
