import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { DeliveryFailedError, isCrossTalkError } from '@crosstalk/core';
import { G2gAuthError, G2gProtocolError } from '../errors/errors.js';
import { type GatewayIdentity, verifySignature } from './identity.js';
import { encodeG2g, G2gFramer, G2gType, readU32, u32 } from './wire.js';

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

  constructor(socket: Socket, identity: GatewayIdentity, onEvent: G2gEventHandler, expectedPeer?: string) {
    this.#socket = socket;
    this.#identity = identity;
    this.#expected = expectedPeer;
    this.#onEvent = onEvent;
    this.ready = new Promise((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    this.ready.catch(() => {});
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    socket.on('error', (e) => this.#close(e));
    socket.on('close', () => this.#close(new DeliveryFailedError('G2G link closed')));
    this.#out(encodeG2g(G2gType.hello, Buffer.concat([Buffer.from(identity.id, 'hex'), this.#nonce])));
  }

  get closed(): boolean {
    return this.#closed;
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
      for (const frame of this.#framer.push(chunk)) this.#frame(frame.type, frame.body);
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
    this.#rejectReady(error);
    for (const pending of this.#inflight.values()) pending.reject(error);
    this.#inflight.clear();
    this.#socket.destroy();
  }
}

/** The peer refused an event; `refusal` is its error code (e.g. `ERR_USER_OFFLINE`, `ERR_SPOOFED_EVENT`). */
export class G2gRefusedError extends DeliveryFailedError {
  constructor(readonly refusal: string) {
    super(`the peer gateway refused the event: ${refusal}`);
  }
}

/** One gateway's G2G endpoint: a listener, and outgoing links reused per peer and redialled when lost. */
export class G2gNode {
  readonly #identity: GatewayIdentity;
  readonly #onEvent: G2gEventHandler;
  readonly #links = new Map<string, Promise<G2gLink>>();
  readonly #accepted = new Set<G2gLink>();
  #server: Server | undefined;
  #address: { host: string; port: number } | undefined;

  readonly #onAcceptError: ((error: Error) => void) | undefined;

  constructor(options: {
    identity: GatewayIdentity;
    onEvent: G2gEventHandler;
    connectTimeout?: number;
    /** A peer's connection the listener could not accept (EMFILE); it keeps listening. */
    onAcceptError?: (error: Error) => void;
  }) {
    this.#identity = options.identity;
    this.#onEvent = options.onEvent;
    this.connectTimeout = options.connectTimeout ?? 5000;
    this.#onAcceptError = options.onAcceptError;
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
    const server = createServer((socket) => {
      const link = new G2gLink(socket, this.#identity, this.#onEvent);
      this.#accepted.add(link);
      socket.on('close', () => this.#accepted.delete(link));
    });
    server.listen(port, host);
    await once(server, 'listening');
    // After listening, a server 'error' is a failed accept; unheard, it would end the process.
    server.on('error', (error) => this.#onAcceptError?.(error));
    this.#server = server;
    const address = server.address() as { port: number };
    this.#address = { host, port: address.port };
    return this.#address;
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
    const link = new G2gLink(socket, this.#identity, this.#onEvent, peer.id);
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
