import { MalformedFrameError } from '@crosstalk/core';
import { PROTOCOL } from './byte-reader.js';
import { allocate } from './bytes.js';

type Latin1Write = (this: Uint8Array, s: string, offset: number, length: number) => number;
// Node's native Latin-1 writer; elsewhere the loop below does the same.
const nativeLatin1Write = (globalThis as { Buffer?: { prototype: { latin1Write?: Latin1Write } } }).Buffer
  ?.prototype.latin1Write;
const BEYOND_LATIN1 = /[^\u0000-\u00ff]/;

/**
 * Big-endian writer into a buffer sized in advance (STYLE.md: sized first, allocated once).
 * Length prefixes are range-checked so an oversized field is a typed error, never a silent wrap.
 */
export class ByteWriter {
  readonly bytes: Uint8Array;
  offset: number;

  constructor(size: number) {
    this.bytes = allocate(size);
    this.offset = 0;
  }

  u8(v: number): void {
    this.bytes[this.offset++] = v;
  }

  u16(v: number): void {
    const o = this.offset;
    this.bytes[o] = v >>> 8;
    this.bytes[o + 1] = v;
    this.offset = o + 2;
  }

  u16le(v: number): void {
    const o = this.offset;
    this.bytes[o] = v;
    this.bytes[o + 1] = v >>> 8;
    this.offset = o + 2;
  }

  u32(v: number): void {
    const o = this.offset;
    const b = this.bytes;
    b[o] = v >>> 24;
    b[o + 1] = v >>> 16;
    b[o + 2] = v >>> 8;
    b[o + 3] = v;
    this.offset = o + 4;
  }

  raw(v: Uint8Array): void {
    const n = v.length;
    // `set` has a fixed cost that dwarfs copying a few bytes (TLV values are mostly 2 to 16 bytes).
    if (n < 32) {
      const b = this.bytes;
      const o = this.offset;
      for (let i = 0; i < n; i++) b[o + i] = v[i]!;
    } else {
      this.bytes.set(v, this.offset);
    }
    this.offset += n;
  }

  /** A byte string: one byte per char; a char above U+00FF cannot be written and is a typed error. */
  byteString(s: string): void {
    if (s.length > 16 && nativeLatin1Write) {
      if (BEYOND_LATIN1.test(s))
        throw new MalformedFrameError(PROTOCOL, 'a byte string holds a character above U+00FF');
      this.offset += nativeLatin1Write.call(this.bytes, s, this.offset, s.length);
      return;
    }
    const b = this.bytes;
    let o = this.offset;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c > 0xff) throw new MalformedFrameError(PROTOCOL, 'a byte string holds a character above U+00FF');
      b[o++] = c;
    }
    this.offset = o;
  }

  string8(s: string, what: string): void {
    checkLength(s.length, 0xff, what);
    this.u8(s.length);
    this.byteString(s);
  }

  string16(s: string, what: string): void {
    checkLength(s.length, 0xffff, what);
    this.u16(s.length);
    this.byteString(s);
  }
}

export function checkLength(length: number, max: number, what: string): void {
  if (length > max) throw new MalformedFrameError(PROTOCOL, `${what} is ${length} bytes, more than ${max}`);
}
