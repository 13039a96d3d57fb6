/**
 * A page of a vendor's JSON API as a pipeline parser. The records array is found at the records
 * path without holding the page (../json-embedded-array.ts), each record is read alone by the JSON
 * record reader (../json-record.ts: limits, duplicate keys, inexact numbers, encoding) and mapped
 * onto a candidate reading by its dialect (json-dialect-records.ts). A page that cannot hold
 * records (not JSON, an HTML error page, the path missing, not an array there) is one reject for
 * the whole page, counted once, its bytes kept.
 *
 * The format context is `{ dialect, recordsPath? }`: the dialect as its file holds it, and the
 * records path (`"data.readings"` or `["data", "readings"]`) when the caller names one; otherwise
 * the dialect's own `recordsPath`, otherwise the page is a top-level array. `context()` returns
 * both resolved, so a quarantined record is replayed as it was read.
 */
import assert from 'node:assert/strict';

import type { FormatContext, ParseItem, StreamParser } from '../../core/parser.js';
import type { CandidateReading, RecordLocation } from '../../core/reading.js';
import { recordReject, violation } from '../../core/reject.js';
import { EmbeddedArrayScanner, type EmbeddedArrayEvent } from '../json-embedded-array.js';
import {
  encodingItem,
  RecordNumbering,
  spanRejectItem,
  tooLargeItem,
  type SourceSpan,
} from '../items.js';
import { parseJsonRecordText } from '../json-record.js';
import { decodeUtf8Lenient } from '../bytes.js';
import {
  parseJsonDialect,
  recordsPathSchema,
  toJsonPath,
  type JsonDialect,
  type JsonPath,
} from './json-dialect-config.js';
import { JsonRecordMapper, valueAt, type JsonDialectProblem } from './json-dialect-records.js';

/** The channel of a reading when the dialect maps none. */
const DEFAULT_CHANNEL = '1';

/**
 * `context.dialect` is the dialect's config as parsed from its file; a missing or invalid one is a
 * caller's error (CONFIG_INVALID), checked before any byte is read.
 */
export function createJsonDialectParser(context: FormatContext): StreamParser {
  assert.ok(context['dialect'] !== undefined, 'the json-dialect format needs a dialect');
  const dialect = parseJsonDialect(context['dialect'], ['dialect']);
  const recordsPath = resolveRecordsPath(context['recordsPath'], dialect);
  return new JsonDialectParser(dialect, context['dialect'], recordsPath);
}

function resolveRecordsPath(given: unknown, dialect: JsonDialect): JsonPath {
  if (given === undefined || given === null) return dialect.recordsPath ?? [];
  const parsed = recordsPathSchema.safeParse(typeof given === 'string' ? given : given);
  assert.ok(parsed.success, `the records path ${JSON.stringify(given)} is not a path of keys`);
  return toJsonPath(parsed.data);
}

class JsonDialectParser implements StreamParser {
  readonly #scanner: EmbeddedArrayScanner;
  readonly #mapper: JsonRecordMapper;
  readonly #dialectJson: unknown;
  readonly #recordsPath: JsonPath;
  readonly #numbering = new RecordNumbering();
  readonly #meterIdPath: JsonPath;

  constructor(dialect: JsonDialect, dialectJson: unknown, recordsPath: JsonPath) {
    this.#meterIdPath = dialect.fields.meterId;
    this.#scanner = new EmbeddedArrayScanner(recordsPath);
    this.#mapper = new JsonRecordMapper(dialect);
    this.#dialectJson = dialectJson;
    this.#recordsPath = recordsPath;
  }

  push(chunk: Uint8Array): ParseItem[] {
    return this.#items(this.#scanner.push(chunk));
  }

  end(): ParseItem[] {
    return this.#items(this.#scanner.end());
  }

  context(): FormatContext {
    return { dialect: this.#dialectJson, recordsPath: [...this.#recordsPath] };
  }

  #items(events: readonly EmbeddedArrayEvent[]): ParseItem[] {
    return events.map((event) => this.#item(event));
  }

  #item(event: EmbeddedArrayEvent): ParseItem {
    const location = this.#numbering.locate(event.span);
    if (event.kind === 'page_problem') return pageProblemItem(event, location);
    if (event.oversized) return tooLargeItem(location);
    if (event.text === null) return encodingItem(decodeUtf8Lenient(event.bytes), location);
    const read = parseJsonRecordText(event.text, location);
    if (read.kind !== 'record') return read;
    const mapped = this.#mapper.map(read.record.fields, event.span);
    if (!mapped.ok) {
      const meterId = valueAt(read.record.fields, this.#meterIdPath);
      const shownMeterId = typeof meterId === 'string' ? meterId : null;
      return problemsItem(mapped.problems, location, shownMeterId);
    }
    const { interval, seq } = mapped;
    const candidate: CandidateReading = {
      meterId: interval.meterId,
      channel: interval.channel ?? DEFAULT_CHANNEL,
      intervalStartMs: interval.intervalStartUtcMs,
      intervalSeconds: interval.intervalSeconds,
      commodity: 'electricity',
      unit: 'kWh',
      value: interval.valueKwh,
      quality: interval.quality ?? 'actual',
      qualityDetail: null,
      statusCode: 0,
      seq,
      location,
    };
    return { kind: 'candidate', candidate };
  }
}

/** A reading's problems, with its meter as sent (best effort, for listing) when it has one. */
function problemsItem(
  problems: readonly JsonDialectProblem[],
  location: RecordLocation,
  meterId: string | null,
): ParseItem {
  const violations = problems.map((problem) =>
    violation('parse.format', `json-dialect.${problem.code}`, problem.value ?? '', problem.message),
  );
  return { kind: 'reject', reject: recordReject(violations, location, meterId) };
}

function pageProblemItem(
  event: Extract<EmbeddedArrayEvent, { kind: 'page_problem' }>,
  location: RecordLocation,
): ParseItem {
  const span: SourceSpan = event.span;
  const what =
    span.byteOffset === 0
      ? `the page (${span.byteLength} bytes) is kept whole`
      : `the remaining ${span.byteLength} bytes of the page, from line ${span.line}, are kept`;
  const message = `${capitalise(event.reason)}; ${what} and no record is read from them.`;
  const value = `${span.byteLength} bytes from byte ${span.byteOffset}`;
  switch (event.code) {
    case 'not_json':
      return spanRejectItem('parse.not_json', value, message, location);
    case 'syntax':
      return spanRejectItem('parse.syntax', value, message, location);
    case 'records_path_missing':
    case 'records_not_array': {
      const reject = recordReject(
        [violation('parse.format', `json-dialect.${event.code}`, value, message)],
        location,
      );
      return { kind: 'reject', reject: { ...reject, uncountedSpan: true } };
    }
    default: {
      const unreachable: never = event.code;
      assert.fail(`unreachable page problem ${String(unreachable)}`);
    }
  }
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
