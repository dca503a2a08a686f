import { randomUUID } from 'node:crypto';
import {
  type Address,
  address,
  addressKey,
  type BuddyOutcome,
  type BuddyRequestEvent,
  type CallDeclineReason,
  type CallInviteEvent,
  type CallSession,
  type CanonicalEvent,
  type ClientEventMap,
  type ClientIdentity,
  type CrossTalkClient,
  type DialCallOptions,
  type FileOfferEvent,
  type FileSink,
  type FileSource,
  type FileTransferResult,
  formatAddress,
  type GetFileOptions,
  type ImEvent,
  InvalidEventError,
  isCrossTalkError,
  LIMITS,
  PRESENCE_STATUSES,
  type PresenceStatus,
  type RosterItem,
  type SendFileOptions,
  type SendImOptions,
  TYPING_STATES,
  type TypingState,
  validateEvent,
} from '@crosstalk/core';
import type { CrossTalkNode } from '@crosstalk/gateway';
import type { Logger } from 'pino';
import { createClient, type ShimClient } from '../client/client.js';
import { ClientListeners } from '../client/listeners.js';
import type { ClientOptions } from '../client/options.js';
import { BaseConnectionLostError, BaseUnsupportedError } from '../errors/base-errors.js';
import {
  ClientClosedError,
  InvalidClientOptionsError,
  MessageTooLargeError,
  OperationAbortedError,
} from '../errors/errors.js';
import type { BaseClient, BaseOutgoingEvent } from './base-client.js';

/** Options of `createShim`: the base client, and the node's options as for `createClient`. */
export interface ShimOptions extends Omit<ClientOptions, 'identity' | 'network'> {
  /** The user's own client of their (encrypted) network; its `address` is the user's CrossTalk address too. */
  base: BaseClient;
  /** The user's display name, sent with buddy requests to users on other networks. */
  name?: string;
  /**
   * Told once when the shim ends on its own, with why: the base connection was lost
   * (`BaseConnectionLostError`). Not called for `close()`.
   */
  onClosed?(reason: Error): void;
}

/** Events held while `createShim` starts (the base server's backlog at login), at most. */
const MAX_EARLY = 10_000;

/** The event kinds a base client may report; anything else it hands the shim is dropped. */
const FROM_BASE = new Set<CanonicalEvent['kind']>([
  'im',
  'typing',
  'presence',
  'buddy-request',
  'buddy-response',
  'file-offer',
]);

/**
 * Makes the shim for an encrypted base client (issue 18): logs the base client in, then starts the
 * user's node of the CrossTalk network (as `createClient`, with the base client's address), and
 * returns core's `CrossTalkClient` over both. What the user sends to users the base network
 * reaches goes through the base client, untouched (the base server sees the user's own client);
 * what they send to users of other networks goes over G2G in canonical form. Events from both
 * arrive at the same listeners.
 *
 * Rejects with `InvalidClientOptionsError` for a `base` that is not a base client, the base
 * client's error when it cannot log in (for XMPP: `BaseUnreachableError`,
 * `BaseTlsUnavailableError`, `BaseTlsFailedError`, `BaseLoginFailedError`), or `createClient`'s.
 */
export async function createShim(options: ShimOptions): Promise<BaseClientShim> {
  const { base, name, onClosed, ...clientOptions } = options;
  checkBase(base);
  const user = address(base.address.user, base.address.network);
  const shim = new BaseClientShim(base, user, name, onClosed, options.logger || undefined);
  await base.connect({
    receive: (event) => shim.fromBase(event),
    lost: (error) => shim.baseLost(error),
  });
  let client: ShimClient;
  try {
    client = await createClient({
      ...clientOptions,
      identity: name === undefined ? { address: user } : { address: user, name },
      network: user.network,
    });
  } catch (error) {
    await base.close().catch(() => {});
    throw error;
  }
  shim.started(client);
  return shim;
}

