import { isCrossTalkError, MalformedFrameError } from '@crosstalk/core';
import { readSnacBody, type SnacBody, snacBodySize, writeSnacBody } from '../snac/snac-body.js';
import { readTlvChain, type Tlv, tlvChainSize, writeTlvChain } from '../tlv/tlv.js';
import { ByteReader, PROTOCOL } from '../wire/byte-reader.js';
import { ByteWriter, checkLength } from '../wire/byte-writer.js';
import { allocate, view } from '../wire/bytes.js';

/**
 * A FLAP frame: `0x2A | channel u8 | seq u16 | length u16 | payload` (PROTOCOLS.md "OSCAR";
 * retro-aim-server wire/frames.go FLAPFrame). The payload is structured by channel: 1 sign-on,
 * 2 SNAC, 4 sign-off; channels 3 and 5 (and anything that does not parse) stay raw.
 */
export interface FlapFrame {
  channel: number;
  seq: number;
  payload: FlapPayload;
}

/** What a FLAP frame carries, by channel: sign-on, sign-off, a SNAC, or bytes kept as they are. */
export type FlapPayload = SignonPayload | SignoffPayload | Snac | RawPayload;

/** Channel 1: FLAP version u32 (always 1), then TLVs (login name, roasted password, cookie). */
export interface SignonPayload {
  type: 'signon';
  version: number;
  tlvs: Tlv[];
}

/** Channel 4: TLVs (a roasted-password login reply, an error, or nothing). */
export interface SignoffPayload {
  type: 'signoff';
  tlvs: Tlv[];
}

/**
 * Channel 2: SNAC header family u16, subtype u16, flags u16, request id u32; with flag 0x8000 a
 * u16-length TLV block comes first (packet-aim.c "Contains Version of Family"); then the body.
 */
export interface Snac {
  type: 'snac';
  family: number;
  subtype: number;
  flags: number;
  requestId: number;
  tlvBlock?: Tlv[];
  body: SnacBody;
}

/** A FLAP payload kept as bytes (keep-alives, channels this codec does not interpret). */
export interface RawPayload {
  type: 'raw';
  bytes: Uint8Array;
}

export const FLAP_MARKER = 0x2a;
export const FLAP_HEADER_SIZE = 6;
export const SNAC_HEADER_SIZE = 10;

function decodeSnac(bytes: Uint8Array): Snac | RawPayload {
  const b = bytes;
  if (b.length < FLAP_HEADER_SIZE + SNAC_HEADER_SIZE)
    return { type: 'raw', bytes: view(b, FLAP_HEADER_SIZE, b.length) };
  const family = (b[6]! << 8) | b[7]!;
  const subtype = (b[8]! << 8) | b[9]!;
  const flags = (b[10]! << 8) | b[11]!;
  const requestId = ((b[12]! << 24) | (b[13]! << 16) | (b[14]! << 8) | b[15]!) >>> 0;
  let start = FLAP_HEADER_SIZE + SNAC_HEADER_SIZE;
  let tlvBlock: Tlv[] | undefined;
  if (flags & 0x8000 && b.length >= start + 2) {
    const length = (b[start]! << 8) | b[start + 1]!;
    if (start + 2 + length <= b.length) {
      try {
        tlvBlock = readTlvChain(new ByteReader(b, start + 2, start + 2 + length), start + 2 + length);
        start += 2 + length;
      } catch (error) {
        if (!isCrossTalkError(error)) throw error;
        // Not a TLV block after all: the whole body stays raw, block included.
      }
    }
  }
  const body = readSnacBody(family, subtype, b, start);
  const snac: Snac = { type: 'snac', family, subtype, flags, requestId, body };
  if (tlvBlock) snac.tlvBlock = tlvBlock;
  return snac;
}

function decodeTlvPayload(bytes: Uint8Array, start: number): Tlv[] | undefined {
  try {
    return readTlvChain(new ByteReader(bytes, start), bytes.length);
  } catch (error) {
    if (!isCrossTalkError(error)) throw error;
    return undefined;
  }
}

