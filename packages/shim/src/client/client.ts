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
  type CallSignalEvent,
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
  type G2gStream,
  type GetFileOptions,
  type ImEvent,
  InvalidEventError,
  isCrossTalkError,
  LIMITS,
  MemoryDht,
  PRESENCE_STATUSES,
  type PresenceStatus,
  type RosterItem,
  type SendFileOptions,
  type SendImOptions,
  TYPING_STATES,
  type TypingState,
} from '@crosstalk/core';
import {
  type CrossTalkNode,
  createNode,
  identityKeyPair,
  type OutgoingEvent,
  TcpG2gTransport,
  type UserEndpoint,
  UserOfflineError,
  type UserSession,
} from '@crosstalk/gateway';
import { HyperDhtStore, HyperDhtTransport } from '@crosstalk/network-hyperdht';
import { CALL_DEFAULTS, ClientCalls } from '../call/calls.js';
import { connectDataChannel, DataChannelListener } from '../channel/data-channel.js';
import { FileChannelTransport } from '../channel/file-channel.js';
import {
  ClientClosedError,
  FileTooLargeError,
  InvalidClientOptionsError,
  InvalidFileOfferError,
  MessageTooLargeError,
  NoCallRouteError,
  NoRouteError,
  OperationAbortedError,
  SourceFailedError,
  TooManyTransfersError,
  UnknownFileOfferError,
  UnknownUserError,
} from '../errors/errors.js';
import { MAX_CHUNK_SIZE } from '../file/frames.js';
import { digestSource, type FileDigests } from '../file/hash-list.js';
import { fileNotice, MAX_FILE_LINK } from '../file/notice.js';
import { checkFileOffer } from '../file/offer.js';
import { FILE_RECEIVER_DEFAULTS } from '../file/receiver.js';
import { fetchFile, serveFile } from '../file/transfer.js';
import { ClientListeners } from './listeners.js';
import type { ClientOptions, FileTransferOptions } from './options.js';

/** Defaults of `ClientOptions.files`. */
export const FILE_DEFAULTS = {
  /** Largest file offered or fetched: 4 GiB. */
  maxFileSize: 4 * 1024 ** 3,
  /** Bytes in each chunk asked for: 256 KiB. */
  chunkSize: FILE_RECEIVER_DEFAULTS.chunkSize,
  /** Bytes a sender may send ahead of the sink: 1 MiB. */
  window: FILE_RECEIVER_DEFAULTS.window,
  /** ms without progress before a transfer fails: 30 s. */
  stallTimeout: FILE_RECEIVER_DEFAULTS.stallTimeout,
  /** Transfers at once, each way. */
  maxTransfers: 8,
  /** Offers kept open at once. */
  maxOffers: 64,
  /** How long an offer can be fetched: 24 hours. */
  offerTtl: 24 * 60 * 60 * 1000,
  /** File bytes on a data channel (TLS-PSK) when both nodes can. */
  dataChannel: true,
} as const;

/** The codes of G2G failures: the recipient's node is known, but the event could not get through. */
const ROUTE_FAILURES = new Set([
  'ERR_DELIVERY_FAILED',
  'ERR_G2G_AUTH',
  'ERR_G2G_HANDSHAKE_TIMEOUT',
  'ERR_G2G_PEER_UNREACHABLE',
  'ERR_G2G_CONTACT',
  'ERR_SLOW_CONSUMER',
  'ERR_G2G_PROTOCOL',
]);

/** `FileTransferOptions` with the defaults filled in. */
type ResolvedFileOptions = Required<Omit<FileTransferOptions, 'rate' | 'onServed'>> &
  Pick<FileTransferOptions, 'rate' | 'onServed'>;

/** How a client's file data channels went (`ShimClient.dataChannelStats`). */
export interface DataChannelStats {
  /** Data channels this node's listener handed to transfers it served. */
  opened: number;
  /** Connections its listener refused, by error code (`ERR_DATA_CHANNEL_UNKNOWN_IDENTITY`, ...). */
  refused: ReadonlyMap<string, number>;
  /** Fetches of this node whose granted channel could not be opened, so went on the file stream. */
  fallbacks: number;
}

