/**
 * The CMEP reader (California Metering Exchange Protocol, MEPMD01 "Metering Data Type 1 - Interval
 * Data"): a pure, incremental, streaming reader that turns a delivery's bytes into typed events,
 * one source line at a time.
 *
 * Protocol:
 * - `push(chunk)` takes consecutive chunks of one delivery, split anywhere, and returns the events
 *   of the lines those bytes completed, in file order.
 * - `end()` is called once after the last chunk; it returns the events of a last line without a
 *   terminator and the problems only the end reveals (an empty file). Pushing after it is a
 *   programmer error.
 * - Data errors are `problem` events with a stable code; the reader resynchronises on the next
 *   line and never throws on any input. Accepted dialects are `tolerated` notes on events.
 * - Memory: one line, bounded by CMEP_LINE_BYTES_MAX; a longer line is counted, not held.
 *
 * The layout read is the one of "California Metering Exchange Protocol, Version 1.20 - Update for
 * EDI DASR compatibility" (March 7, 2000), the public protocol text. What it says, and what this
 * reader does where it leaves room:
 * - Lines are ASCII text ended by CR LF, fields separated by commas, leading and trailing blanks
 *   removed, a field holding a comma enclosed in quotation marks. The reader decodes UTF-8, takes
 *   LF alone (noted), trims unquoted fields (noted), keeps quoted text verbatim, and reports a
 *   quotation mark that does not close a field before the next comma (`quote_invalid`).
 * - MEPMD01 fields: record type, record version, sender id, sender customer id, receiver id,
 *   receiver customer id, time stamp (record creation, CCYYMMDDHHMM), meter id, purpose, commodity,
 *   units, calculation constant, interval (MMDDHHMM), count, then `count` triples of date-time
 *   (CCYYMMDDHHMM), data quality flag and value. Record versions other than those in
 *   CMEP_RECORD_VERSIONS are refused, not read as if the layout were the same.
 * - Date-times stamp the END of each interval. Events carry the start: the end less one interval.
 * - Only the first date-time is required; an empty later one is the previous date-time plus the
 *   interval. Minutes and hours are added as exact time (so hourly data runs 01:00, 03:00 across a
 *   spring-forward gap and 01:00 twice across a fall-back), days and months on the wall clock.
 * - The Interval field is optional in the protocol when every date-time is sent, and an empty one
 *   means zero. The reader needs it to find each start, so it must be a length above zero that
 *   repeats on the hour and at midnight (see parseIntervalLength); a date-time off that grid is
 *   read as sent. Intervals of one record may leave gaps but must not overlap.
 * - Data quality flags: empty (OK, validated), E (estimated), A (adjustment), N (no value), R
 *   (raw, not validated); any other flag is a problem. N carries no value (`value` null).
 * - The protocol text states that all times are UTC. Many senders use the utility's local time
 *   instead, so the reader takes the zone as a required option and guesses nothing: `UTC`, a
 *   fixed offset such as `-08:00`, or an IANA name such as `America/Los_Angeles`. A date-time that
 *   daylight saving makes ambiguous or non-existent in that zone is a problem (Temporal, with
 *   disambiguation 'reject').
 * - Records may, by the protocol, be truncated after the header with missing fields read as
 *   empty, and an empty number as zero. The reader refuses both: count must equal the triples
 *   present, and an empty value is a problem, since either would otherwise bill a zero.
 * - A record ends with an optional CRC-16 field (`H` and four hex digits). The text does not give
 *   the CRC parameters or coverage, so a CRC is noted as not checked, never used to reject.
 * - Every line ends with CR LF. A last line without a terminator is read only if it reaches its
 *   CRC field (a trailing comma at least): otherwise a cut inside its last value could not be
 *   seen, and it is reported (`record_unterminated`).
 * - Each record stands alone, so a record with any error is reported whole as one problem and
 *   none of its intervals is read; the next line is read as if nothing happened.
 * - The protocol allows at most 48 triples per record and 2048 characters per line; longer ones
 *   are read and noted, since they are unambiguous. Its per-field length limits (256 characters,
 *   16 for numbers, 12 for protocol text) are not checked.
 * - Units must be in the protocol's list (CMEP_UNIT_TEXTS), in any case; anything else, vendor
 *   units such as GALREG included, is a problem, not guessed.
 * - Values are floating-point text (plain, or scientific with E, e, D or d); they are reported as
 *   exact decimal strings, scientific notation rewritten exactly. The calculation constant is
 *   reported, not applied (applyCalculationConstant does it exactly).
 *
 * It is not wired into the ingestion pipeline: mapping events to readings (identity, units, which
 * purposes and qualities a ledger accepts) is the caller's job.
 */
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { decodeUtf8 } from '../bytes.js';
import { LineScanner, type ScannedLine } from '../lines.js';
import type { CmepEvent, CmepSource, CmepTolerance } from './cmep-events.js';
import { CmepRecordInterpreter, type CmepLine } from './cmep-records.js';
import { canonicalTimeZone } from './cmep-values.js';