/**
 * Decodes one whole FLAP frame (as a framer returns it). Throws `MalformedFrameError` only when
 * `raw` is not a FLAP frame at all; a payload it cannot structure stays raw. Zero-copy: the byte
 * fields of the frame are views into `raw`, so a caller that reuses `raw` copies what it keeps
 * (the proxy session copies the feedbag items it remembers).
 */
export function decodeFlap(raw: Uint8Array): FlapFrame {
  if (raw.length < FLAP_HEADER_SIZE || raw[0] !== FLAP_MARKER) {
    throw new MalformedFrameError(PROTOCOL, 'not a FLAP frame (no 0x2A marker)');
  }
  const length = (raw[4]! << 8) | raw[5]!;
  if (length !== raw.length - FLAP_HEADER_SIZE) {
    throw new MalformedFrameError(
      PROTOCOL,
      `FLAP length ${length} does not match the ${raw.length - FLAP_HEADER_SIZE} payload bytes`,
    );
  }
  const bytes = raw;
  const channel = bytes[1]!;
  const seq = (bytes[2]! << 8) | bytes[3]!;
  let payload: FlapPayload | undefined;
  if (channel === 2) {
    payload = decodeSnac(bytes);
  } else if (channel === 1 && bytes.length >= FLAP_HEADER_SIZE + 4) {
    const version = ((bytes[6]! << 24) | (bytes[7]! << 16) | (bytes[8]! << 8) | bytes[9]!) >>> 0;
    const tlvs = decodeTlvPayload(bytes, FLAP_HEADER_SIZE + 4);
    if (tlvs) payload = { type: 'signon', version, tlvs };
  } else if (channel === 4) {
    const tlvs = decodeTlvPayload(bytes, FLAP_HEADER_SIZE);
    if (tlvs) payload = { type: 'signoff', tlvs };
  }
  return {
    channel,
    seq,
    payload: payload ?? { type: 'raw', bytes: view(bytes, FLAP_HEADER_SIZE, bytes.length) },
  };
}

export function flapPayloadSize(p: FlapPayload): number {
  switch (p.type) {
    case 'snac':
      return SNAC_HEADER_SIZE + (p.tlvBlock ? 2 + tlvChainSize(p.tlvBlock) : 0) + snacBodySize(p.body);
    case 'signon':
      return 4 + tlvChainSize(p.tlvs);
    case 'signoff':
      return tlvChainSize(p.tlvs);
    case 'raw':
      return p.bytes.length;
    default:
      throw new MalformedFrameError(
        PROTOCOL,
        `unknown FLAP payload type "${String((p as { type: unknown }).type)}"`,
      );
  }
}

/** Encodes a frame: sized first, then written into one buffer. */
export function encodeFlap(frame: FlapFrame): Uint8Array {
  const p = frame.payload;
  const size = flapPayloadSize(p);
  checkLength(size, 0xffff, 'FLAP payload');
  const w = new ByteWriter(FLAP_HEADER_SIZE + size);
  w.u8(FLAP_MARKER);
  w.u8(frame.channel);
  w.u16(frame.seq);
  w.u16(size);
  switch (p.type) {
    case 'snac':
      w.u16(p.family);
      w.u16(p.subtype);
      w.u16(p.flags);
      w.u32(p.requestId);
      if (p.tlvBlock) {
        const blockSize = tlvChainSize(p.tlvBlock);
        checkLength(blockSize, 0xffff, 'SNAC TLV block');
        w.u16(blockSize);
        writeTlvChain(w, p.tlvBlock);
      }
      writeSnacBody(w, p.body);
      break;
    case 'signon':
      w.u32(p.version);
      writeTlvChain(w, p.tlvs);
      break;
    case 'signoff':
      writeTlvChain(w, p.tlvs);
      break;
    case 'raw':
      w.raw(p.bytes);
      break;
  }
  return w.bytes;
}

/** Reads the sequence number of an encoded frame. */
export function seqOf(raw: Uint8Array): number {
  return (raw[2]! << 8) | raw[3]!;
}

/** A copy of an encoded frame with another sequence number: the only byte change a pass-through frame may get. */
export function withSeq(raw: Uint8Array, seq: number): Uint8Array {
  const out = allocate(raw.length);
  out.set(raw);
  out[2] = (seq >>> 8) & 0xff;
  out[3] = seq & 0xff;
  return out;
}
