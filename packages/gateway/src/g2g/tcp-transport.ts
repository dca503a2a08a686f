import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import {
  type CrossTalkError,
  DeliveryFailedError,
  G2gAuthError,
  type G2gContact,
  G2gContactError,
  G2gHandshakeTimeoutError,
  type G2gListenOptions,
  type G2gStream,
  type G2gTransport,
  isCrossTalkError,
} from '@crosstalk/core';
import NoiseSecretStream from '@hyperswarm/secret-stream';
import { G2gProtocolError, TooManyConnectionsError, TooManyFromSourceError } from '../errors/errors.js';
import { type GatewayIdentity, identityKeyPair } from './identity.js';

/**
 * The embedded G2G transport: TCP wrapped in `@hyperswarm/secret-stream`, so loopback links are
 * encrypted too. Noise XX with ed25519 static keys (the gateway's identity): each side sends its
 * static key encrypted under the handshake and proves it holds the private key (the `es`/`se` DH
 * steps fail otherwise), so once the handshake completes both ends know the other's key. The
 * dialler then checks that key against the gateway id it dialled and drops the connection before
 * writing anything when another key answered (XX does not pin the responder's key by itself).
 *
 * Before a peer has proved its key, its connection is cheap to hold: a deadline, per-source and
 * total caps on such connections at the listener, and a bound on the bytes it may send (the
 * handshake messages are about 100 bytes each; secret-stream would otherwise allocate whatever
 * length a message header announces).
 */

/** Bytes a peer may send in handshake messages before it has proved its key. */
export const G2G_PRE_AUTH_BYTES = 4096;
/** Default ms a peer has to complete the handshake. */
export const G2G_HANDSHAKE_TIMEOUT = 10_000;

/** What other gateways dial: this transport's listen address. */
export interface TcpContact extends G2gContact {
  readonly transport: 'tcp';
  readonly host: string;
  readonly port: number;
}

/** Options of `TcpG2gTransport`. */
export interface TcpG2gTransportOptions {
  /** The gateway's key pair: its id, and its Noise static key. */
  identity: GatewayIdentity;
  /** Listen address, also published in the contact. Default 127.0.0.1. */
  host?: string;
  /** Listen port; 0 picks a free one. Default 0. */
  port?: number;
  /** ms for an outgoing TCP connection to open. Default 5000. */
  connectTimeout?: number;
  /** ms a peer has to complete the Noise handshake, on accepted and dialled connections. */
  handshakeTimeout?: number;
  /** Bytes of handshake messages a peer may send before it has proved its key (`G2G_PRE_AUTH_BYTES`). */
  preAuthBytes?: number;
  /** Accepted connections that have not completed the handshake, at most, in all. Default 256. */
  maxPending?: number;
  /** Accepted connections that have not completed the handshake, at most, from one address. Default 8. */
  maxPendingPerSource?: number;
}

// Noise XX (noiseprotocol.org, §7.5) as secret-stream frames it: each message is a u24 little-endian
// length and a body. The initiator receives message 2 and the responder's stream header; the
// responder receives messages 1 and 3 and the initiator's header. Later messages carry data.
const HANDSHAKE_MESSAGES = { initiator: 2, responder: 3 } as const;
const LENGTH_BYTES = 3;

/**
 * Watches the raw bytes of the handshake (it runs before secret-stream's own reader sees them) and
 * refuses, before secret-stream allocates a message, a peer whose handshake messages add up to
 * more than `limit` bytes. Steps aside once the handshake messages have passed.
 */
function guardHandshake(socket: Socket, messages: number, limit: number, refuse: (e: Error) => void): void {
  let left = messages;
  let length = 0;
  let lengthBytes = 0;
  let body = 0;
  let total = 0;
  const watch = (chunk: Buffer) => {
    let at = 0;
    while (at < chunk.length && left > 0) {
      if (body > 0) {
        const taken = Math.min(body, chunk.length - at);
        body -= taken;
        at += taken;
        if (body === 0) left--;
        continue;
      }
      length += chunk[at]! * 256 ** lengthBytes;
      lengthBytes++;
      at++;
      if (lengthBytes < LENGTH_BYTES) continue;
      total += LENGTH_BYTES + length;
      if (length === 0 || total > limit) {
        socket.off('data', watch);
        refuse(
          new G2gProtocolError(
            `handshake message of ${length} bytes: over ${limit} bytes before the peer proved its key`,
            { offset: total - length - LENGTH_BYTES },
          ),
        );
        return;
      }
      body = length;
      length = 0;
      lengthBytes = 0;
    }
    if (left === 0) socket.off('data', watch);
  };
  socket.prependListener('data', watch);
}

