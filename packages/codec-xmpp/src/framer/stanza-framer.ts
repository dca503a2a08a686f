import {
  BufferOverflowError,
  decodeUtf8,
  type Framer,
  type FramerOptions,
  FrameTooLargeError,
  MalformedFrameError,
  type ProtocolError,
  StreamClosedError,
  TruncatedStreamError,
  toProtocolError,
} from '@crosstalk/core';
import { NestingTooDeepError } from '../errors/errors.js';
import { DEFAULT_MAX_DEPTH, DEFAULT_MAX_STANZA_SIZE, PROTOCOL } from '../protocol.js';

/** Options of the stanza framer. */
export interface StanzaFramerOptions extends FramerOptions {
  /** Deepest element nesting accepted inside one stanza, the stanza being depth 1 (default 128). */
  maxDepth?: number;
}

// Scanner states. An XMPP stream is one endless XML document (RFC 6120 §4): frames are what sits
// at "stream level" (depth 0 counting from inside <stream:stream>): the XML declaration, each
// stream header, each depth-1 element (stanza, features, SASL, STARTTLS...), whitespace runs
// (keepalives, RFC 6120 §4.6.1) and the stream close.
const LEVEL = 0; // between frames: whitespace or "<"
const CONTENT = 1; // character data inside a stanza
const LT = 2; // just read "<"
const BANG = 3; // read "<!", deciding comment or CDATA
const COMMENT = 4;
const CDATA = 5;
const PI = 6;
const START_NAME = 7; // the name of a start tag
const START_TAG = 8; // attributes of a start tag
const QUOTED = 9; // an attribute value
const END_TAG = 10;

const STREAM = [0x73, 0x74, 0x72, 0x65, 0x61, 0x6d]; // "stream"

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x09 || b === 0x0d;
}

function isNameStartByte(b: number): boolean {
  return (b >= 0x61 && b <= 0x7a) || (b >= 0x41 && b <= 0x5a) || b === 0x5f || b === 0x3a || b >= 0x80;
}

/**
 * Splits an XMPP byte stream into frames by depth (STYLE.md, "XML stream framing by depth"). It
 * works on bytes: every XML syntax character is ASCII, and in UTF-8 no byte of a multi-byte
 * character is ASCII, so a character split across TCP chunks cannot be mistaken for markup; each
 * whole frame is then checked with a fatal UTF-8 decoder. Quoted attribute values (which may hold
 * `>` or `/`), comments, CDATA and processing instructions are skipped as units. A new stream
 * header on the same connection (the restart after SASL or STARTTLS, RFC 6120 §4.3.3) is just
 * another frame.
 *
 * Lossless and chunking-independent: a whitespace run is one frame however it arrives, so it is
 * only complete when the next `<` comes. A proxy that must not sit on keepalives calls `flush()`
 * after each push to take the run seen so far.
 */
export class StanzaFramer implements Framer {
  readonly #maxFrameSize: number;
  readonly #maxBuffered: number;
  readonly #maxDepth: number;
  #state = LEVEL;
  #depth = 0;
  /** A whitespace run is in progress at stream level. */
  #inSpace = false;
  /** Where the current frame starts in the chunk being scanned (0 when it began in an earlier one). */
  #start = 0;
  #pending = new Uint8Array(0);
  #pendingLength = 0;
  #offset = 0;
  #error: ProtocolError | undefined;
  #ended = false;
  #halted = false;
  #rest: Uint8Array | undefined;
  // Per-construct scanner memory.
  #quote = 0;
  #run = 0; // consecutive "-" in a comment, "]" in CDATA, or "?" just read in a PI
  #bang = ''; // bytes read after "<!"
  #slash = false; // the last byte of a start tag was "/"
  #name: number[] = []; // start-tag name at stream level (only the last bytes matter)
  #nameLength = 0;

