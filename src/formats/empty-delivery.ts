/**
 * One rule for an empty delivery, whatever its format: zero bytes, or nothing but whitespace (and a
 * byte order mark), is quarantined as one span with `parse.empty`, its bytes kept and counted
 * once, so an operator finds it in the quarantine backlog instead of a silent success. A
 * well-formed delivery with no records in it (`[]`, a CSV header alone) is not this: its parser
 * yields nothing, and the ingest report calls it empty.
 */
import type { FormatContext, ParseItem, StreamParser } from '../core/parser.js';
import { spanRejectItem } from './items.js';

/** Wraps a format's parser so that an empty delivery gets the one verdict above. */
export function guardEmptyDelivery(parser: StreamParser): StreamParser {
  return new EmptyDeliveryGuard(parser);
}

const BYTE_ORDER_MARK = [0xef, 0xbb, 0xbf];

class EmptyDeliveryGuard implements StreamParser {
  readonly #parser: StreamParser;
  #sizeBytes = 0;
  #blank = true;
  /**
   * What the parser made of the blank bytes so far (a header reject, say), held until a byte that
   * is not blank shows the delivery is not empty. Blank bytes make few items, if any.
   */
  #held: ParseItem[] = [];

  constructor(parser: StreamParser) {
    this.#parser = parser;
  }

  push(chunk: Uint8Array): ParseItem[] {
    if (this.#blank) this.#blank = isBlank(chunk, this.#sizeBytes);
    this.#sizeBytes += chunk.length;
    const items = this.#parser.push(chunk);
    if (this.#blank) {
      this.#held.push(...items);
      return [];
    }
    return this.#release(items);
  }

  end(): ParseItem[] {
    const items = this.#parser.end();
    if (!this.#blank) return this.#release(items);
    this.#held = [];
    return [emptyDeliveryItem(this.#sizeBytes)];
  }

  context(): FormatContext {
    return this.#parser.context();
  }

  tolerated(): Readonly<Record<string, number>> {
    if (this.#blank) return {};
    return this.#parser.tolerated?.() ?? {};
  }

  #release(items: ParseItem[]): ParseItem[] {
    if (this.#held.length === 0) return items;
    const released = [...this.#held, ...items];
    this.#held = [];
    return released;
  }
}

/** Whether `chunk`, starting at `offset` of the delivery, is whitespace or the leading mark. */
function isBlank(chunk: Uint8Array, offset: number): boolean {
  for (let index = 0; index < chunk.length; index++) {
    const byte = chunk[index];
    if (byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d) continue;
    if (byte === BYTE_ORDER_MARK[offset + index]) continue;
    return false;
  }
  return true;
}

function emptyDeliveryItem(sizeBytes: number): ParseItem {
  const location = { recordIndex: 0, line: 1, byteOffset: 0, byteLength: sizeBytes };
  const message =
    sizeBytes === 0
      ? 'The delivery is empty: it has no bytes, so it holds no records.'
      : `The delivery holds no records: its ${sizeBytes} bytes are nothing but whitespace.`;
  return spanRejectItem('parse.empty', `${sizeBytes} bytes`, message, location);
}
