import { randomBytes } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { createServer, type Server, type TLSSocket, connect as tlsConnect } from 'node:tls';
import type { CrossTalkError } from '@crosstalk/core';
import {
  DataChannelExpiredError,
  DataChannelHandshakeError,
  DataChannelHandshakeTimeoutError,
  DataChannelUnavailableError,
  DataChannelUnknownIdentityError,
} from '../errors/errors.js';
import { CHANNEL_IDENTITY_BYTES, CHANNEL_KEY_BYTES, type DataChannelGrant } from '../file/frames.js';

/**
 * The file data channel: a transfer's bytes after its ACCEPT travel on a TCP connection of their
 * own, secured with TLS 1.2 and a pre-shared key (RFC 4279, cipher `PSK-AES256-GCM-SHA384`, RFC
 * 5487), instead of inside the G2G stream's Noise (secret-stream's XChaCha20-Poly1305, several
 * times dearer per byte than AES-GCM on a CPU with AES instructions). node:tls (OpenSSL) does the
 * record crypto. The key and a one-time identity are sent in the ACCEPT, inside the authenticated
 * G2G stream, so only the two peers the G2G handshake proved know them.
 *
 * The port's rules: the sender's node listens (one listener per node, on the host of its G2G
 * listener, port 0); it takes TLS 1.2 with that one cipher only, no certificate; a connection
 * must name an identity it issued, not yet used, within the grant's lifetime, and complete the
 * handshake within the handshake timeout; anything else is closed and counted (`refused`).
 */

/** TLS version of the data channel: 1.2, where OpenSSL's PSK cipher suites without certificates live. */
const TLS_VERSION = 'TLSv1.2';
/** Connections a listener holds at once, handshaking or open: more are closed on arrival. */
export const MAX_DATA_CHANNEL_CONNECTIONS = 64;
/** The one cipher suite the data channel takes (RFC 5487): AES-256-GCM with a PSK, no (EC)DHE. */
export const DATA_CHANNEL_CIPHER = 'PSK-AES256-GCM-SHA384';

/** Options of a `DataChannelListener`. */
export interface DataChannelListenerOptions {
  /** The address to listen on (the node's G2G host). */
  host: string;
  /** ms a grant waits for its connection before it expires. Default 10 s. */
  grantTimeout?: number;
  /** ms a connection has to complete the TLS handshake. Default 5 s. */
  handshakeTimeout?: number;
  /** Connections held at once, handshaking or open. Default `MAX_DATA_CHANNEL_CONNECTIONS`. */
  maxConnections?: number;
  /** Called with each refused connection's typed error. */
  onRefused?: (error: CrossTalkError) => void;
}

/** A grant the listener issued: what goes in the ACCEPT, and the connection it waits for. */
export interface IssuedChannel {
  /** What the receiver needs to connect: the port, the one-time identity and the key. */
  grant: DataChannelGrant;
  /** The receiver's connection, once its handshake completed; rejects when the grant expires or is revoked. */
  connection: Promise<TLSSocket>;
  /** Withdraws the grant (the transfer ended without it); an open connection is left to its owner. */
  revoke(): void;
}

interface Pending {
  key: Buffer;
  resolve(socket: TLSSocket): void;
  reject(error: CrossTalkError): void;
  timer: NodeJS.Timeout;
}

/**
 * The sending side's listener: issues grants (each one identity, once, for a short time) and hands
 * each the connection that named it. Started on the first grant.
 */
export class DataChannelListener {
  readonly #host: string;
  readonly #grantTimeout: number;
  readonly #handshakeTimeout: number;
  readonly #maxConnections: number;
  readonly #onRefused: ((error: CrossTalkError) => void) | undefined;
  readonly #pending = new Map<string, Pending>();
  /** The grant each handshaking socket named (set in the PSK callback, taken on completion). */
  readonly #claims = new WeakMap<TLSSocket, Pending>();
  /** Sockets whose identity was refused (counted then; their handshake failure is not counted again). */
  readonly #unknown = new WeakSet<TLSSocket>();
  #server: Server | undefined;
  /** Every connection the server took, so `close` ends them (a transfer's own, or a stray one). */
  readonly #sockets = new Set<Socket>();
  #listening: Promise<number> | undefined;
  #closed = false;
  /** Connections refused so far, by error code. */
  readonly refused = new Map<string, number>();
  /** Connections handed to their grants so far (each a transfer's data channel). */
  opened = 0;

  constructor(options: DataChannelListenerOptions) {
    this.#host = options.host;
    this.#grantTimeout = options.grantTimeout ?? 10_000;
    this.#handshakeTimeout = options.handshakeTimeout ?? 5000;
    this.#maxConnections = options.maxConnections ?? MAX_DATA_CHANNEL_CONNECTIONS;
    this.#onRefused = options.onRefused;
  }

  /** Connections held now, handshaking or open. */
  get connections(): number {
    return this.#sockets.size;
  }