  constructor(options: StanzaFramerOptions = {}) {
    this.#maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_STANZA_SIZE;
    this.#maxBuffered = options.maxBuffered ?? this.#maxFrameSize;
    this.#maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  }

  get buffered(): number {
    return this.#pendingLength;
  }

  get offset(): number {
    return this.#offset;
  }

  get error(): ProtocolError | undefined {
    return this.#error;
  }

  push(chunk: Uint8Array): Uint8Array[] {
    return this.pushUntil(chunk, undefined);
  }

  /**
   * Like `push`, but calls `stop` with each frame as it completes; when it returns true, framing
   * stops there (the stream is about to become unreadable, e.g. TLS after `<proceed/>`): the
   * bytes after that frame are kept for `takeRest()` and later pushes throw.
   */
  pushUntil(chunk: Uint8Array, stop: ((frame: Uint8Array) => boolean) | undefined): Uint8Array[] {
    if (this.#error) throw this.#error;
    if (this.#halted)
      throw this.#fail(new StreamClosedError(PROTOCOL, 'framing stopped (the stream is opaque)'));
    if (this.#ended) throw this.#fail(new StreamClosedError(PROTOCOL, 'push after end'));
    const frames: Uint8Array[] = [];
    this.#start = 0;
    try {
      this.#scan(chunk, frames, stop);
    } catch (error) {
      const failure = this.#fail(toProtocolError(error, PROTOCOL, this.#offset));
      if (frames.length > 0) return frames; // good frames before the bad bytes are still delivered
      throw failure;
    }
    return frames;
  }

  /** The pending whitespace run, if any, as a frame of its own. */
  flush(): Uint8Array[] {
    if (this.#error || !this.#inSpace || this.#pendingLength === 0) return [];
    const frame = this.#pending.slice(0, this.#pendingLength);
    this.#pendingLength = 0;
    this.#inSpace = false;
    this.#offset += frame.length;
    return [frame];
  }

  /**
   * Every byte not returned as a frame (a frame still incomplete, and whatever followed a `stop`),
   * for a caller that relays the stream raw from here on. The framer is finished afterwards.
   */
  takeRest(): Uint8Array {
    const held = this.#pending.slice(0, this.#pendingLength);
    const rest = this.#rest ?? new Uint8Array(0);
    const out = new Uint8Array(held.length + rest.length);
    out.set(held, 0);
    out.set(rest, held.length);
    this.#pendingLength = 0;
    this.#rest = undefined;
    this.#halted = true;
    return out;
  }

  end(): void {
    if (this.#error) throw this.#error;
    this.#ended = true;
    // Whitespace after the last frame is not an incomplete frame; `flush()` returns it.
    if (this.#pendingLength > 0 && !this.#inSpace) {
      throw this.#fail(new TruncatedStreamError(PROTOCOL, this.#pendingLength, { offset: this.#offset }));
    }
  }

  #scan(chunk: Uint8Array, frames: Uint8Array[], stop: ((frame: Uint8Array) => boolean) | undefined): void {
    const length = chunk.length;
    let i = 0;
    while (i < length) {
      const b = chunk[i]!;
      switch (this.#state) {
        case LEVEL:
          if (isSpace(b)) {
            if (!this.#inSpace) {
              this.#inSpace = true;
              this.#start = i;
            }
            i++;
            continue;
          }
          if (b !== 0x3c) throw this.#malformed('text outside a stanza', i);
          if (this.#inSpace) {
            this.#inSpace = false;
            if (this.#emit(chunk, i, frames, stop)) return;
          }
          this.#start = i;
          this.#state = LT;
          i++;
          continue;
        case CONTENT:
          i = this.#skipPast(chunk, i, 0x3c, LT);
          continue;
        case LT:
          if (b === 0x2f) this.#state = END_TAG;
          else if (b === 0x21) {
            this.#state = BANG;
            this.#bang = '';
          } else if (b === 0x3f) {
            this.#state = PI;
            this.#run = 0;
          } else if (isNameStartByte(b)) {
            this.#state = START_NAME;
            this.#nameLength = 0;
            this.#name.length = 0;
            continue; // START_NAME reads this byte too
          } else throw this.#malformed('"<" not followed by a name', i);
          i++;
          continue;
        case BANG:
          this.#bang += String.fromCharCode(b);
          if (this.#bang === '--') {
            this.#state = COMMENT;
            this.#run = 0;
          } else if (this.#bang === '[CDATA[') {
            // CDATA only exists inside an element.
            if (this.#depth === 0) throw this.#malformed('CDATA outside a stanza', i);
            this.#state = CDATA;
            this.#run = 0;
          } else if (!'--'.startsWith(this.#bang) && !'[CDATA['.startsWith(this.#bang)) {
            // RFC 6120 §11.1: no DTDs, hence no <!DOCTYPE>, <!ENTITY> or anything else after "<!".
            throw this.#malformed('"<!" that starts neither a comment nor CDATA (DTDs are forbidden)', i);
          }
          i++;
          continue;
        case COMMENT:
          if (b === 0x3e && this.#run >= 2) {
            if (this.#endMarkup(chunk, ++i, frames, stop)) return;
            continue;
          }
          this.#run = b === 0x2d ? this.#run + 1 : 0;
          i++;
          continue;
        case CDATA:
          if (b === 0x3e && this.#run >= 2) this.#state = CONTENT;
          else this.#run = b === 0x5d ? this.#run + 1 : 0;
          i++;
          continue;
        case PI:
          if (b === 0x3e && this.#run === 1) {
            if (this.#endMarkup(chunk, ++i, frames, stop)) return;
            continue;
          }
          this.#run = b === 0x3f ? 1 : 0;
          i++;
          continue;
        case START_NAME: {
          // The name runs to whitespace, "/" or ">"; at stream level its last bytes decide
          // whether this is a stream header.
          let j = i;
          let c = b;
          while (c !== 0x3e && c !== 0x2f && !isSpace(c)) {
            if (c === 0x3c || c === 0x22 || c === 0x27 || c === 0x3d) {
              throw this.#malformed('bad character in an element name', j);
            }
            if (this.#depth === 0 && this.#nameLength++ < 64) this.#name.push(c);
            if (++j === length) break;
            c = chunk[j]!;
          }
          i = j;
          if (j === length) continue;
          if (c === 0x3e) {
            this.#slash = false;
            if (this.#closeStartTag(chunk, i + 1, frames, stop)) return;
            i++;
            continue;
          }
          this.#slash = c === 0x2f;
          this.#state = START_TAG;
          i++;
          continue;
        }
        case START_TAG: {
          // Attributes: jump over each quoted value (which may hold ">" or "/") with indexOf.
          let j = i;
          let slash = this.#slash;
          let c = b;
          for (;;) {
            if (c === 0x3e) break;
            if (c === 0x27 || c === 0x22) {
              const close = chunk.indexOf(c, j + 1);
              slash = false;
              if (close < 0) {
                this.#quote = c;
                this.#state = QUOTED;
                j = length;
                break;
              }
              j = close;
            } else if (c === 0x3c) throw this.#malformed('"<" inside a start tag', j);
            else if (!isSpace(c)) slash = c === 0x2f;
            if (++j === length) break;
            c = chunk[j]!;
          }
          this.#slash = slash;
          i = j;
          if (j === length) continue;
          if (this.#closeStartTag(chunk, i + 1, frames, stop)) return;
          i++;
          continue;
        }
        case QUOTED:
          i = this.#skipPast(chunk, i, this.#quote, START_TAG);
          continue;
        case END_TAG:
          if (b === 0x3e) {
            i++;
            if (this.#depth === 0) {
              // </stream:stream> (RFC 6120 §4.4); any other end tag here is checked by decode.
              this.#state = LEVEL;
              if (this.#emit(chunk, i, frames, stop)) return;
            } else if (--this.#depth === 0) {
              this.#state = LEVEL;
              if (this.#emit(chunk, i, frames, stop)) return;
            } else this.#state = CONTENT;
            continue;
          }
          if (b === 0x3c) throw this.#malformed('"<" inside an end tag', i);
          i++;
          continue;
        default:
          throw this.#malformed('framer state lost', i);
      }
    }
    // The chunk ended inside a frame (or a whitespace run): keep its tail.
    if (this.#state !== LEVEL || this.#inSpace) this.#hold(chunk, this.#start, length);
  }

  /** A comment or PI ended at `end`: a frame of its own at stream level, else more stanza content. */
  #endMarkup(
    chunk: Uint8Array,
    end: number,
    frames: Uint8Array[],
    stop: ((frame: Uint8Array) => boolean) | undefined,
  ): boolean {
    if (this.#depth > 0) {
      this.#state = CONTENT;
      return false;
    }
    this.#state = LEVEL;
    return this.#emit(chunk, end, frames, stop);
  }

  /** Jumps past the next `byte` (text up to "<", a value up to its quote), then goes to `next`. */
  #skipPast(chunk: Uint8Array, from: number, byte: number, next: number): number {
    const at = chunk.indexOf(byte, from);
    if (at < 0) return chunk.length;
    this.#state = next;
    return at + 1;
  }

  /** A start tag ended at `end`; returns true when the caller asked to stop after this frame. */
  #closeStartTag(
    chunk: Uint8Array,
    end: number,
    frames: Uint8Array[],
    stop: ((frame: Uint8Array) => boolean) | undefined,
  ): boolean {
    const selfClosing = this.#slash;
    if (this.#depth === 0) {
      // At stream level: an empty element is a whole frame; <stream:stream> (or any prefix:stream)
      // opens a stream and is a frame on its own, never closed inside it.
      if (selfClosing || this.#isStreamName()) {
        this.#state = LEVEL;
        return this.#emit(chunk, end, frames, stop);
      }
      this.#depth = 1;
    } else {
      // An empty element counts as deep as any other (the frame codec's parsers count the same).
      if (this.#depth + 1 > this.#maxDepth) {
        throw new NestingTooDeepError(this.#maxDepth, { offset: this.#at(end - 1) });
      }
      if (!selfClosing) this.#depth++;
    }
    this.#state = CONTENT;
    return false;
  }

  #isStreamName(): boolean {
    const name = this.#name;
    const n = this.#nameLength;
    if (n < 6 || n > 64) return false;
    for (let k = 0; k < 6; k++) if (name[n - 6 + k] !== STREAM[k]) return false;
    return n === 6 || name[n - 7] === 0x3a;
  }

  /** Completes the frame ending at `end` in `chunk`. Returns true when `stop` asked to stop. */
  #emit(
    chunk: Uint8Array,
    end: number,
    frames: Uint8Array[],
    stop: ((frame: Uint8Array) => boolean) | undefined,
  ): boolean {
    const size = this.#pendingLength + end - this.#start;
    if (size > this.#maxFrameSize) {
      throw new FrameTooLargeError(PROTOCOL, size, this.#maxFrameSize, { offset: this.#offset });
    }
    let frame: Uint8Array;
    if (this.#pendingLength > 0) {
      frame = new Uint8Array(size);
      frame.set(this.#pending.subarray(0, this.#pendingLength), 0);
      frame.set(chunk.subarray(0, end), this.#pendingLength);
      this.#pendingLength = 0;
    } else frame = chunk.subarray(this.#start, end);
    decodeUtf8(frame, PROTOCOL, this.#offset); // throws InvalidEncodingError: nothing invalid leaves
    frames.push(frame);
    this.#offset += size;
    this.#start = end;
    if (stop?.(frame)) {
      this.#halted = true;
      this.#rest = chunk.slice(end);
      return true;
    }
    return false;
  }

  /** Keeps `chunk[from, to)` for the frame in progress, checking the caps before growing. */
  #hold(chunk: Uint8Array, from: number, to: number): void {
    const add = to - from;
    if (add === 0) return;
    const size = this.#pendingLength + add;
    if (size > this.#maxFrameSize) {
      throw new FrameTooLargeError(PROTOCOL, size, this.#maxFrameSize, { offset: this.#offset });
    }
    if (size > this.#maxBuffered) {
      throw new BufferOverflowError(PROTOCOL, size, this.#maxBuffered, { offset: this.#offset });
    }
    if (size > this.#pending.length) {
      const grown = new Uint8Array(
        Math.min(Math.max(size, this.#pending.length * 2, 256), this.#maxBuffered),
      );
      grown.set(this.#pending.subarray(0, this.#pendingLength), 0);
      this.#pending = grown;
    }
    this.#pending.set(chunk.subarray(from, to), this.#pendingLength);
    this.#pendingLength = size;
  }

  /** The stream offset of index `i` of the chunk being scanned. */
  #at(i: number): number {
    return this.#offset + this.#pendingLength + i - this.#start;
  }

  #malformed(message: string, at: number): MalformedFrameError {
    return new MalformedFrameError(PROTOCOL, message, { offset: this.#at(at) });
  }

  #fail(error: ProtocolError): ProtocolError {
    this.#error = error;
    this.#pendingLength = 0;
    return error;
  }
}
