import { latin1, MalformedFrameError } from '@crosstalk/core';
import { type ByteReader, overrun, PROTOCOL } from '../wire/byte-reader.js';
import { ByteWriter, checkLength } from '../wire/byte-writer.js';

/** TLV: type u16, length u16, value (PROTOCOLS.md "OSCAR"; retro-aim-server wire/tlv.go). */
export interface Tlv {
  type: number;
  value: Uint8Array;
}

/** Reads TLVs until `end` (a chain fills its container; order and duplicates are kept). */
export function readTlvChain(r: ByteReader, end: number): Tlv[] {
  const tlvs: Tlv[] = [];
  while (r.offset < end) {
    const type = r.u16('TLV type');
    const length = r.u16('TLV length');
    if (r.offset + length > end) {
      throw new MalformedFrameError(
        PROTOCOL,
        `TLV 0x${type.toString(16)} of ${length} bytes overruns its block`,
        {
          offset: r.offset,
        },
      );
    }
    tlvs.push({ type, value: r.view(length, 'TLV value') });
  }
  return tlvs;
}

/** Reads exactly `count` TLVs (user-info blocks count them instead of sizing them). */
export function readTlvCount(r: ByteReader, count: number): Tlv[] {
  // Each TLV needs at least 4 bytes: check the count against what is left before allocating.
  r.need(count * 4, 'TLV count');
  const b = r.bytes;
  const tlvs: Tlv[] = [];
  let at = r.offset;
  for (let i = 0; i < count; i++) {
    if (at + 4 > r.end) overrun('TLV header', at);
    const type = (b[at]! << 8) | b[at + 1]!;
    const start = at + 4;
    at = start + ((b[at + 2]! << 8) | b[at + 3]!);
    if (at > r.end) overrun(`TLV 0x${type.toString(16)} value`, start);
    tlvs.push({ type, value: r.viewAt(start, at) });
    r.offset = at;
  }
  return tlvs;
}

export function tlvChainSize(tlvs: readonly Tlv[]): number {
  let n = 0;
  for (const t of tlvs) n += 4 + t.value.length;
  return n;
}

export function writeTlvChain(w: ByteWriter, tlvs: readonly Tlv[]): void {
  for (const t of tlvs) {
    checkLength(t.value.length, 0xffff, `TLV 0x${t.type.toString(16)}`);
    w.u16(t.type);
    w.u16(t.value.length);
    w.raw(t.value);
  }
}

export function encodeTlvChain(tlvs: readonly Tlv[]): Uint8Array {
  const w = new ByteWriter(tlvChainSize(tlvs));
  writeTlvChain(w, tlvs);
  return w.bytes;
}

/** The value of the first TLV of `type`, or undefined. */
export function findTlv(tlvs: readonly Tlv[], type: number): Uint8Array | undefined {
  for (const t of tlvs) if (t.type === type) return t.value;
  return undefined;
}

export function hasTlv(tlvs: readonly { type: number }[], type: number): boolean {
  for (const t of tlvs) if (t.type === type) return true;
  return false;
}

export function tlvString(tlvs: readonly Tlv[], type: number): string | undefined {
  const v = findTlv(tlvs, type);
  return v === undefined ? undefined : latin1(v);
}

export function tlvU16(tlvs: readonly Tlv[], type: number): number | undefined {
  const v = findTlv(tlvs, type);
  return v !== undefined && v.length >= 2 ? (v[0]! << 8) | v[1]! : undefined;
}

export function tlvU32(tlvs: readonly Tlv[], type: number): number | undefined {
  const v = findTlv(tlvs, type);
  return v !== undefined && v.length >= 4
    ? ((v[0]! << 24) | (v[1]! << 16) | (v[2]! << 8) | v[3]!) >>> 0
    : undefined;
}

/** Builds a TLV from bytes, a byte string (one character per byte) or a list of bytes. */
export function tlv(type: number, value: Uint8Array | string | number[] = new Uint8Array(0)): Tlv {
  if (typeof value === 'string') {
    const bytes = new Uint8Array(value.length);
    for (let i = 0; i < value.length; i++) bytes[i] = value.charCodeAt(i);
    return { type, value: bytes };
  }
  return { type, value: value instanceof Uint8Array ? value : Uint8Array.from(value) };
}

export function tlvU16Value(type: number, v: number): Tlv {
  return { type, value: Uint8Array.of(v >>> 8, v & 0xff) };
}

export function tlvU32Value(type: number, v: number): Tlv {
  return { type, value: Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff) };
}
