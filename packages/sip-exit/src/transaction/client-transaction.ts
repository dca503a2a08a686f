import { SipHeaders } from '../message/headers.js';
import type { SipRequest, SipResponse } from '../message/message.js';
import { type SipDestination, TimerSet, type TransactionContext } from './context.js';

/** What a client transaction reports to its user (the proxy core, a UA). */
export interface ClientTransactionUser {
  /** A response: provisional or final (each final once; 2xx retransmissions bypass the transaction). */
  onResponse(response: SipResponse): void;
  /** Timer B or F fired before a final response (RFC 3261 §17.1.1.2, §17.1.2.2): treat as 408. */
  onTimeout(): void;
  /** The request could not be sent (RFC 3261 §17.1.4): treat as 503. */
  onTransportError(): void;
}

/** States of RFC 3261 §17.1 client transactions (INVITE: calling, proceeding, completed; non-INVITE: trying, ...). */
export type ClientTransactionState = 'calling' | 'trying' | 'proceeding' | 'completed' | 'terminated';

/**
 * A client transaction (RFC 3261 §17.1): sends the request, retransmits it over UDP (Timer A for
 * INVITE, doubling; Timer E for the rest, doubling up to T2), gives up after 64*T1 (Timer B / F),
 * and for an INVITE answered with 300-699 sends the ACK itself and absorbs retransmitted finals
 * (Timer D); a 2xx ends an INVITE transaction at once (the ACK for it is end to end).
 */
export class ClientTransaction {
  /** The request this transaction sends. */
  readonly request: SipRequest;
  /** Where it goes. */
  readonly destination: SipDestination;
  #state: ClientTransactionState;
  readonly #ctx: TransactionContext;
  readonly #user: ClientTransactionUser;
  readonly #timers: TimerSet;
  readonly #onTerminated: () => void;
  readonly #invite: boolean;
  #ack: SipRequest | undefined;

  constructor(
    ctx: TransactionContext,
    request: SipRequest,
    destination: SipDestination,
    user: ClientTransactionUser,
    onTerminated: () => void,
  ) {
    this.#ctx = ctx;
    this.request = request;
    this.destination = destination;
    this.#user = user;
    this.#onTerminated = onTerminated;
    this.#invite = request.method === 'INVITE';
    this.#state = this.#invite ? 'calling' : 'trying';
    this.#timers = new TimerSet(ctx.scheduler);
  }

  /** The transaction's state. */
  get state(): ClientTransactionState {
    return this.#state;
  }

  get #reliable(): boolean {
    return this.destination.transport !== 'udp';
  }

  /** Sends the request and starts the timers. */
  start(): void {
    const { T1, T2 } = this.#ctx.timers;
    this.#ctx.send(this.request, this.destination);
    if (this.#state === 'terminated') return;
    if (!this.#reliable) {
      // Timer A (INVITE) doubles without bound; Timer E (non-INVITE) doubles up to T2.
      const retransmit = (interval: number) =>
        this.#timers.start('retransmit', interval, () => {
          this.#ctx.send(this.request, this.destination);
          retransmit(this.#invite ? interval * 2 : Math.min(interval * 2, T2));
        });
      retransmit(T1);
    }
    this.#timers.start('timeout', 64 * T1, () => {
      if (this.#state === 'completed' || this.#state === 'terminated') return;
      this.#terminate();
      this.#user.onTimeout();
    });
  }

  /** A response whose top Via branch and CSeq method match this transaction. */
  receive(response: SipResponse): void {
    const { T2, T4 } = this.#ctx.timers;
    const status = response.status;
    if (this.#state === 'terminated') return;
    if (this.#state === 'completed') {
      // A retransmitted final: an INVITE answers it with the same ACK again (§17.1.1.2).
      if (this.#invite && status >= 300 && this.#ack) this.#ctx.send(this.#ack, this.destination);
      return;
    }
    if (status < 200) {
      if (this.#state === 'calling' || this.#state === 'trying') {
        this.#state = 'proceeding';
        if (this.#invite) this.#timers.stop('retransmit');
        else if (!this.#reliable) {
          // §17.1.2.2: in Proceeding, Timer E retransmits every T2.
          const again = () =>
            this.#timers.start('retransmit', T2, () => {
              this.#ctx.send(this.request, this.destination);
              again();
            });
          again();
        }
      }
      this.#user.onResponse(response);
      return;
    }
    this.#timers.stop('retransmit');
    this.#timers.stop('timeout');
    if (this.#invite && status < 300) {
      // §17.1.1.2: a 2xx ends the INVITE transaction; the TU (or the UAC end to end) ACKs it.
      this.#terminate();
      this.#user.onResponse(response);
      return;
    }
    this.#state = 'completed';
    if (this.#invite) {
      this.#ack = ackFor(this.request, response);
      this.#ctx.send(this.#ack, this.destination);
    }
    this.#user.onResponse(response);
    // Timer D (INVITE, 32 s over UDP) or K (non-INVITE, T4 over UDP): absorb retransmissions, then end.
    const linger = this.#reliable ? 0 : this.#invite ? Math.max(32_000, 64 * this.#ctx.timers.T1) : T4;
    if (linger === 0) this.#terminate();
    else this.#timers.start('linger', linger, () => this.#terminate());
  }

  /** The transport could not send the request (a refused TCP connection, an unreachable host). */
  transportError(): void {
    if (this.#state === 'terminated' || this.#state === 'completed') return;
    this.#terminate();
    this.#user.onTransportError();
  }

  /** Ends the transaction without telling its user (the exit is closing). */
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

/**
 * RFC 3261 §17.1.1.3: the ACK for a non-2xx final response: the INVITE's Request-URI, Call-ID,
 * From, CSeq number and top Via, the response's To (with its tag), and the INVITE's Route set.
 */
export function ackFor(invite: SipRequest, response: SipResponse): SipRequest {
  const h = invite.headers;
  const headers = new SipHeaders();
  const via = h.list('via')[0];
  if (via) headers.append('Via', via);
  const maxForwards = h.get('max-forwards');
  headers.append('Max-Forwards', maxForwards ?? '70');
  for (const route of h.getAll('route')) headers.append('Route', route);
  headers.append('From', h.get('from') ?? '');
  headers.append('To', response.headers.get('to') ?? h.get('to') ?? '');
  headers.append('Call-ID', h.get('call-id') ?? '');
  const seq = (h.get('cseq') ?? '').trim().split(/\s+/)[0] ?? '0';
  headers.append('CSeq', `${seq} ACK`);
  return { kind: 'request', method: 'ACK', uri: invite.uri, headers, body: new Uint8Array(0) };
}
