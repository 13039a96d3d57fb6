/**
 * `amisync ingest FILE...`: streams each file through the pipeline, then signs a checkpoint of the
 * chain. Prints the conservation counts summed over the files and per file.
 */
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  openSync,
  readFileSync,
  readSync,
  statSync,
} from 'node:fs';
import { basename } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { recordConfig, writeCheckpoint } from '../../audit/record.js';
import { AmisyncError } from '../../core/errors.js';
import {
  INPUT_FORMATS,
  needsFormatContext,
  type FormatContext,
  type InputFormat,
} from '../../core/parser.js';
import type { BatchCounts } from '../../core/store.js';
import { dictionaryFingerprint } from '../../dictionary/dictionary.js';
import { parseCsvDialect } from '../../formats/csv-dialect/csv-dialect-config.js';
import { detectFormat } from '../../formats/formats.js';
import { parseJsonDialect } from '../../formats/json-dialect/json-dialect-config.js';
import { addCounts, emptyCounts, isConserved } from '../../pipeline/commit.js';
import type { DeliveryReport } from '../../pipeline/ingest.js';
import { defaultThreads, THREADS_MAX } from '../../pipeline/parallel-parse.js';
import { runSource } from '../../pipeline/run-source.js';
import { FileSource } from '../../sources/file/file-source.js';
import {
  dictionaryFor,
  openStore,
  runtime,
  signingKeyFor,
  type GlobalOptions,
} from '../context.js';
import { printJson, printLines, table } from '../output.js';
import { startProgress } from '../progress.js';
import { createServiceLogger, type ServiceLogger } from '../config/logger.js';
import type { LOG_LEVELS } from '../config/service-config.js';

export interface IngestCommandOptions extends GlobalOptions {
  format?: string;
  /**
   * A dialect's config file: a CSV dialect (JSON) for --format csv-dialect, a JSON dialect (YAML
   * or JSON) for --format json-dialect.
   */
  dialect?: string;
  /** Where a json-dialect page holds its records (`data.readings`); the dialect's own if absent. */
  recordsPath?: string;
  source?: string;
  json?: boolean;
  /** Logs every committed batch (JSON lines) to this file, or to stderr for `-`. */
  logFile?: string;
  logLevel?: (typeof LOG_LEVELS)[number];
  /** Threads per delivery (`--threads`); default the core count, capped (parallel-parse.ts). */
  threads?: string;
}

/** `--threads N`: 1 runs everything on one thread; absent, the machine's cores (capped). */
export function threadsOf(text: string | undefined): number {
  if (text === undefined) return defaultThreads();
  if (!/^[1-9]\d*$/.test(text) || Number(text) > THREADS_MAX) {
    throw new AmisyncError(
      'USAGE',
      `--threads ${JSON.stringify(text)} must be 1 to ${THREADS_MAX}`,
    );
  }
  return Number(text);
}

export interface IngestSummary extends BatchCounts {
  conserved: boolean;
  files: (DeliveryReport & { file: string; note: string | null })[];
  checkpoint: { auditSeq: number; headHash: string } | null;
}

const SNIFF_BYTES = 4096;

function formatForFile(path: string, forced: string | undefined): InputFormat {
  if (forced !== undefined) {
    if (!(INPUT_FORMATS as readonly string[]).includes(forced)) {
      throw new AmisyncError('USAGE', `--format must be one of ${INPUT_FORMATS.join(', ')}`);
    }
    return forced as InputFormat;
  }
  const head = Buffer.alloc(SNIFF_BYTES);
  const fd = openSync(path, 'r');
  const length = readSync(fd, head, 0, SNIFF_BYTES, 0);
  closeSync(fd);
  const detected = detectFormat(basename(path), head.subarray(0, length));
  if (detected === null) {
    throw new AmisyncError(
      'FORMAT_UNKNOWN',
      `cannot tell the format of ${path}; pass --format (${INPUT_FORMATS.join(', ')}). ` +
        'The file was not read and stays where it is.',
    );
  }
  return detected;
}

/**
 * The format contexts of the dialect formats, checked now so that a bad dialect stops the run
 * before any file is read.
 */
