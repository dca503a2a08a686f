import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import type { Codec, CodecRegistry, SessionContext } from '@crosstalk/core';
import {
  ProxyLoopError,
  SocksProtocolError,
  SocksTimeoutError,
  TooManyConnectionsError,
  TooManyFromSourceError,
  UpstreamBlockedError,
  UpstreamUnreachableError,
} from '../errors/errors.js';
import {
  parseSocks4Request,
  SOCKS4_CONNECT,
  type Socks4Request,
  SocksReply,
  socks4Reply,
} from '../socks/socks4.js';
import {
  type ConnectionHooks,
  type HandOffState,
  type OutputBarrier,
  ProxiedConnection,
  stopReading,
} from './connection.js';
import type { OwnListeners, UpstreamPolicy } from './policy.js';
import type { VirtualEndpointTable } from './virtual-endpoints.js';

export interface SocksFrontOptions {
  registry: CodecRegistry;
  policy: UpstreamPolicy;
  virtual: VirtualEndpointTable;
  /** ms to wait for the upstream TCP connect. */
  connectTimeout: number;
  /** ms to wait for the SOCKS request. */
  requestTimeout: number;
  /** Bytes to look at before giving up on recognising a protocol (then relay untouched). */
  sniffLimit: number;
  /** ms to wait for the first bytes before relaying untouched. */
  sniffTimeout: number;
  /** Bytes of injected data a client may leave unread before it is disconnected. */
  maxBacklog: number;
  /** Client connections held at once, at most; more are refused. Default: no limit. */
  maxConnections?: number;
  /** Client connections held at once from one source address, at most. Default: no limit. */
  maxConnectionsPerSource?: number;
  /** The gateway's own listeners: a CONNECT that would reach one is refused (`ProxyLoopError`). */
  own?: OwnListeners;
  context(info: {
    id: string;
    codec: Codec;
    target: { host: string; port: number };
    virtual?: { data: unknown };
  }): SessionContext;
  hooks: ConnectionHooks;
  /** Holds client-bound bytes until what a session did is known where it must be (several workers). */
  barrier?: OutputBarrier;
  /** Keep what each connection's session is fed until its user is known, for a hand-off (several workers). */
  record?: boolean;
  /** Prefix of connection ids (`w1-`: a host's worker 1). Default none. */
  idPrefix?: string;
  /**
   * A CONNECT to a virtual endpoint another worker of this host holds: the client socket (reading
   * stopped), its request and the bytes it sent after it go to that worker (`resumeSocks` there).
   */
  handOff?(worker: number, client: Socket, request: Socks4Request, early: Uint8Array): void;
  /** A connection the gateway relays without a codec (unrecognised protocol). */
  onRelay?(info: { id: string; target: { host: string; port: number } }): void;
  /**
   * A SOCKS request refused, or a connection refused or closed before its request was complete
   * (over a limit, timed out), with why.
   */
  onRefused?(info: { id: string; reason: unknown; request?: Socks4Request; source?: string }): void;
  /** A connection the listener could not accept (EMFILE: out of file descriptors); it keeps listening. */
  onAcceptError?(error: Error): void;
}

const MAX_SOCKS_REQUEST = 600;
const EMPTY = new Uint8Array(0);

/** The source (client address) a client socket was counted against; the close listener uncounts it. */
const SOURCE = Symbol('source');

type CountedSocket = Socket & { [SOURCE]?: string };

/** A socket's error ends it (one function for every socket, not a closure each). */
function destroyOnError(this: Socket): void {
  this.destroy();
}

/**
 * The SOCKS4/4a front: CONNECT only (BIND and anything else refused with 91), policy check,
 * upstream dial with a timeout, then the first bytes of whichever side speaks first choose a codec;
 * unrecognised streams are relayed untouched, so the gateway is also a plain SOCKS4 proxy.
 */
export class SocksFront {
  readonly #o: SocksFrontOptions;
  #server: Server | undefined;
  #next = 0;
  readonly #sockets = new Set<Socket>();
  #clients = 0;
  readonly #clientsBySource = new Map<string, number>();

  /**
   * The one 'close' listener of every socket this front tracks (bound to the front once, not a
   * closure per socket): it forgets the socket and uncounts its source (issue 20: a closure, its
   * context and a `once` wrapper per socket were a good part of what an idle connection held).
   */
  readonly #socketClosed: (this: Socket) => void;

