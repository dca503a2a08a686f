import {
  BufferOverflowError,
  type Direction,
  type Framer,
  type FramerOptions,
  FrameTooLargeError,
  MalformedFrameError,
  type ProtocolError,
  StreamClosedError,
  TruncatedStreamError,
  toProtocolError,
} from '@crosstalk/core';
import { payloadRule } from './verbs.js';

export const PROTOCOL = 'msnp';

export interface CommandFramerOptions extends FramerOptions {
  /** Longest command line, CRLF included, checked while the line is still incomplete. Default 4096. */
  maxLineLength?: number;
}

/**
 * The largest frame by default: a line plus a payload. MSN clients cap an SB message at 1664 bytes
 * and MSNP13+ ADL bodies at 7500 (MSNP wiki, MSG and ADL); 64 KiB leaves room for GCF documents.
 */
export const DEFAULT_MAX_FRAME_SIZE = 64 * 1024;
export const DEFAULT_MAX_LINE_LENGTH = 4096;

const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
/** Nine digits: a payload length beyond that is over every cap we allow. */
const MAX_LENGTH_DIGITS = 9;

/**
 * Splits an MSNP byte stream into commands: a line up to LF, plus `length` payload bytes for the
 * payload commands of this direction (`verbs.ts`). Sans-IO, any chunking, lossless; a line longer
 * than `maxLineLength` and a payload length beyond `maxFrameSize` or `maxBuffered` fail before
 * anything is allocated for them. Frames inside one chunk are views of it; a frame split across
 * chunks is assembled in one buffer of its full size.
 */
export class CommandFramer implements Framer {
  readonly #direction: Direction;
  readonly #maxFrameSize: number;
  readonly #maxBuffered: number;
  readonly #maxLine: number;
  /** An incomplete line carried over from earlier chunks. */
  #line: Uint8Array = new Uint8Array(0);
  #lineFill = 0;
  /** A frame whose line is known, being filled with its payload. */
  #partial: Uint8Array | undefined;
  #filled = 0;
  #offset = 0;
  #error: ProtocolError | undefined;
  #ended = false;

