import type { Socket } from 'node:net';
import {
  type Address,
  type CanonicalEvent,
  type Codec,
  isCrossTalkError,
  type ProxySession,
  type SessionEvent,
  type SessionOutput,
} from '@crosstalk/core';
import { SlowConsumerError } from '../errors/errors.js';
import { unmapped } from './policy.js';

export interface ConnectionHooks {
  onOpen(connection: ProxiedConnection): void;
  onEvent(connection: ProxiedConnection, event: SessionEvent): void;
  onClose(connection: ProxiedConnection, reason: string): void;
  onError(connection: ProxiedConnection, error: unknown): void;
}

/**
 * One client connection after SOCKS: the client socket, the upstream socket (absent for a virtual
 * endpoint), and the codec's proxy session between them. Pumps bytes with backpressure both ways:
 * when one side's socket buffer is full, the other side is paused until it drains. Bytes the
 * gateway injects count against `maxBacklog`; a client that stops reading is disconnected.
 */
export class ProxiedConnection {
  /** The connection's id (`conn-N`), in logs and gateway events. */
  readonly id: string;
  /** The codec the sniff chose. */
  readonly codec: Codec;
  /** The codec's proxy session for this connection. */
  readonly session: ProxySession;
  /** The client's socket. */
  readonly client: Socket;
  /**
   * The server's socket; undefined for a virtual endpoint the gateway plays itself, and once the
   * session released it (`server-released`).
   */
  get upstream(): Socket | undefined {
    return this.#upstream;
  }
  #upstream: Socket | undefined;
  /** Where the client asked to connect. */
  readonly target: { host: string; port: number };
  /** When the connection was accepted, ms since the epoch. */
  readonly openedAt = Date.now();
  #closed = false;
  readonly #ended = { client: false, server: false };
  readonly #hooks: ConnectionHooks;
  readonly #maxBacklog: number;

  constructor(options: {
    id: string;
    codec: Codec;
    session: ProxySession;
    client: Socket;
    upstream: Socket | undefined;
    target: { host: string; port: number };
    hooks: ConnectionHooks;
    maxBacklog: number;
  }) {
    this.id = options.id;
    this.codec = options.codec;
    this.session = options.session;
    this.client = options.client;
    this.#upstream = options.upstream;
    this.target = options.target;
    this.#hooks = options.hooks;
    this.#maxBacklog = options.maxBacklog;
  }

  get user(): Address | undefined {
    return this.session.user;
  }

