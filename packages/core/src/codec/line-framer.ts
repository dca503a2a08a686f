import {
  BufferOverflowError,
  FrameTooLargeError,
  MalformedFrameError,
  type ProtocolError,
} from '../errors/errors.js';
import type { FramerOptions } from './contract.js';
import { FramerBase } from './framer-base.js';

/** Options of `LineFramer`: what ends a line, how long one may be, and which lines announce a payload. */
export interface LineFramerOptions extends FramerOptions {
  protocol: string;
  /**
   * The bytes that end a line, kept in the frame. `'\r\n'` (the default) ends a line only at CR LF,
   * so a bare LF is part of the line; `'\n'` ends it at any LF (a CR before it stays in the line),
   * for protocols whose peers also send bare LF (IRC in practice, MSNP).
   */
  terminator?: string | Uint8Array;
  /** Longest line, terminator included. Default and upper bound: `maxFrameSize` and `maxBuffered`. */
  maxLineLength?: number;
  /** Cap used when the caller sets no `maxFrameSize`. */
  defaultMaxFrameSize: number;
  /**
   * Bytes that follow a complete line as part of the same frame (MSNP's `MSG ... 128`), or 0.
   * `bytes[start..end)` is the line with its terminator. Called once per line; the result is
   * checked against `maxFrameSize` and `maxBuffered` before anything is allocated for it. Throw
   * `MalformedFrameError` for a line that breaks the protocol.
   */
  payloadLength?(bytes: Uint8Array, start: number, end: number): number;
}

const utf8 = new TextEncoder();

/** What a framer holds when no line is carried over (shared: never written, its length is 0). */
const NO_LINE = new Uint8Array(0);
/** Terminators by spelling, encoded once for every framer (read only). */
const terminators = new Map<string, Uint8Array>();
function terminatorBytes(spelled: string): Uint8Array {
  let bytes = terminators.get(spelled);
  if (!bytes) {
    bytes = utf8.encode(spelled);
    terminators.set(spelled, bytes);
  }
  return bytes;
}

/**
 * Framer for line-oriented protocols (IRC, MSNP, SMTP-like commands): a frame is one line up to
 * and including its terminator, optionally followed by a payload whose length the line announces.
 * It frames bytes and never decodes them, so a UTF-8 character split across chunks survives.
 *
 * The rules every hand-written line framer has to get right, in one place: a terminator split
 * across chunks (CR at the end of one, LF at the start of the next); an incomplete line refused as
 * soon as it can no longer fit `maxLineLength` (before it is buffered beyond the cap, never only
 * when its terminator finally comes); a payload length checked before allocation; frames inside
 * one chunk returned as zero-copy views (valid until the caller reuses that chunk), a frame split
 * across chunks copied; good frames before bad bytes returned with `error` set; terminal after an
 * error; `end()` inside a frame throws `TruncatedStreamError`.
 */
export class LineFramer extends FramerBase {
  readonly #protocol: string;
  readonly #terminator: Uint8Array;
  readonly #payloadLength: LineFramerOptions['payloadLength'];
  readonly #maxFrameSize: number;
  readonly #maxBuffered: number;
  readonly #maxLine: number;
  /** True when `maxBuffered` is the tightest line cap, so a long line is a buffer overflow. */
  readonly #bufferBound: boolean;
  /**
   * An incomplete line carried over from earlier chunks (grown as needed, never beyond `#maxLine`;
   * an idle framer holds none: issue 20, memory per connection).
   */
  #line: Uint8Array = NO_LINE;
  #lineFill = 0;

