import { type Address, type CookieTable, MemoryCookieTable } from '@crosstalk/core';
import type { OutputBarrier } from '../engine/connection.js';
import type { CookieOp } from './messages.js';

/**
 * The cookie table of a worker of a `--workers N` host: a login cookie one worker's session
 * records (OSCAR BOS, MSNP switchboard) is needed by whichever worker the client's next connection
 * reaches. Each worker keeps every cookie; a record or forget is sent to the primary, which passes
 * it to every other worker and acknowledges a record once each of them confirmed it. As an
 * `OutputBarrier`, it holds the bytes that carry a new cookie to the client until that
 * acknowledgement: the client's next connection may be accepted by any worker (they all accept on
 * the host's listener), and the cookie must be there first.
 */
export class SharedCookieTable implements CookieTable, OutputBarrier {
  readonly #table: MemoryCookieTable;
  readonly #send: (op: CookieOp) => void;
  #seq = 0;
  #acked = 0;
  readonly #waiting: { seq: number; resolve(): void }[] = [];

  constructor(send: (op: CookieOp) => void, options: { ttl?: number; now?: () => number } = {}) {
    this.#send = send;
    this.#table = new MemoryCookieTable(options);
  }

  record(protocol: string, cookie: string, owner: Address, data?: unknown): void {
    this.#table.record(protocol, cookie, owner, data);
    const seq = ++this.#seq;
    try {
      this.#send({ t: 'cookie', op: 'record', seq, protocol, cookie, owner, data });
    } catch {
      this.acknowledged(seq); // the primary is gone: nobody else to wait for
    }
  }

  lookup(
    protocol: string,
    cookie: string,
  ):
    | {
        /** The user the cookie was issued to. */
        owner: Address;
        /** What the codec stored with it. */
        data: unknown;
      }
    | undefined {
    return this.#table.lookup(protocol, cookie);
  }

  forget(protocol: string, cookie: string): void {
    this.#table.forget(protocol, cookie);
    try {
      this.#send({ t: 'cookie', op: 'forget', protocol, cookie });
    } catch {
      // the primary is gone; the cookie expires elsewhere
    }
  }

  /** An operation another worker made. */
  apply(op: CookieOp): void {
    if (op.op === 'record') this.#table.record(op.protocol, op.cookie, op.owner, op.data);
    else this.#table.forget(op.protocol, op.cookie);
  }

  /** The primary passed on every record up to `seq`. */
  acknowledged(seq: number): void {
    this.#acked = Math.max(this.#acked, seq);
    while (this.#waiting.length > 0 && this.#waiting[0]!.seq <= this.#acked) this.#waiting.shift()!.resolve();
  }

  /** Cookies live here now. */
  get size(): number {
    return this.#table.size;
  }

  mark(): number {
    return this.#seq;
  }

  after(mark: number): Promise<void> | undefined {
    const seq = this.#seq;
    if (seq === mark || this.#acked >= seq) return undefined;
    return new Promise((resolve) => this.#waiting.push({ seq, resolve }));
  }
}