function dialectContexts(
  options: IngestCommandOptions,
  formats: readonly InputFormat[],
): Partial<Record<InputFormat, FormatContext>> {
  const needing = formats.find(needsFormatContext);
  if (options.recordsPath !== undefined && needing !== 'json-dialect') {
    throw new AmisyncError('USAGE', '--records-path is only for --format json-dialect');
  }
  if (options.dialect === undefined) {
    if (needing !== undefined) {
      throw new AmisyncError('USAGE', `--format ${needing} needs --dialect FILE`);
    }
    return {};
  }
  if (needing === 'json-dialect') {
    const dialect = jsonDialectFor(options.dialect);
    const path = options.recordsPath;
    return { 'json-dialect': { dialect, ...(path === undefined ? {} : { recordsPath: path }) } };
  }
  return { 'csv-dialect': { dialect: csvDialectFor(options.dialect) } };
}

/** A JSON dialect from its YAML or JSON file (YAML reads JSON too). */
function jsonDialectFor(file: string): unknown {
  let config: unknown;
  try {
    config = parseYaml(readFileSync(file, 'utf8'));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new AmisyncError('CONFIG_INVALID', `JSON dialect ${file}: ${reason}`);
  }
  try {
    parseJsonDialect(config);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new AmisyncError('CONFIG_INVALID', `JSON dialect ${file}: ${reason}`);
  }
  return config;
}

function csvDialectFor(file: string): unknown {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
    parseCsvDialect(json);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new AmisyncError('CONFIG_INVALID', `CSV dialect ${file}: ${reason}`);
  }
  return json;
}

/** A progress bar on stderr for a person watching a terminal; nothing for scripts or --json. */
function progressFor(file: string, json: boolean) {
  const bar = startProgress({
    label: basename(file),
    total: statSync(file).size,
    unit: 'bytes',
    json,
  });
  return {
    onBatch: (_result: { counts: BatchCounts }, bytesRead: number) => bar.update(bytesRead),
    stop: () => bar.stop(),
  };
}

function noteFor(report: DeliveryReport): string | null {
  const notes: string[] = [];
  // A blank delivery's one span is explained by its empty-delivery line instead.
  if (report.uncountedSpans > 0 && !report.empty) {
    notes.push(
      `${report.uncountedSpans} unparseable span(s) quarantined whole and counted once each, ` +
        'since the number of records they held cannot be known',
    );
  }
  const tolerated = Object.entries(report.tolerated);
  if (tolerated.length > 0) {
    const list = tolerated.map(([code, count]) => `${code} x${count}`).join(', ');
    notes.push(`read despite departures from the format's specification: ${list}`);
  }
  return notes.length === 0 ? null : notes.join('; ');
}