export * from './cmep-events.js';
export { CMEP_UNIT_TEXTS, applyCalculationConstant } from './cmep-values.js';

/** The longest line read, without its terminator. A 48-triple record is under 1.5 KB. */
export const CMEP_LINE_BYTES_MAX = 1024 * 1024;

export interface CmepReaderOptions {
  /**
   * The time zone the delivery's date-times are written in: `UTC` (what the protocol text
   * prescribes), a fixed offset (`-08:00`), or an IANA name (`America/Los_Angeles`). Required,
   * since the two readings of a local file differ by hours. An invalid zone is a programmer error.
   */
  timeZone: string;
}

export interface CmepReader {
  push(chunk: Uint8Array): CmepEvent[];
  end(): CmepEvent[];
}

/** A reader for one CMEP delivery. */
export function createCmepReader(options: CmepReaderOptions): CmepReader {
  const timeZone = canonicalTimeZone(options.timeZone);
  assert.ok(timeZone !== null, `not a time zone: ${options.timeZone}`);
  return new CmepByteReader(timeZone);
}

class CmepByteReader implements CmepReader {
  readonly #lines = new LineScanner(CMEP_LINE_BYTES_MAX);
  readonly #records: CmepRecordInterpreter;
  #blankLinesSkipped = 0;
  #markNoted = false;
  #ended = false;

  constructor(timeZone: string) {
    this.#records = new CmepRecordInterpreter(timeZone);
  }

