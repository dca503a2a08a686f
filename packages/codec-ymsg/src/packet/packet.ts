import { FrameTooLargeError, MalformedFrameError } from '@crosstalk/core';
import { HEADER_SIZE, hasMagic, PROTOCOL, readU16, readU32, writeHeader } from '../header/header.js';
import { latin1, textBytes } from './bytes.js';

/** One key/value pair: a decimal key and the value's bytes, as they are on the wire. */
export type YmsgPair = readonly [key: number, value: Uint8Array];

/** A value given to a builder: bytes as they are, or text (sent as UTF-8). */
export type YmsgValue = Uint8Array | string | number;

/** What a `YmsgPacket` is made of; the header fields default to a client's. */
export interface YmsgPacketInit {
  /** Raw header version (default 0x0010, libpurple's YAHOO_PROTO_VER). */
  version?: number;
  vendor?: number;
  service: number;
  status?: number;
  sessionId?: number;
  pairs?: readonly (readonly [number, YmsgValue])[];
  /** A payload that is not key/value pairs, kept verbatim (mutually exclusive with `pairs`). */
  raw?: Uint8Array;
}

/** Caps checked while a payload is read, before anything is allocated for it. */
export interface PayloadLimits {
  /** Most key/value pairs in one packet. Default 8192. */
  maxPairs?: number;
  /** Longest single value in bytes. Default 65535 (the payload cap). */
  maxValueLength?: number;
}

export const DEFAULT_MAX_PAIRS = 8192;
export const MAX_PAYLOAD = 0xffff;
const SEP_0 = 0xc0; // every key and value ends with C0 80 (libpurple yahoo_packet.c)
const SEP_1 = 0x80;
const MAX_KEY_DIGITS = 9;

const EMPTY = new Uint8Array(0);
const NO_PAIRS: YmsgPair[] = Object.freeze([]) as unknown as YmsgPair[];

/**
 * A YMSG packet: the header fields plus the payload's key/value pairs in wire order (keys repeat).
 * A payload that is not a clean run of `key C0 80 value C0 80` is kept as `raw` instead, so every
 * frame re-encodes byte for byte. Decoded packets index the payload once and materialise `pairs`
 * on first use; their values are views into the decoded frame (copy the frame to keep them longer
 * than the buffer it came in).
 */
export class YmsgPacket {
  version: number;
  vendor: number;
  service: number;
  status: number;
  sessionId: number;
  /** The payload verbatim when it does not parse as key/value pairs. */
  readonly raw: Uint8Array | undefined;
  /** The frame this packet was decoded from, and `[key, start, end]*` offsets into it. */
  #wire: Uint8Array | undefined;
  #index: number[] | undefined;
  #pairs: YmsgPair[] | undefined;

  constructor(init: YmsgPacketInit, wire?: { frame: Uint8Array; index: number[] | undefined }) {
    this.version = init.version ?? 0x0010;
    this.vendor = init.vendor ?? 0;
    this.service = init.service;
    this.status = init.status ?? 0;
    this.sessionId = init.sessionId ?? 0;
    this.raw = init.raw;
    if (wire !== undefined) {
      // Decoded: pairs stay offsets into the frame until someone asks for them.
      this.#wire = wire.frame;
      this.#index = wire.index;
      this.#pairs = wire.index === undefined ? NO_PAIRS : undefined;
      return;
    }
    if (init.raw !== undefined && init.pairs !== undefined && init.pairs.length > 0) {
      throw new TypeError('a YMSG packet has either pairs or a raw payload');
    }
    this.#pairs = init.raw === undefined && init.pairs !== undefined ? toPairs(init.pairs) : NO_PAIRS;
  }

  /** @internal A packet over a decoded frame; `index` holds `[key, start, end]` triples. */
  static fromWire(frame: Uint8Array, index: number[] | undefined): YmsgPacket {
    const init: YmsgPacketInit = {
      version: readU16(frame, 4),
      vendor: readU16(frame, 6),
      service: readU16(frame, 10),
      status: readU32(frame, 12),
      sessionId: readU32(frame, 16),
      raw: index === undefined ? frame.subarray(HEADER_SIZE) : undefined,
    };
    return new YmsgPacket(init, { frame, index });
  }

  /** The pairs in wire order (frozen: build a new packet with `with()` to change them). */
  get pairs(): readonly YmsgPair[] {
    if (this.#pairs === undefined) {
      const wire = this.#wire!;
      const index = this.#index!;
      const pairs: YmsgPair[] = [];
      for (let i = 0; i < index.length; i += 3) {
        pairs.push(Object.freeze([index[i]!, wire.subarray(index[i + 1]!, index[i + 2]!)] as const));
      }
      this.#pairs = Object.freeze(pairs) as YmsgPair[];
    }
    return this.#pairs;
  }

