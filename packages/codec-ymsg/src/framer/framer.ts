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
import { frameLength, HEADER_SIZE, MAX_FRAME_SIZE, PROTOCOL } from '../header/header.js';

/**
 * Splits a YMSG byte stream into frames: a 20-byte header whose u16 at offset 8 is the payload
 * length (libpurple yahoo_pending). Any version bytes are accepted (Escargot writes `0a 00` or
 * `00 00`); only the "YMSG" magic is checked. The length is checked against the caps before
 * anything is allocated; a frame split across chunks is allocated once at its full size; frames
 * inside one chunk are zero-copy views of it. Terminal after an error.
 *
 * Core's FixedHeaderFramer does the same, but it holds back a header-only frame (VERIFY, LOGOFF:
 * payload length 0) whose header arrived split across chunks until the next push, so `end()`
 * after such a frame reports a truncated stream; YMSG has many of them, hence this framer.
 */
export class YmsgFramer implements Framer {
  readonly #maxFrameSize: number;
  readonly #maxBuffered: number;
  readonly #head = new Uint8Array(HEADER_SIZE);
  #headFill = 0;
  #partial: Uint8Array | undefined;
  #filled = 0;
  #offset = 0;
  #error: ProtocolError | undefined;
  #ended = false;

  constructor(options: FramerOptions = {}) {
    this.#maxFrameSize = options.maxFrameSize ?? MAX_FRAME_SIZE;
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
      while (at < chunk.length) {
        if (this.#partial) {
          const take = Math.min(this.#partial.length - this.#filled, chunk.length - at);
          this.#partial.set(chunk.subarray(at, at + take), this.#filled);
          this.#filled += take;
          at += take;
          if (this.#filled < this.#partial.length) break;
          this.#emitPartial(frames);
        } else if (this.#headFill > 0) {
          const take = Math.min(HEADER_SIZE - this.#headFill, chunk.length - at);
          this.#head.set(chunk.subarray(at, at + take), this.#headFill);
          this.#headFill += take;
          at += take;
          if (this.#headFill < HEADER_SIZE) break;
          this.#partial = new Uint8Array(this.#length(this.#head, 0));
          this.#partial.set(this.#head, 0);
          this.#filled = HEADER_SIZE;
          this.#headFill = 0;
          // A header-only frame is complete now, not at the next push.
          if (this.#filled === this.#partial.length) this.#emitPartial(frames);
        } else if (chunk.length - at >= HEADER_SIZE) {
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
      // Good frames before the bad bytes are still delivered; `error` is set and the next call throws.
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

  #emitPartial(frames: Uint8Array[]): void {
    frames.push(this.#partial!);
    this.#offset += this.#partial!.length;
    this.#partial = undefined;
    this.#filled = 0;
  }

  /** Frame length from a complete header, checked against the caps before the caller allocates. */
  #length(bytes: Uint8Array, at: number): number {
    const length = frameLength(bytes, at);
    if (length > this.#maxFrameSize) {
      throw new FrameTooLargeError(PROTOCOL, length, this.#maxFrameSize, { offset: this.#offset });
    }
    if (length > this.#maxBuffered) {
      throw new BufferOverflowError(PROTOCOL, length, this.#maxBuffered, { offset: this.#offset });
    }
    return length;
  }

  #typed(error: unknown): ProtocolError {
    if (isCrossTalkError(error) && 'protocol' in error) {
      const e = error as ProtocolError;
      e.offset ??= this.#offset;
      return e;
    }
    return new MalformedFrameError(PROTOCOL, String(error), { cause: error, offset: this.#offset });
  }

  #fail(error: ProtocolError): ProtocolError {
    this.#error = error;
    this.#partial = undefined;
    this.#headFill = 0;
    return error;
  }
}

export function createYmsgFramer(options: FramerOptions = {}): Framer {
  return new YmsgFramer(options);
}
