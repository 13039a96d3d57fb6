/**
 * A vendor CSV dialect as a pipeline parser: each interval row becomes a candidate reading of
 * electricity in kWh (the dialect converts Wh and MWh exactly), each problem a reject. Notes
 * (tolerated columns) produce no item. The dialect travels in the delivery's format context, so a
 * quarantined row is replayed with the dialect it was read with.
 */
import assert from 'node:assert/strict';
import {
  ToleranceCounter,
  type FormatContext,
  type ParseItem,
  type StreamParser,
} from '../../core/parser.js';
import type { CandidateReading, RecordLocation } from '../../core/reading.js';
import { recordReject, violation } from '../../core/reject.js';
import {
  createCsvDialectReader,
  parseCsvDialect,
  type CsvDialect,
  type CsvDialectEvent,
  type CsvDialectReader,
  type CsvDialectSource,
} from './csv-dialect-reader.js';
import { RecordNumbering } from '../items.js';

/** The channel of a row when the dialect maps none. */
const DEFAULT_CHANNEL = '1';

/** `context.dialect` is the dialect's JSON config; a missing or invalid one is a caller's error. */
export function createCsvDialectParser(context: FormatContext): StreamParser {
  assert.ok(context['dialect'] !== undefined, 'the csv-dialect format needs a dialect');
  return new CsvDialectParser(parseCsvDialect(context['dialect']), context['dialect']);
}

class CsvDialectParser implements StreamParser {
  readonly #reader: CsvDialectReader;
  readonly #dialectJson: unknown;
  readonly #tolerated = new ToleranceCounter();
  readonly #numbering = new RecordNumbering();

  constructor(dialect: CsvDialect, dialectJson: unknown) {
    this.#reader = createCsvDialectReader(dialect);
    this.#dialectJson = dialectJson;
  }

  push(chunk: Uint8Array): ParseItem[] {
    return this.#map(this.#reader.push(chunk));
  }

  end(): ParseItem[] {
    return this.#map(this.#reader.end());
  }

  context(): FormatContext {
    return { dialect: this.#dialectJson };
  }

  tolerated(): Readonly<Record<string, number>> {
    return this.#tolerated.counts();
  }

  #map(events: readonly CsvDialectEvent[]): ParseItem[] {
    const items: ParseItem[] = [];
    for (const event of events) {
      if (event.kind === 'interval') {
        const candidate: CandidateReading = {
          meterId: event.meterId,
          channel: event.channel ?? DEFAULT_CHANNEL,
          intervalStartMs: event.intervalStartUtcMs,
          intervalSeconds: event.intervalSeconds,
          commodity: 'electricity',
          unit: 'kWh',
          value: event.valueKwh,
          quality: event.quality ?? 'actual',
          qualityDetail: null,
          statusCode: 0,
          seq: 0,
          location: this.#location(event),
        };
        items.push({ kind: 'candidate', candidate });
      } else if (event.kind === 'note') {
        this.#tolerated.add([event]);
      } else if (event.kind === 'problem') {
        const field = `csv-dialect.${event.code}`;
        const violations = [violation('parse.format', field, event.value ?? '', event.message)];
        items.push({ kind: 'reject', reject: recordReject(violations, this.#location(event)) });
      }
    }
    return items;
  }

  #location(source: CsvDialectSource): RecordLocation {
    return this.#numbering.locate(source);
  }
}