/** `base` has the members of a `BaseClient`, or `InvalidClientOptionsError`. */
function checkBase(base: BaseClient | undefined): void {
  if (!base || typeof base !== 'object')
    throw new InvalidClientOptionsError('base is required: a base client (BaseClient)');
  for (const method of ['reaches', 'connect', 'send', 'presence', 'roster', 'close'] as const)
    if (typeof base[method] !== 'function')
      throw new InvalidClientOptionsError(`base is not a base client: it has no ${method}()`);
  const a = base.address as Address | undefined;
  if (!a || typeof a.user !== 'string' || typeof a.network !== 'string')
    throw new InvalidClientOptionsError('base.address must be the user ({ user, network })');
}

/** A recipient as given by the application: an address object, checked and normalised. */
function recipient(to: unknown): Address {
  const a = to as Address | undefined;
  if (!a || typeof a !== 'object' || typeof a.user !== 'string' || typeof a.network !== 'string')
    throw new InvalidEventError('the recipient must be an address ({ user, network })');
  return address(a.user, a.network);
}

function checkText(text: unknown, what: string): void {
  if (typeof text !== 'string') throw new InvalidEventError(`${what} must be text`);
  if (text.length > LIMITS.text) throw new MessageTooLargeError(text.length, LIMITS.text);
}

/**
 * The client `createShim` returns: core's `CrossTalkClient` over a base client (users of its
 * network) and a node of the CrossTalk network (everyone else). After `close()`, or once the base
 * connection is lost, every operation rejects with `ClientClosedError`.
 */
export class BaseClientShim implements CrossTalkClient {
  readonly identity: ClientIdentity;
  /** The base client the shim drives. */
  readonly base: BaseClient;
  readonly #onClosed: ((reason: Error) => void) | undefined;
  readonly #log: Logger | undefined;
  #client: ShimClient | undefined;
  readonly #listeners = new ClientListeners();
  /** Requests from users of the base network, not answered yet. */
  readonly #requests = new Map<string, BuddyRequestEvent>();
  /** Events that arrived while `createShim` was starting, shown right after it resolves. */
  #early: CanonicalEvent[] | undefined = [];
  #closing: Promise<void> | undefined;

  /** @internal Made by `createShim`. */
  constructor(
    base: BaseClient,
    user: Address,
    name: string | undefined,
    onClosed: ((reason: Error) => void) | undefined,
    log: Logger | undefined,
  ) {
    this.base = base;
    this.identity = name === undefined ? { address: user } : { address: user, name };
    this.#onClosed = onClosed;
    this.#log = log;
  }

  /** The CrossTalk client for users of other networks (`createClient`'s, on the user's node). */
  get client(): ShimClient {
    if (!this.#client) throw new ClientClosedError('use the client before it started');
    return this.#client;
  }

  /** The user's node of the CrossTalk network: its id and its view of the directory. */
  get node(): CrossTalkNode {
    return this.client.node;
  }

  /** True once `close()` was called or the base connection was lost. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** @internal The node is up: its events join the base client's, and those held while starting are shown. */
  started(client: ShimClient): void {
    this.#client = client;
    // Requests the node delivered while `createClient` was still starting (held for the user while
    // offline) reached no listener of ours; the client kept them, so they are shown with the rest.
    for (const request of client.buddyRequests()) this.#emit(request);
    client.on('event', (event) => this.#emit(event));
    // After `await createShim(...)` has returned, so that listeners added right after it see these.
    setImmediate(() => {
      const early = this.#early ?? [];
      this.#early = undefined;
      for (const event of early) this.#dispatch(event);
    });
  }

  /** @internal An event from the base client: checked (who may say what), then shown. */
  fromBase(event: CanonicalEvent): void {
    if (this.closed) return;
    let checked: CanonicalEvent;
    try {
      checked = validateEvent(event);
    } catch (error) {
      this.#log?.warn(
        { err: error, protocol: this.base.protocol },
        'dropped an invalid event from the base client',
      );
      return;
    }
    const from = 'from' in checked ? checked.from : undefined;
    const to = 'to' in checked ? checked.to : undefined;
    const reason = !FROM_BASE.has(checked.kind)
      ? `a ${checked.kind} event`
      : !from || !this.base.reaches(from)
        ? `from ${from ? formatAddress(from) : 'nobody'}, a user the base network does not reach`
        : to && addressKey(to) !== addressKey(this.identity.address)
          ? `addressed to ${formatAddress(to)}, not to the user`
          : undefined;
    if (reason) {
      this.#log?.warn(
        { kind: checked.kind, reason, protocol: this.base.protocol },
        'dropped an event from the base client',
      );
      return;
    }
    if (checked.kind === 'buddy-request') this.#requests.set(addressKey(checked.from), checked);
    this.#emit(checked);
  }