  /** The client's IP as the gateway sees it (the SOCKS client's address), IPv4-mapped written as IPv4. */
  get clientAddress(): string | undefined {
    const remote = this.client.remoteAddress;
    return remote === undefined ? undefined : unmapped(remote);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Starts pumping; `replay` holds what arrived while sniffing, in arrival order. */
  start(replay: { from: 'client' | 'server'; chunk: Uint8Array }[]): void {
    this.#hooks.onOpen(this);
    for (const { from, chunk } of replay) if (!this.#feed(from, chunk)) return;
    this.client.on('data', (chunk: Buffer) => this.#feed('client', chunk));
    // Half-close both ways (the sockets allow it): a client that sends FIN right after its last
    // bytes still gets the server's final words (RFC 6120 §4.4 stream close, MSNP OUT).
    const clientEnded = () => {
      this.#ended.client = true;
      if (!this.upstream || this.#ended.server) this.close('client closed');
      else this.upstream.end();
    };
    this.client.on('end', clientEnded);
    this.client.on('close', () => this.close('client closed'));
    this.client.on('error', () => this.close('client error'));
    if (this.#upstream) this.#listenUpstream(this.#upstream);
    // A side may have sent FIN while the front was dialling or sniffing ('end' already emitted,
    // found by the fronts fuzzing): it would never be seen again, and the session would leak.
    if (this.client.readableEnded) clientEnded();
    if (this.#upstream?.readableEnded && !this.#closed) this.#serverEnded();
  }

  /**
   * The server socket's listeners, in a scope of their own: the client's listeners live as long as
   * the connection and would otherwise keep a released upstream (`server-released`) reachable.
   */
  #listenUpstream(upstream: Socket): void {
    // A released upstream is no longer this connection's to react to.
    const mine = () => this.#upstream === upstream;
    upstream.on('data', (chunk: Buffer) => mine() && this.#feed('server', chunk));
    upstream.on('end', () => mine() && this.#serverEnded());
    upstream.on('close', () => mine() && this.close('server closed'));
    upstream.on('error', () => mine() && this.close('server error'));
  }

  #serverEnded(): void {
    this.#ended.server = true;
    if (this.#ended.client) this.close('server closed');
    else this.client.end();
  }

  /** Injects an event into this client stream (the session encodes it as its server would). */
  deliver(event: CanonicalEvent): void {
    const out = this.session.deliver(event);
    this.#write(out);
    if (this.client.writableLength > this.#maxBacklog) {
      this.fail(new SlowConsumerError(this.client.writableLength));
    }
  }

  /** Writes what the session returned for something the engine asked of it (a file's next block). */
  inject(out: SessionOutput): void {
    if (this.#closed) return;
    this.#write(out);
    if (this.client.writableLength > this.#maxBacklog) {
      this.fail(new SlowConsumerError(this.client.writableLength));
    }
  }

  close(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      const last = this.session.close(reason);
      for (const b of last.toClient) this.client.write(b);
      for (const b of last.toServer) this.upstream?.write(b);
      for (const e of last.events) this.#hooks.onEvent(this, e);
    } catch {
      // the session already failed; nothing more to say to either side
    }
    this.client.end();
    this.upstream?.end();
    setTimeout(() => {
      this.client.destroy();
      this.upstream?.destroy();
    }, 1000).unref();
    this.#hooks.onClose(this, reason);
  }

  #feed(from: 'client' | 'server', chunk: Uint8Array): boolean {
    if (this.#closed) return false;
    let out: SessionOutput;
    try {
      out = from === 'client' ? this.session.fromClient(chunk) : this.session.fromServer(chunk);
    } catch (error) {
      this.fail(error);
      return false;
    }
    this.#write(out);
    const ended = out.events.find((e) => e.type === 'closed');
    if (ended) {
      if (ended.type === 'closed' && ended.error) this.#hooks.onError(this, ended.error);
      this.close(ended.type === 'closed' ? ended.reason : 'session closed');
      return false;
    }
    return true;
  }

  #write(out: SessionOutput): void {
    // One syscall per side (the profile showed per-buffer writes). Built-in sessions already return
    // one buffer per side (core `joinOutput`, YMSG aside); this joins what other codecs return.
    const toServer = out.toServer.length > 1 ? [Buffer.concat(out.toServer)] : out.toServer;
    const toClient = out.toClient.length > 1 ? [Buffer.concat(out.toClient)] : out.toClient;
    for (const b of toServer) {
      if (this.upstream && !this.upstream.write(b)) this.#hold(this.client, this.upstream);
    }
    for (const b of toClient) {
      if (!this.client.write(b) && this.upstream) this.#hold(this.upstream, this.client);
    }
    for (const e of out.events) {
      if (e.type === 'server-released') this.#releaseUpstream();
      if (e.type !== 'closed') this.#hooks.onEvent(this, e);
    }
  }

  /** Ends the server's socket and forgets it; the client's stays (issue 20: descriptors per user). */
  #releaseUpstream(): void {
    const upstream = this.#upstream;
    if (!upstream) return;
    this.#upstream = undefined;
    upstream.end();
    setTimeout(() => upstream.destroy(), 1000).unref();
    // Nothing is relayed to the server any more: a client held for its drain reads again.
    if (this.client.isPaused()) this.client.resume();
    if (this.#ended.client) this.close('client closed');
  }

  /** Backpressure: stop reading `source` until `sink` drains. */
  #hold(source: Socket, sink: Socket): void {
    if (source.isPaused()) return;
    source.pause();
    sink.once('drain', () => {
      if (!this.#closed) source.resume();
    });
  }

  /** Closes the connection on an error (reported to the hooks first): bad input, or a refused login. */
  fail(error: unknown): void {
    this.#hooks.onError(this, error);
    this.close(isCrossTalkError(error) ? error.code : 'error');
  }
}