  /** The port, once listening. */
  get port(): number | undefined {
    return (this.#server?.address() as AddressInfo | null)?.port;
  }

  /** Issues a grant for one connection. */
  async issue(): Promise<IssuedChannel> {
    const port = await this.#listen();
    const identity = randomBytes(CHANNEL_IDENTITY_BYTES);
    const key = randomBytes(CHANNEL_KEY_BYTES);
    const name = identity.toString('hex');
    let pending!: Pending;
    const connection = new Promise<TLSSocket>((resolve, reject) => {
      pending = {
        key,
        resolve,
        reject,
        timer: setTimeout(() => {
          if (this.#pending.get(name) !== pending) return;
          this.#pending.delete(name);
          reject(new DataChannelExpiredError(`no connection within ${this.#grantTimeout} ms`));
        }, this.#grantTimeout),
      };
      pending.timer.unref();
    });
    // Unheard rejections (a grant revoked by a transfer that ended) are not process errors.
    connection.catch(() => {});
    this.#pending.set(name, pending);
    return {
      grant: { port, identity: new Uint8Array(identity), key: new Uint8Array(key) },
      connection,
      revoke: () => {
        if (this.#pending.get(name) !== pending) return;
        this.#pending.delete(name);
        clearTimeout(pending.timer);
        pending.reject(new DataChannelExpiredError('the grant was withdrawn'));
      },
    };
  }

  /** Stops listening; the grants still waiting are rejected. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const [name, pending] of this.#pending) {
      this.#pending.delete(name);
      clearTimeout(pending.timer);
      pending.reject(new DataChannelExpiredError('the listener closed'));
    }
    const server = this.#server;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  #listen(): Promise<number> {
    if (this.#closed) return Promise.reject(new DataChannelExpiredError('the listener closed'));
    this.#listening ??= new Promise<number>((resolve, reject) => {
      const server = createServer({
        minVersion: TLS_VERSION,
        maxVersion: TLS_VERSION,
        ciphers: DATA_CHANNEL_CIPHER,
        handshakeTimeout: this.#handshakeTimeout,
        pskCallback: (socket, identity) => this.#psk(socket, identity),
      });
      // Strangers may connect before any handshake: they cannot hold more than this many sockets.
      server.maxConnections = this.#maxConnections;
      server.on('connection', (socket: Socket) => {
        this.#sockets.add(socket);
        socket.once('close', () => this.#sockets.delete(socket));
      });
      server.on('secureConnection', (socket) => this.#connected(socket));
      server.on('tlsClientError', (error: NodeJS.ErrnoException, socket) => this.#failed(error, socket));
      server.once('error', reject);
      server.listen(0, this.#host, () => {
        server.off('error', reject);
        // A listener error later (none expected once bound) must not throw out of the process.
        server.on('error', () => {});
        resolve((server.address() as AddressInfo).port);
      });
      this.#server = server;
    });
    return this.#listening;
  }

  /** The key for `identity`, when it is a grant waiting for its connection: claimed at once, so never twice. */
  #psk(socket: TLSSocket, identity: string): Buffer | null {
    const pending = this.#pending.get(identity);
    if (!pending || identity.length !== CHANNEL_IDENTITY_BYTES * 2) {
      this.#unknown.add(socket);
      this.#refuse(
        new DataChannelUnknownIdentityError(`a PSK identity of ${Math.min(identity.length, 64)} characters`),
      );
      return null;
    }
    this.#pending.delete(identity);
    clearTimeout(pending.timer);
    this.#claims.set(socket, pending);
    return pending.key;
  }

  #connected(socket: TLSSocket): void {
    const pending = this.#claims.get(socket);
    this.#claims.delete(socket);
    if (!pending) {
      socket.destroy();
      return;
    }
    this.opened++;
    pending.resolve(socket);
  }

  #failed(error: NodeJS.ErrnoException, socket: TLSSocket): void {
    socket.destroy();
    const pending = this.#claims.get(socket);
    this.#claims.delete(socket);
    // An unknown identity was counted in the PSK callback already.
    if (this.#unknown.has(socket)) return;
    const typed =
      error.code === 'ERR_TLS_HANDSHAKE_TIMEOUT'
        ? new DataChannelHandshakeTimeoutError(`no TLS handshake within ${this.#handshakeTimeout} ms`)
        : new DataChannelHandshakeError(error.message, { cause: error });
    this.#refuse(typed);
    // The grant's one connection failed: the transfer hears it, and falls back.
    pending?.reject(typed);
  }

  #refuse(error: CrossTalkError): void {
    this.refused.set(error.code, (this.refused.get(error.code) ?? 0) + 1);
    this.#onRefused?.(error);
  }
}

/** Options of `connectDataChannel`. */
export interface ConnectDataChannelOptions {
  /** ms for the connection and its handshake. Default 5 s. */
  timeout?: number;
}

/**
 * Connects to a data channel `grant` on `host` (the host the file stream was dialled to): TLS 1.2,
 * the one cipher, the grant's identity and key. Rejects with `DataChannelUnavailableError`.
 */
export function connectDataChannel(
  host: string,
  grant: DataChannelGrant,
  options: ConnectDataChannelOptions = {},
): Promise<TLSSocket> {
  const timeout = options.timeout ?? 5000;
  const key = Buffer.from(grant.key);
  const identity = Buffer.from(grant.identity).toString('hex');
  return new Promise<TLSSocket>((resolve, reject) => {
    const socket = tlsConnect({
      host,
      port: grant.port,
      minVersion: TLS_VERSION,
      maxVersion: TLS_VERSION,
      ciphers: DATA_CHANNEL_CIPHER,
      // No certificate with a PSK suite: the key is the authentication (the server proves it too).
      checkServerIdentity: () => undefined,
      pskCallback: () => ({ psk: key, identity }),
    });
    const timer = setTimeout(() => fail(new Error(`no TLS handshake within ${timeout} ms`)), timeout);
    const fail = (error: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(
        new DataChannelUnavailableError(`the data channel on port ${grant.port}: ${error.message}`, {
          cause: error,
        }),
      );
    };
    socket.once('error', fail);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      socket.off('error', fail);
      // The negotiated suite is checked, not assumed: the key alone must not be all that holds.
      if (socket.getCipher().standardName !== 'TLS_PSK_WITH_AES_256_GCM_SHA384') {
        fail(new Error(`cipher ${socket.getCipher().name}`));
        return;
      }
      resolve(socket);
    });
  });
}