  push(chunk: Uint8Array): CmepEvent[] {
    assert.ok(!this.#ended, 'push() after end()');
    const events: CmepEvent[] = [];
    for (const line of this.#lines.push(chunk)) this.#finishLine(line, events);
    return events;
  }

  end(): CmepEvent[] {
    const events: CmepEvent[] = [];
    if (this.#ended) return events;
    this.#ended = true;
    for (const line of this.#lines.end()) this.#finishLine(line, events);
    const source: CmepSource = {
      line: Math.max(1, this.#lines.nextLine - 1),
      byteOffset: this.#lines.bytesSeen,
      byteLength: 0,
    };
    events.push(...this.#records.finish(source));
    return events;
  }

  #finishLine(scanned: ScannedLine, events: CmepEvent[]): void {
    const { line, byteOffset, byteLength, terminated, crlf } = scanned;
    const source: CmepSource = { line, byteOffset, byteLength };
    if (scanned.bytes === null) {
      const message =
        `Line ${source.line} is ${byteLength} bytes long, over the ${CMEP_LINE_BYTES_MAX}-byte ` +
        `limit; it is skipped unread.`;
      const unread = this.#unreadLine(source, terminated);
      events.push(...this.#records.interpretUnreadable(unread, 'line_too_long', message));
      return;
    }
    const lineFeedOnly = terminated && !crlf;
    this.#readLine(scanned.bytes, source, terminated, lineFeedOnly, events);
  }

  #unreadLine(source: CmepSource, terminated: boolean): CmepLine {
    return { fields: [], source, tolerated: this.#takeNotes(), terminated, textChars: 0 };
  }

  #readLine(
    lineBytes: Buffer,
    source: CmepSource,
    terminated: boolean,
    lineFeedOnly: boolean,
    events: CmepEvent[],
  ): void {
    const text = decodeUtf8(lineBytes);
    if (text === null) {
      const message = `Line ${source.line} is not valid UTF-8 text; it is skipped unread.`;
      const line = this.#unreadLine(source, terminated);
      events.push(...this.#records.interpretUnreadable(line, 'encoding', message));
      return;
    }
    if (text.trim() === '') {
      this.#blankLinesSkipped += 1;
      return;
    }
    const tolerated = this.#takeNotes();
    if (lineFeedOnly) tolerated.push({ code: 'lf_line_end', message: 'Line ends with LF only.' });
    const fields = splitFields(text);
    if (fields === null) {
      const message =
        `Line ${source.line} has a quotation mark that does not enclose a whole field, so its ` +
        `fields cannot be told apart.`;
      const line = { fields: [], source, tolerated, terminated, textChars: text.length };
      events.push(...this.#records.interpretUnreadable(line, 'quote_invalid', message));
      return;
    }
    if (fields.trimmed) {
      tolerated.push({ code: 'whitespace_trimmed', message: 'Spaces around fields removed.' });
    }
    const line = { fields: fields.values, source, tolerated, terminated, textChars: text.length };
    events.push(...this.#records.interpret(line));
  }

  /** The notes that belong to the next non-blank line: a byte order mark, blank lines skipped. */
  #takeNotes(): CmepTolerance[] {
    const tolerated: CmepTolerance[] = [];
    if (!this.#markNoted && this.#lines.skippedMark) {
      this.#markNoted = true;
      tolerated.push({ code: 'byte_order_mark', message: 'A UTF-8 byte order mark was skipped.' });
    }
    if (this.#blankLinesSkipped > 0) {
      const message = `${this.#blankLinesSkipped} blank lines before this line skipped.`;
      tolerated.push({ code: 'blank_lines_skipped', message });
      this.#blankLinesSkipped = 0;
    }
    return tolerated;
  }
}

const QUOTE = '"';
const COMMA = ',';

/**
 * Splits a line at commas. A field whose first non-blank character is a quotation mark runs to the
 * next quotation mark, which may be followed only by blanks before the comma; its text is kept as
 * sent. Other fields are trimmed. Null when a quotation mark does not close a field that way.
 */
function splitFields(text: string): { values: string[]; trimmed: boolean } | null {
  const values: string[] = [];
  let trimmed = false;
  let index = 0;
  for (;;) {
    const opening = skipBlanks(text, index);
    if (text[opening] === QUOTE) {
      const closing = text.indexOf(QUOTE, opening + 1);
      if (closing === -1) return null;
      const after = skipBlanks(text, closing + 1);
      if (after < text.length && text[after] !== COMMA) return null;
      values.push(text.slice(opening + 1, closing));
      trimmed ||= opening > index || after > closing + 1;
      if (after >= text.length) break;
      index = after + 1;
      continue;
    }
    const comma = text.indexOf(COMMA, index);
    const raw = text.slice(index, comma === -1 ? text.length : comma);
    const value = raw.trim();
    trimmed ||= value.length !== raw.length;
    values.push(value);
    if (comma === -1) break;
    index = comma + 1;
  }
  return { values, trimmed };
}

function skipBlanks(text: string, index: number): number {
  let at = index;
  while (text[at] === ' ' || text[at] === '\t') at += 1;
  return at;
}