  /** @internal The base connection ended on its own: the user leaves CrossTalk too. */
  baseLost(error: Error): void {
    if (this.closed) return;
    const reason = isCrossTalkError(error, 'ERR_BASE_CONNECTION_LOST')
      ? error
      : new BaseConnectionLostError(`the ${this.base.protocol} connection was lost: ${error.message}`, {
          cause: error,
        });
    this.#log?.warn({ err: reason }, 'base connection lost');
    void this.close().then(() => this.#onClosed?.(reason));
  }

  // ------------------------------------------------------------------ messages, presence, roster

  async sendIM(to: Address, text: string, options: SendImOptions = {}): Promise<ImEvent> {
    const client = this.#open('send an IM');
    const target = recipient(to);
    if (!this.base.reaches(target)) return client.sendIM(target, text, options);
    checkText(text, 'an IM');
    if (options.html !== undefined) checkText(options.html, 'html');
    const event: ImEvent = {
      kind: 'im',
      id: randomUUID(),
      from: this.identity.address,
      to: target,
      text,
      ...(options.html === undefined ? {} : { html: options.html }),
      sentAt: Date.now(),
    };
    await this.#toBase(event, 'send an IM', options.signal);
    return event;
  }

  async sendTyping(to: Address, state: TypingState): Promise<void> {
    const client = this.#open('send typing');
    const target = recipient(to);
    if (!this.base.reaches(target)) return client.sendTyping(target, state);
    if (!TYPING_STATES.includes(state)) throw new InvalidEventError(`unknown typing state ${String(state)}`);
    await this.#toBase({ kind: 'typing', from: this.identity.address, to: target, state }, 'send typing');
  }

  async setPresence(status: PresenceStatus, text?: string): Promise<void> {
    const client = this.#open('set presence');
    if (!PRESENCE_STATUSES.includes(status)) throw new InvalidEventError(`unknown status ${String(status)}`);
    if (text !== undefined) checkText(text, 'a status message');
    // Both networks see the same status: the base server tells its users, the node the others.
    await Promise.all([
      this.#guard(() => this.base.presence(status, text), 'set presence'),
      client.setPresence(status, text),
    ]);
  }

  async addBuddy(to: Address, message?: string): Promise<BuddyOutcome> {
    const client = this.#open('add a buddy');
    const target = recipient(to);
    if (!this.base.reaches(target)) return client.addBuddy(target, message);
    if (message !== undefined) checkText(message, 'a request message');
    await this.#toBase(
      {
        kind: 'buddy-request',
        id: randomUUID(),
        from: this.identity.address,
        to: target,
        ...(this.identity.name === undefined ? {} : { name: this.identity.name }),
        ...(message === undefined ? {} : { message }),
      },
      'add a buddy',
    );
    // The base server holds requests for its offline users itself: handed over is delivered.
    return 'delivered';
  }

