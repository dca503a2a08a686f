import {
  type ProtocolError,
  StreamClosedError,
  TruncatedStreamError,
  toProtocolError,
} from '../errors/errors.js';
import type { Framer } from './contract.js';

/**
 * What core's framers share: the `Framer` contract's bookkeeping (offset, a terminal error, the
 * end of the stream, good frames returned before bad bytes) and the assembly of a frame whose
 * length is known but whose bytes span chunks, allocated once at its full size. A subclass finds
 * frames in what remains of a chunk (`scan`) and holds what it needs to learn a length (a header,
 * an incomplete line).
 */
export abstract class FramerBase implements Framer {
  readonly #protocol: string;
  /** The frame being assembled across chunks, allocated at its full length. */
  #partial: Uint8Array | undefined;
  #filled = 0;
  #offset = 0;
  #error: ProtocolError | undefined;
  #ended = false;

  protected constructor(protocol: string) {
    this.#protocol = protocol;
  }

  /** Bytes the subclass holds while a frame's length is still unknown. */
  protected abstract get held(): number;

  /**
   * Takes what it can from `chunk` starting at `at` and returns where it stopped: whole frames go
   * out through `emit`, a frame whose length is known but whose bytes run past the chunk starts
   * with `begin`, and bytes that do not yet tell a length are kept by the subclass.
   */
  protected abstract scan(chunk: Uint8Array, at: number, frames: Uint8Array[]): number;

  /** Drops what the subclass holds (the framer failed). */
  protected abstract reset(): void;

  get buffered(): number {
    return this.#partial ? this.#filled : this.held;
  }

  get offset(): number {
    return this.#offset;
  }

  get error(): ProtocolError | undefined {
    return this.#error;
  }

  protected emit(frames: Uint8Array[], frame: Uint8Array): void {
    frames.push(frame);
    this.#offset += frame.length;
  }

  /** Starts a frame of `length` bytes with its first bytes `start`; later chunks fill the rest. */
  protected begin(length: number, start: Uint8Array): void {
    this.#partial = new Uint8Array(length);
    this.#partial.set(start, 0);
    this.#filled = start.length;
  }

  push(chunk: Uint8Array): Uint8Array[] {
    if (this.#error) throw this.#error;
    if (this.#ended) throw this.#fail(new StreamClosedError(this.#protocol, 'push after end'));
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
          this.emit(frames, this.#partial);
          this.#partial = undefined;
          this.#filled = 0;
          continue;
        }
        at = this.scan(chunk, at, frames);
      }
    } catch (error) {
      const failure = this.#fail(toProtocolError(error, this.#protocol, this.#offset));
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
      throw this.#fail(new TruncatedStreamError(this.#protocol, this.buffered, { offset: this.#offset }));
    }
  }

  #fail(error: ProtocolError): ProtocolError {
    this.#error = error;
    this.#partial = undefined;
    this.#filled = 0;
    this.reset();
    return error;
  }
}
