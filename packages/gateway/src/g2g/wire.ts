import { G2gProtocolError } from '../errors/errors.js';

/**
 * G2G framing: `u32 length | u8 type | body`, length counting type + body. Types:
 * HELLO (id + nonce), AUTH (signature), EVENT (u32 message id + canonical stanza), ACK and NACK
 * (u32 message id [+ reason]). One framer per direction; caps checked before allocation.
 */
export const G2gType = { hello: 1, auth: 2, event: 16, ack: 17, nack: 18, ping: 32 } as const;

export const MAX_G2G_FRAME = 1024 * 1024;

export interface G2gFrame {
  type: number;
  body: Uint8Array;
}

export function encodeG2g(type: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, 1 + body.length);
  out[4] = type;
  out.set(body, 5);
  return out;
}

export class G2gFramer {
  #pending: Uint8Array = new Uint8Array(0);
  #error: G2gProtocolError | undefined;

  constructor(private readonly maxFrame = MAX_G2G_FRAME) {}

  push(chunk: Uint8Array): G2gFrame[] {
    if (this.#error) throw this.#error;
    let data = chunk;
    if (this.#pending.length) {
      data = new Uint8Array(this.#pending.length + chunk.length);
      data.set(this.#pending);
      data.set(chunk, this.#pending.length);
    }
    const frames: G2gFrame[] = [];
    let at = 0;
    while (data.length - at >= 4) {
      const length = new DataView(data.buffer, data.byteOffset + at, 4).getUint32(0);
      if (length === 0 || length > this.maxFrame) {
        this.#error = new G2gProtocolError(`frame length ${length} outside 1..${this.maxFrame}`, {
          offset: at,
        });
        throw this.#error;
      }
      if (data.length - at - 4 < length) break;
      frames.push({ type: data[at + 4]!, body: data.slice(at + 5, at + 4 + length) });
      at += 4 + length;
    }
    this.#pending = data.slice(at);
    return frames;
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
