/**
 * `amisync quarantine list|show|replay|accept|reject`.
 */
import { AmisyncError } from '../../core/errors.js';
import { LIST_PAGE_ROWS_MAX } from '../../core/limits.js';
import { QUARANTINE_STATUSES, type QuarantineStatus } from '../../core/store.js';
import {
  acceptQuarantined,
  rejectQuarantined,
  replayQuarantine,
} from '../../pipeline/quarantine.js';
import {
  actorFor,
  dictionaryFor,
  openExistingStore,
  runtime,
  type GlobalOptions,
} from '../context.js';
import { printJson, printLines, table } from '../output.js';

type Options = GlobalOptions & { json?: boolean };

function parseId(text: string): number {
  if (!/^[1-9][0-9]{0,15}$/.test(text))
    throw new AmisyncError('USAGE', `not a quarantine id: ${text}`);
  return Number(text);
}

function parseLimit(text: string | undefined): number {
  if (text === undefined) return 100;
  const limit = Number(text);
  if (!Number.isInteger(limit) || limit < 1 || limit > LIST_PAGE_ROWS_MAX) {
    throw new AmisyncError('USAGE', `--limit must be 1..${LIST_PAGE_ROWS_MAX}`);
  }
  return limit;
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
  const store = openExistingStore(options, runtime.clock);
  try {
    const rows = await store.listQuarantine({
      limit: parseLimit(options.limit),
      ...(options.status === undefined ? {} : { status: options.status as QuarantineStatus }),
      ...(options.code === undefined ? {} : { code: options.code }),
      ...(options.delivery === undefined ? {} : { deliveryId: options.delivery }),
      ...(options.after === undefined ? {} : { afterId: parseId(options.after) }),
    });
    if (options.json === true) {
      printJson({ items: rows, nextAfter: rows.length > 0 ? rows[rows.length - 1]?.id : null });
      return;
    }
    printLines(
      table([
        ['id', 'status', 'delivery', 'line', 'repeats', 'meter', 'reasons'],
        ...rows.map((row) => [
          String(row.id),
          row.status,
          row.deliveryId,
          String(row.location.line),
          String(row.repeats),
          row.meterId ?? '-',
          row.currentViolations.map((v) => `${v.field}:${v.code}=${v.value}`).join('; '),
        ]),
      ]),
    );
  } finally {
    await store.close();
  }
}

export async function runQuarantineShow(id: string, options: Options) {
  const store = openExistingStore(options, runtime.clock);
  try {
    const row = await store.getQuarantine(parseId(id));
    if (row === null) throw new AmisyncError('NOT_FOUND', `quarantine item ${id} does not exist`);
    const bytes = Buffer.from(
      await store.readDeliveryBytes(
        row.deliveryId,
        row.location.byteOffset,
        row.location.byteLength,
      ),
    );
    const delivery = await store.getDelivery(row.deliveryId);
    const actions = await store.listQuarantineActions(row.id);
    const report = {
      ...row,
      delivery:
        delivery === null
          ? null
          : { id: delivery.id, name: delivery.name, sha256: delivery.sha256 },
      raw: {
        text: bytes.toString('utf8'),
        base64: bytes.toString('base64'),
        bytes: bytes.byteLength,
      },
      actions,
    };
    if (options.json === true) {
      printJson(report);
      return;
    }
    printLines([
      `quarantine ${row.id} (${row.status}) from ${delivery?.name ?? row.deliveryId}, line ` +
        `${row.location.line}, bytes ${row.location.byteOffset}+${row.location.byteLength}`,
      ...row.currentViolations.map(
        (v) => `  ${v.field} ${v.code}: ${v.message} (value: ${v.value})`,
      ),
      `raw: ${bytes.toString('utf8')}`,
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
  const store = openExistingStore(options, runtime.clock);
  try {
    const report = await replayQuarantine(
      { store, dictionary: dictionaryFor(options), clock: runtime.clock, actor: actorFor(options) },
      id === undefined ? 'all' : [parseId(id)],
      options.limit === undefined ? Number.POSITIVE_INFINITY : parseReplayLimit(options.limit),
    );
    if (options.json === true) printJson(report);
    else {
      printLines([
        `replayed ${report.replayed}: ${report.accepted} accepted, ${report.duplicates} already in ` +
          `the ledger, ${report.anomalyHeld} held as anomalies, ${report.stillQuarantined} still quarantined`,
      ]);
    }
  } finally {
    await store.close();
  }
}

export async function runQuarantineDecision(
  decision: 'accept' | 'reject',
  id: string,
  justification: string,
  options: Options,
) {
  const store = openExistingStore(options, runtime.clock);
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
    else
      printLines([
        `quarantine ${id} ${decision === 'accept' ? 'accepted into the ledger' : 'rejected'}`,
      ]);
  } finally {
    await store.close();
  }
}