const isContact = (contact: G2gContact): contact is TcpContact =>
  contact.transport === 'tcp' &&
  typeof contact.host === 'string' &&
  contact.host.length > 0 &&
  contact.host.length <= 255 &&
  typeof contact.port === 'number' &&
  Number.isInteger(contact.port) &&
  contact.port >= 1 &&
  contact.port <= 65535;

/** IPv4 peers of a dual-stack listener appear as `::ffff:a.b.c.d`: one source either way. */
function sourceOf(socket: Socket): string | undefined {
  const address = socket.remoteAddress;
  return address?.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

const hex = (key: Uint8Array | null) => (key ? Buffer.from(key).toString('hex') : '');

/** What went wrong before the handshake completed, as a typed error. */
function handshakeError(error: unknown): CrossTalkError {
  if (isCrossTalkError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  // secret-stream's own words for a failed proof ("Noise handshake failed") or a bad stream header.
  if (/handshake|header/i.test(message))
    return new G2gAuthError(`the peer did not prove a gateway key: ${message}`, { cause: error });
  return new DeliveryFailedError(`the G2G connection failed during the handshake: ${message}`, {
    cause: error,
  });
}

/**
 * The default G2G transport: TCP, with a Noise handshake in which each gateway proves its ed25519 key, then
 * encrypted streams.
 */
export class TcpG2gTransport implements G2gTransport {
  readonly name = 'tcp';
  readonly localId: string;
  readonly #keyPair: { publicKey: Uint8Array; secretKey: Uint8Array };
  readonly #o: TcpG2gTransportOptions;
  #server: Server | undefined;
  #contact: TcpContact | undefined;
  #closed = false;
  /** Everything open (sockets dialling, handshakes, streams), so `close` can end it all. */
  readonly #open = new Set<{ destroy(error?: Error): unknown }>();
  /** Accepted connections that have not completed the handshake, in all and by source address. */
  #pending = 0;
  readonly #pendingBySource = new Map<string, number>();

  constructor(options: TcpG2gTransportOptions) {
    this.#o = options;
    this.localId = options.identity.id;
    this.#keyPair = identityKeyPair(options.identity);
  }

  /** The contact published for this transport, once listening. */
  get contact(): TcpContact | undefined {
    return this.#contact;
  }

  async listen(options: G2gListenOptions): Promise<TcpContact> {
    if (this.#server || this.#closed) throw new Error('a G2G transport listens once');
    const host = this.#o.host ?? '127.0.0.1';
    const server = createServer((socket) => this.#admit(socket, options));
    this.#server = server;
    server.listen(this.#o.port ?? 0, host);
    await once(server, 'listening');
    // After listening, a server 'error' is a failed accept; unheard, it would end the process.
    server.on('error', (error) => options.onAcceptError?.(error));
    this.#contact = { transport: 'tcp', host, port: (server.address() as AddressInfo).port };
    return this.#contact;
  }

  boundAddress(): AddressInfo | undefined {
    return (this.#server?.address() as AddressInfo | null) ?? undefined;
  }

  async connect(peerId: string, contact: G2gContact): Promise<G2gStream> {
    if (!isContact(contact))
      throw new G2gContactError(`not a TCP contact: ${JSON.stringify(contact).slice(0, 200)}`);
    if (!/^[0-9a-f]{64}$/.test(peerId)) throw new G2gAuthError('a gateway id is 64 lower-case hex digits');
    if (this.#closed) throw new DeliveryFailedError('the G2G transport is closed');
    const { host, port } = contact;
    const socket = connect(port, host);
    socket.on('error', () => {});
    this.#open.add(socket);
    const timeout = this.#o.connectTimeout ?? 5000;
    const timer = setTimeout(
      () => socket.destroy(new DeliveryFailedError(`G2G dial to ${host}:${port} timed out`)),
      timeout,
    );
    try {
      await once(socket, 'connect');
    } catch (cause) {
      throw new DeliveryFailedError(`cannot reach gateway at ${host}:${port}`, { cause });
    } finally {
      clearTimeout(timer);
      this.#open.delete(socket);
    }
    const { stream } = await this.#secure(socket, true, (remoteId) =>
      remoteId === peerId
        ? undefined
        : new G2gAuthError(
            `dialled gateway ${peerId.slice(0, 12)}… at ${host}:${port} but ${remoteId.slice(0, 12)}… answered`,
          ),
    );
    return stream;
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const open of [...this.#open]) open.destroy();
    this.#open.clear();
    if (this.#server?.listening) {
      const closed = once(this.#server, 'close');
      this.#server.close();
      await closed;
    }
  }

  /**
   * A peer's connection: refused at once when its source, or the listener, already holds as many
   * connections still in the handshake as allowed; otherwise the handshake, with a deadline and a
   * byte bound, after which it no longer counts as pending.
   */
  #admit(socket: Socket, options: G2gListenOptions): void {
    socket.on('error', () => {});
    const source = sourceOf(socket);
    if (!source || this.#closed) return void socket.destroy();
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
      options.onRefused?.({ source, error: refusal });
      return;
    }
    this.#pending++;
    this.#pendingBySource.set(source, fromSource + 1);
    const settle = () => {
      this.#pending--;
      const left = (this.#pendingBySource.get(source) ?? 1) - 1;
      if (left > 0) this.#pendingBySource.set(source, left);
      else this.#pendingBySource.delete(source);
    };
    this.#secure(socket, false, (remoteId) =>
      options.allow && !options.allow(remoteId)
        ? new G2gAuthError(`gateway ${remoteId.slice(0, 12)}… is not accepted here`)
        : undefined,
    ).then(
      ({ stream, remoteId }) => {
        settle();
        options.onConnection(stream, remoteId);
      },
      (error: CrossTalkError) => {
        settle();
        // A peer that hung up is not refused; one that failed the handshake or its deadline is.
        if (error.code !== 'ERR_DELIVERY_FAILED') options.onRefused?.({ source, error });
      },
    );
  }

  /**
   * Runs the Noise handshake over `socket`. `check` sees the remote's proven id as soon as the
   * handshake reveals it (before this side sends its stream header or any data) and may refuse it.
   */
  #secure(
    socket: Socket,
    initiator: boolean,
    check: (remoteId: string) => CrossTalkError | undefined,
  ): Promise<{ stream: G2gStream; remoteId: string }> {
    socket.setNoDelay(true);
    const stream = new NoiseSecretStream(initiator, socket, { keyPair: this.#keyPair });
    this.#open.add(stream);
    stream.on('close', () => this.#open.delete(stream));
    const deadline = this.#o.handshakeTimeout ?? G2G_HANDSHAKE_TIMEOUT;
    return new Promise((resolve, reject) => {
      let settled = false;
      let failure: CrossTalkError | undefined;
      const fail = (error: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        failure ??= handshakeError(error);
        stream.destroy(failure);
        reject(failure);
      };
      const timer = setTimeout(() => fail(new G2gHandshakeTimeoutError(deadline)), deadline);
      timer.unref();
      guardHandshake(
        socket,
        initiator ? HANDSHAKE_MESSAGES.initiator : HANDSHAKE_MESSAGES.responder,
        this.#o.preAuthBytes ?? G2G_PRE_AUTH_BYTES,
        // Destroyed at once: secret-stream's reader stops before it takes the announced length.
        (error) => fail(error),
      );
      stream.on('error', (error) => fail(failure ?? error));
      stream.on('close', () =>
        fail(new DeliveryFailedError('the peer closed the G2G connection during the handshake')),
      );
      stream.on('handshake', () => {
        const refusal = check(hex(stream.remotePublicKey));
        if (refusal) fail(refusal);
      });
      stream.on('connect', () => {
        if (settled || stream.destroying) return;
        settled = true;
        clearTimeout(timer);
        resolve({ stream, remoteId: hex(stream.remotePublicKey) });
      });
    });
  }
}
