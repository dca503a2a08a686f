import type { Address } from '../address/address.js';
import {
  isCrossTalkError,
  SessionStateError,
  StreamClosedError,
  toProtocolError,
  UnsupportedEventError,
} from '../errors/errors.js';
import type { CanonicalEvent, EventKind } from '../model/events.js';
import { type FeatureSet, subtractFeatures } from '../model/features.js';
import {
  type Direction,
  emptyOutput,
  type Framer,
  joinOutput,
  type ProxySession,
  type SessionOutput,
  type SessionState,
} from './contract.js';

/** What `FramedProxySession` needs from the codec. */
export interface FramedProxySessionOptions {
  /** The codec's protocol id (in errors). */
  protocol: string;
  /** A framer for each side's bytes (the codec's `createFramer`). */
  createFramer(direction: Direction): Framer;
  /** What the protocol carries: `deliver` subtracts the rest and reports it as `feature-loss`. */
  features: FeatureSet;
  /**
   * Kinds the protocol cannot show at all but that a user is not unreachable for (typing on IRC):
   * `deliver` returns only their `feature-loss`, and `affinity` is 1, not 0.
   */
  lossyKinds?: readonly EventKind[];
}

/**
 * The part of a proxy session that is the same for every frame-by-frame protocol (the OSCAR, MSNP
 * and XMPP sessions each wrote it for themselves): the state and user, each chunk run through its
 * side's framer, the identity gate's events, and delivery with feature subtraction. A codec's
 * session extends it with what it does with one whole frame (`onFrame`) and how it writes a
 * delivered event for the client (`write`).
 *
 * Bad input closes the session: a framer error after good frames ends the output with a `closed`
 * event carrying it, and an error thrown while framing, or by `onFrame` for a client frame, is
 * rethrown. A server frame whose `onFrame` throws a CrossTalk error goes to the client untouched,
 * with an `untranslated` event, and whatever `onFrame` had added for it is dropped. What
 * `fromClient`/`fromServer` return goes through `joinOutput`. A stream that turns opaque (STARTTLS)
 * is not handled: such a protocol implements `ProxySession` itself.
 */
export abstract class FramedProxySession implements ProxySession {
  /** The codec's protocol id. */
  readonly protocol: string;
  #state: SessionState = 'connecting';
  #user: Address | undefined;
  readonly #options: FramedProxySessionOptions;
  readonly #framers: Record<Direction, Framer>;

  constructor(options: FramedProxySessionOptions) {
    this.protocol = options.protocol;
    this.#options = options;
    this.#framers = { client: options.createFramer('client'), server: options.createFramer('server') };
  }

  /** Where the session is (see `SessionState`). */
  get state(): SessionState {
    return this.#state;
  }

  /** The user the client named (`identify`), and the server then confirmed (`verify`). */
  get user(): Address | undefined {
    return this.#user;
  }

  /**
   * True while the session may act for its user: withhold, inject, answer locally. `verified` by
   * default; a session whose connection can leave the verified name (IRC's `/nick`) narrows it.
   */
  protected get acting(): boolean {
    return this.#state === 'verified';
  }

  /** One whole frame from `direction`: pass it on (or withhold it) and report what happened, into `out`. */
  protected abstract onFrame(raw: Uint8Array, direction: Direction, out: SessionOutput): void;

  /** Writes into `out` the frames that carry `event` (already reduced to `features`) to the client. */
  protected abstract write(event: CanonicalEvent, out: SessionOutput): void;

  /** The client named its user: reports `identified` (again after a rename before the login is verified). */
  protected identify(address: Address, out: SessionOutput): void {
    if (this.#state !== 'connecting' && this.#state !== 'identified') return;
    this.#user = address;
    this.#state = 'identified';
    out.events.push({ type: 'identified', address });
  }

  /** The server confirmed the identified user: reports `verified`. Only from `identified`. */
  protected verify(out: SessionOutput): void {
    if (this.#state !== 'identified' || !this.#user) return;
    this.#state = 'verified';
    out.events.push({ type: 'verified', address: this.#user });
  }

  /** The server refused the login (`code` as the protocol spells it): reports `login-failed`. */
  protected loginFailed(out: SessionOutput, code: string, message?: string): void {
    out.events.push({ type: 'login-failed', address: this.#user, code, message });
  }

  /** Takes bytes the client sent; returns what to pass on (or withhold) and what happened. */
  fromClient(chunk: Uint8Array): SessionOutput {
    return this.#pump('client', chunk);
  }

  /** Takes bytes the server sent; returns what to pass on and what happened. */
  fromServer(chunk: Uint8Array): SessionOutput {
    return this.#pump('server', chunk);
  }

  #pump(direction: Direction, chunk: Uint8Array): SessionOutput {
    if (this.#state === 'closed') throw new StreamClosedError(this.protocol, 'session is closed');
    const framer = this.#framers[direction];
    const out = emptyOutput();
    try {
      for (const raw of framer.push(chunk)) this.#frame(raw, direction, out);
    } catch (error) {
      this.#state = 'closed';
      throw error;
    }
    if (framer.error) {
      this.#state = 'closed';
      out.events.push({ type: 'closed', reason: framer.error.message, error: framer.error });
    }
    return joinOutput(out);
  }

  #frame(raw: Uint8Array, direction: Direction, out: SessionOutput): void {
    if (direction === 'client') {
      this.onFrame(raw, direction, out);
      return;
    }
    // A server frame is usually about a contact: one buddy's bad data must not close the connection.
    const mark = { toServer: out.toServer.length, toClient: out.toClient.length, events: out.events.length };
    try {
      this.onFrame(raw, direction, out);
    } catch (error) {
      if (!isCrossTalkError(error)) throw error;
      out.toServer.length = mark.toServer;
      out.toClient.length = mark.toClient;
      out.events.length = mark.events;
      out.toClient.push(raw);
      out.events.push({ type: 'untranslated', direction, error: toProtocolError(error, this.protocol) });
    }
  }

  /**
   * Injects `event` for the user: reduced to the protocol's features (what was removed is reported
   * as `feature-loss`), then `write`. Throws `SessionStateError` unless `acting`, and
   * `UnsupportedEventError` for a kind the protocol does not carry and that is not lossy.
   */
  deliver(event: CanonicalEvent): SessionOutput {
    if (!this.acting) {
      throw new SessionStateError(
        `${this.protocol}: cannot deliver a ${event.kind} while not acting for a verified user (${this.#state})`,
      );
    }
    const out = emptyOutput();
    const { event: reduced, lost } = subtractFeatures(event, this.#options.features);
    if (lost.length) out.events.push({ type: 'feature-loss', event, lost });
    if (reduced) this.write(reduced, out);
    else if (!this.#options.lossyKinds?.includes(event.kind)) {
      throw new UnsupportedEventError(this.protocol, event.kind);
    }
    return joinOutput(out);
  }

  /** 1 while `acting`, for a kind the protocol carries or loses without refusing; 0 otherwise. */
  affinity(event: CanonicalEvent): number {
    if (!this.acting) return 0;
    const carried = subtractFeatures(event, this.#options.features).event !== undefined;
    return carried || this.#options.lossyKinds?.includes(event.kind) ? 1 : 0;
  }

  /** The engine is closing the connection: the session is `closed`, with no last words. */
  close(_reason: string): SessionOutput {
    this.#state = 'closed';
    return emptyOutput();
  }
}
