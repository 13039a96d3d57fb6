/**
 * `amisync ledger show|versions`, `amisync deliveries list|show` and `amisync audit checkpoints`:
 * the read views the HTTP API also answers (src/cli/ledger-views.ts), as tables or with --json
 * as the same JSON documents.
 */
import type { Command } from 'commander';
import { runtime, openReadView, type GlobalOptions } from '../context.js';
import { action, parseListLimit, withStore } from '../command-kit.js';
import {
  checkpointsView,
  deliveriesPage,
  deliveryView,
  intervalVersions,
  ledgerPage,
  parseUtcInstant,
} from '../ledger-views.js';
import { printJson, printLines, table } from '../output.js';
import type { Store } from '../../core/store.js';
import { AmisyncError } from '../../core/errors.js';

interface ViewOptions extends GlobalOptions {
  json?: boolean;
  meter?: string;
  channel?: string;
  from?: string;
  to?: string;
  start?: string;
  limit?: string;
  cursor?: string;
  source?: string;
}

async function withReadView(options: ViewOptions, fn: (store: Store) => Promise<void>) {
  const store = await openReadView(options, runtime.clock);
  try {
    await fn(store);
  } finally {
    await store.close();
  }
}

function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new AmisyncError('USAGE', `${flag} is required`);
  return value;
}

type LedgerItem = Awaited<ReturnType<typeof ledgerPage>>['items'][number];

function ledgerTable(items: readonly LedgerItem[]): string[] {
  return table([
    ['interval start', 'channel', 'value', 'unit', 'quality', 'version', 'delivery', 'key'],
    ...items.map((row) => [
      row.intervalStart,
      row.channel,
      row.value,
      row.unit,
      row.quality,
      String(row.version),
      row.deliveryId ?? '-',
      row.idempotencyKey,
    ]),
  ]);
}

export async function runLedgerShow(options: ViewOptions): Promise<void> {
  await withReadView(options, async (store) => {
    const page = await ledgerPage(store, {
      meterId: required(options.meter, '--meter'),
      limit: parseListLimit(options.limit),
      ...(options.channel === undefined ? {} : { channel: options.channel }),
      ...(options.from === undefined ? {} : { fromMs: parseUtcInstant('--from', options.from) }),
      ...(options.to === undefined ? {} : { toMs: parseUtcInstant('--to', options.to) }),
      ...(options.cursor === undefined ? {} : { cursor: options.cursor }),
    });
    if (options.json === true) return printJson(page);
    printLines([
      `${page.meterId}: ${page.items.length} current readings from ${page.from ?? '-'} to ${page.to ?? '-'}`,
      ...ledgerTable(page.items),
      ...(page.nextCursor === null ? [] : [`more: --cursor ${page.nextCursor}`]),
    ]);
  });
}

export async function runLedgerVersions(options: ViewOptions): Promise<void> {
  await withReadView(options, async (store) => {
    const view = await intervalVersions(store, {
      meterId: required(options.meter, '--meter'),
      channel: required(options.channel, '--channel'),
      intervalStartMs: parseUtcInstant('--start', required(options.start, '--start')),
    });
    if (options.json === true) return printJson(view);
    printLines([
      `${view.meterId} channel ${view.channel} at ${view.intervalStart}: ` +
        `${view.versions.length} versions, newest first`,
      ...ledgerTable(view.versions),
    ]);
  });
}

export async function runDeliveriesList(options: ViewOptions): Promise<void> {
  await withReadView(options, async (store) => {
    const page = await deliveriesPage(store, {
      limit: parseListLimit(options.limit),
      ...(options.source === undefined ? {} : { sourceId: options.source }),
      ...(options.cursor === undefined ? {} : { cursor: options.cursor }),
    });
    if (options.json === true) return printJson(page);
    printLines([
      ...table([
        ['id', 'source', 'name', 'received', 'status', 'received', 'accepted', 'conserved'],
        ...page.items.map((d) => [
          d.id,
          d.sourceId,
          d.name,
          d.receivedAt,
          d.status,
          String(d.counts.received),
          String(d.counts.accepted),
          d.conserved ? 'yes' : 'NO',
        ]),
      ]),
      ...(page.nextCursor === null ? [] : [`more: --cursor ${page.nextCursor}`]),
    ]);
  });
}

