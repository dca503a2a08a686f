import {
  DeliveryFailedError,
  G2gAuthError,
  type G2gContact,
  type G2gRefusal,
  type G2gStream,
  type G2gTransport,
  isCrossTalkError,
} from '@crosstalk/core';
import { G2gPeerUnreachableError, G2gProtocolError, SlowConsumerError } from '../errors/errors.js';
import {
  decodeLocated,
  encodeG2g,
  G2G_VERSION,
  G2gFramer,
  G2gType,
  locatedParts,
  readU32,
  u32,
} from './wire.js';

/**
 * Gateway-to-gateway links: the G2G protocol over a transport's stream, whose remote key the
 * transport has already proved (Noise; see `G2gTransport`). Length-framed canonical events, each
 * acknowledged (ACK, naming the protocol it was delivered in) or refused (NACK + error code).
 */

export interface G2gLinkOptions {
  /** Called once when the link closes, with why (a `DeliveryFailedError` when the peer hung up). */
  onClose?(error: Error): void;
  /** What the receiver does with a ROUTED frame (an envelope); without it, routed events are refused. */
  onRouted?: G2gEventHandler;
  /**
   * An event waited past its ACK timeout while the peer answered others (the link kept): told once
   * it is settled, `answered` (its ACK or NACK came) or `failed` (unanswered after
   * `G2G_SLOW_ACK_ROUNDS` timeouts, or its link closed meanwhile).
   */
  onLateAck?(outcome: LateAckOutcome): void;
  /**
   * The G2G version this end speaks (default `G2G_VERSION`). At 1 a LOCATED frame closes the link,
   * as it does on a gateway from before that frame (interoperability tests).
   */
  version?: number;
}

/** A peer gateway: its id (ed25519 public key, hex) and the contact its location record names. */
export interface G2gPeer {
  id: string;
  contact: G2gContact;
  /**
   * When the peer signed the record naming this contact (its `issuedAt`, ms on the peer's clock).
   * A record signed after a failed dial says the peer is back (a node restarted with the same key):
   * it lifts that dial's hold-down, once per hold-down.
   */
  signedAt?: number;
}

/**
 * What the receiver does with an event: resolve to acknowledge (optionally naming the protocol it
 * was delivered in, for the sender's metrics), throw a CrossTalk error to refuse with its code.
 * `located` is the sender's location record the peer attached (a LOCATED frame), as it came:
 * nothing about it is checked yet.
 */
export type G2gEventHandler = (
  peerId: string,
  payload: Uint8Array,
  located?: Uint8Array,
) => Promise<string | undefined>;

/**
 * Frames queued in one turn of the event loop leave in one write (one Noise message, one syscall):
 * under load, many users' events and acks share a link (bench profile: socket writes were the
 * largest single cost). A batch is sent early once it holds this many bytes, so one write stays
 * far below secret-stream's largest message (16 MiB).
 */
const BATCH_BYTES = 64 * 1024;

/**
 * Bytes a link may write while its stream says it is full (from a `write()` that returned false
 * until 'drain'): a peer that stops reading would otherwise make this gateway hold every event and
 * acknowledgement for it. Past this the link closes with `SlowConsumerError`; its sends fail and the
 * next one dials again. Sixteen of the largest frames.
 */
export const G2G_MAX_BACKLOG = 16 * 1024 * 1024;

/** Links in the order they opened, process-wide: which of two links with a peer is the newer. */
let opened = 0;

/**
 * How long a sent event may wait for its ACK or NACK while its link is silent, ms; past it the link
 * is given up (a peer process killed over UDX says nothing).
 */
export const G2G_ACK_TIMEOUT = 10_000;

/**
 * An event whose peer answers others meanwhile waits on, at most this many ACK timeouts in all,
 * then fails alone and the link stays up: the peer is alive, and this event is slow at its end (its
 * sender checked against a directory busy with logins: 2.5 to 8 s on hyperdht at the paper's load,
 * where one missed ACK closed a link with hundreds of events in flight and each was sent again).
 */
export const G2G_SLOW_ACK_ROUNDS = 3;

/** How an event that waited past its ACK timeout on a live link ended. */
export type LateAckOutcome = 'answered' | 'failed';

