/**
 * Splits a delivery's bytes into lines for the line-based readers (NEM12, CMEP): chunks split
 * anywhere, LF or CRLF terminators, a byte order mark skipped at the start, and a line longer
 * than the limit counted but never held. Pure and incremental.
 *
 * Protocol: `push(chunk)` returns the lines the chunk completed; `end()` returns the last line
 * when it had no terminator. Offsets are absolute in the delivery (the mark is counted).
 */
import { Buffer } from 'node:buffer';
import { ByteOrderMarkSkipper, CARRIAGE_RETURN, LINE_FEED } from './bytes.js';

export interface ScannedLine {
  /** 1-based. */
  line: number;
  byteOffset: number;
  /** Without the LF or CRLF terminator. */
  byteLength: number;
  /** The line's bytes, or null when byteLength is over the limit. */
  bytes: Buffer | null;
  crlf: boolean;
  /** False only for a last line without a line feed. */
  terminated: boolean;
}

export class LineScanner {
  readonly #lineBytesMax: number;
  readonly #byteOrderMark = new ByteOrderMarkSkipper();
  /** Pieces of the current line seen in earlier chunks; emptied once the line is oversized. */
  #carried: Buffer[] = [];
  #carriedBytes = 0;
  #lineOversized = false;
  #lineLastByte = -1;
  #chunkOffset = 0;
  #started = false;
  #lineOffset = 0;
  #lineNumber = 1;

  constructor(lineBytesMax: number) {
    this.#lineBytesMax = lineBytesMax;
  }

  /** Whether a byte order mark was skipped (known once the first bytes were pushed). */
  get skippedMark(): boolean {
    return this.#byteOrderMark.skippedBytes > 0;
  }

  /** Bytes seen so far, the mark included. */
  get bytesSeen(): number {
    return this.#chunkOffset;
  }

  /** The number the next line would have. */
  get nextLine(): number {
    return this.#lineNumber;
  }

  push(chunk: Uint8Array): ScannedLine[] {
    const lines: ScannedLine[] = [];
    for (const piece of this.#byteOrderMark.take(chunk)) this.#scan(piece, lines);
    return lines;
  }

  end(): ScannedLine[] {
    const lines: ScannedLine[] = [];
    for (const piece of this.#byteOrderMark.flush()) this.#scan(piece, lines);
    if (this.#carriedBytes > 0) {
      lines.push(this.#finishLine(Buffer.alloc(0), 0, 0, false));
      this.#startLine(this.#lineOffset + this.#carriedBytes);
    }
    return lines;
  }

  #scan(piece: Uint8Array, lines: ScannedLine[]): void {
    if (!this.#started) {
      this.#started = true;
      this.#chunkOffset = this.#byteOrderMark.skippedBytes;
      this.#lineOffset = this.#chunkOffset;
    }
    const bytes = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    let start = 0;
    for (;;) {
      const lineFeed = bytes.indexOf(LINE_FEED, start);
      if (lineFeed === -1) break;
      lines.push(this.#finishLine(bytes, start, lineFeed, true));
      this.#startLine(this.#chunkOffset + lineFeed + 1);
      start = lineFeed + 1;
    }
    this.#carry(bytes, start);
    this.#chunkOffset += bytes.length;
  }

  #carry(bytes: Buffer, start: number): void {
    const added = bytes.length - start;
    if (added === 0) return;
    // One byte past the limit is held, since it may be the carriage return of a CRLF.
    if (!this.#lineOversized && this.#carriedBytes + added > this.#lineBytesMax + 1) {
      this.#lineOversized = true;
      this.#carried = [];
    }
    // A copy, so that the caller may reuse its chunk buffer after push() returns.
    if (!this.#lineOversized) this.#carried.push(Buffer.from(bytes.subarray(start)));
    this.#carriedBytes += added;
    this.#lineLastByte = bytes[bytes.length - 1] ?? -1;
  }

  #startLine(offset: number): void {
    this.#lineOffset = offset;
    this.#lineNumber += 1;
    this.#carried = [];
    this.#carriedBytes = 0;
    this.#lineOversized = false;
    this.#lineLastByte = -1;
  }

  /**
   * The current line ends at `end` of `bytes`, its line feed (if `terminated`) not included. A
   * carriage return before the end is part of the terminator, even on an unterminated last line.
   */
  #finishLine(bytes: Buffer, start: number, end: number, terminated: boolean): ScannedLine {
    const lastByte = end > start ? (bytes[end - 1] ?? -1) : this.#lineLastByte;
    const crlf = lastByte === CARRIAGE_RETURN;
    const totalBytes = this.#carriedBytes + end - start;
    const byteLength = crlf ? totalBytes - 1 : totalBytes;
    const line = { line: this.#lineNumber, byteOffset: this.#lineOffset, byteLength };
    if (byteLength > this.#lineBytesMax) return { ...line, bytes: null, crlf, terminated };
    const lineBytes =
      this.#carriedBytes === 0
        ? bytes.subarray(start, start + byteLength)
        : Buffer.concat([...this.#carried, bytes.subarray(start, end)]).subarray(0, byteLength);
    return { ...line, bytes: lineBytes, crlf, terminated };
  }
}