  constructor(direction: Direction, options: CommandFramerOptions = {}) {
    this.#direction = direction;
    this.#maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    this.#maxBuffered = options.maxBuffered ?? this.#maxFrameSize;
    this.#maxLine = Math.min(
      options.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH,
      this.#maxFrameSize,
      this.#maxBuffered,
    );
  }

  get buffered(): number {
    return this.#partial ? this.#filled : this.#lineFill;
  }

  get offset(): number {
    return this.#offset;
  }

  get error(): ProtocolError | undefined {
    return this.#error;
  }

  push(chunk: Uint8Array): Uint8Array[] {
    if (this.#error) throw this.#error;
    if (this.#ended) throw this.#fail(new StreamClosedError(PROTOCOL, 'push after end'));
    const frames: Uint8Array[] = [];
    let at = 0;
    try {
      while (at < chunk.length) {
        if (this.#partial) {
          const take = Math.min(this.#partial.length - this.#filled, chunk.length - at);
          this.#partial.set(chunk.subarray(at, at + take), this.#filled);
          this.#filled += take;
          at += take;
          if (this.#filled < this.#partial.length) break;
          frames.push(this.#partial);
          this.#offset += this.#partial.length;
          this.#partial = undefined;
          this.#filled = 0;
          continue;
        }
        const lf = chunk.indexOf(LF, at);
        if (this.#lineFill > 0) {
          // Completing a line begun in an earlier chunk.
          const end = lf < 0 ? chunk.length : lf + 1;
          this.#appendLine(chunk.subarray(at, end));
          at = end;
          if (lf < 0) break;
          const line = this.#line.subarray(0, this.#lineFill);
          const payload = this.#payloadLength(line, 0, line.length);
          if (payload === 0) {
            frames.push(line.slice());
            this.#offset += line.length;
          } else {
            this.#partial = new Uint8Array(line.length + payload);
            this.#partial.set(line, 0);
            this.#filled = line.length;
          }
          this.#lineFill = 0;
          continue;
        }
        if (lf < 0) {
          this.#appendLine(chunk.subarray(at));
          at = chunk.length;
          break;
        }
        const lineLength = lf + 1 - at;
        if (lineLength > this.#maxLine) throw this.#lineTooLong(lineLength);
        const total = lineLength + this.#payloadLength(chunk, at, lf + 1);
        if (chunk.length - at >= total) {
          frames.push(chunk.subarray(at, at + total));
          this.#offset += total;
          at += total;
        } else {
          this.#partial = new Uint8Array(total);
          this.#partial.set(chunk.subarray(at), 0);
          this.#filled = chunk.length - at;
          at = chunk.length;
        }
      }
    } catch (error) {
      const failure = this.#fail(toProtocolError(error, PROTOCOL, this.#offset));
      // Good frames before the bad bytes are still delivered; `error` is set and the next call throws.
      if (frames.length > 0) return frames;
      throw failure;
    }
    return frames;
  }

  end(): void {
    if (this.#error) throw this.#error;
    this.#ended = true;
    if (this.buffered > 0) {
      throw this.#fail(new TruncatedStreamError(PROTOCOL, this.buffered, { offset: this.#offset }));
    }
  }

  /** Keeps an incomplete line, refusing one that is already longer than a line may be. */
  #appendLine(part: Uint8Array): void {
    const size = this.#lineFill + part.length;
    if (size > this.#maxLine) throw this.#lineTooLong(size);
    if (size > this.#line.length) {
      const grown = new Uint8Array(Math.min(Math.max(size, this.#line.length * 2, 64), this.#maxLine));
      grown.set(this.#line.subarray(0, this.#lineFill), 0);
      this.#line = grown;
    }
    this.#line.set(part, this.#lineFill);
    this.#lineFill = size;
  }

  #lineTooLong(size: number): ProtocolError {
    return size > this.#maxBuffered && this.#maxBuffered < this.#maxFrameSize
      ? new BufferOverflowError(PROTOCOL, size, this.#maxBuffered, { offset: this.#offset })
      : new FrameTooLargeError(PROTOCOL, size, this.#maxLine, { offset: this.#offset });
  }

  /**
   * The payload length a complete line announces (0 for a line without payload), checked against
   * the caps before the caller allocates anything for it.
   */
  #payloadLength(bytes: Uint8Array, start: number, end: number): number {
    // The verb: the bytes before the first space or line end.
    let verbEnd = start;
    while (verbEnd < end && bytes[verbEnd] !== SPACE && bytes[verbEnd] !== CR && bytes[verbEnd] !== LF)
      verbEnd++;
    if (verbEnd - start !== 3) return 0;
    const verb = String.fromCharCode(bytes[start]!, bytes[start + 1]!, bytes[start + 2]!);
    const rule = payloadRule(verb, this.#direction);
    if (rule === 'none') return 0;
    // The last argument: digits between the last space and the line end.
    let stop = end - 1; // the LF
    if (stop > start && bytes[stop - 1] === CR) stop--;
    let digits = stop;
    while (digits > verbEnd && bytes[digits - 1]! >= 0x30 && bytes[digits - 1]! <= 0x39) digits--;
    const count = stop - digits;
    const numeric = count > 0 && digits > verbEnd && bytes[digits - 1] === SPACE;
    if (!numeric) {
      if (rule === 'numeric') return 0;
      throw new MalformedFrameError(PROTOCOL, `${verb} needs a payload length as its last argument`, {
        offset: this.#offset,
      });
    }
    if (count > MAX_LENGTH_DIGITS) {
      throw new FrameTooLargeError(PROTOCOL, Number.POSITIVE_INFINITY, this.#maxFrameSize, {
        offset: this.#offset,
      });
    }
    let length = 0;
    for (let i = digits; i < stop; i++) length = length * 10 + (bytes[i]! - 0x30);
    const total = end - start + length;
    if (total > this.#maxFrameSize) {
      throw new FrameTooLargeError(PROTOCOL, total, this.#maxFrameSize, { offset: this.#offset });
    }
    if (total > this.#maxBuffered) {
      throw new BufferOverflowError(PROTOCOL, total, this.#maxBuffered, { offset: this.#offset });
    }
    return length;
  }

  #fail(error: ProtocolError): ProtocolError {
    this.#error = error;
    this.#partial = undefined;
    this.#lineFill = 0;
    return error;
  }
}
