import { StreamClosedError } from '@crosstalk/core';
import { SipMessageTooLargeError, SipSyntaxError } from '../errors/errors.js';
import { DEFAULT_SIP_LIMITS, type SipLimits, type SipMessage } from './message.js';
import { checkMandatory, findHeaderEnd, type HeaderSection, parseHeaderSection, toMessage } from './parse.js';

/**
 * What a stream framer yields: a whole message; a whole message that breaks RFC 3261 §8.1.1 (the
 * stream stays in step, so the message is answered 400 and the next one read); or an RFC 5626
 * §3.5.1 keep-alive ping (a CRLFCRLF).
 */
export type SipStreamItem =
  | {
      /** A whole message. */
      kind: 'message';
      /** The message. */
      message: SipMessage;
    }
  | {
      /** A whole message that breaks RFC 3261 §8.1.1: answer 400 and read on. */
      kind: 'invalid';
      /** What is wrong, with the headers to answer with. */
      error: SipSyntaxError;
    }
  | {
      /** A CRLFCRLF keep-alive: answer with a CRLF. */
      kind: 'ping';
    }
  | {
      /** The stream is out of step (a bad header section, a cap passed): the last item; the framer is terminal. */
      kind: 'error';
      /** Why. */
      error: Error;
    };

/**
 * Splits a SIP byte stream (TCP, RFC 3261 §18.3) into messages: any chunking, the header section
 * within `maxHeaderBytes`, then exactly Content-Length bytes of body (Content-Length is mandatory on
 * a stream). Leading CRLFs between messages are skipped; a CRLFCRLF between messages is a ping.
 * After an error it is terminal: every later `push` throws `StreamClosedError`, and the connection
 * is closed (there is no way to find the next message in a stream that lied about a length).
 */
export class SipStreamFramer {
  readonly #limits: SipLimits;
  #buffer = new Uint8Array(0);
  #length = 0;
  /** Bytes of the buffer already searched for the end of the header section. */
  #scanned = 0;
  #section: { section: HeaderSection; bodyStart: number } | undefined;
  #failed: Error | undefined;

  constructor(limits: SipLimits = DEFAULT_SIP_LIMITS) {
    this.#limits = limits;
  }

  /** Bytes held that do not yet form a message. */
  get buffered(): number {
    return this.#length;
  }

  /**
   * Feeds a chunk; returns the messages (and pings) it completed, then an `error` item if the
   * stream broke (the messages before it in the chunk still count). Throws `StreamClosedError`
   * when fed after an error.
   */
  push(chunk: Uint8Array): SipStreamItem[] {
    if (this.#failed) throw new StreamClosedError('sip', this.#failed.message);
    const out: SipStreamItem[] = [];
    try {
      this.#append(chunk);
      this.#drain(out);
    } catch (error) {
      this.#failed = error as Error;
      this.#buffer = new Uint8Array(0);
      this.#length = 0;
      out.push({ kind: 'error', error: error as Error });
    }
    return out;
  }

  #append(chunk: Uint8Array): void {
    const needed = this.#length + chunk.length;
    if (needed > this.#buffer.length) {
      const grown = new Uint8Array(Math.max(needed, this.#buffer.length * 2, 4096));
      grown.set(this.#buffer.subarray(0, this.#length));
      this.#buffer = grown;
    }
    this.#buffer.set(chunk, this.#length);
    this.#length = needed;
  }

  #drain(out: SipStreamItem[]): void {
    let offset = 0;
    for (;;) {
      const bytes = this.#buffer.subarray(0, this.#length);
      if (!this.#section) {
        // Blank lines between messages: a CRLFCRLF is a keep-alive ping, a lone CRLF a pong.
        while (offset + 1 < bytes.length && bytes[offset] === 13 && bytes[offset + 1] === 10) {
          if (bytes[offset + 2] === 13 && bytes[offset + 3] === 10) {
            out.push({ kind: 'ping' });
            offset += 4;
          } else if (offset + 2 < bytes.length) offset += 2;
          else break;
        }
        if (offset + 1 < bytes.length && bytes[offset] === 13 && bytes[offset + 1] === 10) break;
        const searchTo = Math.min(bytes.length, offset + this.#limits.maxHeaderBytes + 4);
        const end = findHeaderEnd(bytes, Math.max(offset, this.#scanned - 3), searchTo);
        if (end < 0) {
          if (bytes.length - offset > this.#limits.maxHeaderBytes)
            throw new SipMessageTooLargeError('headers', bytes.length - offset, this.#limits.maxHeaderBytes);
          this.#scanned = bytes.length;
          break;
        }
        const section = parseHeaderSection(bytes.subarray(offset, end - 4), this.#limits);
        if (section.contentLength === undefined)
          throw new SipSyntaxError(
            'no Content-Length on a stream transport (RFC 3261 §18.3)',
            section.headers,
            section.method !== undefined,
          );
        this.#section = { section, bodyStart: end };
      }
      const { section, bodyStart } = this.#section;
      const bodyEnd = bodyStart + (section.contentLength as number);
      if (bytes.length < bodyEnd) break;
      const message = toMessage(section, bytes.slice(bodyStart, bodyEnd));
      this.#section = undefined;
      offset = bodyEnd;
      this.#scanned = bodyEnd;
      try {
        checkMandatory(message);
        out.push({ kind: 'message', message });
      } catch (error) {
        if (!(error instanceof SipSyntaxError)) throw error;
        out.push({ kind: 'invalid', error });
      }
    }
    this.#consume(offset);
  }

  #consume(offset: number): void {
    if (offset === 0) return;
    this.#buffer.copyWithin(0, offset, this.#length);
    this.#length -= offset;
    this.#scanned = Math.max(0, this.#scanned - offset);
    if (this.#section) this.#section.bodyStart -= offset;
  }
}
