import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { type CrossTalkError, DeliveryFailedError, isCrossTalkError } from '@crosstalk/core';
import {
  G2gAuthError,
  G2gHandshakeTimeoutError,
  G2gProtocolError,
  TooManyConnectionsError,
  TooManyFromSourceError,
} from '../errors/errors.js';
import { type GatewayIdentity, verifySignature } from './identity.js';
import { encodeG2g, G2gFramer, G2gType, MAX_G2G_FRAME, readU32, u32 } from './wire.js';

/**
 * Authenticated gateway-to-gateway links for the embedded mode: TCP, length-framed, with a mutual
 * ed25519 handshake. Each side sends HELLO (its id and a fresh nonce), then AUTH: its signature
 * over both nonces and both ids, so each proves its key and a signature cannot be replayed on
 * another link. The link carries canonical events, each acknowledged (ACK) or refused (NACK + code).
 *
 * Links are authenticated, not encrypted: the embedded mode runs on loopback. The distributed mode
 * (wave 2) uses hyperdht's encrypted streams.
 */
const AUTH_LABEL = Buffer.from('crosstalk g2g auth v1');
const ID_BYTES = 32;
const NONCE_BYTES = 32;

/**
 * Bytes a peer may have buffered with us before it has proved its key: HELLO and AUTH are under
 * 100 bytes each (and a Noise handshake message is of the same order), so an unauthenticated
 * connection costs little however many arrive.
 */
export const G2G_PRE_AUTH_BYTES = 4096;
/** Default ms a peer has to complete the handshake. */
export const G2G_HANDSHAKE_TIMEOUT = 10_000;

export interface G2gLinkOptions {
  /** ms to complete the handshake; then the link closes with `G2gHandshakeTimeoutError`. */
  handshakeTimeout?: number;
  /** Bytes one frame may take before authentication (`G2G_PRE_AUTH_BYTES`). */
  preAuthBytes?: number;
  /** Called once when the link closes, with why (a `DeliveryFailedError` when the peer hung up). */
  onClose?(error: Error, authenticated: boolean): void;
}

export interface G2gPeer {
  id: string;
  host: string;
  port: number;
}

/**
 * What the receiver does with an event: resolve to acknowledge (optionally naming the protocol it
 * was delivered in, for the sender's metrics), throw a CrossTalk error to refuse with its code.
 */
export type G2gEventHandler = (peerId: string, payload: Uint8Array) => Promise<string | undefined>;

function authTranscript(signerNonce: Uint8Array, otherNonce: Uint8Array, signerId: string, otherId: string) {
  return Buffer.concat([
    AUTH_LABEL,
    signerNonce,
    otherNonce,
    Buffer.from(signerId, 'hex'),
    Buffer.from(otherId, 'hex'),
  ]);
}

export class G2gLink {
  peerId: string | undefined;
  readonly #socket: Socket;
  readonly #identity: GatewayIdentity;
  readonly #framer = new G2gFramer();
  readonly #nonce = randomBytes(NONCE_BYTES);
  readonly #expected: string | undefined;
  readonly #onEvent: G2gEventHandler;
  #peerNonce: Uint8Array | undefined;
  #authenticated = false;
  #closed = false;
  #corked = false;
  #nextId = 1;
  readonly #inflight = new Map<number, { resolve: (protocol: string) => void; reject: (e: Error) => void }>();
  readonly ready: Promise<void>;
  #resolveReady!: () => void;
  #rejectReady!: (e: Error) => void;
  readonly #handshakeTimer: NodeJS.Timeout;
  readonly #onClose: G2gLinkOptions['onClose'];