/**
 * After a failed dial, sends to that peer fail at once for this long, ms, doubling with each failure
 * in a row up to `G2G_DIAL_HOLD_DOWN_MAX`: a gateway that is gone (crashed, unreachable) costs one
 * dial (on hyperdht a DHT lookup and a handshake of up to 20 s) per hold-down, not one per send that
 * waits behind it, and its users' senders hear at once rather than after the dial's timeout.
 */
export const G2G_DIAL_HOLD_DOWN = 1_000;
/** The longest hold-down after failures in a row, ms: a peer back up is dialled again within it. */
export const G2G_DIAL_HOLD_DOWN_MAX = 15_000;
/** Peers held down at once; past it, lapsed entries are dropped (one per unreachable gateway). */
const MAX_HELD_DOWN = 4096;

/**
 * One authenticated G2G connection to a peer gateway: sends events and waits for each to be acknowledged,
 * batching writes and bounding what waits for a slow peer.
 */
export class G2gLink {
  /** The peer's gateway id, as the transport proved it. */
  readonly peerId: string;
  /** When the link opened, relative to other links (a higher number opened later). */
  readonly serial = ++opened;
  readonly #stream: G2gStream;
  readonly #framer = new G2gFramer();
  readonly #onEvent: G2gEventHandler;
  readonly #onClose: G2gLinkOptions['onClose'];
  readonly #onRouted: G2gEventHandler | undefined;
  readonly #onLateAck: ((outcome: LateAckOutcome) => void) | undefined;
  readonly #version: number;
  #closed = false;
  #batch: Uint8Array[] = [];
  #batchBytes = 0;
  #flushScheduled = false;
  /** Bytes written since the stream last said it was full; 0 while it has room. */
  #backlog = 0;
  #nextId = 1;
  /** Chunks received so far: whether the peer said anything while an event waited. */
  #heard = 0;
  /** Sends awaiting their answer; `byPeer` says a NACK ended it rather than the link closing. */
  readonly #inflight = new Map<
    number,
    { resolve: (protocol: string) => void; reject: (e: Error, byPeer?: boolean) => void }
  >();

