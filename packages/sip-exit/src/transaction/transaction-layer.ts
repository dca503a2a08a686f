import { randomBytes } from 'node:crypto';
import { parseCSeq } from '../grammar/cseq.js';
import { tagOf } from '../grammar/name-addr.js';
import { BRANCH_COOKIE, branchOf, parseVia } from '../grammar/via.js';
import type { SipRequest, SipResponse } from '../message/message.js';
import { ClientTransaction, type ClientTransactionUser } from './client-transaction.js';
import { nodeScheduler, RFC3261_TIMERS, type SipDestination, type TransactionContext } from './context.js';
import { ServerTransaction } from './server-transaction.js';

/** A fresh RFC 3261 branch: the magic cookie and 96 random bits (§8.1.1.7). */
export function newBranch(): string {
  return `${BRANCH_COOKIE}${randomBytes(12).toString('hex')}`;
}

/**
 * The key a request matches server transactions by (RFC 3261 §17.2.3): the top Via's branch,
 * sent-by and the method (an ACK matches its INVITE's transaction; a CANCEL has its own). A request
 * from an RFC 2543 element (no magic cookie) is keyed by its dialog and sequence fields (§17.2.3's
 * older rule, simplified: Call-ID, From tag, CSeq number and the top Via).
 */
export function serverKey(request: SipRequest): string {
  const top = request.headers.list('via')[0] ?? '';
  const via = parseVia(top);
  const method = request.method === 'ACK' ? 'INVITE' : request.method;
  const branch = branchOf(via);
  if (branch?.startsWith(BRANCH_COOKIE)) return `${branch}|${via.host}:${via.port ?? ''}|${method}`;
  const seq = parseCSeq(request.headers.get('cseq') ?? '').seq;
  return `2543|${request.headers.get('call-id')}|${tagOf(request.headers.get('from'))}|${seq}|${top}|${method}`;
}

/** The key a response matches client transactions by (RFC 3261 §17.1.3): top Via branch and CSeq method. */
export function clientKey(branch: string, method: string): string {
  return `${branch}|${method}`;
}

/** How many transactions are alive. */
export interface TransactionCounts {
  /** Client transactions. */
  client: number;
  /** Server transactions. */
  server: number;
}

/** Options of a `TransactionLayer`. */
export interface TransactionLayerOptions {
  /** Sends a message (the transport layer). */
  send: TransactionContext['send'];
  /** The clock (Node's timers by default). */
  scheduler?: TransactionContext['scheduler'];
  /** T1, T2, T4 (RFC 3261's by default). */
  timers?: Partial<TransactionContext['timers']>;
  /** Most transactions alive at once, each way; past it new requests get 503 (default 10,000). */
  maxTransactions?: number;
}

/**
 * The transaction layer (RFC 3261 §17): creates client and server transactions, matches responses
 * and retransmitted requests to them, and forgets them when they end. What matches none is the
 * caller's (the proxy core): new requests, 2xx retransmissions, ACKs for 2xx.
 */
export class TransactionLayer {
  readonly #ctx: TransactionContext;
  readonly #clients = new Map<string, ClientTransaction>();
  readonly #servers = new Map<string, ServerTransaction>();
  /** Most transactions alive at once, each way. */
  readonly maxTransactions: number;

  constructor(options: TransactionLayerOptions) {
    this.#ctx = {
      send: options.send,
      scheduler: options.scheduler ?? nodeScheduler,
      timers: { ...RFC3261_TIMERS, ...options.timers },
    };
    this.maxTransactions = options.maxTransactions ?? 10_000;
  }

  /** The timer values in force. */
  get timers(): TransactionContext['timers'] {
    return this.#ctx.timers;
  }

  /** The clock in force. */
  get scheduler(): TransactionContext['scheduler'] {
    return this.#ctx.scheduler;
  }

  /** Live transactions: client and server. */
  get size(): TransactionCounts {
    return { client: this.#clients.size, server: this.#servers.size };
  }

  /** True when no more server transactions may be made. */
  get full(): boolean {
    return this.#servers.size >= this.maxTransactions;
  }

  /** The server transaction a request belongs to, if one is alive. */
  findServer(request: SipRequest): ServerTransaction | undefined {
    return this.#servers.get(serverKey(request));
  }

  /**
   * The INVITE server transaction a CANCEL cancels (RFC 3261 §9.2: same branch and sent-by as the
   * INVITE's top Via).
   */
  findInviteFor(cancel: SipRequest): ServerTransaction | undefined {
    return this.#servers.get(serverKey({ ...cancel, method: 'INVITE' }));
  }

  /** Makes a server transaction for a new request. */
  createServer(request: SipRequest, source: SipDestination): ServerTransaction {
    const key = serverKey(request);
    const tx = new ServerTransaction(this.#ctx, request, source, () => {
      if (this.#servers.get(key) === tx) this.#servers.delete(key);
    });
    this.#servers.set(key, tx);
    return tx;
  }

  /**
   * Passes a response to the client transaction it belongs to; false when none (a 2xx
   * retransmission, or a stray response), which the caller forwards or drops.
   */
  receiveResponse(response: SipResponse): boolean {
    const top = response.headers.list('via')[0];
    if (!top) return false;
    const branch = branchOf(parseVia(top));
    if (!branch) return false;
    const method = parseCSeq(response.headers.get('cseq') ?? '').method;
    const tx = this.#clients.get(clientKey(branch, method));
    if (!tx) return false;
    tx.receive(response);
    return true;
  }

  /**
   * Starts a client transaction for `request`, whose top Via (with a fresh branch) the caller has
   * already added.
   */
  startClient(
    request: SipRequest,
    destination: SipDestination,
    user: ClientTransactionUser,
  ): ClientTransaction {
    const branch = branchOf(parseVia(request.headers.list('via')[0] ?? '')) ?? '';
    const key = clientKey(branch, request.method);
    const tx = new ClientTransaction(this.#ctx, request, destination, user, () => {
      if (this.#clients.get(key) === tx) this.#clients.delete(key);
    });
    this.#clients.set(key, tx);
    tx.start();
    return tx;
  }

  /** Client transactions sent to `destination` over TCP connection `connection`: told when it fails. */
  failConnection(predicate: (destination: SipDestination) => boolean): void {
    for (const tx of [...this.#clients.values()]) if (predicate(tx.destination)) tx.transportError();
  }

  /** Ends every transaction (the exit is closing). */
  close(): void {
    for (const tx of [...this.#clients.values()]) tx.destroy();
    for (const tx of [...this.#servers.values()]) tx.destroy();
  }
}