export async function runDeliveriesShow(id: string, options: ViewOptions): Promise<void> {
  await withReadView(options, async (store) => {
    const view = await deliveryView(store, id);
    if (options.json === true) return printJson(view);
    const c = view.counts;
    printLines([
      `delivery ${view.id} (${view.status}): ${view.name} from source ${view.sourceId}, ` +
        `format ${view.format}, received ${view.receivedAt}, finished ${view.finishedAt ?? '-'}`,
      `content: ${view.sizeBytes ?? '-'} bytes, sha256 ${view.sha256 ?? '-'}`,
      `received ${c.received} = accepted ${c.accepted} + duplicates ${c.duplicates} + ` +
        `quarantined ${c.quarantined} + held ${c.anomalyHeld} + dead-lettered ${c.deadLettered}: ` +
        (view.conserved ? 'conserved' : 'NOT conserved'),
    ]);
  });
}

export async function runAuditCheckpoints(options: ViewOptions): Promise<void> {
  await withReadView(options, async (store) => {
    const view = await checkpointsView(store, parseListLimit(options.limit));
    if (options.json === true) return printJson(view);
    printLines([
      `${view.total} signed checkpoints, newest first:`,
      ...table([
        ['audit entry', 'at', 'key fingerprint', 'head hash'],
        ...view.checkpoints.map((c) => [String(c.auditSeq), c.at, c.keyFingerprint, c.headHash]),
      ]),
    ]);
  });
}

/** `ledger show` and `ledger versions`, under the `ledger` command. */
export function addLedgerViewCommands(ledger: Command): void {
  withStore(ledger.command('show'))
    .description("one meter's current ledger readings in a range, oldest first, paged")
    .option('--meter <id>', 'the meter (required)')
    .option('--channel <channel>', 'only this channel')
    .option('--from <instant>', "interval start at or after (UTC; default the meter's first)")
    .option('--to <instant>', "interval start before (UTC; default after the meter's last)")
    .option('--limit <n>', 'rows per page (max 1000)', '100')
    .option('--cursor <cursor>', "the previous page's next cursor")
    .action(action(async (opts: ViewOptions) => runLedgerShow(opts)));
  withStore(ledger.command('versions'))
    .description('every version of one interval (revisions are kept), newest first')
    .option('--meter <id>', 'the meter (required)')
    .option('--channel <channel>', 'the channel (required)')
    .option('--start <instant>', 'the interval start, UTC (required)')
    .action(action(async (opts: ViewOptions) => runLedgerVersions(opts)));
}

export function addDeliveriesCommands(program: Command): void {
  const deliveries = program
    .command('deliveries')
    .description('deliveries: source, received time, content hash, conservation counts');
  withStore(deliveries.command('list'))
    .description('deliveries, newest first')
    .option('--source <id>', 'only this source')
    .option('--limit <n>', 'rows per page (max 1000)', '100')
    .option('--cursor <cursor>', "the previous page's next cursor")
    .action(action(async (opts: ViewOptions) => runDeliveriesList(opts)));
  withStore(deliveries.command('show <id>'))
    .description('one delivery and its conservation counts')
    .action(action(async (id: string, opts: ViewOptions) => runDeliveriesShow(id, opts)));
}

/** `audit checkpoints`, under the `audit` command. */
export function addAuditCheckpointsCommand(audit: Command): void {
  withStore(audit.command('checkpoints'))
    .description('the signed checkpoints of the audit chain head, newest first')
    .option('--limit <n>', 'at most this many (max 1000)', '100')
    .action(action(async (opts: ViewOptions) => runAuditCheckpoints(opts)));
}