/** A file this client offered, until it expires or the client closes. */
interface OpenOffer {
  offer: FileOfferEvent;
  source: FileSource;
  /** Its size, SHA-256 and prefix hashes, from one pass when it was offered (or the first request). */
  digests: Promise<FileDigests> | undefined;
  expiresAt: number;
}

/**
 * Makes a client of the CrossTalk network (issue 18's client API): a small node on the user's host,
 * with its own key (in `stateFile`), published in the directory like a gateway's users, talking G2G
 * to the nodes of the user's buddies. `createNode` of `@crosstalk/gateway` is its engine; this
 * client is a way in that attaches one user and hands the application what arrives.
 *
 * Rejects with `InvalidAddressError` for a bad identity, `InvalidClientOptionsError` for options
 * that do not fit together, or the node's error when it cannot start (a state file it cannot read,
 * a DHT it cannot join).
 */
export async function createClient(options: ClientOptions): Promise<ShimClient> {
  const identity = checkIdentity(options);
  if (options.hyperdht && (options.dht || options.transport))
    throw new InvalidClientOptionsError(
      'hyperdht brings its own directory and transport: not with dht or transport',
    );
  const files = { ...FILE_DEFAULTS, ...options.files };
  let store: HyperDhtStore | undefined;
  if (options.hyperdht) {
    store = new HyperDhtStore({
      bootstrap: options.hyperdht.bootstrap.map(({ host, port }) => ({ host, port })),
      host: options.hyperdht.host ?? '127.0.0.1',
      ...(options.hyperdht.port === undefined ? {} : { port: options.hyperdht.port }),
    });
    await store.ready();
  }
  let client: ShimClient | undefined;
  let channel: FileChannelTransport | undefined;
  const onFileStream = (stream: G2gStream, remoteId: string) => {
    if (client) client.serve(stream, remoteId);
    else stream.destroy();
  };
  let node: CrossTalkNode;
  try {
    node = await createNode({
      dht: store ?? options.dht ?? new MemoryDht(),
      logger: options.logger ?? false,
      transport: (nodeIdentity) => {
        const inner = store
          ? new HyperDhtTransport({ node: store.node, keyPair: identityKeyPair(nodeIdentity) })
          : options.transport
            ? options.transport(nodeIdentity)
            : new TcpG2gTransport({
                identity: nodeIdentity,
                host: options.g2g?.host ?? '127.0.0.1',
                port: options.g2g?.port ?? 0,
              });
        channel = new FileChannelTransport(inner, onFileStream);
        return channel;
      },
      ...(options.stateFile === undefined ? {} : { stateFile: options.stateFile }),
      ...(options.canonical === undefined ? {} : { canonical: options.canonical }),
      ...(options.trustedGateways === undefined ? {} : { trustedGateways: options.trustedGateways }),
      ...(options.softTtl === undefined ? {} : { softTtl: options.softTtl }),
    });
  } catch (error) {
    await store?.close();
    throw error;
  }
  client = new ShimClient(identity, node, channel!, files, store);
  try {
    await client.attach(options.findableTimeout ?? 10_000);
  } catch (error) {
    await client.close();
    throw error;
  }
  return client;
}

/** The identity, normalised; its network must be the client's. */
function checkIdentity(options: ClientOptions): ClientIdentity {
  const given = options.identity as ClientIdentity | undefined;
  if (!given || typeof given !== 'object' || !given.address)
    throw new InvalidClientOptionsError('identity.address is required');
  const normalised = address(String(given.address.user), String(given.address.network));
  if (options.network !== undefined && options.network !== normalised.network)
    throw new InvalidClientOptionsError(
      `network ${JSON.stringify(options.network)} is not the identity's (${normalised.network})`,
    );
  if (given.name !== undefined && (typeof given.name !== 'string' || given.name.length > LIMITS.name))
    throw new InvalidClientOptionsError(`identity.name must be at most ${LIMITS.name} characters`);
  return given.name === undefined ? { address: normalised } : { address: normalised, name: given.name };
}

