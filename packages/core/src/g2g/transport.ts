import type { CrossTalkError } from '../errors/errors.js';

/**
 * The gateway-to-gateway (G2G) transport port: how one gateway reaches another and proves, both
 * ways, who is on each end. A gateway's id is its ed25519 public key (hex), and that key is its
 * Noise static key: a transport hands out a stream only once the Noise handshake has shown that the
 * remote end holds the private key of the id it claims (or was dialled for), and every byte after
 * that is encrypted and authenticated. Two implementations: TCP wrapped in
 * `@hyperswarm/secret-stream` (Noise XX, embedded mode, `@crosstalk/gateway`), and hyperdht's
 * `connect(publicKey)` (distributed mode). Both pass the `transport` compliance suite.
 *
 * What a transport does NOT decide: which users a gateway may speak for. The receiving gateway
 * checks each event against the directory ("this event from alice@aol must come from alice's
 * gateway"), using the remote id the transport proved.
 */

/** One field of a contact: JSON primitives only, so a contact goes into a signed record as it is. */
export type G2gContactValue = string | number | boolean | null;

/**
 * What other gateways need, besides this gateway's id, to reach it; published as the body of the
 * gateway's location records. `transport` names the transport that made it (`tcp`, `hyperdht`);
 * the other fields are that transport's own: `host` and `port` for TCP, none for hyperdht (the key
 * is the address). Contacts are read from the directory, so a transport validates one before it
 * dials (`G2gContactError`).
 */
export interface G2gContact {
  readonly transport: string;
  readonly [field: string]: G2gContactValue;
}

/**
 * A byte stream between two gateways whose keys were proven in the handshake: the part of a Node
 * `Duplex`, and of the streamx `Duplex` that secret-stream and hyperdht return, that G2G links use.
 *
 * - Backpressure: `write` returns false once the stream holds more than its high-water mark, and
 *   'drain' follows when it has room again. A side that stops reading (paused, or no 'data'
 *   listener) stops taking bytes from the network, so the writer's `write` soon returns false:
 *   nothing on either side buffers without bound.
 * - Closing: `destroy` ends both directions; the other side's stream then emits 'close' (after
 *   'end' when it was reading). `end` finishes this direction after what was written.
 */
export interface G2gStream {
  /** Queues bytes; false once the stream holds more than its high-water mark (wait for 'drain'). */
  write(data: Uint8Array): boolean;
  /** Finishes this direction after what was written. */
  end(): unknown;
  /** Ends both directions at once. */
  destroy(error?: Error): unknown;
  /** Stops reading (and so taking bytes from the network). */
  pause(): unknown;
  /** Reads again after `pause`. */
  resume(): unknown;
  /** True once the stream is destroyed. */
  readonly destroyed: boolean;
  /** Listens for bytes, `drain`, `end`, `close` or an error. */
  on(event: 'data', listener: (data: Uint8Array) => void): unknown;
  on(event: 'drain' | 'end' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  /** Listens for the next occurrence only. */
  once(event: 'data', listener: (data: Uint8Array) => void): unknown;
  once(event: 'drain' | 'end' | 'close', listener: () => void): unknown;
  once(event: 'error', listener: (error: Error) => void): unknown;
  /** Removes a listener. */
  off(event: 'data', listener: (data: Uint8Array) => void): unknown;
  off(event: 'drain' | 'end' | 'close', listener: () => void): unknown;
  off(event: 'error', listener: (error: Error) => void): unknown;
}

/** An incoming connection a transport refused, and where it came from (an address, or a key). */
export interface G2gRefusal {
  /** Where it came from: an address, or a key. */
  source: string;
  /** Why it was refused. */
  error: CrossTalkError;
}

/** What `G2gTransport.listen` takes: where to listen, and what to do with each authenticated peer. */
export interface G2gListenOptions {
  /**
   * A peer connected and proved, in the handshake, that it holds the private key of `remoteId`
   * (hex ed25519 public key); this end proved its own `localId` to it. Never called for a
   * connection that did not complete the handshake.
   */
  onConnection(stream: G2gStream, remoteId: string): void;
  /**
   * Called with a peer's proven id before `onConnection`: false refuses the connection (reported
   * to `onRefused` with a `G2gAuthError`). hyperdht's `createServer({ firewall })` is its negation
   * (a firewall returns true to reject).
   */
  allow?(remoteId: string): boolean;
  /**
   * An incoming connection refused or closed before it proved a key: over a limit, past the
   * handshake deadline (`G2gHandshakeTimeoutError`), bytes that are not a handshake, a failed
   * proof; or refused by `allow`.
   */
  onRefused?(refusal: G2gRefusal): void;
  /** The listener could not accept a connection (out of file descriptors); it keeps listening. */
  onAcceptError?(error: Error): void;
}

/**
 * How gateways reach each other: authenticated, encrypted byte streams between gateway ids (TCP with Noise,
 * hyperdht).
 */
export interface G2gTransport {
  /** The transport's name: the `transport` field of the contacts it makes and dials. */
  readonly name: string;
  /** This end's gateway id: the hex ed25519 public key it proves in every handshake. */
  readonly localId: string;
  /**
   * Starts accepting connections (once per transport); resolves with the contact to publish.
   * Incoming connections are bounded while they have not proved a key (the transport's limits).
   */
  listen(options: G2gListenOptions): Promise<G2gContact>;
  /**
   * Dials gateway `peerId` at `contact`. Resolves with a stream only once the remote end has proved
   * that it holds `peerId`'s private key, and this end has proved `localId` to it; nothing the
   * caller writes can reach anyone else. Rejects with `G2gAuthError` when another key answers (or
   * the handshake fails), `G2gHandshakeTimeoutError` when it does not complete in time,
   * `G2gContactError` when `contact` is not this transport's or is malformed, and
   * `DeliveryFailedError` when nobody answers at the contact.
   */
  connect(peerId: string, contact: G2gContact): Promise<G2gStream>;
  /**
   * Where this transport accepts TCP connections, if it does (a wildcard address stays a
   * wildcard), so a gateway can refuse proxy requests that would loop into it.
   */
  boundAddress?(): { address: string; port: number } | undefined;
  /**
   * The network it reaches peers through came back after an outage (the gateway's publishes to the
   * DHT go through again): make this end findable again at once, for a transport whose listener
   * announces itself there (hyperdht's). Optional; a no-op for one that needs nothing (TCP).
   */
  reannounce?(): void;
  /**
   * Stops listening and destroys the streams it made or accepted. It does not close what it was
   * given (a DHT node shared with the directory).
   */
  close(): Promise<void>;
}
