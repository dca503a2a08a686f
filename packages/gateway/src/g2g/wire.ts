import { G2gProtocolError } from '../errors/errors.js';

/**
 * G2G framing, inside the transport's encrypted stream: `u32 length | u8 type | body`, length
 * counting type + body. Types: EVENT (u32 message id + canonical stanza), LOCATED (an EVENT with
 * its sender's location record: u32 message id + u16 record length + the record as the directory
 * stores it + canonical stanza; version 2), ROUTED (u32 message id + a routed event's envelope,
 * routing/envelope.ts), ACK and NACK (u32 message id [+ delivering protocol | error code]), PING.
 * The peers' keys were proved by the transport's Noise handshake, so the protocol has no handshake
 * of its own. One framer per direction; caps checked before allocation.
 */
export const G2gType = { event: 16, ack: 17, nack: 18, routed: 19, located: 20, ping: 32 } as const;

/**
 * The G2G version this code speaks, announced in its location records (`g2g` in the body): a
 * gateway sends LOCATED frames only to one whose record announces 2 or more, since a gateway of
 * version 1 (no `g2g`) closes a link on a frame type it does not know.
 */
export const G2G_VERSION = 2;

/** The largest location record a LOCATED frame carries (its length is a u16). */
export const MAX_LOCATED_RECORD = 0xffff;

/**
 * A LOCATED frame's body after its message id, as parts for `encodeG2g`: the record's length, the
 * sender's location record, then the event.
 */
export function locatedParts(record: Uint8Array, payload: Uint8Array): Uint8Array[] {
  if (record.length > MAX_LOCATED_RECORD)
    throw new RangeError(`a location record of ${record.length} bytes does not fit a LOCATED frame`);
  return [Uint8Array.of(record.length >> 8, record.length & 0xff), record, payload];
}

/** Splits a LOCATED frame's body (after its message id) into the record and the event; views, no copies. */
export function decodeLocated(body: Uint8Array): { record: Uint8Array; payload: Uint8Array } {
  if (body.length < 2) throw new G2gProtocolError('LOCATED frame too short for its record length');
  const length = (body[0]! << 8) | body[1]!;
  if (length === 0 || 2 + length > body.length)
    throw new G2gProtocolError(`LOCATED record length ${length} outside 1..${body.length - 2}`);
  return { record: body.subarray(2, 2 + length), payload: body.subarray(2 + length) };
}

export const MAX_G2G_FRAME = 1024 * 1024;

export interface G2gFrame {
  type: number;
  body: Uint8Array;
}

/** A frame of `type` whose body is `parts` one after another: one allocation, each part copied once. */
export function encodeG2g(type: number, ...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  // From Buffer's pool: a fresh ArrayBuffer (`new Uint8Array`) of a frame's size costs several
  // times as much on this hot path (bench/g2g-frames.ts); the frame lives until it is written.
  const out = Buffer.allocUnsafe(5 + length);
  out.writeUInt32BE(1 + length, 0);
  out[4] = type;
  let at = 5;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * Splits a G2G byte stream into frames. `feed` appends what arrived; `next` takes one frame at a
 * time, checking its length against the limits in force at that moment (`maxBuffered` may change
 * between frames). `push` does both.
 */
export class G2gFramer {
  #data: Uint8Array = new Uint8Array(0);
  #at = 0;
  #error: G2gProtocolError | undefined;
  /**
   * Bytes one frame, header included, may take: what is buffered for an incomplete frame never
   * exceeds it, and a header that announces more is refused at once.
   */
  maxBuffered: number;

  constructor(private readonly maxFrame = MAX_G2G_FRAME) {
    this.maxBuffered = 4 + maxFrame;
  }

  push(chunk: Uint8Array): G2gFrame[] {
    this.feed(chunk);
    const frames: G2gFrame[] = [];
    for (let frame = this.next(); frame; frame = this.next()) frames.push(frame);
    return frames;
  }

  feed(chunk: Uint8Array): void {
    if (this.#error) throw this.#error;
    const rest = this.#data.length - this.#at;
    if (rest === 0) {
      this.#data = chunk;
    } else {
      const data = new Uint8Array(rest + chunk.length);
      data.set(this.#data.subarray(this.#at));
      data.set(chunk, rest);
      this.#data = data;
    }
    this.#at = 0;
  }

  /** The next whole frame, or undefined until more bytes arrive. */
  next(): G2gFrame | undefined {
    if (this.#error) throw this.#error;
    const data = this.#data;
    const at = this.#at;
    if (data.length - at < 4) return this.#keepRest();
    const length = new DataView(data.buffer, data.byteOffset + at, 4).getUint32(0);
    const limit = Math.min(this.maxFrame, this.maxBuffered - 4);
    if (length === 0 || length > limit) {
      this.#error = new G2gProtocolError(`frame length ${length} outside 1..${limit}`, { offset: at });
      throw this.#error;
    }
    if (data.length - at - 4 < length) return this.#keepRest();
    this.#at = at + 4 + length;
    return { type: data[at + 4]!, body: data.slice(at + 5, at + 4 + length) };
  }

  /** Keeps only the incomplete frame's bytes, not the chunk they arrived in. */
  #keepRest(): undefined {
    if (this.#at > 0) {
      this.#data = this.#data.slice(this.#at);
      this.#at = 0;
    }
    return undefined;
  }

  /** Bytes held for a frame not yet complete. */
  get buffered(): number {
    return this.#data.length - this.#at;
  }
}

export function u32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n >>> 0);
  return out;
}

export function readU32(b: Uint8Array, at = 0): number {
  if (b.length < at + 4) throw new G2gProtocolError('frame body too short for a u32');
  return new DataView(b.buffer, b.byteOffset + at, 4).getUint32(0);
}