  constructor(
    socket: Socket,
    identity: GatewayIdentity,
    onEvent: G2gEventHandler,
    expectedPeer?: string,
    options: G2gLinkOptions = {},
  ) {
    this.#socket = socket;
    this.#identity = identity;
    this.#expected = expectedPeer;
    this.#onEvent = onEvent;
    this.#onClose = options.onClose;
    this.ready = new Promise((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    this.ready.catch(() => {});
    // Until the peer proves its key it may hold only a small buffer, and only for a while.
    this.#framer.maxBuffered = options.preAuthBytes ?? G2G_PRE_AUTH_BYTES;
    const deadline = options.handshakeTimeout ?? G2G_HANDSHAKE_TIMEOUT;
    this.#handshakeTimer = setTimeout(() => this.#close(new G2gHandshakeTimeoutError(deadline)), deadline);
    this.#handshakeTimer.unref();
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    socket.on('error', (e) => this.#close(e));
    socket.on('close', () => this.#close(new DeliveryFailedError('G2G link closed')));
    this.#out(encodeG2g(G2gType.hello, Buffer.concat([Buffer.from(identity.id, 'hex'), this.#nonce])));
  }

  get closed(): boolean {
    return this.#closed;
  }

  get authenticated(): boolean {
    return this.#authenticated;
  }

  /** Sends one canonical event; resolves when the peer acknowledged it, with the protocol it named. */
  send(payload: Uint8Array, timeoutMs = 10_000): Promise<string> {
    if (this.#closed) return Promise.reject(new DeliveryFailedError('G2G link closed'));
    const id = this.#nextId++;
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.#inflight.delete(id))
          reject(new DeliveryFailedError(`no G2G acknowledgement in ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.#inflight.set(id, {
        resolve: (protocol) => {
          clearTimeout(timer);
          resolve(protocol);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.#out(encodeG2g(G2gType.event, Buffer.concat([u32(id), payload])));
    });
  }

  close(): void {
    this.#close(new DeliveryFailedError('G2G link closed'));
  }

  #receive(chunk: Uint8Array): void {
    try {
      // One frame at a time: the handshake's last frame raises the framer's limit for the rest.
      this.#framer.feed(chunk);
      for (let frame = this.#framer.next(); frame && !this.#closed; frame = this.#framer.next())
        this.#frame(frame.type, frame.body);
    } catch (error) {
      this.#close(error instanceof Error ? error : new G2gProtocolError(String(error)));
    }
  }

  #frame(type: number, body: Uint8Array): void {
    if (!this.#authenticated) {
      if (type === G2gType.hello && !this.#peerNonce) {
        if (body.length !== ID_BYTES + NONCE_BYTES) throw new G2gProtocolError('HELLO has the wrong size');
        this.peerId = Buffer.from(body.subarray(0, ID_BYTES)).toString('hex');
        if (this.#expected && this.peerId !== this.#expected) {
          throw new G2gAuthError(
            `dialled gateway ${this.#expected.slice(0, 12)}… but ${this.peerId.slice(0, 12)}… answered`,
          );
        }
        if (this.peerId === this.#identity.id) throw new G2gAuthError('a gateway cannot link to itself');
        this.#peerNonce = body.slice(ID_BYTES);
        const signature = this.#identity.sign(
          authTranscript(this.#nonce, this.#peerNonce, this.#identity.id, this.peerId),
        );
        this.#out(encodeG2g(G2gType.auth, signature));
        return;
      }
      if (type === G2gType.auth && this.#peerNonce && this.peerId) {
        const transcript = authTranscript(this.#peerNonce, this.#nonce, this.peerId, this.#identity.id);
        if (!verifySignature(this.peerId, transcript, body))
          throw new G2gAuthError('the peer could not prove its gateway key');
        this.#authenticated = true;
        clearTimeout(this.#handshakeTimer);
        this.#framer.maxBuffered = 4 + MAX_G2G_FRAME;
        this.#resolveReady();
        return;
      }
      throw new G2gProtocolError(`frame type ${type} before the handshake completed`);
    }
    switch (type) {
      case G2gType.event: {
        const id = readU32(body);
        const payload = body.subarray(4);
        this.#onEvent(this.peerId!, payload).then(
          (protocol) => this.#write(G2gType.ack, Buffer.concat([u32(id), Buffer.from(protocol ?? '')])),
          (error) => {
            const code = isCrossTalkError(error) ? error.code : 'ERR_INTERNAL';
            this.#write(G2gType.nack, Buffer.concat([u32(id), Buffer.from(code)]));
          },
        );
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
        this.#inflight.get(id)?.reject(new G2gRefusedError(code));
        this.#inflight.delete(id);
        return;
      }
      case G2gType.ping:
        return;
      default:
        throw new G2gProtocolError(`unknown frame type ${type}`);
    }
  }

  #write(type: number, body: Uint8Array): void {
    if (!this.#closed) this.#out(encodeG2g(type, body));
  }

  /**
   * Frames written in one turn of the event loop leave in one syscall (cork, then uncork in the
   * check phase): under load, many users' events and acks share a link (bench profile: socket
   * writes were the largest single cost).
   */
  #out(frame: Uint8Array): void {
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      setImmediate(this.#uncork);
    }
    this.#socket.write(frame);
  }

  readonly #uncork = (): void => {
    this.#corked = false;
    this.#socket.uncork();
  };

  #close(error: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#handshakeTimer);
    this.#rejectReady(error);
    for (const pending of this.#inflight.values()) pending.reject(error);
    this.#inflight.clear();
    this.#socket.destroy();
    this.#onClose?.(error, this.#authenticated);
  }
}

/** The peer refused an event; `refusal` is its error code (e.g. `ERR_USER_OFFLINE`, `ERR_SPOOFED_EVENT`). */
export class G2gRefusedError extends DeliveryFailedError {
  constructor(readonly refusal: string) {
    super(`the peer gateway refused the event: ${refusal}`);
  }
}

export interface G2gNodeOptions {
  identity: GatewayIdentity;
  onEvent: G2gEventHandler;
  connectTimeout?: number;
  /** ms a peer has to complete the handshake, on accepted and dialled links (`G2G_HANDSHAKE_TIMEOUT`). */
  handshakeTimeout?: number;
  /** Bytes one frame may take before authentication (`G2G_PRE_AUTH_BYTES`). */
  preAuthBytes?: number;
  /** Accepted connections not yet authenticated, at most, in all. Default 256. */
  maxPending?: number;
  /** Accepted connections not yet authenticated, at most, from one source address. Default 8. */
  maxPendingPerSource?: number;
  /** A peer's connection the listener could not accept (EMFILE); it keeps listening. */
  onAcceptError?: (error: Error) => void;
  /**
   * An accepted connection refused (over a limit) or closed for what it sent (handshake timeout,
   * bad frames, a failed proof), with the peer's address.
   */
  onRefused?: (info: { source: string; error: CrossTalkError }) => void;
}

/** IPv4 peers of a dual-stack listener appear as `::ffff:a.b.c.d`: one source either way. */
function sourceOf(socket: Socket): string | undefined {
  const address = socket.remoteAddress;
  return address?.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** One gateway's G2G endpoint: a listener, and outgoing links reused per peer and redialled when lost. */
export class G2gNode {
  readonly #identity: GatewayIdentity;
  readonly #onEvent: G2gEventHandler;
  readonly #links = new Map<string, Promise<G2gLink>>();
  readonly #accepted = new Set<G2gLink>();
  #server: Server | undefined;
  #address: { host: string; port: number } | undefined;
  readonly #o: G2gNodeOptions;
  /** Accepted connections that have not authenticated yet, in all and by source address. */
  #pending = 0;
  readonly #pendingBySource = new Map<string, number>();

  constructor(options: G2gNodeOptions) {
    this.#o = options;
    this.#identity = options.identity;
    this.#onEvent = options.onEvent;
    this.connectTimeout = options.connectTimeout ?? 5000;
  }

  readonly connectTimeout: number;

  /** Live links: dialled by this node, and accepted from peers. */
  get linkCount(): { dialled: number; accepted: number } {
    return { dialled: this.#links.size, accepted: this.#accepted.size };
  }

  get address(): { host: string; port: number } {
    if (!this.#address) throw new Error('G2G node is not listening');
    return this.#address;
  }

  async listen(host = '127.0.0.1', port = 0): Promise<{ host: string; port: number }> {
    const server = createServer((socket) => this.#admit(socket));
    server.listen(port, host);
    await once(server, 'listening');
    // After listening, a server 'error' is a failed accept; unheard, it would end the process.
    server.on('error', (error) => this.#o.onAcceptError?.(error));
    this.#server = server;
    const address = server.address() as { port: number };
    this.#address = { host, port: address.port };
    return this.#address;
  }

  /** The address the listener is bound to (a wildcard stays a wildcard), once listening. */
  get boundAddress(): AddressInfo | undefined {
    return (this.#server?.address() as AddressInfo | null) ?? undefined;
  }

  /**
   * A peer's connection: refused at once when its source, or the listener, already holds as many
   * unauthenticated connections as allowed; otherwise a link with a handshake deadline and a small
   * buffer until it authenticates (then it no longer counts as pending).
   */
  #admit(socket: Socket): void {
    socket.on('error', () => {});
    const source = sourceOf(socket);
    if (!source) return void socket.destroy();
    const perSource = this.#o.maxPendingPerSource ?? 8;
    const total = this.#o.maxPending ?? 256;
    const fromSource = this.#pendingBySource.get(source) ?? 0;
    const refusal =
      fromSource >= perSource
        ? new TooManyFromSourceError('g2g', source, perSource)
        : this.#pending >= total
          ? new TooManyConnectionsError('g2g', total)
          : undefined;
    if (refusal) {
      socket.destroy();
      this.#o.onRefused?.({ source, error: refusal });
      return;
    }
    this.#pending++;
    this.#pendingBySource.set(source, fromSource + 1);
    let pending = true;
    const settle = () => {
      if (!pending) return;
      pending = false;
      this.#pending--;
      const left = (this.#pendingBySource.get(source) ?? 1) - 1;
      if (left > 0) this.#pendingBySource.set(source, left);
      else this.#pendingBySource.delete(source);
    };
    const link = new G2gLink(socket, this.#identity, this.#onEvent, undefined, {
      ...this.#linkOptions(),
      onClose: (error) => {
        settle();
        this.#accepted.delete(link);
        // A peer that hung up is not refused; one closed for what it did (or did not) send is.
        if (isCrossTalkError(error) && error.code !== 'ERR_DELIVERY_FAILED')
          this.#o.onRefused?.({ source, error });
      },
    });
    link.ready.then(settle, () => {});
    this.#accepted.add(link);
  }

  #linkOptions(): G2gLinkOptions {
    return {
      ...(this.#o.handshakeTimeout ? { handshakeTimeout: this.#o.handshakeTimeout } : {}),
      ...(this.#o.preAuthBytes ? { preAuthBytes: this.#o.preAuthBytes } : {}),
    };
  }

  /** Sends an event to `peer`, reusing a live link or dialling one; resolves with the delivering protocol. */
  async send(peer: G2gPeer, payload: Uint8Array): Promise<string> {
    const link = await this.#link(peer);
    try {
      return await link.send(payload);
    } catch (error) {
      // A reused link may have died since its last use: dial once more (refusals are final).
      if (error instanceof G2gRefusedError || !link.closed) throw error;
      return (await this.#link(peer)).send(payload);
    }
  }

  async #link(peer: G2gPeer): Promise<G2gLink> {
    const key = `${peer.id}@${peer.host}:${peer.port}`;
    const existing = this.#links.get(key);
    if (existing) {
      const link = await existing.catch(() => undefined);
      if (link && !link.closed) return link;
      this.#links.delete(key);
    }
    const dialled = this.#dial(peer);
    this.#links.set(key, dialled);
    dialled.catch(() => this.#links.delete(key));
    return dialled;
  }

  async #dial(peer: G2gPeer): Promise<G2gLink> {
    const socket = connect(peer.port, peer.host);
    const timer = setTimeout(
      () => socket.destroy(new DeliveryFailedError(`G2G dial to ${peer.host}:${peer.port} timed out`)),
      this.connectTimeout,
    );
    try {
      await once(socket, 'connect');
    } catch (cause) {
      throw new DeliveryFailedError(`cannot reach gateway at ${peer.host}:${peer.port}`, { cause });
    } finally {
      clearTimeout(timer);
    }
    const link = new G2gLink(socket, this.#identity, this.#onEvent, peer.id, this.#linkOptions());
    await link.ready;
    return link;
  }

  async close(): Promise<void> {
    for (const pending of this.#links.values()) (await pending.catch(() => undefined))?.close();
    for (const link of this.#accepted) link.close();
    this.#links.clear();
    if (this.#server) {
      const closed = once(this.#server, 'close');
      this.#server.close();
      await closed;
    }
  }
}
