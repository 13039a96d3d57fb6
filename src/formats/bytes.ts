/**
 * Byte-level pieces shared by the streaming parsers: strict UTF-8 decoding, the buffer that carries
 * one record across chunk boundaries, line counting, and the byte order mark at the start of a
 * delivery. Every piece is pure over the bytes it is given and holds at most one record.
 */
import assert from 'node:assert/strict';
import { Buffer, isAscii } from 'node:buffer';
import { RECORD_BYTES_MAX } from '../core/limits.js';

export const LINE_FEED = 0x0a;
export const CARRIAGE_RETURN = 0x0d;

const BYTE_ORDER_MARK = [0xef, 0xbb, 0xbf] as const;

// ignoreBOM keeps a U+FEFF inside a record as data, so that a record decodes the same wherever it
// stands.
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lenientDecoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/**
 * Decodes UTF-8, or returns null when the bytes are not valid UTF-8 (overlong, surrogate, cut...).
 */
export function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    return null;
  }
}

/**
 * How many bytes at the end of `bytes` begin a UTF-8 sequence that needs more bytes than are there
 * (0 to 3): what a chunked reader carries to the next chunk. Bytes that no later byte could make
 * valid are not counted; decoding reports them.
 */
export function incompleteTailLength(bytes: Uint8Array): number {
  for (let back = 1; back <= Math.min(3, bytes.byteLength); back += 1) {
    const byte = bytes[bytes.byteLength - back] as number;
    if ((byte & 0xc0) === 0x80) continue;
    const needed = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return needed > back ? back : 0;
  }
  return 0;
}

/**
 * The text of the longest start of `bytes` that is valid UTF-8, without a sequence cut at its end:
 * what can be read of bytes that do not decode whole. Validity of a start is kept by every shorter
 * start, so the longest is found by halving.
 */
export function validUtf8Prefix(bytes: Uint8Array): string {
  const startOf = (length: number): string | null => {
    try {
      const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
      return decoder.decode(bytes.subarray(0, length), { stream: true });
    } catch {
      return null;
    }
  };
  let valid = 0;
  let invalid = bytes.byteLength + 1;
  while (invalid - valid > 1) {
    const middle = Math.floor((valid + invalid) / 2);
    if (startOf(middle) === null) invalid = middle;
    else valid = middle;
  }
  return startOf(valid) ?? '';
}

/**
 * Decodes UTF-8 with replacement characters: only for showing an undecodable record to a person.
 */
export function decodeUtf8Lenient(bytes: Uint8Array): string {
  return lenientDecoder.decode(bytes);
}

/**
 * One pushed chunk as a Buffer view, whose indexOf is a memchr (Uint8Array's compares element by
 * element, several times slower), and which knows whether it is all ASCII, the common case, where
 * a record's text needs no UTF-8 validation.
 */
export class Chunk {
  readonly bytes: Buffer;
  // Buffer's subarray builds a FastBuffer through a slower path; a plain view is cut for decoding.
  readonly #plain: Uint8Array;
  readonly #ascii: boolean;

  constructor(bytes: Uint8Array) {
    this.bytes = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#plain = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#ascii = isAscii(this.#plain);
  }

  /**
   * The text of bytes [start, end) as a string of its own, or null when they are not valid UTF-8.
   * Each record is decoded alone: that measured faster than slicing one decoded chunk, and no
   * substring of a record's text can keep a whole chunk alive.
   */
  text(start: number, end: number): string | null {
    if (this.#ascii) return this.bytes.toString('latin1', start, end);
    return decodeUtf8(this.#plain.subarray(start, end));
  }
}

/**
 * A record at the limit plus the carriage return of its terminator, which is not yet known to be
 * one.
 */
const RECORD_BUFFER_BYTES_MAX = RECORD_BYTES_MAX + 1;

/**
 * The bytes of one record that began in an earlier chunk. Bounded: callers stop appending once a
 * record passes RECORD_BYTES_MAX and only count its length from then on.
 */
export class RecordBuffer {
  #bytes = new Uint8Array(4096);
  #length = 0;

  get length(): number {
    return this.#length;
  }

  append(source: Uint8Array, start: number, end: number): void {
    const needed = this.#length + end - start;
    assert.ok(needed <= RECORD_BUFFER_BYTES_MAX, 'a record buffer holds one bounded record');
    if (needed > this.#bytes.length) {
      const capacity = Math.min(Math.max(needed, this.#bytes.length * 2), RECORD_BUFFER_BYTES_MAX);
      const grown = new Uint8Array(capacity);
      grown.set(this.#bytes.subarray(0, this.#length));
      this.#bytes = grown;
    }
    this.#bytes.set(source.subarray(start, end), this.#length);
    this.#length = needed;
  }

  /** The held bytes; valid until the next append or clear. */
  view(): Uint8Array {
    return this.#bytes.subarray(0, this.#length);
  }

  clear(): void {
    this.#length = 0;
  }
}

/**
 * Drops a UTF-8 byte order mark at the very start of a delivery, even when the mark is split across
 * chunks. Bytes that only looked like the start of a mark are handed back unchanged.
 */
export class ByteOrderMarkSkipper {
  #matchedBytes = 0;
  #decided = false;
  /** Bytes dropped as a mark: 0 or 3. Offsets of the bytes handed on start after them. */
  skippedBytes = 0;

  take(chunk: Uint8Array): Uint8Array[] {
    if (this.#decided) return [chunk];
    let index = 0;
    while (
      index < chunk.length &&
      this.#matchedBytes < BYTE_ORDER_MARK.length &&
      chunk[index] === BYTE_ORDER_MARK[this.#matchedBytes]
    ) {
      index += 1;
      this.#matchedBytes += 1;
    }
    if (this.#matchedBytes === BYTE_ORDER_MARK.length) {
      this.#decided = true;
      this.skippedBytes = BYTE_ORDER_MARK.length;
      return [chunk.subarray(index)];
    }
    if (index === chunk.length) return [];
    this.#decided = true;
    return [this.#heldBytes(), chunk.subarray(index)];
  }

  /** At the end of the delivery: the bytes held back while undecided. */
  flush(): Uint8Array[] {
    if (this.#decided) return [];
    this.#decided = true;
    return [this.#heldBytes()];
  }

  #heldBytes(): Uint8Array {
    return Uint8Array.from(BYTE_ORDER_MARK.slice(0, this.#matchedBytes));
  }
}

/**
 * Counts line feeds lazily, so a parser that only needs the line of each record's first byte pays
 * one memchr-like pass per chunk instead of a test per byte.
 */
export class LineCounter {
  /** 1-based line of the byte just after the last counted line feed. */
  #line = 1;
  #bytes: Buffer = Buffer.alloc(0);
  #nextLineFeed = -1;

  startChunk(bytes: Buffer): void {
    this.#bytes = bytes;
    this.#nextLineFeed = bytes.indexOf(LINE_FEED);
  }

  /** The 1-based line of byte `index` of the current chunk; indexes must not go backwards. */
  lineAt(index: number): number {
    while (this.#nextLineFeed !== -1 && this.#nextLineFeed < index) {
      this.#line += 1;
      this.#nextLineFeed = this.#bytes.indexOf(LINE_FEED, this.#nextLineFeed + 1);
    }
    return this.#line;
  }

  /** Counts the rest of the current chunk; call before the next startChunk. */
  finishChunk(): number {
    return this.lineAt(this.#bytes.length);
  }
}