export async function runIngest(files: readonly string[], options: IngestCommandOptions) {
  // A bad flag is the caller's mistake whatever the files: said first, before any file is read.
  const threads = threadsOf(options.threads);
  for (const file of files) {
    if (!existsSync(file)) {
      throw new AmisyncError('INPUT_NOT_FOUND', `input file ${file} does not exist`);
    }
    if (!statSync(file).isFile()) {
      throw new AmisyncError('INPUT_UNREADABLE', `${file} is not a regular file`);
    }
    try {
      accessSync(file, constants.R_OK);
    } catch {
      throw new AmisyncError('INPUT_UNREADABLE', `input file ${file} cannot be read`);
    }
  }
  const formats = files.map((file) => formatForFile(file, options.format));
  const dictionary = dictionaryFor(options);
  const formatContexts = {
    cmep: { timeZone: dictionary.formats.cmep.timeZone },
    ...dialectContexts(options, formats),
  };
  const key = signingKeyFor(options);
  const logger: ServiceLogger | null =
    options.logFile === undefined
      ? null
      : createServiceLogger({
          level: options.logLevel ?? 'info',
          file: options.logFile === '-' ? undefined : options.logFile,
        });
  const store = await openStore(options, runtime.clock);
  try {
    await recordConfig(store, dictionaryFingerprint(dictionary), dictionary, runtime.clock.nowMs());
    const summary: IngestSummary = {
      ...emptyCounts(),
      conserved: true,
      files: [],
      checkpoint: null,
    };
    const source = new FileSource(
      options.source ?? 'file',
      files.map((path, index) => ({ path, format: formats[index] as InputFormat })),
    );
    let progress: ReturnType<typeof progressFor> | null = null;
    try {
      await runSource(source, {
        store,
        dictionary,
        formatContexts,
        clock: runtime.clock,
        random: runtime.random,
        threads,
        ...(logger === null ? {} : { log: logger.log }),
        onDeliveryStart: (delivery) => {
          progress = progressFor(delivery.sourceDeliveryId, options.json === true);
        },
        onBatch: (result, bytesRead) => progress?.onBatch(result, bytesRead),
        onDelivery: (report) => {
          progress?.stop();
          progress = null;
          logger?.log.info(
            {
              delivery: report.deliveryId,
              source: options.source ?? 'file',
              name: report.name,
              batches: report.batches,
              sizeBytes: report.sizeBytes,
              counts: report.counts,
            },
            `delivery ${report.name} committed`,
          );
          const file = files[summary.files.length] as string;
          addCounts(summary, report.counts);
          summary.files.push({ ...report, file, note: noteFor(report) });
        },
      });
    } finally {
      (progress as ReturnType<typeof progressFor> | null)?.stop();
    }
    summary.conserved = isConserved(summary);
    const checkpoint = await writeCheckpoint(store, key, runtime.clock.nowMs());
    summary.checkpoint =
      checkpoint === null ? null : { auditSeq: checkpoint.auditSeq, headHash: checkpoint.headHash };
    if (!summary.conserved) {
      throw new AmisyncError('CONSERVATION_BROKEN', 'ingest counts do not balance', { summary });
    }
    return summary;
  } finally {
    await store.close();
    logger?.flush();
  }
}

const COUNT_HEADER = [
  '',
  'received',
  'accepted',
  'duplicates',
  'quarantined',
  '(conflicts)',
  'anomaly-held',
  'dead-lettered',
];

function countsRow(label: string, counts: BatchCounts): string[] {
  return [
    label,
    String(counts.received),
    String(counts.accepted),
    String(counts.duplicates),
    String(counts.quarantined),
    String(counts.conflicts),
    String(counts.anomalyHeld),
    String(counts.deadLettered),
  ];
}

/** One aligned table of conservation counts, a row per label. */
export function countsTable(...rows: [string, BatchCounts][]): string[] {
  return table([COUNT_HEADER, ...rows.map(([label, counts]) => countsRow(label, counts))]);
}

/** The line saying a delivery held no records, and why; null when it held some. */
export function emptyDeliveryLine(file: IngestSummary['files'][number]): string | null {
  if (!file.empty) return null;
  const reason =
    file.counts.received === 0
      ? `a well-formed ${file.format} delivery with none in it`
      : `its ${file.sizeBytes} bytes are nothing but whitespace, quarantined as one span ` +
        '(parse.empty)';
  return `empty delivery (${basename(file.file)}): no records; ${reason}`;
}

export function printIngest(summary: IngestSummary, json: boolean): void {
  if (json) {
    printJson(summary);
    return;
  }
  printLines(ingestLines(summary));
}

/** The text report: the counts table, a line per empty delivery and note, the balance. */
export function ingestLines(summary: IngestSummary): string[] {
  const rows: [string, BatchCounts][] = summary.files.map((f) => [basename(f.file), f.counts]);
  if (summary.files.length > 1) rows.push(['total', summary]);
  const lines = countsTable(...rows);
  for (const file of summary.files) {
    const empty = emptyDeliveryLine(file);
    if (empty !== null) lines.push(empty);
    if (file.note !== null) lines.push(`note (${basename(file.file)}): ${file.note}`);
  }
  lines.push(
    `conservation: received ${summary.received} = accepted ${summary.accepted} + duplicates ` +
      `${summary.duplicates} + quarantined ${summary.quarantined} + anomaly-held ` +
      `${summary.anomalyHeld} + dead-lettered ${summary.deadLettered}: ` +
      (summary.conserved ? 'holds' : 'BROKEN'),
  );
  return lines;
}
