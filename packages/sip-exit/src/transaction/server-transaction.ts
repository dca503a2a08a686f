import type { SipRequest, SipResponse } from '../message/message.js';
import { type SipDestination, TimerSet, type TransactionContext } from './context.js';

/** States of RFC 3261 §17.2 server transactions. */
export type ServerTransactionState = 'trying' | 'proceeding' | 'completed' | 'confirmed' | 'terminated';

/**
 * A server transaction (RFC 3261 §17.2): absorbs retransmitted requests by sending the last
 * response again; for an INVITE answered with 300-699, retransmits the final over UDP (Timer G,
 * doubling up to T2) until the ACK arrives or Timer H (64*T1) gives up, and absorbs the ACK
 * (Timer I); a 2xx ends an INVITE transaction (its retransmission is the UAS's business).
 * Non-INVITE transactions linger for Timer J (64*T1 over UDP) to answer retransmissions.
 */
export class ServerTransaction {
  /** The request that created the transaction. */
  readonly request: SipRequest;
  /** Where it came from: where responses go. */
  readonly source: SipDestination;
  #state: ServerTransactionState;
  readonly #ctx: TransactionContext;
  readonly #timers: TimerSet;
  readonly #onTerminated: () => void;
  readonly #invite: boolean;
  #last: SipResponse | undefined;
  /** Told when Timer H fires: the ACK for a failure response never came. */
  onAckTimeout: (() => void) | undefined;

  constructor(
    ctx: TransactionContext,
    request: SipRequest,
    source: SipDestination,
    onTerminated: () => void,
  ) {
    this.#ctx = ctx;
    this.request = request;
    this.source = source;
    this.#onTerminated = onTerminated;
    this.#invite = request.method === 'INVITE';
    this.#state = this.#invite ? 'proceeding' : 'trying';
    this.#timers = new TimerSet(ctx.scheduler);
  }

  /** The transaction's state. */
  get state(): ServerTransactionState {
    return this.#state;
  }

  /** The last response sent, if any. */
  get lastResponse(): SipResponse | undefined {
    return this.#last;
  }

  /** True once a final response was sent. */
  get answered(): boolean {
    return this.#last !== undefined && this.#last.status >= 200;
  }

  get #reliable(): boolean {
    return this.source.transport !== 'udp';
  }

  /** Sends a response from the TU; ignored once a final response went out. */
  respond(response: SipResponse): void {
    const { T1, T2 } = this.#ctx.timers;
    if (this.#state !== 'trying' && this.#state !== 'proceeding') return;
    this.#last = response;
    this.#ctx.send(response, this.source);
    if (response.status < 200) {
      this.#state = 'proceeding';
      return;
    }
    if (this.#invite && response.status < 300) {
      this.#terminate();
      return;
    }
    this.#state = 'completed';
    if (!this.#invite) {
      if (this.#reliable) this.#terminate();
      else this.#timers.start('J', 64 * T1, () => this.#terminate());
      return;
    }
    if (!this.#reliable) {
      const retransmit = (interval: number) =>
        this.#timers.start('G', interval, () => {
          if (this.#last) this.#ctx.send(this.#last, this.source);
          retransmit(Math.min(interval * 2, T2));
        });
      retransmit(T1);
    }
    this.#timers.start('H', 64 * T1, () => {
      this.#terminate();
      this.onAckTimeout?.();
    });
  }

  /** A request matching this transaction: a retransmission, or the ACK for a failure response. */
  receive(request: SipRequest): void {
    if (request.method === 'ACK') {
      if (this.#state !== 'completed') return;
      this.#state = 'confirmed';
      this.#timers.stop('G');
      this.#timers.stop('H');
      // Timer I: absorb ACK retransmissions for T4 over UDP.
      if (this.#reliable) this.#terminate();
      else this.#timers.start('I', this.#ctx.timers.T4, () => this.#terminate());
      return;
    }
    if (this.#last && (this.#state === 'proceeding' || this.#state === 'completed'))
      this.#ctx.send(this.#last, this.source);
  }

  /** Ends the transaction at once (the exit is closing). */
  destroy(): void {
    this.#terminate();
  }

  #terminate(): void {
    if (this.#state === 'terminated') return;
    this.#state = 'terminated';
    this.#timers.clear();
    this.#onTerminated();
  }
}