  async answerBuddy(to: Address, accepted: boolean, message?: string): Promise<BuddyOutcome> {
    const client = this.#open('answer a buddy request');
    const target = recipient(to);
    if (!this.base.reaches(target)) return client.answerBuddy(target, accepted, message);
    if (typeof accepted !== 'boolean')
      throw new InvalidEventError('an answer is accepted (true) or denied (false)');
    if (message !== undefined) checkText(message, 'an answer message');
    const request = this.#requests.get(addressKey(target));
    await this.#toBase(
      {
        kind: 'buddy-response',
        ...(request?.id === undefined ? {} : { id: request.id }),
        from: this.identity.address,
        to: target,
        accepted,
        ...(message === undefined ? {} : { message }),
      },
      'answer a buddy request',
    );
    this.#requests.delete(addressKey(target));
    return 'delivered';
  }

  /** The user's buddies on the base network (its roster), then those on other networks (the node's). */
  roster(): RosterItem[] {
    const client = this.#open('read the roster');
    return [...this.base.roster(), ...client.roster()];
  }

  buddyRequests(): BuddyRequestEvent[] {
    const client = this.#open('read buddy requests');
    return [...this.#requests.values(), ...client.buddyRequests()];
  }

  on<K extends keyof ClientEventMap>(type: K, listener: (event: ClientEventMap[K]) => void): () => void {
    return this.#listeners.on(type, listener);
  }

  async dialCall(to: Address, options: DialCallOptions): Promise<CallSession> {
    const client = this.#open('dial a call');
    const target = recipient(to);
    // Base clients carry no calls (BaseClient has no dial): only users elsewhere are called, over G2G.
    if (this.base.reaches(target))
      throw new BaseUnsupportedError(
        `the ${this.base.protocol} base client cannot place calls (to ${formatAddress(target)})`,
      );
    return client.dialCall(target, options);
  }

  answerCall(invite: CallInviteEvent, options: { sdp: string }): Promise<CallSession> {
    return this.#open('answer a call').answerCall(invite, options);
  }

  declineCall(invite: CallInviteEvent, reason?: CallDeclineReason): Promise<void> {
    return this.#open('decline a call').declineCall(invite, reason);
  }

  // ------------------------------------------------------------------ files

  async sendFile(to: Address, file: FileSource, options: SendFileOptions = {}): Promise<FileOfferEvent> {
    const client = this.#open('offer a file');
    const target = recipient(to);
    if (!this.base.reaches(target)) return client.sendFile(target, file, options);
    if (!this.base.sendFile)
      throw new BaseUnsupportedError(
        `the ${this.base.protocol} base client cannot send files (to ${formatAddress(target)})`,
      );
    return this.#guard(() => this.base.sendFile!(target, file, options), 'offer a file');
  }

  async getFile(
    offer: FileOfferEvent,
    sink: FileSink,
    options: GetFileOptions = {},
  ): Promise<FileTransferResult> {
    const client = this.#open('fetch a file');
    // A malformed offer is the node's to refuse, with its typed error (InvalidFileOfferError).
    let from: Address | undefined;
    try {
      from = recipient((offer as FileOfferEvent | undefined)?.from);
    } catch {
      from = undefined;
    }
    if (!from || !this.base.reaches(from)) return client.getFile(offer, sink, options);
    if (!this.base.getFile)
      throw new BaseUnsupportedError(`the ${this.base.protocol} base client cannot fetch files`);
    return this.#guard(() => this.base.getFile!(offer, sink, options), 'fetch a file');
  }

  /** Withdraws a file offered to a user of another network; false when unknown. */
  withdrawFile(offerId: string): Promise<boolean> {
    return this.#open('withdraw a file').withdrawFile(offerId);
  }

  // ------------------------------------------------------------------ lifecycle

  /** Logs out of both: the node (buddies on other networks see the user go offline), then the base client. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#client?.close().catch(() => {});
      await this.base.close().catch(() => {});
    })();
    return this.#closing;
  }

  // ------------------------------------------------------------------ internals

  #open(operation: string): ShimClient {
    if (this.closed || !this.#client) throw new ClientClosedError(operation);
    return this.#client;
  }

  /** Hands an event to the base client, bounded by `signal`. */
  async #toBase(event: BaseOutgoingEvent, operation: string, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw new OperationAbortedError('aborted', { cause: signal.reason });
    const sending = this.#guard(() => this.base.send(event), operation);
    if (!signal) return sending;
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(new OperationAbortedError('aborted', { cause: signal.reason }));
      signal.addEventListener('abort', onAbort, { once: true });
      sending.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  /** Runs a base-client operation; once the shim is closed, its failure is `ClientClosedError`. */
  async #guard<T>(work: () => Promise<T>, operation: string): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw this.closed && !isCrossTalkError(error, 'ERR_BASE_CONNECTION_LOST')
        ? new ClientClosedError(operation)
        : error;
    }
  }

  #emit(event: CanonicalEvent): void {
    if (!this.#early) this.#dispatch(event);
    else if (this.#early.length < MAX_EARLY) this.#early.push(event);
    else this.#log?.warn({ kind: event.kind }, 'dropped an event that arrived while the shim was starting');
  }

  #dispatch(event: CanonicalEvent): void {
    if (!this.closed) this.#listeners.dispatch(event);
  }
}