  constructor(stream: G2gStream, peerId: string, onEvent: G2gEventHandler, options: G2gLinkOptions = {}) {
    this.#stream = stream;
    this.peerId = peerId;
    this.#onEvent = onEvent;
    this.#onClose = options.onClose;
    this.#onRouted = options.onRouted;
    this.#onLateAck = options.onLateAck;
    this.#version = options.version ?? G2G_VERSION;
    stream.on('data', (chunk) => this.#receive(chunk));
    stream.on('drain', () => {
      this.#backlog = 0;
    });
    stream.on('error', (e) => this.#close(e));
    stream.on('end', () => this.#close(new DeliveryFailedError('G2G link closed')));
    stream.on('close', () => this.#close(new DeliveryFailedError('G2G link closed')));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends one canonical event; resolves when the peer acknowledged it, with the protocol it named.
   * `timeoutMs` with nothing at all from the peer closes the link: a peer that died without closing
   * its stream (a process killed over a transport with no kernel to say so, as hyperdht's UDX)
   * answers nothing more on it, and the next send dials again. A peer that answers other events
   * meanwhile is alive: this one waits on, up to `G2G_SLOW_ACK_ROUNDS` timeouts, then fails alone.
   * `located` (an EVENT only, to a peer of version 2 or more) is the sender's location record,
   * sent with it in a LOCATED frame.
   */
  send(
    payload: Uint8Array,
    timeoutMs = G2G_ACK_TIMEOUT,
    type: number = G2gType.event,
    located?: Uint8Array,
  ): Promise<string> {
    if (this.#closed) return Promise.reject(new DeliveryFailedError('G2G link closed'));
    if (located && type !== G2gType.event)
      return Promise.reject(new G2gProtocolError('only an EVENT carries its sender’s location record'));
    const id = this.#nextId++;
    return new Promise<string>((resolve, reject) => {
      let heard = this.#heard;
      let rounds = 0;
      const expire = () => {
        if (!this.#inflight.has(id)) return;
        rounds++;
        const answering = this.#heard !== heard;
        if (answering && rounds < G2G_SLOW_ACK_ROUNDS) {
          heard = this.#heard;
          timer = setTimeout(expire, timeoutMs);
          timer.unref();
          return;
        }
        this.#inflight.delete(id);
        const error = new DeliveryFailedError(`no G2G acknowledgement in ${rounds * timeoutMs} ms`);
        if (rounds > 1) this.#onLateAck?.('failed');
        reject(error);
        if (!answering) this.#close(error);
      };
      let timer = setTimeout(expire, timeoutMs);
      timer.unref();
      this.#inflight.set(id, {
        resolve: (protocol) => {
          clearTimeout(timer);
          if (rounds > 0) this.#onLateAck?.('answered');
          resolve(protocol);
        },
        reject: (e, byPeer) => {
          clearTimeout(timer);
          if (rounds > 0) this.#onLateAck?.(byPeer ? 'answered' : 'failed');
          reject(e);
        },
      });
      this.#out(
        located
          ? encodeG2g(G2gType.located, u32(id), ...locatedParts(located, payload))
          : encodeG2g(type, u32(id), payload),
      );
    });
  }

  close(): void {
    this.#close(new DeliveryFailedError('G2G link closed'));
  }

  #receive(chunk: Uint8Array): void {
    if (this.#closed) return;
    this.#heard++;
    try {
      this.#framer.feed(chunk);
      for (let frame = this.#framer.next(); frame && !this.#closed; frame = this.#framer.next())
        this.#frame(frame.type, frame.body);
    } catch (error) {
      this.#close(error instanceof Error ? error : new G2gProtocolError(String(error)));
    }
  }

  #frame(type: number, body: Uint8Array): void {
    switch (type) {
      case G2gType.event:
      case G2gType.routed: {
        const id = readU32(body);
        const payload = body.subarray(4);
        const handler =
          type === G2gType.event
            ? this.#onEvent
            : (this.#onRouted ??
              (() => Promise.reject(new G2gProtocolError('routed events are not taken here'))));
        this.#answer(id, handler(this.peerId, payload));
        return;
      }
      case G2gType.located: {
        if (this.#version < 2) throw new G2gProtocolError(`unknown frame type ${type}`);
        const id = readU32(body);
        const { record, payload } = decodeLocated(body.subarray(4));
        this.#answer(id, this.#onEvent(this.peerId, payload, record));
        return;
      }
      case G2gType.ack: {
        const id = readU32(body);
        this.#inflight.get(id)?.resolve(Buffer.from(body.subarray(4)).toString('utf8'));
        this.#inflight.delete(id);
        return;
      }
      case G2gType.nack: {
        const id = readU32(body);
        const code = Buffer.from(body.subarray(4)).toString('utf8');
        this.#inflight.get(id)?.reject(new G2gRefusedError(code), true);
        this.#inflight.delete(id);
        return;
      }
      case G2gType.ping:
        return;
      default:
        throw new G2gProtocolError(`unknown frame type ${type}`);
    }
  }

  /** ACKs event `id` with the protocol its handler names, or NACKs it with its refusal's code. */
  #answer(id: number, handled: Promise<string | undefined>): void {
    handled.then(
      (protocol) => this.#write(G2gType.ack, u32(id), Buffer.from(protocol ?? '')),
      (error) => this.#write(G2gType.nack, u32(id), Buffer.from(refusalCode(error))),
    );
  }

  #write(type: number, ...parts: Uint8Array[]): void {
    if (!this.#closed) this.#out(encodeG2g(type, ...parts));
  }

  #out(frame: Uint8Array): void {
    this.#batch.push(frame);
    this.#batchBytes += frame.length;
    if (this.#batchBytes >= BATCH_BYTES) this.#flush();
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(this.#scheduledFlush);
    }
  }

  readonly #scheduledFlush = (): void => {
    this.#flushScheduled = false;
    this.#flush();
  };

  #flush(): void {
    const batch = this.#batch;
    if (batch.length === 0 || this.#closed) return;
    this.#batch = [];
    this.#batchBytes = 0;
    const data = batch.length === 1 ? batch[0]! : Buffer.concat(batch);
    if (this.#backlog > 0) {
      this.#backlog += data.length;
      if (this.#backlog > G2G_MAX_BACKLOG) {
        this.#close(new SlowConsumerError(this.#backlog));
        return;
      }
    }
    if (!this.#stream.write(data) && this.#backlog === 0) this.#backlog = data.length;
  }

  #close(error: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#batch = [];
    for (const pending of this.#inflight.values()) pending.reject(error);
    this.#inflight.clear();
    this.#stream.destroy();
    this.#onClose?.(error);
  }
}

/**
 * The code a NACK carries for a handler's failure: a refusal from further down a chain goes back as
 * it came, so the origin sees the cause; an error that is not CrossTalk's is `ERR_INTERNAL`.
 */
export function refusalCode(error: unknown): string {
  if (error instanceof G2gRefusedError) return error.refusal;
  return isCrossTalkError(error) ? error.code : 'ERR_INTERNAL';
}

/** The peer refused an event; `refusal` is its error code (e.g. `ERR_USER_OFFLINE`, `ERR_SPOOFED_EVENT`). */
export class G2gRefusedError extends DeliveryFailedError {
  constructor(readonly refusal: string) {
    super(`the peer gateway refused the event: ${refusal}`);
  }
}

/** Options of `G2gNode`. */
export interface G2gNodeOptions {
  /** How this node reaches and is reached by other gateways; its `localId` is this gateway's id. */
  transport: G2gTransport;
  onEvent: G2gEventHandler;
  /** What to do with a routed event (an envelope); without it, routed events are refused. */
  onRouted?: G2gEventHandler;
  /** A peer's connection the listener could not accept (EMFILE); it keeps listening. */
  onAcceptError?: (error: Error) => void;
  /**
   * An accepted connection refused (over a limit, a failed or late handshake) or, once linked,
   * closed for what it sent (bad frames), with where it came from.
   */
  onRefused?: (refusal: G2gRefusal) => void;
  /**
   * How long a sent event may wait for its answer on a silent link before the link is given up, ms
   * (default 10 s; a peer answering others gets `G2G_SLOW_ACK_ROUNDS` of these).
   */
  ackTimeout?: number;
  /** An event waited past `ackTimeout` while its peer answered others (the link kept), once settled. */
  onLateAck?: (outcome: LateAckOutcome) => void;
  /** The G2G version this node speaks (default `G2G_VERSION`; 1 closes links on LOCATED frames). */
  version?: number;
  /**
   * After a failed dial, how long sends to that peer fail at once (`ERR_G2G_PEER_UNREACHABLE`)
   * before the next dial, ms; doubles with each failure in a row up to 15 s. Default 1 s; 0 dials
   * for every send.
   */
  dialHoldDown?: number;
  /** The clock the hold-down is measured on (tests). */
  now?: () => number;
}

/** A peer whose dial failed: not dialled until `until`, unless a record it signed since says it is back. */
interface HoldDown {
  until: number;
  /** This hold-down's length, ms (the next doubles it). */
  wait: number;
  error: unknown;
  /** When the failed dial began (this node's clock; the peer's records' times are compared to it). */
  dialledAt: number;
  /** A newer record has bought a dial during this hold-down, or the one before (this one's cause). */
  lifted: boolean;
}

/** One gateway's G2G endpoint: a listener, and outgoing links reused per peer and redialled when lost. */
export class G2gNode {
  readonly #transport: G2gTransport;
  readonly #onEvent: G2gEventHandler;
  readonly #links = new Map<string, Promise<G2gLink>>();
  /** Each dialled link once it is up, by the same key, and the promise `#links` held for it. */
  readonly #dialled = new Map<string, G2gLink>();
  readonly #pending = new WeakMap<G2gLink, Promise<G2gLink>>();
  readonly #accepted = new Set<G2gLink>();
  /** Sends waiting on a dial to a peer (by its id), each told when a link from that peer opens first. */
  readonly #awaitingPeer = new Map<string, Set<(link: G2gLink) => void>>();
  /** Peers (by the same key as `#links`) whose last dial failed: until when they are not dialled. */
  readonly #heldDown = new Map<string, HoldDown>();
  readonly #o: G2gNodeOptions;
  #contact: G2gContact | undefined;

  constructor(options: G2gNodeOptions) {
    this.#o = options;
    this.#transport = options.transport;
    this.#onEvent = options.onEvent;
  }

  /** This gateway's id: the key its transport proves. */
  get id(): string {
    return this.#transport.localId;
  }

  /** Live links: dialled by this node, and accepted from peers. */
  get linkCount(): { dialled: number; accepted: number } {
    return { dialled: this.#links.size, accepted: this.#accepted.size };
  }

  /** What other gateways dial (published in location records), once listening. */
  get contact(): G2gContact {
    if (!this.#contact) throw new Error('G2G node is not listening');
    return this.#contact;
  }

  /** Starts accepting links; resolves with the contact to publish. */
  async listen(): Promise<G2gContact> {
    this.#contact = await this.#transport.listen({
      onConnection: (stream, remoteId) => this.#accept(stream, remoteId),
      // A link to oneself would be believed as oneself (Noise proves only that the key is held).
      allow: (remoteId) => remoteId !== this.id,
      ...(this.#o.onRefused ? { onRefused: this.#o.onRefused } : {}),
      ...(this.#o.onAcceptError ? { onAcceptError: this.#o.onAcceptError } : {}),
    });
    return this.#contact;
  }

  /** After a DHT outage: the transport makes this end findable again, if it needs to. */
  reannounce(): void {
    this.#transport.reannounce?.();
  }

  /** Where the transport accepts TCP connections, if it does (a wildcard stays a wildcard). */
  get boundAddress(): { address: string; port: number } | undefined {
    return this.#transport.boundAddress?.();
  }

  #accept(stream: G2gStream, peerId: string): void {
    // The peer reached us: it is up, whatever our last dial to it said.
    for (const key of this.#heldDown.keys()) if (key.startsWith(`${peerId} `)) this.#heldDown.delete(key);
    const link = new G2gLink(stream, peerId, this.#onEvent, {
      ...this.#linkOptions(),
      onClose: (error) => {
        this.#accepted.delete(link);
        // A peer that hung up is not refused; one closed for what it sent is.
        if (isCrossTalkError(error) && error.code !== 'ERR_DELIVERY_FAILED')
          this.#o.onRefused?.({ source: `gateway ${peerId}`, error });
      },
    });
    this.#accepted.add(link);
    const waiting = this.#awaitingPeer.get(peerId);
    this.#awaitingPeer.delete(peerId);
    for (const take of waiting ?? []) take(link);
  }

  /**
   * Sends an event to `peer` over the newest live link with it (one this node dialled, or one the
   * peer dialled: both ends are proven either way), dialling one when there is none; resolves with
   * the delivering protocol. `located`: the sender's location record, for an EVENT to a peer whose
   * records announce G2G version 2 or more.
   */
  async send(
    peer: G2gPeer,
    payload: Uint8Array,
    type: number = G2gType.event,
    located?: Uint8Array,
  ): Promise<string> {
    const timeout = this.#o.ackTimeout ?? G2G_ACK_TIMEOUT;
    const key = `${peer.id} ${JSON.stringify(peer.contact)}`;
    // The link in use is taken at once (the usual case); only a dial waits.
    const link = this.#ready(peer, key) ?? (await this.#link(peer));
    try {
      return await link.send(payload, timeout, type, located);
    } catch (error) {
      // A reused link may have died since its last use: dial once more (refusals are final).
      if (error instanceof G2gRefusedError || !link.closed) throw error;
      return (await this.#link(peer)).send(payload, timeout, type, located);
    }
  }

  /** The link `#link` would choose, when that needs no waiting (no dial under way or to make). */
  #ready(peer: G2gPeer, key: string): G2gLink | undefined {
    const dialled = this.#dialled.get(key);
    if (!dialled || dialled.closed || this.#links.get(key) !== this.#pending.get(dialled)) return undefined;
    const accepted = this.#newestAccepted(peer.id);
    return accepted && accepted.serial > dialled.serial ? accepted : dialled;
  }

  /**
   * The newest live link `peerId` opened to this node. A peer that restarted dials afresh when it
   * has something to say, while the link to its old process may still look open (nothing told this
   * end it died): the newest link wins.
   */
  #newestAccepted(peerId: string): G2gLink | undefined {
    let accepted: G2gLink | undefined;
    for (const link of this.#accepted) if (link.peerId === peerId && !link.closed) accepted = link;
    return accepted;
  }

  async #link(peer: G2gPeer): Promise<G2gLink> {
    const key = `${peer.id} ${JSON.stringify(peer.contact)}`;
    // The link's sends that a closed link failed all come here at once: the first to find it closed
    // dials, and the others take that dial rather than each dialling (on hyperdht a DHT lookup each).
    for (let existing = this.#links.get(key); existing; existing = this.#links.get(key)) {
      // The peer's own link is up (it dialled while this end's dial is under way): no need to wait.
      const open = this.#newestAccepted(peer.id);
      if (open) return open;
      const link = await this.#dialOrAccepted(peer.id, existing).catch(() => undefined);
      if (link && !link.closed) {
        const accepted = this.#newestAccepted(peer.id);
        return accepted && accepted.serial > link.serial ? accepted : link;
      }
      if (this.#links.get(key) === existing) {
        this.#links.delete(key);
        break;
      }
    }
    const accepted = this.#newestAccepted(peer.id);
    if (accepted) return accepted;
    const now = (this.#o.now ?? Date.now)();
    const down = this.#heldDown.get(key);
    if (down && down.until > now) {
      // A record the peer signed since the failed dial began: it is back (restarted with the same
      // key) and is dialled once; a peer that is gone signs nothing new. Not again in the hold-down
      // that dial's failure starts, so a peer whose clock runs ahead (every record looks newer)
      // costs at most one dial more per hold-down that ran its course.
      const back = peer.signedAt !== undefined && peer.signedAt > down.dialledAt && !down.lifted;
      if (!back) throw new G2gPeerUnreachableError(peer.id, down.until - now, down.error);
      down.lifted = true;
    }
    const lifting = down?.lifted === true && down.until > now;
    // Failures in a row: the last hold-down ended lately. One long past starts again at the first.
    const last = down && now - down.until <= G2G_DIAL_HOLD_DOWN_MAX ? down.wait : undefined;
    const dialled = this.#dial(peer);
    this.#links.set(key, dialled);
    dialled.then(
      (link) => {
        this.#heldDown.delete(key);
        this.#dialled.set(key, link);
        this.#pending.set(link, dialled);
      },
      (error) => {
        if (this.#links.get(key) === dialled) this.#links.delete(key);
        this.#holdDown(key, error, last, now, lifting);
      },
    );
    return this.#dialOrAccepted(peer.id, dialled);
  }

  /**
   * The dial's link, or one the peer opens first: a dial can take seconds (on hyperdht a lookup,
   * which may first meet a restarted peer's stale announcement), while the peer, back up, dials this
   * end to tell its users' presence; sends take that link at once rather than waiting out the dial.
   */
  async #dialOrAccepted(peerId: string, dial: Promise<G2gLink>): Promise<G2gLink> {
    // Told by `#accept` (the link's key proven by the transport: only that gateway can open it).
    const waiting = this.#awaitingPeer.get(peerId) ?? new Set();
    this.#awaitingPeer.set(peerId, waiting);
    let take!: (link: G2gLink) => void;
    const opened = new Promise<G2gLink>((resolve) => {
      take = resolve;
    });
    waiting.add(take);
    try {
      return await Promise.race([dial, opened]);
    } finally {
      waiting.delete(take);
      if (waiting.size === 0 && this.#awaitingPeer.get(peerId) === waiting) this.#awaitingPeer.delete(peerId);
    }
  }

  /** A dial to `key` failed: the next waits the hold-down, twice the last one when it failed before. */
  #holdDown(key: string, error: unknown, last: number | undefined, dialledAt: number, lifted: boolean): void {
    const first = this.#o.dialHoldDown ?? G2G_DIAL_HOLD_DOWN;
    if (first <= 0) return;
    const wait = last === undefined ? first : Math.min(last * 2, Math.max(first, G2G_DIAL_HOLD_DOWN_MAX));
    const now = (this.#o.now ?? Date.now)();
    if (this.#heldDown.size >= MAX_HELD_DOWN)
      for (const [k, d] of this.#heldDown) if (d.until <= now) this.#heldDown.delete(k);
    if (this.#heldDown.size >= MAX_HELD_DOWN) return;
    this.#heldDown.set(key, { until: now + wait, wait, error, dialledAt, lifted });
  }

  async #dial(peer: G2gPeer): Promise<G2gLink> {
    if (peer.id === this.id) throw new G2gAuthError('a gateway cannot link to itself');
    const stream = await this.#transport.connect(peer.id, peer.contact);
    return new G2gLink(stream, peer.id, this.#onEvent, this.#linkOptions());
  }

  /** What every link of this node, dialled or accepted, is given. */
  #linkOptions(): G2gLinkOptions {
    const { onRouted, onLateAck, version } = this.#o;
    return {
      ...(onRouted ? { onRouted } : {}),
      ...(onLateAck ? { onLateAck } : {}),
      ...(version !== undefined ? { version } : {}),
    };
  }

  async close(): Promise<void> {
    for (const pending of this.#links.values()) (await pending.catch(() => undefined))?.close();
    for (const link of this.#accepted) link.close();
    this.#links.clear();
    this.#dialled.clear();
    await this.#transport.close();
  }
}