  get pairCount(): number {
    return this.#pairs === undefined ? this.#index!.length / 3 : this.#pairs.length;
  }

  has(key: number): boolean {
    return this.#find(key, 0) >= 0;
  }

  /** The first value of `key` as bytes. */
  bytes(key: number): Uint8Array | undefined {
    const at = this.#find(key, 0);
    return at < 0 ? undefined : this.#valueAt(at);
  }

  /** The first value of `key` as a Latin-1 string (binary-safe; text decoding is the translator's job). */
  get(key: number): string | undefined {
    const at = this.#find(key, 0);
    if (at < 0) return undefined;
    if (this.#pairs === undefined) return latin1(this.#wire!, this.#index![at + 1], this.#index![at + 2]);
    return latin1(this.#pairs[at]![1]);
  }

  /** Every value of `key`, in order, as Latin-1 strings. */
  getAll(key: number): string[] {
    const out: string[] = [];
    for (let at = this.#find(key, 0); at >= 0; at = this.#find(key, at + this.#stride())) {
      out.push(latin1(this.#valueAt(at)));
    }
    return out;
  }

  /** Visits the pairs without materialising them: `value` is a view valid during the call. */
  forEachPair(visit: (key: number, value: Uint8Array, position: number) => void): void {
    if (this.#pairs !== undefined) {
      for (let i = 0; i < this.#pairs.length; i++) visit(this.#pairs[i]![0], this.#pairs[i]![1], i);
      return;
    }
    const index = this.#index!;
    for (let i = 0; i < index.length; i += 3) {
      visit(index[i]!, this.#wire!.subarray(index[i + 1]!, index[i + 2]!), i / 3);
    }
  }

  /** A copy with some header fields or the pairs replaced (a decoded packet is never changed in place). */
  with(changes: Partial<YmsgPacketInit>): YmsgPacket {
    const pairs = changes.pairs ?? (changes.raw === undefined ? this.pairs : undefined);
    const raw = changes.raw ?? (changes.pairs === undefined ? this.raw : undefined);
    return new YmsgPacket({
      version: changes.version ?? this.version,
      vendor: changes.vendor ?? this.vendor,
      service: changes.service ?? this.service,
      status: changes.status ?? this.status,
      sessionId: changes.sessionId ?? this.sessionId,
      ...(raw !== undefined ? { raw } : { pairs: pairs ?? [] }),
    });
  }

  /** @internal The untouched payload of a decoded packet, for encoding without a rebuild. */
  get wirePayload(): Uint8Array | undefined {
    return this.#wire?.subarray(HEADER_SIZE);
  }

  #stride(): number {
    return this.#pairs === undefined ? 3 : 1;
  }

  #find(key: number, from: number): number {
    if (this.#pairs === undefined) {
      const index = this.#index!;
      for (let i = from; i < index.length; i += 3) if (index[i] === key) return i;
      return -1;
    }
    const pairs = this.#pairs;
    for (let i = from; i < pairs.length; i++) if (pairs[i]![0] === key) return i;
    return -1;
  }

  #valueAt(at: number): Uint8Array {
    if (this.#pairs === undefined) return this.#wire!.subarray(this.#index![at + 1], this.#index![at + 2]);
    return this.#pairs[at]![1];
  }
}

function toPairs(input: readonly (readonly [number, YmsgValue])[]): YmsgPair[] {
  const pairs: YmsgPair[] = [];
  for (const [key, value] of input) {
    if (!Number.isInteger(key) || key < 0 || key > 999_999_999) {
      throw new MalformedFrameError(
        PROTOCOL,
        `key ${key} is not a decimal key of at most ${MAX_KEY_DIGITS} digits`,
      );
    }
    const bytes = value instanceof Uint8Array ? value : textBytes(String(value));
    for (let i = 0; i + 1 < bytes.length; i++) {
      if (bytes[i] === SEP_0 && bytes[i + 1] === SEP_1) {
        throw new MalformedFrameError(PROTOCOL, `the value of key ${key} contains the C0 80 separator`);
      }
    }
    pairs.push(Object.freeze([key, bytes] as const));
  }
  return Object.freeze(pairs) as YmsgPair[];
}

/**
 * Indexes a payload (`frame[HEADER_SIZE..]`) as `key C0 80 value C0 80` runs: returns
 * `[key, start, end]` triples, or undefined when the payload is not a clean run of pairs (then
 * the packet keeps it raw). Keys must be canonical decimal (no sign, no leading zero), so the
 * index re-encodes to the same bytes. Caps are checked before each pair is recorded.
 */
export function indexPairs(frame: Uint8Array, limits: PayloadLimits = {}): number[] | undefined {
  const maxPairs = limits.maxPairs ?? DEFAULT_MAX_PAIRS;
  const maxValue = limits.maxValueLength ?? MAX_PAYLOAD;
  const out: number[] = [];
  const n = frame.length;
  let pos = HEADER_SIZE;
  while (pos < n) {
    const keyStart = pos;
    let key = 0;
    let c = frame[pos]!;
    while (c !== SEP_0) {
      if (c < 0x30 || c > 0x39 || pos - keyStart >= MAX_KEY_DIGITS) return undefined;
      key = key * 10 + (c - 0x30);
      if (++pos >= n) return undefined;
      c = frame[pos]!;
    }
    const keyLength = pos - keyStart;
    if (keyLength === 0 || (keyLength > 1 && frame[keyStart] === 0x30)) return undefined;
    if (frame[pos + 1] !== SEP_1) return undefined;
    pos += 2;
    const start = pos;
    // Values are mostly short: a byte loop, switching to the native indexOf for long ones.
    for (;;) {
      if (pos >= n) return undefined;
      const b = frame[pos]!;
      if (b === SEP_0) {
        if (frame[pos + 1] === SEP_1) break;
        pos++;
      } else if (pos - start > 32) {
        pos = frame.indexOf(SEP_0, pos);
        if (pos < 0) return undefined;
      } else {
        pos++;
      }
    }
    if (pos - start > maxValue) {
      throw new FrameTooLargeError(PROTOCOL, pos - start, maxValue, { offset: start });
    }
    if (out.length >= maxPairs * 3) {
      throw new MalformedFrameError(PROTOCOL, `more than ${maxPairs} key/value pairs in one packet`, {
        offset: keyStart,
      });
    }
    out.push(key, start, pos);
    pos += 2;
  }
  return out;
}

/** Decodes one whole frame (as the framer returns it). The packet's values are views into `frame`. */
export function decodePacket(frame: Uint8Array, limits?: PayloadLimits): YmsgPacket {
  if (frame.length < HEADER_SIZE) {
    throw new MalformedFrameError(PROTOCOL, `a frame is at least ${HEADER_SIZE} bytes, got ${frame.length}`);
  }
  if (!hasMagic(frame, 0))
    throw new MalformedFrameError(PROTOCOL, 'bad magic: a YMSG frame starts with "YMSG"');
  const length = readU16(frame, 8);
  if (length !== frame.length - HEADER_SIZE) {
    throw new MalformedFrameError(
      PROTOCOL,
      `header says ${length} payload bytes but the frame has ${frame.length - HEADER_SIZE}`,
    );
  }
  return YmsgPacket.fromWire(frame, indexPairs(frame, limits));
}

/** Payload bytes of `pairs` on the wire. */
export function payloadLength(pairs: readonly YmsgPair[]): number {
  let length = 0;
  for (const [key, value] of pairs) length += digits(key) + value.length + 4;
  return length;
}

function digits(key: number): number {
  let n = 1;
  while (key >= 10) {
    key = Math.floor(key / 10);
    n++;
  }
  return n;
}

/** The frame for a packet: header (with the payload length recomputed) and payload. */
export function encodePacket(packet: YmsgPacket): Uint8Array {
  const payload = packet.raw ?? packet.wirePayload;
  const length = payload ? payload.length : payloadLength(packet.pairs);
  if (length > MAX_PAYLOAD)
    throw new FrameTooLargeError(PROTOCOL, HEADER_SIZE + length, HEADER_SIZE + MAX_PAYLOAD);
  const out = new Uint8Array(HEADER_SIZE + length);
  writeHeader(out, {
    version: packet.version,
    vendor: packet.vendor,
    length,
    service: packet.service,
    status: packet.status,
    sessionId: packet.sessionId,
  });
  if (payload) {
    out.set(payload, HEADER_SIZE);
    return out;
  }
  let at = HEADER_SIZE;
  for (const [key, value] of packet.pairs) {
    const k = String(key);
    for (let i = 0; i < k.length; i++) out[at++] = k.charCodeAt(i);
    out[at++] = SEP_0;
    out[at++] = SEP_1;
    out.set(value, at);
    at += value.length;
    out[at++] = SEP_0;
    out[at++] = SEP_1;
  }
  return out;
}

/** Shorthand for building packets: `ymsgPacket(YmsgService.MESSAGE, [[1, 'dave'], ...], { status })`. */
export function ymsgPacket(
  service: number,
  pairs: readonly (readonly [number, YmsgValue])[],
  header: Omit<YmsgPacketInit, 'service' | 'pairs' | 'raw'> = {},
): YmsgPacket {
  return new YmsgPacket({ ...header, service, pairs });
}

export { EMPTY as EMPTY_VALUE };