/** A recipient as given by the application: an address object, checked and normalised. */
function recipient(to: unknown): Address {
  const a = to as Address | undefined;
  if (!a || typeof a !== 'object' || typeof a.user !== 'string' || typeof a.network !== 'string')
    throw new InvalidEventError('the recipient must be an address ({ user, network })');
  return address(a.user, a.network);
}

/**
 * The client `createClient` returns: core's `CrossTalkClient`, on a node of its own. Every
 * operation after `close()` rejects with `ClientClosedError`.
 */
export class ShimClient implements CrossTalkClient {
  readonly identity: ClientIdentity;
  /** The client's node: its id (ed25519 public key) and its view of the directory. */
  readonly node: CrossTalkNode;
  readonly #channel: FileChannelTransport;
  readonly #files: ResolvedFileOptions;
  readonly #store: HyperDhtStore | undefined;
  #session: UserSession | undefined;
  readonly #listeners = new ClientListeners();
  readonly #requests = new Map<string, BuddyRequestEvent>();
  readonly #offers = new Map<string, OpenOffer>();
  readonly #serving = new Set<G2gStream>();
  readonly #fetching = new Set<AbortController>();
  readonly #calls: ClientCalls;
  /** The listener of this node's data channels (started on the first grant). */
  #dataChannels: DataChannelListener | undefined;
  /** Fetches that could not open the granted data channel and went on the file stream. */
  #fallbacks = 0;
  #closing: Promise<void> | undefined;

