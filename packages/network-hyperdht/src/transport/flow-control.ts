import { Duplex } from 'node:stream';
import { FlowControlError } from '../errors/errors.js';
import type { NodeSocket } from '../node/node.js';

/**
 * Credit-based flow control over a hyperdht stream. hyperdht's streams run over UDX, which has
 * congestion control but no receive window: a reader that stops reading does not slow the writer,
 * and what arrives piles up in memory. Here each side may send only what the other granted: a
 * window of `WINDOW` bytes at first, then more as the reader consumes (credit goes back only while
 * the reader keeps up), so a reader that stops reading stops the writer within one window, and the
 * writer's `write()` returns false as on TCP.
 *
 * Wire format, inside the encrypted stream: frames of [type u8][length u32 BE][body]. DATA carries
 * bytes (at most `MAX_FRAME` per frame); CREDIT carries a u32 of further bytes the sender may send.
 */
const DATA = 0;
const CREDIT = 1;
const HEADER = 5;
/** Bytes a side may send before the reader grants more. */
export const WINDOW = 256 * 1024;
const MAX_FRAME = 64 * 1024;

export class FlowControlledStream extends Duplex {
  readonly #inner: NodeSocket;
  readonly remotePublicKey: Uint8Array | null;
  /** Bytes this side may still send. */
  #credit = WINDOW;
  /** Bytes the peer may still send before it needs more credit from us (a peer over it is refused). */
  #allowed = WINDOW;
  /** Bytes consumed by our reader and not yet granted back. */
  #toGrant = 0;
  /** A write waiting for credit. */
  #waiting: { chunk: Buffer; callback: (error?: Error | null) => void } | undefined;
  #buffer: Buffer = Buffer.alloc(0);

  constructor(inner: NodeSocket) {
    super({ allowHalfOpen: false });
    this.#inner = inner;
    this.remotePublicKey = inner.remotePublicKey;
    inner.on('data', (chunk: Buffer) => this.#receive(chunk));
    inner.on('end', () => this.push(null));
    inner.on('error', (error: Error) => this.destroy(error));
    inner.on('close', () => this.destroy());
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#waiting = { chunk, callback };
    this.#flush();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#inner.end();
    callback();
  }

  override _read(): void {
    // The reader wants more: grant back what it consumed while it was not keeping up.
    this.#grant();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.#inner.destroyed) this.#inner.destroy(error ?? undefined);
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.callback(error ?? new Error('stream destroyed'));
    callback(error);
  }

  /** Sends as much of the waiting write as the credit allows; completes it once all is sent. */
  #flush(): void {
    const waiting = this.#waiting;
    if (!waiting) return;
    while (waiting.chunk.length > 0 && this.#credit > 0) {
      const n = Math.min(waiting.chunk.length, this.#credit, MAX_FRAME);
      this.#inner.write(frame(DATA, waiting.chunk.subarray(0, n)));
      this.#credit -= n;
      waiting.chunk = waiting.chunk.subarray(n);
    }
    if (waiting.chunk.length === 0) {
      this.#waiting = undefined;
      waiting.callback();
    }
  }

  #receive(chunk: Buffer): void {
    this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, chunk]) : chunk;
    while (this.#buffer.length >= HEADER) {
      const type = this.#buffer[0]!;
      const length = this.#buffer.readUInt32BE(1);
      if ((type === DATA && length > MAX_FRAME) || (type === CREDIT && length !== 4) || type > CREDIT)
        return void this.destroy(
          new FlowControlError(`flow control: a bad frame (type ${type}, ${length} bytes)`),
        );
      if (this.#buffer.length < HEADER + length) return;
      const body = this.#buffer.subarray(HEADER, HEADER + length);
      this.#buffer = this.#buffer.subarray(HEADER + length);
      if (type === CREDIT) {
        this.#credit += body.readUInt32BE(0);
        this.#flush();
        continue;
      }
      this.#allowed -= length;
      if (this.#allowed < 0)
        return void this.destroy(
          new FlowControlError('flow control: the peer sent more than it was granted'),
        );
      this.#toGrant += length;
      // While the reader keeps up, credit goes back at once (in batches); once it lags, _read does it.
      if (this.push(Buffer.from(body))) this.#grant();
    }
  }

  #grant(): void {
    if (this.#toGrant < WINDOW / 4 || this.destroyed) return;
    const grant = this.#toGrant;
    this.#toGrant = 0;
    this.#allowed += grant;
    const body = Buffer.alloc(4);
    body.writeUInt32BE(grant);
    this.#inner.write(frame(CREDIT, body));
  }
}

function frame(type: number, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER + body.length);
  out[0] = type;
  out.writeUInt32BE(body.length, 1);
  out.set(body, HEADER);
  return out;
}
