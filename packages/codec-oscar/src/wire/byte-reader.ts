import { MalformedFrameError } from '@crosstalk/core';
import { EMPTY, latin1String } from './bytes.js';

export const PROTOCOL = 'oscar';

/** A field that runs past the end of its container. */
export function overrun(what: string, offset: number): never {
  throw new MalformedFrameError(PROTOCOL, `${what} overruns its container`, { offset });
}

/**
 * Bounded big-endian reader over one whole frame (never a raw TCP chunk: a framer comes first).
 * Every length read from the wire is checked against the bytes that remain before anything is
 * sliced, and every failure is a typed `MalformedFrameError`.
 */
export class ByteReader {
  readonly bytes: Uint8Array;
  offset: number;
  readonly end: number;
  /** `bytes.buffer` and `bytes.byteOffset`, read once: the `buffer` getter costs as much as a view. */
  readonly #buffer: ArrayBufferLike;
  readonly #base: number;

  constructor(bytes: Uint8Array, offset = 0, end = bytes.length, parent?: ByteReader) {
    this.bytes = bytes;
    this.offset = offset;
    this.end = end;
    this.#buffer = parent ? parent.#buffer : bytes.buffer;
    this.#base = parent ? parent.#base : bytes.byteOffset;
  }

  /** A reader over `[start, end)` of the same bytes. */
  within(start: number, end: number): ByteReader {
    return new ByteReader(this.bytes, start, end, this);
  }

  /** A view of `bytes[start, end)` (no copy, no bounds check: callers check first). */
  viewAt(start: number, end: number): Uint8Array {
    return end === start ? EMPTY : new Uint8Array(this.#buffer, this.#base + start, end - start);
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  get done(): boolean {
    return this.offset >= this.end;
  }

  need(n: number, what: string): void {
    if (n > this.end - this.offset) {
      throw new MalformedFrameError(PROTOCOL, `${what}: needs ${n} bytes, ${this.end - this.offset} left`, {
        offset: this.offset,
      });
    }
  }

  u8(what = 'u8'): number {
    this.need(1, what);
    return this.bytes[this.offset++]!;
  }

  u16(what = 'u16'): number {
    this.need(2, what);
    const b = this.bytes;
    const o = this.offset;
    this.offset = o + 2;
    return (b[o]! << 8) | b[o + 1]!;
  }

  u16le(what = 'u16le'): number {
    this.need(2, what);
    const b = this.bytes;
    const o = this.offset;
    this.offset = o + 2;
    return b[o]! | (b[o + 1]! << 8);
  }

  u32(what = 'u32'): number {
    this.need(4, what);
    const b = this.bytes;
    const o = this.offset;
    this.offset = o + 4;
    return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
  }

  /** A view of the next `n` bytes (checked first; no copy). */
  view(n: number, what = 'bytes'): Uint8Array {
    this.need(n, what);
    const v = this.viewAt(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }

  /** A byte string (one char per byte, exact for any bytes) of the next `n` bytes. */
  byteString(n: number, what = 'string'): string {
    this.need(n, what);
    const start = this.offset;
    this.offset = start + n;
    return latin1String(this.bytes, start, start + n);
  }

  /** u8 length, then that many bytes as a byte string (screen names). */
  string8(what = 'u8-length string'): string {
    return this.byteString(this.u8(what), what);
  }

  /** u16 length, then that many bytes as a byte string. */
  string16(what = 'u16-length string'): string {
    return this.byteString(this.u16(what), what);
  }

  /** The rest of the frame as a view. */
  rest(): Uint8Array {
    const v = this.viewAt(this.offset, this.end);
    this.offset = this.end;
    return v;
  }

  /** Fails unless everything was consumed (exact decoding is what makes re-encoding byte-identical). */
  expectEnd(what: string): void {
    if (this.offset !== this.end) {
      throw new MalformedFrameError(
        PROTOCOL,
        `${what}: ${this.end - this.offset} unexpected trailing bytes`,
        {
          offset: this.offset,
        },
      );
    }
  }
}