  constructor(options: LineFramerOptions) {
    super(options.protocol);
    this.#protocol = options.protocol;
    const t = options.terminator ?? '\r\n';
    this.#terminator = typeof t === 'string' ? terminatorBytes(t) : t.slice();
    if (this.#terminator.length === 0) throw new TypeError('LineFramer: the terminator is empty');
    this.#payloadLength = options.payloadLength;
    this.#maxFrameSize = options.maxFrameSize ?? options.defaultMaxFrameSize;
    this.#maxBuffered = options.maxBuffered ?? this.#maxFrameSize;
    const lineCap = Math.min(options.maxLineLength ?? this.#maxFrameSize, this.#maxFrameSize);
    this.#maxLine = Math.min(lineCap, this.#maxBuffered);
    this.#bufferBound = this.#maxBuffered < lineCap;
    if (!(this.#maxLine >= this.#terminator.length)) {
      throw new TypeError(`LineFramer: a line cap of ${this.#maxLine} leaves no room for a terminator`);
    }
  }

  protected get held(): number {
    return this.#lineFill;
  }

  protected reset(): void {
    this.#lineFill = 0;
    this.#line = NO_LINE;
  }

  protected scan(chunk: Uint8Array, at: number, frames: Uint8Array[]): number {
    const end = this.#lineEnd(chunk, at);
    if (end < 0) {
      // No terminator in this chunk: keep the start of the line, if it can still fit.
      this.#carry(chunk.subarray(at));
      return chunk.length;
    }
    if (this.#lineFill > 0) {
      // Completing a line begun in an earlier chunk.
      const size = this.#lineFill + (end - at);
      if (size > this.#maxLine) throw this.#lineTooLong(size);
      this.#grow(size);
      this.#line.set(chunk.subarray(at, end), this.#lineFill);
      const line = this.#line.subarray(0, size);
      this.#lineFill = 0;
      // A line split over chunks is rare: an idle connection keeps no buffer for the next one.
      this.#line = NO_LINE;
      const payload = this.#payload(line, 0, size);
      if (payload === 0) this.emit(frames, line.slice());
      else this.begin(size + payload, line);
      // The line is out (copied): the carry buffer is not kept for a connection that may idle now.
      this.#line = NO_LINE;
      return end;
    }
    const lineLength = end - at;
    if (lineLength > this.#maxLine) throw this.#lineTooLong(lineLength);
    const total = lineLength + this.#payload(chunk, at, end);
    if (chunk.length - at >= total) {
      this.emit(frames, chunk.subarray(at, at + total));
      return at + total;
    }
    this.begin(total, chunk.subarray(at));
    return chunk.length;
  }

  /**
   * Index just past the first terminator that ends the current line (which may have begun in an
   * earlier chunk, so a terminator can straddle the boundary), or -1.
   */
  #lineEnd(chunk: Uint8Array, at: number): number {
    const t = this.#terminator;
    const last = t[t.length - 1]!;
    let from = at;
    for (;;) {
      const p = chunk.indexOf(last, from);
      if (p < 0) return -1;
      let k = 1;
      for (; k < t.length; k++) {
        const i = p - k;
        // Before `at`, the terminator's first bytes can only be the end of the carried line.
        const carried = this.#lineFill - (at - i);
        if (i < at && carried < 0) break;
        if ((i >= at ? chunk[i] : this.#line[carried]) !== t[t.length - 1 - k]) break;
      }
      if (k === t.length) return p + 1;
      from = p + 1;
    }
  }

  /** Keeps the start of a line; refused once it is as long as a line may be and still incomplete. */
  #carry(part: Uint8Array): void {
    const size = this.#lineFill + part.length;
    // An incomplete line needs at least one more byte: at `#maxLine` bytes it can no longer fit.
    if (size >= this.#maxLine) throw this.#lineTooLong(size);
    this.#grow(size);
    this.#line.set(part, this.#lineFill);
    this.#lineFill = size;
  }

  #grow(size: number): void {
    if (size <= this.#line.length) return;
    const grown = new Uint8Array(Math.min(Math.max(size, this.#line.length * 2, 64), this.#maxLine));
    grown.set(this.#line.subarray(0, this.#lineFill), 0);
    this.#line = grown;
  }

  #lineTooLong(size: number): ProtocolError {
    const offset = this.offset;
    return this.#bufferBound
      ? new BufferOverflowError(this.#protocol, size, this.#maxBuffered, { offset })
      : new FrameTooLargeError(this.#protocol, size, this.#maxLine, { offset });
  }

  /** The payload a complete line announces, checked against the caps before anything is allocated. */
  #payload(bytes: Uint8Array, start: number, end: number): number {
    if (!this.#payloadLength) return 0;
    const length = this.#payloadLength(bytes, start, end);
    const offset = this.offset;
    if (!Number.isSafeInteger(length) || length < 0) {
      throw new MalformedFrameError(this.#protocol, `payload length ${length} is not a byte count`, {
        offset,
      });
    }
    const total = end - start + length;
    if (total > this.#maxFrameSize)
      throw new FrameTooLargeError(this.#protocol, total, this.#maxFrameSize, { offset });
    if (total > this.#maxBuffered)
      throw new BufferOverflowError(this.#protocol, total, this.#maxBuffered, { offset });
    return length;
  }
}
