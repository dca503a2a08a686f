import {
  BufferOverflowError,
  type Framer,
  type FramerOptions,
  FrameTooLargeError,
  isCrossTalkError,
  MalformedFrameError,
  type ProtocolError,
  StreamClosedError,
  TruncatedStreamError,
} from '@crosstalk/core';
import { PROTOCOL } from '../wire/byte-reader.js';
import { FLAP_HEADER_SIZE, FLAP_MARKER } from './flap-frame.js';

/** A FLAP frame is at most a 6-byte header and a 65,535-byte payload (the length field is u16). */
export const MAX_FLAP_FRAME = FLAP_HEADER_SIZE + 0xffff;

/**
 * Splits a TCP stream into FLAP frames: `0x2A | channel | seq u16 | length u16 | payload`
 * (PROTOCOLS.md; retro-aim-server wire/frames.go). The header is checked (marker 0x2A, channel
 * 1..5) and the length is checked against `maxFrameSize` and `maxBuffered` before anything is
 * allocated; a frame split across chunks is allocated once at its full size; frames inside one
 * chunk are zero-copy views of it. Terminal after an error; good frames before bad bytes are
 * returned and `error` is set.
 *
 * It follows core's `FixedHeaderFramer`, which it does not use because that one holds back a
 * zero-length frame (a FLAP keep-alive, `2a 05 .. .. 00 00`) whose header ends a chunk, and then
 * reports it as truncated at end of stream.
 */
export class FlapFramer implements Framer {
  readonly #maxFrameSize: number;
  readonly #maxBuffered: number;
  readonly #head = new Uint8Array(FLAP_HEADER_SIZE);
  #headFill = 0;
  #partial: Uint8Array | undefined;
  #filled = 0;
  #offset = 0;
  #error: ProtocolError | undefined;
  #ended = false;

  constructor(options: FramerOptions = {}) {
    this.#maxFrameSize = options.maxFrameSize ?? MAX_FLAP_FRAME;
    this.#maxBuffered = options.maxBuffered ?? this.#maxFrameSize;
  }

  get buffered(): number {
    return this.#partial ? this.#filled : this.#headFill;
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
      for (;;) {
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
        } else if (this.#headFill > 0) {
          const take = Math.min(FLAP_HEADER_SIZE - this.#headFill, chunk.length - at);
          this.#head.set(chunk.subarray(at, at + take), this.#headFill);
          this.#headFill += take;
          at += take;
          if (this.#headFill < FLAP_HEADER_SIZE) break;
          // Header complete: the frame is allocated at its full (checked) length; a zero-length
          // payload completes right here, on the next turn of the loop.
          this.#partial = new Uint8Array(this.#length(this.#head, 0));
          this.#partial.set(this.#head, 0);
          this.#filled = FLAP_HEADER_SIZE;
          this.#headFill = 0;
        } else if (at >= chunk.length) {
          break;
        } else if (chunk.length - at >= FLAP_HEADER_SIZE) {
          const length = this.#length(chunk, at);
          if (chunk.length - at >= length) {
            frames.push(chunk.subarray(at, at + length));
            this.#offset += length;
            at += length;
          } else {
            this.#partial = new Uint8Array(length);
            this.#partial.set(chunk.subarray(at), 0);
            this.#filled = chunk.length - at;
            at = chunk.length;
          }
        } else {
          this.#head.set(chunk.subarray(at), 0);
          this.#headFill = chunk.length - at;
          at = chunk.length;
        }
      }
    } catch (error) {
      const failure = this.#fail(this.#typed(error));
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

  /** Whole frame length from a complete header, checked before the caller allocates. */
  #length(bytes: Uint8Array, at: number): number {
    const offset = this.#offset;
    if (bytes[at] !== FLAP_MARKER) {
      throw new MalformedFrameError(PROTOCOL, `FLAP marker is 0x${bytes[at]!.toString(16)}, not 0x2a`, {
        offset,
      });
    }
    const channel = bytes[at + 1]!;
    if (channel < 1 || channel > 5) {
      throw new MalformedFrameError(PROTOCOL, `FLAP channel ${channel} is not 1..5`, { offset });
    }
    const length = FLAP_HEADER_SIZE + ((bytes[at + 4]! << 8) | bytes[at + 5]!);
    if (length > this.#maxFrameSize)
      throw new FrameTooLargeError(PROTOCOL, length, this.#maxFrameSize, { offset });
    if (length > this.#maxBuffered)
      throw new BufferOverflowError(PROTOCOL, length, this.#maxBuffered, { offset });
    return length;
  }

  #typed(error: unknown): ProtocolError {
    if (isCrossTalkError(error) && 'protocol' in error) return error as ProtocolError;
    return new MalformedFrameError(PROTOCOL, String(error), { cause: error, offset: this.#offset });
  }

  #fail(error: ProtocolError): ProtocolError {
    this.#error = error;
    this.#partial = undefined;
    this.#headFill = 0;
    return error;
  }
}

export function createFlapFramer(options: FramerOptions = {}): Framer {
  return new FlapFramer(options);
}
