import type { Socket } from 'node:net';
import { isCrossTalkError, WaitingInbox } from '@crosstalk/core';
import { decodeFlap, encodeFlap, type FlapFrame } from '../flap/flap-frame.js';
import { FlapFramer } from '../flap/flap-framer.js';

/**
 * One end of a FLAP connection over a real socket, for the mock server and the scripted client:
 * numbers what it sends (one counter per connection, +1 per frame, mod 2^16), decodes what it
 * receives, and checks that the peer's numbers have no gap or repeat.
 */
export class FlapSocket {
  readonly socket: Socket;
  readonly label: string;
  /** The peer's sequence numbers, in order. */
  readonly seqs: number[] = [];
  /** Sequence problems seen (a gap or a repeat), with the numbers involved. */
  readonly seqErrors: string[] = [];
  readonly closed: Promise<void>;
  /** How many frames this end has sent. */
  sent = 0;
  #nextSeq: number;
  #expected: number | undefined;
  readonly #framer = new FlapFramer();
  // Core's WaitingInbox, capped at `maxHistory`; unref'd timers, so an abandoned wait holds no process.
  readonly #received: WaitingInbox<FlapFrame>;
  /** What `#received` is closed with: a wait that gets it says what it was waiting for. */
  readonly #closedMark = Symbol('closed');
  readonly #onFrame: ((frame: FlapFrame, raw: Uint8Array) => void) | undefined;
  #isClosed = false;

  constructor(
    socket: Socket,
    options: {
      label: string;
      startSeq: number;
      onFrame?: (frame: FlapFrame, raw: Uint8Array) => void;
      /** Called on a sequence gap or repeat; the default only records it. */
      onSeqError?: (message: string) => void;
      /** Keep only about this many of the latest frames in `received` and `seqs` (long load runs). */
      maxHistory?: number;
    },
  ) {
    this.socket = socket;
    this.label = options.label;
    this.#nextSeq = options.startSeq & 0xffff;
    this.#onFrame = options.onFrame;
    const maxHistory = options.maxHistory ?? Number.POSITIVE_INFINITY;
    this.#received = new WaitingInbox({ capacity: maxHistory, name: this.label, unrefTimers: true });
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.once('close', () => {
      this.#isClosed = true;
      this.#received.close(this.#closedMark);
    });
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      let raws: Uint8Array[];
      try {
        raws = this.#framer.push(chunk);
      } catch (error) {
        if (!isCrossTalkError(error)) throw error;
        socket.destroy();
        return;
      }
      for (const raw of raws) {
        if (this.#isClosed) return;
        const frame = decodeFlap(raw);
        if (this.#expected !== undefined && frame.seq !== this.#expected) {
          const message = `${this.label}: FLAP seq ${frame.seq} where ${this.#expected} was due`;
          this.seqErrors.push(message);
          options.onSeqError?.(message);
        }
        this.#expected = (frame.seq + 1) & 0xffff;
        this.seqs.push(frame.seq);
        if (this.seqs.length > 2 * maxHistory) this.seqs.splice(0, this.seqs.length - maxHistory);
        this.#received.push(frame);
        this.#onFrame?.(frame, raw);
      }
      if (this.#framer.error) socket.destroy();
    });
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** Sends a frame with this connection's next sequence number. */
  send(frame: FlapFrame): void {
    if (this.#isClosed) return;
    frame.seq = this.#nextSeq;
    this.#nextSeq = (this.#nextSeq + 1) & 0xffff;
    this.sent++;
    this.socket.write(encodeFlap(frame));
  }

  /** Every frame received, in order (a live view; the latest `maxHistory`). */
  get received(): FlapFrame[] {
    return this.#received.items as FlapFrame[];
  }

  /**
   * The first frame (already received or still to come) that matches; else a `WaitTimeoutError`
   * (`@crosstalk/core`), or an error saying the connection closed first.
   */
  waitFor(
    predicate: (f: FlapFrame) => boolean,
    timeoutMs = 10_000,
    what = 'a matching frame',
  ): Promise<FlapFrame> {
    return this.#wait(predicate, { timeoutMs, what });
  }

  /** The next frame from now on that matches. */
  next(
    predicate: (f: FlapFrame) => boolean,
    timeoutMs = 10_000,
    what = 'a matching frame',
  ): Promise<FlapFrame> {
    return this.#wait(predicate, { timeoutMs, what, onlyNew: true });
  }

  async #wait(
    predicate: (f: FlapFrame) => boolean,
    options: { timeoutMs: number; what: string; onlyNew?: boolean },
  ): Promise<FlapFrame> {
    try {
      return await this.#received.waitFor(predicate, options);
    } catch (error) {
      if (error === this.#closedMark)
        throw new Error(`${this.label}: connection closed before ${options.what}`);
      throw error;
    }
  }

  /** Ends the connection after what was written (a server that signs a client off). */
  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }
}
