import { BufferOverflowError, FrameTooLargeError, MalformedFrameError } from '../errors/errors.js';
import type { FramerOptions } from './contract.js';
import { FramerBase } from './framer-base.js';

/** Options of `FixedHeaderFramer`: how to read a frame's length from its fixed-size header. */
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
export class FixedHeaderFramer extends FramerBase {
  readonly #o: FixedHeaderFramerOptions;
  readonly #maxFrameSize: number;
  readonly #maxBuffered: number;
  /** Header bytes gathered while the header itself is split across chunks. */
  readonly #head: Uint8Array;
  #headFill = 0;

  constructor(options: FixedHeaderFramerOptions) {
    super(options.protocol);
    this.#o = options;
    this.#maxFrameSize = options.maxFrameSize ?? options.defaultMaxFrameSize;
    this.#maxBuffered = options.maxBuffered ?? this.#maxFrameSize;
    this.#head = new Uint8Array(options.headerSize);
  }

  protected get held(): number {
    return this.#headFill;
  }

  protected reset(): void {
    this.#headFill = 0;
  }

  protected scan(chunk: Uint8Array, at: number, frames: Uint8Array[]): number {
    const headerSize = this.#o.headerSize;
    if (this.#headFill > 0) {
      // Completing a header begun in an earlier chunk.
      const take = Math.min(headerSize - this.#headFill, chunk.length - at);
      this.#checkHeld(this.#headFill + take);
      this.#head.set(chunk.subarray(at, at + take), this.#headFill);
      this.#headFill += take;
      if (this.#headFill < headerSize) return at + take;
      const length = this.#length(this.#head, 0);
      this.#headFill = 0;
      // A header-only frame (empty payload) is complete as soon as its header is.
      if (length === headerSize) this.emit(frames, this.#head.slice());
      else this.begin(length, this.#head);
      return at + take;
    }
    if (chunk.length - at >= headerSize) {
      const length = this.#length(chunk, at);
      if (chunk.length - at >= length) {
        this.emit(frames, chunk.subarray(at, at + length));
        return at + length;
      }
      this.begin(length, chunk.subarray(at));
      return chunk.length;
    }
    this.#checkHeld(chunk.length - at);
    this.#head.set(chunk.subarray(at), 0);
    this.#headFill = chunk.length - at;
    return chunk.length;
  }

  /** A cap below the header size also holds for the header's own bytes (`buffered` never passes it). */
  #checkHeld(bytes: number): void {
    if (bytes > this.#maxBuffered) {
      throw new BufferOverflowError(this.#o.protocol, bytes, this.#maxBuffered, { offset: this.offset });
    }
  }

  /** Frame length from a complete header, checked against the caps before the caller allocates. */
  #length(bytes: Uint8Array, at: number): number {
    const length = this.#o.frameLength(bytes, at);
    const offset = this.offset;
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
}
