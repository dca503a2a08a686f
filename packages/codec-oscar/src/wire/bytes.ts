/**
 * Hot-path byte helpers, measured in bench/codec-oscar.ts: on V8 a typed array bigger than 64
 * bytes gets its own off-heap backing store, which costs far more than the parsing around it, so
 * decoding makes views (never copies) and encoding carves frames out of a shared slab, as Node's
 * own Buffer pool does.
 */

/** Shared by every empty field (ICBM TLV 3 and friends): nothing to alias, nothing to allocate. */
export const EMPTY = new Uint8Array(0);

/** A view of `bytes[start, end)`; `new Uint8Array(buffer, offset, length)` is cheaper than `subarray`. */
export function view(bytes: Uint8Array, start: number, end: number): Uint8Array {
  if (end === start) return EMPTY;
  return new Uint8Array(bytes.buffer, bytes.byteOffset + start, end - start);
}

type Slice = (this: Uint8Array, start: number, end: number) => string;
// Node's Buffer has native Latin-1 and hex decoders (one string allocation each, where a loop
// allocates one per character); elsewhere loops do the same, exactly.
const nodeBuffer = (globalThis as { Buffer?: { prototype: { latin1Slice?: Slice; hexSlice?: Slice } } })
  .Buffer;
const nativeLatin1 = nodeBuffer?.prototype.latin1Slice;
const nativeHex = nodeBuffer?.prototype.hexSlice;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Lower-case hex of `bytes[start, end)`. */
export function hexString(bytes: Uint8Array, start: number, end: number): string {
  if (nativeHex) return nativeHex.call(bytes, start, end);
  let s = '';
  for (let i = start; i < end; i++) s += HEX[bytes[i]!];
  return s;
}

/** One char per byte: exact for any bytes (WHATWG "latin1" is windows-1252, so not TextDecoder). */
export function latin1String(bytes: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n <= 0) return '';
  if (n > 2 && nativeLatin1) return nativeLatin1.call(bytes, start, end);
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

const utf16be = (() => {
  try {
    return new TextDecoder('utf-16be', { fatal: true, ignoreBOM: true });
  } catch {
    return undefined;
  }
})();

/** UCS-2BE code units as a string, exactly (a lone surrogate too: the fatal decoder refuses it, the loop keeps it). */
export function ucs2String(bytes: Uint8Array, start: number, end: number): string {
  if (utf16be && end - start > 8) {
    try {
      return utf16be.decode(view(bytes, start, end));
    } catch {
      // not well-formed UTF-16: fall through to the exact loop
    }
  }
  let s = '';
  for (let i = start; i + 1 < end; i += 2) s += String.fromCharCode((bytes[i]! << 8) | bytes[i + 1]!);
  return s;
}

const SLAB_SIZE = 64 * 1024;
const SLAB_MAX = 4096;
let slab = new ArrayBuffer(SLAB_SIZE);
let slabUsed = 0;

/** A zeroed buffer for one encoded frame: small ones share a 64 KiB slab (a frame keeps its slab alive). */
export function allocate(size: number): Uint8Array {
  if (size > SLAB_MAX) return new Uint8Array(size);
  if (slabUsed + size > SLAB_SIZE) {
    slab = new ArrayBuffer(SLAB_SIZE);
    slabUsed = 0;
  }
  const out = new Uint8Array(slab, slabUsed, size);
  // 8-byte alignment keeps later views cheap.
  slabUsed += (size + 7) & ~7;
  return out;
}
