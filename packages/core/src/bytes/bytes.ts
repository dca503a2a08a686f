import { InvalidEncodingError } from '../errors/errors.js';

/** Small byte helpers shared by every codec (Uint8Array only, so codecs stay runtime-neutral). */

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Lower-case hex of the bytes, two digits each, no separator. */
export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]!];
  return out;
}

/** Parses hex, ignoring ASCII whitespace; throws `TypeError` on anything else. */
export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) throw new TypeError('not a hex string');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** The parts in one buffer; a single part is returned as it is (no copy). */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  return parts.length === 1 ? parts[0]! : joinBytes(parts);
}

/**
 * The parts copied into one new buffer, even a single part: proxy sessions hand out one write per
 * side, and the frames they hold may be views of a chunk the caller reuses.
 */
export function joinBytes(parts: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** True when both hold the same bytes in the same order. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const utf8Encoder = new TextEncoder();
const utf8Fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Encodes text as UTF-8. */
export function utf8(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}

/**
 * `text` cut at code points into pieces of at most `maxBytes` UTF-8 bytes each, in order (one
 * empty piece for empty text): what a protocol with a message size limit sends a long text as,
 * without splitting a character. A code point longer than `maxBytes` is a piece of its own.
 */
export function splitUtf8(text: string, maxBytes: number): string[] {
  const pieces = [''];
  let size = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    const n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; // a lone surrogate: U+FFFD, 3
    if (size + n > maxBytes && pieces.at(-1)) {
      pieces.push('');
      size = 0;
    }
    pieces[pieces.length - 1] += ch;
    size += n;
  }
  return pieces;
}

/** Decodes a whole UTF-8 unit (never a raw TCP chunk) in fatal mode. */
export function decodeUtf8(bytes: Uint8Array, protocol: string, offset?: number): string {
  try {
    return utf8Fatal.decode(bytes);
  } catch (cause) {
    throw new InvalidEncodingError(protocol, 'invalid UTF-8', { cause, offset });
  }
}

/** Latin-1: one byte per character, which also round-trips arbitrary bytes through a string. */
export function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode(...bytes.subarray(i, Math.min(i + 8192, bytes.length)));
  }
  return s;
}

/** Bytes from a string holding one byte per character (its low 8 bits), the inverse of a Latin-1 decode. */
export function fromLatin1(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

/**
 * JSON for frames that hold bytes: each `Uint8Array` becomes `{ "$hex": "..." }` and back, so
 * `crosstalk decode` output can be fed to `crosstalk encode` unchanged.
 */
export function bytesToJson(value: unknown): unknown {
  if (value instanceof Uint8Array) return { $hex: toHex(value) };
  if (Array.isArray(value)) return value.map(bytesToJson);
  if (typeof value === 'bigint') return { $bigint: value.toString() };
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = bytesToJson(v);
    return out;
  }
  return value;
}

/** Reverses `bytesToJson`: turns every `{ "$hex": ... }` in a JSON value back into bytes, recursively. */
export function bytesFromJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(bytesFromJson);
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    if (keys.length === 1 && typeof record.$hex === 'string') return fromHex(record.$hex);
    if (keys.length === 1 && typeof record.$bigint === 'string') return BigInt(record.$bigint);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(record)) out[k] = bytesFromJson(v);
    return out;
  }
  return value;
}