  /** @internal Made by `createClient`. */
  constructor(
    identity: ClientIdentity,
    node: CrossTalkNode,
    channel: FileChannelTransport,
    files: ResolvedFileOptions,
    store: HyperDhtStore | undefined,
  ) {
    this.identity = identity;
    this.node = node;
    this.#channel = channel;
    this.#files = files;
    this.#store = store;
    this.#calls = new ClientCalls({
      self: identity.address,
      send: (event) => this.#send(this.#open('signal a call'), event),
      refused: (code) => node.metrics.refused.inc({ reason: code }),
      emit: (event) => this.#emit(event),
      ringTimeout: CALL_DEFAULTS.ringTimeout,
      maxCalls: CALL_DEFAULTS.maxCalls,
    });
  }

  /** Calls under way (dialled, ringing or answered). */
  get activeCalls(): number {
    return this.#calls.size;
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** @internal Attaches the user to the node and waits (bounded) until the directory finds them. */
  async attach(findableTimeout: number): Promise<void> {
    const endpoint: UserEndpoint = {
      deliver: (event) => this.#deliver(event),
      detached: () => {
        void this.close();
      },
    };
    this.#session = await this.node.attach(this.identity.address, endpoint, { protocol: 'api' });
    const deadline = Date.now() + findableTimeout;
    while (Date.now() < deadline) {
      const location = await this.node.directory.lookupLocation(this.identity.address).catch(() => undefined);
      if (location?.gateway === this.node.id) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  // ------------------------------------------------------------------ messages, presence, roster

  async sendIM(to: Address, text: string, options: SendImOptions = {}): Promise<ImEvent> {
    const session = this.#open('send an IM');
    const target = recipient(to);
    if (typeof text !== 'string') throw new InvalidEventError('an IM needs text');
    if (text.length > LIMITS.text) throw new MessageTooLargeError(text.length, LIMITS.text);
    if (options.html !== undefined && options.html.length > LIMITS.text)
      throw new MessageTooLargeError(options.html.length, LIMITS.text);
    const event: ImEvent = {
      kind: 'im',
      id: randomUUID(),
      from: this.identity.address,
      to: target,
      text,
      ...(options.html === undefined ? {} : { html: options.html }),
      sentAt: Date.now(),
    };
    await this.#send(session, event, options.signal);
    return event;
  }

  async sendTyping(to: Address, state: TypingState): Promise<void> {
    const session = this.#open('send typing');
    const target = recipient(to);
    if (!TYPING_STATES.includes(state)) throw new InvalidEventError(`unknown typing state ${String(state)}`);
    await this.#send(session, { kind: 'typing', to: target, state });
  }

  async setPresence(status: PresenceStatus, text?: string): Promise<void> {
    const session = this.#open('set presence');
    if (!PRESENCE_STATUSES.includes(status)) throw new InvalidEventError(`unknown status ${String(status)}`);
    if (text !== undefined && (typeof text !== 'string' || text.length > LIMITS.text))
      throw new MessageTooLargeError(String(text).length, LIMITS.text);
    try {
      await session.setPresence({ status, ...(text === undefined ? {} : { text }) });
    } catch (error) {
      throw this.#closedOr(error, 'set presence');
    }
  }

  async addBuddy(to: Address, message?: string): Promise<BuddyOutcome> {
    const session = this.#open('add a buddy');
    const target = recipient(to);
    if (message !== undefined && message.length > LIMITS.text)
      throw new MessageTooLargeError(message.length, LIMITS.text);
    const outcome = await this.#send(session, {
      kind: 'buddy-request',
      id: randomUUID(),
      to: target,
      ...(this.identity.name === undefined ? {} : { name: this.identity.name }),
      ...(message === undefined ? {} : { message }),
    });
    return outcome === 'held' ? 'held' : 'delivered';
  }

  async answerBuddy(to: Address, accepted: boolean, message?: string): Promise<BuddyOutcome> {
    const session = this.#open('answer a buddy request');
    const target = recipient(to);
    if (typeof accepted !== 'boolean')
      throw new InvalidEventError('an answer is accepted (true) or denied (false)');
    if (message !== undefined && message.length > LIMITS.text)
      throw new MessageTooLargeError(message.length, LIMITS.text);
    const request = this.#requests.get(addressKey(target));
    const outcome = await this.#send(session, {
      kind: 'buddy-response',
      ...(request?.id === undefined ? {} : { id: request.id }),
      to: target,
      accepted,
      ...(message === undefined ? {} : { message }),
    });
    this.#requests.delete(addressKey(target));
    return outcome === 'held' ? 'held' : 'delivered';
  }

  roster(): RosterItem[] {
    return this.#open('read the roster').foreignBuddies();
  }

  buddyRequests(): BuddyRequestEvent[] {
    this.#open('read buddy requests');
    return [...this.#requests.values()];
  }

  on<K extends keyof ClientEventMap>(type: K, listener: (event: ClientEventMap[K]) => void): () => void {
    return this.#listeners.on(type, listener);
  }

  async dialCall(to: Address, options: DialCallOptions): Promise<CallSession> {
    this.#open('dial a call');
    const target = recipient(to);
    if (!options || typeof options !== 'object') throw new InvalidEventError('dialCall needs { sdp }');
    abortIfAborted(options.signal);
    try {
      return await this.#calls.dial(target, options.sdp, options.media ?? ['audio'], {
        ...(options.ringTimeout === undefined ? {} : { ringTimeout: options.ringTimeout }),
        ...(options.onRinging === undefined ? {} : { onRinging: options.onRinging }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
    } catch (error) {
      // No chain carries calls to the callee's node (a protocol without calls; they were told by IM).
      if (isCrossTalkError(error, 'ERR_NO_TRANSLATION_PATH'))
        throw new NoCallRouteError(`${formatAddress(target)} cannot take calls: ${error.message}`, {
          cause: error,
        });
      throw error;
    }
  }

  async answerCall(invite: CallInviteEvent, options: { sdp: string }): Promise<CallSession> {
    this.#open('answer a call');
    return this.#calls.answer(invite, options?.sdp);
  }

  async declineCall(invite: CallInviteEvent, reason: CallDeclineReason = 'decline'): Promise<void> {
    this.#open('decline a call');
    await this.#calls.decline(invite, reason);
  }

  // ------------------------------------------------------------------ files

  async sendFile(to: Address, file: FileSource, options: SendFileOptions = {}): Promise<FileOfferEvent> {
    const session = this.#open('offer a file');
    const target = recipient(to);
    checkSource(file);
    if (file.size > this.#files.maxFileSize) throw new FileTooLargeError(file.size, this.#files.maxFileSize);
    this.#sweepOffers();
    if (this.#offers.size >= this.#files.maxOffers)
      throw new TooManyTransfersError(`${this.#offers.size} offers are open (the limit)`);
    if (options.sha256 !== undefined && !/^[0-9a-f]{64}$/.test(options.sha256))
      throw new InvalidFileOfferError('sha256 must be 64 lower-case hex digits');
    if (
      options.link !== undefined &&
      (typeof options.link !== 'string' ||
        options.link.length === 0 ||
        options.link.length > MAX_FILE_LINK ||
        /\p{Cc}/u.test(options.link))
    )
      throw new InvalidFileOfferError(`a link must be 1 to ${MAX_FILE_LINK} characters, none a control`);
    abortIfAborted(options.signal);
    // One pass over the file for its SHA-256 and the chunk-hash list every transfer sends; with a
    // SHA-256 given, the list waits for the first request.
    const digests = options.sha256 === undefined ? await digestSource(file) : undefined;
    const sha256 = options.sha256 ?? digests!.sha256;
    abortIfAborted(options.signal);
    const offer: FileOfferEvent = {
      kind: 'file-offer',
      id: randomUUID(),
      from: this.identity.address,
      to: target,
      name: file.name,
      size: file.size,
      ...(file.mediaType === undefined ? {} : { mediaType: file.mediaType }),
      sha256,
    };
    this.#offers.set(offer.id, {
      offer,
      source: file,
      digests: digests && Promise.resolve(digests),
      expiresAt: Date.now() + this.#files.offerTtl,
    });
    try {
      await this.#send(session, offer, options.signal);
    } catch (error) {
      this.#offers.delete(offer.id);
      if (!isCrossTalkError(error, 'ERR_NO_TRANSLATION_PATH')) throw error;
      // The recipient's protocol carries no file offer (a legacy client behind a gateway): they get
      // an IM saying what the file is and how to get it; nothing of theirs can fetch it from here.
      await this.#send(
        session,
        {
          kind: 'im',
          id: randomUUID(),
          from: this.identity.address,
          to: target,
          text: fileNotice(offer, options.link),
          sentAt: Date.now(),
        },
        options.signal,
      );
    }
    return offer;
  }

  /** Withdraws an offer: it can no longer be fetched (transfers under way finish). Returns false when unknown. */
  async withdrawFile(offerId: string): Promise<boolean> {
    const entry = this.#offers.get(offerId);
    if (!entry) return false;
    this.#offers.delete(offerId);
    await entry.source.close?.().catch(() => {});
    return true;
  }

  async getFile(
    offer: FileOfferEvent,
    sink: FileSink,
    options: GetFileOptions = {},
  ): Promise<FileTransferResult> {
    this.#open('fetch a file');
    const checked = checkFileOffer(offer);
    if (addressKey(checked.to) !== addressKey(this.identity.address))
      throw new InvalidFileOfferError(`offered to ${formatAddress(checked.to)}, not to this user`);
    if (checked.size > this.#files.maxFileSize)
      throw new FileTooLargeError(checked.size, this.#files.maxFileSize);
    if (this.#fetching.size >= this.#files.maxTransfers)
      throw new TooManyTransfersError(`${this.#fetching.size} files are being fetched (the limit)`);
    abortIfAborted(options.signal);
    const location = await this.node.directory.lookupLocation(checked.from);
    if (!location) throw await this.#offline(checked.from);
    // Ours to abort on close(), alongside the caller's signal.
    const own = new AbortController();
    this.#fetching.add(own);
    try {
      let stream: G2gStream;
      try {
        stream = await this.#channel.openFileStream(location.gateway, location.contact);
      } catch (error) {
        throw new NoRouteError(
          `the node of ${formatAddress(checked.from)} could not be reached for the file`,
          {
            cause: error,
          },
        );
      }
      const signal = options.signal ? AbortSignal.any([options.signal, own.signal]) : own.signal;
      const fetchOptions = {
        signal,
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        chunkSize: this.#files.chunkSize,
        window: this.#files.window,
        maxFileSize: this.#files.maxFileSize,
        stallTimeout: this.#files.stallTimeout,
      };
      // The data channel goes to the host the file stream was dialled to: known for G2G over TCP only.
      const host = location.contact.transport === 'tcp' ? location.contact.host : undefined;
      if (!this.#files.dataChannel || typeof host !== 'string')
        return await fetchFile(stream, checked, sink, fetchOptions);
      try {
        return await fetchFile(stream, checked, sink, {
          ...fetchOptions,
          dataChannel: (grant) => connectDataChannel(host, grant),
        });
      } catch (error) {
        if (!isCrossTalkError(error, 'ERR_DATA_CHANNEL_UNAVAILABLE')) throw error;
        // Nothing moved yet (the channel comes before the hash list): the same fetch, on a file stream alone.
        this.node.metrics.refused.inc({ reason: error.code });
        this.#fallbacks++;
        const again = await this.#channel
          .openFileStream(location.gateway, location.contact)
          .catch((cause) => {
            throw new NoRouteError(
              `the node of ${formatAddress(checked.from)} could not be reached for the file`,
              { cause },
            );
          });
        return await fetchFile(again, checked, sink, fetchOptions);
      }
    } finally {
      this.#fetching.delete(own);
    }
  }

  /** @internal A file stream a peer dialled: served from the open offers. */
  serve(stream: G2gStream, remoteId: string): void {
    if (this.closed) {
      stream.destroy();
      return;
    }
    const busy = this.#serving.size >= this.#files.maxTransfers;
    this.#serving.add(stream);
    serveFile(stream, {
      lookup: async (request) => {
        if (busy)
          throw new TooManyTransfersError(`${this.#serving.size - 1} transfers are under way (the limit)`);
        this.#sweepOffers();
        const entry = this.#offers.get(request.offerId);
        if (!entry) throw new UnknownFileOfferError(request.offerId);
        // Only the recipient's node may fetch it: the node the directory names for them now.
        const location = await this.node.directory.lookupLocation(entry.offer.to).catch(() => undefined);
        if (location?.gateway !== remoteId) throw new UnknownFileOfferError(request.offerId);
        entry.digests ??= digestSource(entry.source);
        const file = await entry.digests.catch((error: unknown) => {
          entry.digests = undefined;
          throw new SourceFailedError('the file could not be read for its hashes', { cause: error });
        });
        if (file.sha256 !== entry.offer.sha256)
          throw new SourceFailedError(`the file's SHA-256 is ${file.sha256}, not the offered one`);
        return { file, source: entry.source };
      },
      ...(this.#files.dataChannel ? { dataChannel: () => this.#dataChannelListener().issue() } : {}),
      maxChunkSize: MAX_CHUNK_SIZE,
      stallTimeout: this.#files.stallTimeout,
      ...(this.#files.rate === undefined ? {} : { rate: this.#files.rate }),
    })
      .then(
        (result) =>
          this.#files.onServed?.({
            offerId: result.offerId,
            peer: remoteId,
            outcome: result.outcome,
            sent: result.sent,
          }),
        (error: Error) =>
          this.#files.onServed?.({ offerId: undefined, peer: remoteId, outcome: 'failed', sent: 0, error }),
      )
      .finally(() => this.#serving.delete(stream));
  }

  // ------------------------------------------------------------------ lifecycle

  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const fetching of this.#fetching) fetching.abort(new ClientClosedError('fetch a file'));
      for (const stream of this.#serving) stream.destroy();
      for (const id of [...this.#offers.keys()]) await this.withdrawFile(id);
      if (this.#session && !this.#session.closed) await this.#calls.close();
      await this.#session?.detach().catch(() => {});
      await this.#dataChannels?.close();
      await this.node.close();
      await this.#store?.close();
    })();
    return this.#closing;
  }

  /** The node's data-channel listener, on the host of its G2G listener (loopback when it has none). */
  #dataChannelListener(): DataChannelListener {
    this.#dataChannels ??= new DataChannelListener({
      host: this.#channel.boundAddress()?.address ?? '127.0.0.1',
      onRefused: (error) => this.node.metrics.refused.inc({ reason: error.code }),
    });
    return this.#dataChannels;
  }

  /** How this node's file data channels went so far. */
  get dataChannelStats(): DataChannelStats {
    return {
      opened: this.#dataChannels?.opened ?? 0,
      refused: new Map(this.#dataChannels?.refused ?? []),
      fallbacks: this.#fallbacks,
    };
  }

  // ------------------------------------------------------------------ internals

  #open(operation: string): UserSession {
    if (this.closed || !this.#session || this.#session.closed) throw new ClientClosedError(operation);
    return this.#session;
  }

  /** Sends as the user; maps the engine's failures to the client's typed errors. */
  async #send(session: UserSession, event: OutgoingEvent, signal?: AbortSignal): Promise<string> {
    abortIfAborted(signal);
    const sending = session.send(event);
    try {
      return signal ? await raceAbort(sending, signal) : await sending;
    } catch (error) {
      const to = 'to' in event && event.to ? event.to : undefined;
      if (isCrossTalkError(error, 'ERR_USER_OFFLINE') && to) throw await this.#offline(to, error);
      // No gateway with a codec serves the network and the user has no location: a client-API
      // user's network is served by no codec, so that means offline (a home record) or unknown.
      if (isCrossTalkError(error, 'ERR_NO_ROUTE') && to) throw await this.#offline(to, error);
      if (isCrossTalkError(error) && ROUTE_FAILURES.has(error.code))
        throw new NoRouteError(
          `the node of ${to ? formatAddress(to) : 'the recipient'} could not be reached: ${error.message}`,
          { cause: error },
        );
      throw this.#closedOr(error, `send a ${event.kind}`);
    }
  }

  /** Why `user` cannot be reached: nobody knows them (`UnknownUserError`), or they are offline (`UserOfflineError`). */
  async #offline(user: Address, cause?: unknown): Promise<Error> {
    const home = await this.node.directory.lookupHome(user).catch(() => undefined);
    if (!home) return new UnknownUserError(formatAddress(user));
    return isCrossTalkError(cause, 'ERR_USER_OFFLINE')
      ? cause
      : new UserOfflineError(`${formatAddress(user)} is not online at any node`, { cause });
  }

  #closedOr(error: unknown, operation: string): unknown {
    return isCrossTalkError(error, 'ERR_NOT_LOGGED_IN') || this.closed
      ? new ClientClosedError(operation)
      : error;
  }

  #deliver(event: CanonicalEvent): boolean {
    if (this.closed) return false;
    if (event.kind === 'buddy-request') this.#requests.set(addressKey(event.from), event);
    // A call's signals are checked (who may say what) before the application hears them.
    if (event.kind === 'call-signal') return this.#calls.received(event);
    if (event.kind === 'call-invite' && !this.#calls.invited(event)) return false;
    this.#emit(event);
    return true;
  }

  #emit(event: CanonicalEvent | CallSignalEvent): void {
    this.#listeners.dispatch(event);
  }

  #sweepOffers(): void {
    const now = Date.now();
    for (const [id, entry] of this.#offers) if (entry.expiresAt <= now) void this.withdrawFile(id);
  }
}

/** A file source given by the application, checked before anything is read. */
function checkSource(file: FileSource): void {
  if (!file || typeof file !== 'object' || typeof file.read !== 'function')
    throw new InvalidFileOfferError('a file source has a name, a size and read()');
  if (typeof file.name !== 'string' || file.name.length === 0 || file.name.length > LIMITS.name)
    throw new InvalidFileOfferError(`a file name must be 1 to ${LIMITS.name} characters`);
  if (/[/\\\0]/.test(file.name)) throw new InvalidFileOfferError('a file name is a name, not a path');
  if (!Number.isSafeInteger(file.size) || file.size < 0)
    throw new InvalidFileOfferError(`size ${String(file.size)} is not a byte count`);
  if (
    file.mediaType !== undefined &&
    (typeof file.mediaType !== 'string' || file.mediaType.length > LIMITS.name)
  )
    throw new InvalidFileOfferError(`a media type must be at most ${LIMITS.name} characters`);
}

function abortIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new OperationAbortedError('aborted', { cause: signal.reason });
}

/** `work`, or an `OperationAbortedError` as soon as `signal` aborts (the work itself goes on). */
function raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new OperationAbortedError('aborted', { cause: signal.reason }));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
