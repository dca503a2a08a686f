import {
  BufferOverflowError,
  FrameTooLargeError,
  MalformedFrameError,
  type ProtocolError,
  StreamClosedError,
  TruncatedStreamError,
  toProtocolError,
} from '../errors/errors.js';
import type { Framer, FramerOptions } from './contract.js';

export interface FixedHeaderFramerOptions extends FramerOptions {
  protocol: string;
  /** Bytes needed before the frame length is known (OSCAR FLAP: 6, YMSG: 20). */
  headerSize: number;
  /**
   * Whole frame length (header included) read from a complete header at `at`. Throw
   * `MalformedFrameError` for a header that breaks the protocol (bad magic, bad channel).
   */
  frameLength(bytes: Uint8Array, at: number): number;
  /** Cap used when the caller sets none. */
  defaultMaxFrameSize: number;
}

/**
 * Framer for protocols whose frames start with a fixed-size header holding the payload length
 * (OSCAR FLAP, YMSG). The length is checked against `maxFrameSize` before anything is allocated,
 * a frame split across chunks is allocated once at its full size, and frames that lie inside one
 * chunk are returned as zero-copy views of it (valid until the caller reuses that chunk).
 */
export class FixedHeaderFramer implements Framer {
  readonly #o: FixedHeaderFramerOptions;
  readonly #maxFrameSize: number;
  readonly #maxBuffered: number;
  /** Header bytes gathered while the header itself is split across chunks. */
  readonly #head: Uint8Array;
  #headFill = 0;
  /** The frame being assembled across chunks, allocated at its full length. */
  #partial: Uint8Array | undefined;
  #filled = 0;
  #offset = 0;
  #error: ProtocolError | undefined;
  #ended = false;

  constructor(options: FixedHeaderFramerOptions) {
    this.#o = options;
    this.#maxFrameSize = options.maxFrameSize ?? options.defaultMaxFrameSize;
    this.#maxBuffered = options.maxBuffered ?? this.#maxFrameSize;
    this.#head = new Uint8Array(options.headerSize);
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
    if (this.#ended) throw this.#fail(new StreamClosedError(this.#o.protocol, 'push after end'));
    const frames: Uint8Array[] = [];
    const headerSize = this.#o.headerSize;
    let at = 0;
    try {
      while (at < chunk.length) {
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
          const take = Math.min(headerSize - this.#headFill, chunk.length - at);
          this.#checkHeld(this.#headFill + take);
          this.#head.set(chunk.subarray(at, at + take), this.#headFill);
          this.#headFill += take;
          at += take;
          if (this.#headFill < headerSize) break;
          const length = this.#length(this.#head, 0);
          this.#headFill = 0;
          if (length === headerSize) {
            // A header-only frame (empty payload) is complete as soon as its header is.
            frames.push(this.#head.slice());
            this.#offset += length;
            continue;
          }
          this.#partial = new Uint8Array(length);
          this.#partial.set(this.#head, 0);
          this.#filled = headerSize;
        } else if (chunk.length - at >= headerSize) {
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
          this.#checkHeld(chunk.length - at);
          this.#head.set(chunk.subarray(at), 0);
          this.#headFill = chunk.length - at;
          at = chunk.length;
        }
      }
    } catch (error) {
      const failure = this.#fail(toProtocolError(error, this.#o.protocol, this.#offset));
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
      throw this.#fail(new TruncatedStreamError(this.#o.protocol, this.buffered, { offset: this.#offset }));
    }
  }

  /** Frame length from a complete header, checked against the caps before the caller allocates. */
  #length(bytes: Uint8Array, at: number): number {
    const length = this.#o.frameLength(bytes, at);
    const offset = this.#offset;
    if (!Number.isInteger(length) || length < this.#o.headerSize) {
      throw new MalformedFrameError(this.#o.protocol, `frame length ${length} is below the header size`, {
        offset,
      });
    }
    if (length > this.#maxFrameSize) {
      throw new FrameTooLargeError(this.#o.protocol, length, this.#maxFrameSize, { offset });
    }
    if (length > this.#maxBuffered) {
      throw new BufferOverflowError(this.#o.protocol, length, this.#maxBuffered, { offset });
    }
    return length;
  }

  /** A cap below the header size also holds for the header's own bytes (`buffered` never passes it). */
  #checkHeld(bytes: number): void {
    if (bytes > this.#maxBuffered) {
      throw new BufferOverflowError(this.#o.protocol, bytes, this.#maxBuffered, { offset: this.#offset });
    }
  }

  #fail(error: ProtocolError): ProtocolError {
    this.#error = error;
    this.#partial = undefined;
    this.#headFill = 0;
    return error;
  }
}