  constructor(options: SocksFrontOptions) {
    this.#o = options;
    const front = this;
    this.#socketClosed = function (this: Socket) {
      front.#gone(this);
    };
  }

  async listen(host: string, port: number): Promise<{ host: string; port: number }> {
    const server = createServer({ allowHalfOpen: true }, (socket) => this.accept(socket));
    server.listen(port, host);
    await once(server, 'listening');
    // After listening, a server 'error' is a failed accept; unheard, it would end the process.
    server.on('error', (error) => this.#o.onAcceptError?.(error));
    this.#server = server;
    return { host, port: (server.address() as { port: number }).port };
  }

  /** The address the listener is bound to (a wildcard stays a wildcard), once listening. */
  get boundAddress(): AddressInfo | undefined {
    return (this.#server?.address() as AddressInfo | null) ?? undefined;
  }

  async close(): Promise<void> {
    const closed = this.#server && once(this.#server, 'close');
    this.#server?.close();
    for (const s of this.#sockets) s.destroy();
    await closed;
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on('close', this.#socketClosed);
  }

  /** A tracked socket closed: forgotten, and its source uncounted when it was a counted client. */
  #gone(socket: CountedSocket): void {
    this.#sockets.delete(socket);
    const source = socket[SOURCE];
    if (source === undefined) return;
    socket[SOURCE] = undefined;
    this.#clients--;
    const left = (this.#clientsBySource.get(source) ?? 1) - 1;
    if (left > 0) this.#clientsBySource.set(source, left);
    else this.#clientsBySource.delete(source);
  }

  /**
   * Counts a client against the limits and tracks it: its source, or undefined (the reason
   * reported) when over one.
   */
  #admit(id: string, client: Socket): string | undefined {
    const address = client.remoteAddress;
    if (!address) return undefined; // already gone
    const source = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
    const fromSource = this.#clientsBySource.get(source) ?? 0;
    const perSource = this.#o.maxConnectionsPerSource ?? Number.POSITIVE_INFINITY;
    const total = this.#o.maxConnections ?? Number.POSITIVE_INFINITY;
    const refusal =
      fromSource >= perSource
        ? new TooManyFromSourceError('socks', source, perSource)
        : this.#clients >= total
          ? new TooManyConnectionsError('socks', total)
          : undefined;
    if (refusal) {
      this.#o.onRefused?.({ id, reason: refusal, source });
      return undefined;
    }
    this.#clients++;
    this.#clientsBySource.set(source, fromSource + 1);
    // Uncounted by the tracking 'close' listener (`#gone`), one shared function for every socket.
    (client as CountedSocket)[SOURCE] = source;
    this.#track(client);
    return source;
  }

  #newId(): string {
    return `${this.#o.idPrefix ?? ''}conn-${++this.#next}`;
  }

  /** Admits and tracks a client socket this front did not accept itself; false when refused. */
  #take(id: string, client: Socket): boolean {
    client.on('error', destroyOnError);
    if (!this.#admit(id, client)) {
      client.destroy();
      return false;
    }
    client.setNoDelay(true);
    return true;
  }

  /**
   * Serves a client connection from its SOCKS request on (the listener's, or one the primary of a
   * host of several workers accepted and handed to this worker; allow half-open on such sockets).
   */
  accept(client: Socket): void {
    const id = this.#newId();
    client.on('error', destroyOnError);
    const source = this.#admit(id, client);
    if (!source) return void client.destroy();
    client.setNoDelay(true);
    let buffered: Uint8Array = EMPTY;
    // Idle clients and slowlorises (a byte at a time) get one deadline for the whole request.
    let timer: ReturnType<typeof setTimeout> | undefined = setTimeout(() => {
      client.off('data', onData);
      this.#o.onRefused?.({ id, reason: new SocksTimeoutError(this.#o.requestTimeout), source });
      client.destroy();
    }, this.#o.requestTimeout);
    timer.unref();
    const onData = (chunk: Buffer) => {
      buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
      let parsed: ReturnType<typeof parseSocks4Request>;
      try {
        if (buffered.length > MAX_SOCKS_REQUEST)
          throw new SocksProtocolError(`request longer than ${MAX_SOCKS_REQUEST} bytes`);
        parsed = parseSocks4Request(buffered);
      } catch (error) {
        clearTimeout(timer);
        timer = undefined;
        client.off('data', onData);
        this.#o.onRefused?.({ id, reason: error, source });
        client.end(socks4Reply(SocksReply.rejected));
        return;
      }
      if (!parsed.done) return;
      clearTimeout(timer);
      timer = undefined;
      client.off('data', onData);
      // Nothing of the request is needed now: what these closures hold is not kept with the connection.
      client.off('end', onEnd);
      client.pause();
      const early = buffered.subarray(parsed.consumed);
      // The 'end' listener below keeps this closure for the connection's life: not the request's bytes.
      buffered = EMPTY;
      this.#connect(id, client, parsed.request, early).catch((error) => {
        this.#o.onRefused?.({ id, reason: error, request: parsed.request, source });
        if (!client.destroyed) client.end(socks4Reply(SocksReply.rejected));
      });
    };
    client.on('data', onData);
    // A client that hangs up before its request is complete is gone (the socket allows half-close).
    const onEnd = () => {
      if (client.listeners('data').includes(onData)) client.destroy();
    };
    client.once('end', onEnd);
  }

  /**
   * Goes on with a connection another worker of this host read the SOCKS request of: a CONNECT to
   * a virtual endpoint this worker holds (`handOff` there).
   */
  resumeSocks(client: Socket, request: Socks4Request, early: Uint8Array): void {
    const id = this.#newId();
    if (!this.#take(id, client)) return;
    client.pause();
    this.#connect(id, client, request, early).catch((error) => {
      this.#o.onRefused?.({ id, reason: error, request });
      if (!client.destroyed) client.end(socks4Reply(SocksReply.rejected));
    });
  }

  /**
   * Takes over a proxied connection another worker of this host began, once its session named a
   * user this worker serves: a session of `protocol` is fed what the other one was
   * (`ProxiedConnection.resume`), and the connection goes on here.
   */
  resumeSession(
    client: Socket,
    upstream: Socket | undefined,
    info: { protocol: string; target: { host: string; port: number } } & HandOffState,
  ): void {
    const id = this.#newId();
    if (!this.#take(id, client)) {
      upstream?.destroy();
      return;
    }
    if (upstream) {
      upstream.on('error', destroyOnError);
      this.#track(upstream);
      upstream.setNoDelay(true);
    }
    let session: ReturnType<Codec['openSession']>;
    let codec: Codec;
    try {
      codec = this.#o.registry.get(info.protocol);
      session = codec.openSession(this.#o.context({ id, codec, target: info.target }));
    } catch (error) {
      this.#o.onRefused?.({ id, reason: error });
      client.destroy();
      upstream?.destroy();
      return;
    }
    this.#connection(id, codec, session, client, upstream, info.target).resume(info);
  }

  #connection(
    id: string,
    codec: Codec,
    session: ReturnType<Codec['openSession']>,
    client: Socket,
    upstream: Socket | undefined,
    target: { host: string; port: number },
  ): ProxiedConnection {
    return new ProxiedConnection({
      id,
      codec,
      session,
      client,
      upstream,
      target,
      hooks: this.#o.hooks,
      maxBacklog: this.#o.maxBacklog,
      ...(this.#o.barrier ? { barrier: this.#o.barrier } : {}),
      // A connection to a virtual endpoint is on the worker that holds it already.
      record: this.#o.record === true && upstream !== undefined,
    });
  }

  async #connect(id: string, client: Socket, request: Socks4Request, early: Uint8Array): Promise<void> {
    if (request.command !== SOCKS4_CONNECT) {
      throw new SocksProtocolError(`command ${request.command} is not supported (CONNECT only)`);
    }
    const target = { host: request.host, port: request.port };
    const elsewhere = this.#o.handOff
      ? this.#o.virtual.ownerElsewhere(request.host, request.port)
      : undefined;
    if (elsewhere !== undefined) {
      // Its data is in that worker's memory: the client goes there, before anything is said to it.
      const more = stopReading(client);
      const bytes = more.length ? Buffer.concat([early, ...more]) : early;
      this.#o.handOff!(elsewhere, client, request, bytes);
      return;
    }
    const virtual = this.#o.virtual.take(request.host, request.port);
    let upstream: Socket | undefined;
    if (!virtual) {
      // Virtual endpoints are answered here, never dialled; anything else that would reach one of
      // our own listeners is a loop (checked before the policy, and again on what it resolved to).
      if (await this.#o.own?.reaches(request.host, request.port))
        throw new ProxyLoopError(request.host, request.port);
      const address = await this.#o.policy.resolve(request.host, request.port);
      if (!address) throw new UpstreamBlockedError(request.host, request.port);
      if (address !== request.host && (await this.#o.own?.reaches(address, request.port)))
        throw new ProxyLoopError(request.host, request.port);
      upstream = await this.#dial(address, request.port);
      this.#track(upstream);
    }
    client.write(socks4Reply(SocksReply.granted));
    this.#sniff(id, client, upstream, target, early, virtual);
  }

  #dial(host: string, port: number): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port, allowHalfOpen: true });
      socket.setNoDelay(true);
      // Dropped once settled: the 'error' listener stays for the socket's life and would keep it.
      let timer: ReturnType<typeof setTimeout> | undefined = setTimeout(() => {
        socket.destroy();
        reject(new UpstreamUnreachableError(`connecting to ${host}:${port} timed out`));
      }, this.#o.connectTimeout);
      const failed = (cause: Error) => {
        clearTimeout(timer);
        timer = undefined;
        reject(new UpstreamUnreachableError(`cannot connect to ${host}:${port}`, { cause }));
      };
      socket.once('connect', () => {
        clearTimeout(timer);
        timer = undefined;
        // This listener would hold its closure (and this promise's functions) for the socket's life
        // (issue 20): from here an error just ends the socket, as for every other socket.
        socket.off('error', failed);
        socket.on('error', destroyOnError);
        resolve(socket);
      });
      socket.once('error', failed);
    });
  }

  /** Holds the first bytes of either side until a codec says yes, or all say no (relay). */
  #sniff(
    id: string,
    client: Socket,
    upstream: Socket | undefined,
    target: { host: string; port: number },
    early: Uint8Array,
    virtual: { protocol: string; data: unknown } | undefined,
  ): void {
    const seen: { from: 'client' | 'server'; chunk: Uint8Array }[] = [];
    let first: 'client' | 'server' | undefined;
    let decided = false;
    const head = () => Buffer.concat(seen.filter((s) => s.from === first).map((s) => s.chunk));
    const cleanup = () => {
      clearTimeout(timer);
      client.off('data', onClient);
      upstream?.off('data', onServer);
      client.off('close', onGone);
      client.off('end', onClientEnd);
      upstream?.off('close', onGone);
    };
    const decide = (codec: Codec | undefined) => {
      if (decided) return;
      decided = true;
      cleanup();
      if (!codec) {
        if (!upstream) return client.destroy();
        this.#o.onRelay?.({ id, target });
        for (const s of seen) (s.from === 'client' ? upstream : client).write(s.chunk);
        client.pipe(upstream);
        upstream.pipe(client);
        client.on('error', () => upstream.destroy());
        upstream.on('error', () => client.destroy());
        client.resume();
        return;
      }
      let session: ReturnType<Codec['openSession']>;
      try {
        session = codec.openSession(
          this.#o.context({ id, codec, target, ...(virtual ? { virtual: { data: virtual.data } } : {}) }),
        );
      } catch (error) {
        this.#o.onRefused?.({ id, reason: error });
        client.destroy();
        upstream?.destroy();
        return;
      }
      const connection = this.#connection(id, codec, session, client, upstream, target);
      connection.start(seen);
      client.resume();
    };
    const consider = () => {
      if (!first) return;
      const bytes = head();
      const answer = virtual ? this.#o.registry.get(virtual.protocol) : this.#o.registry.sniff(bytes, first);
      if (answer === 'more' && bytes.length < this.#o.sniffLimit) return;
      decide(answer === 'more' ? undefined : answer);
    };
    const onClient = (chunk: Buffer) => {
      first ??= 'client';
      seen.push({ from: 'client', chunk });
      consider();
    };
    const onServer = (chunk: Buffer) => {
      first ??= 'server';
      seen.push({ from: 'server', chunk });
      consider();
    };
    const onGone = () => {
      if (decided) return;
      decided = true;
      cleanup();
      client.destroy();
      upstream?.destroy();
    };
    // The client half-closed before a codec was chosen: with nothing said it is gone (its upstream
    // is freed now, not at the sniff timeout); after some bytes, they and the half-close are relayed.
    const onClientEnd = () => {
      if (decided) return;
      if (seen.length === 0) return onGone();
      decide(undefined);
    };
    // Nobody spoke within the sniff timeout: relay untouched (a protocol we cannot see).
    const timer = setTimeout(() => decide(undefined), this.#o.sniffTimeout);
    timer.unref();
    client.on('data', onClient);
    upstream?.on('data', onServer);
    client.on('close', onGone);
    client.on('end', onClientEnd);
    upstream?.on('close', onGone);
    if (early.length) onClient(Buffer.from(early));
    // The client's FIN may have come while the upstream was dialled (its 'end' is already past).
    if (!decided && client.readableEnded) onClientEnd();
    if (!decided) client.resume();
  }
}
