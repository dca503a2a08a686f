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

/** A chunk one side sent, in the order the session was fed. */
export interface FedChunk {
  /** Which side sent it. */
  from: 'client' | 'server';
  /** The bytes. */
  chunk: Uint8Array;
}

/**
 * Something a session did that must be known elsewhere before the client hears of it: a login
 * cookie recorded on one worker of a host is replicated to every worker before the client, which
 * may present it on a connection another worker accepts, receives it.
 */
export interface OutputBarrier {
  /** A mark taken before the session is fed. */
  mark(): number;
  /** After the session was fed: what the client-bound bytes wait for, when something must travel first. */
  after(mark: number): Promise<void> | undefined;
}

/**
 * What a connection hands to another worker of its host (`detachForHandOff`): everything the
 * session was fed, so that a new session on the other worker, fed the same, is where this one was.
 */
export interface HandOffState {
  /** Every chunk fed to the session, in order (its output was written here). */
  transcript: FedChunk[];
  /** Session events acted on here; the next worker acts on those after them. */
  eventsHandled: number;
  /** Chunks read but not fed yet, in order: the next worker feeds them. */
  held: FedChunk[];
}

/** The connection a socket belongs to (its listeners are shared by every connection). */
const CONNECTION = Symbol('connection');

type OwnedSocket = Socket & { [CONNECTION]?: ProxiedConnection | undefined };

function connectionOf(socket: Socket): ProxiedConnection | undefined {
  return (socket as OwnedSocket)[CONNECTION];
}

/** Most bytes of a connection kept for a hand-off before it is identified (then it stays where it is). */
export const MAX_TRANSCRIPT_BYTES = 256 * 1024;

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
  // Two fields, not an object of two (issue 20: an object per connection).
  #clientFin = false;
  #serverFin = false;
  readonly #hooks: ConnectionHooks;
  readonly #maxBacklog: number;
  readonly #barrier: OutputBarrier | undefined;
  /** Client-bound bytes waiting for a barrier, in order. */
  #gated: Uint8Array[] | undefined;
  #gate: Promise<void> | undefined;
  /** What was fed, kept until the connection's user is known (a host of several workers). */
  #transcript: FedChunk[] | undefined;
  #transcriptBytes = 0;
  #eventsHandled = 0;
  /** Set once a hand-off began: nothing more is fed or acted on here. */
  #held: FedChunk[] | undefined;
  /** Idle sweeps since the last byte either way or injected event (`quietPeriod`). */
  #quiet = 0;

  constructor(options: {
    id: string;
    codec: Codec;
    session: ProxySession;
    client: Socket;
    upstream: Socket | undefined;
    target: { host: string; port: number };
    hooks: ConnectionHooks;
    maxBacklog: number;
    /** Holds client-bound bytes until what the session did is known where it must be. */
    barrier?: OutputBarrier;
    /** Keep what is fed until `stopRecording`, so the connection can be handed to another worker. */
    record?: boolean;
  }) {
    this.id = options.id;
    this.codec = options.codec;
    this.session = options.session;
    this.client = options.client;
    this.#upstream = options.upstream;
    this.target = options.target;
    this.#hooks = options.hooks;
    this.#maxBacklog = options.maxBacklog;
    this.#barrier = options.barrier;
    if (options.record) this.#transcript = [];
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

  /** True while what is fed is kept for a hand-off. */
  get recording(): boolean {
    return this.#transcript !== undefined;
  }

  /** Starts pumping; `replay` holds what arrived while sniffing, in arrival order. */
  start(replay: { from: 'client' | 'server'; chunk: Uint8Array }[]): void {
    this.#hooks.onOpen(this);
    for (const { from, chunk } of replay) if (!this.#feed(from, chunk)) return;
    this.#listen();
  }

  /**
   * Takes over a connection another worker began (`detachForHandOff` there): the session is fed
   * the same chunks, their output dropped (it was written there) and the events acted on there
   * skipped, then what was read and not fed yet is fed as usual.
   */
  resume(state: HandOffState): void {
    this.#hooks.onOpen(this);
    let index = 0;
    for (const { from, chunk } of state.transcript) {
      if (this.#closed) return;
      let out: SessionOutput;
      try {
        out = from === 'client' ? this.session.fromClient(chunk) : this.session.fromServer(chunk);
      } catch (error) {
        this.fail(error);
        return;
      }
      this.#record(from, chunk);
      for (const e of out.events) {
        // Released there already (its socket was not handed over) or now: no server socket here.
        if (e.type === 'server-released') this.#releaseUpstream();
        if (e.type === 'closed' || index++ < state.eventsHandled) continue;
        this.#hooks.onEvent(this, e);
      }
    }
    for (const { from, chunk } of state.held) if (!this.#feed(from, chunk)) return;
    this.#listen();
  }

  /** Forgets what was kept for a hand-off (the connection stays on this worker). */
  stopRecording(): void {
    this.#transcript = undefined;
  }

  /**
   * Stops the connection here so another worker can take it over: nothing more is fed or acted on
   * (the event being handled now is the next worker's, and those after it), reading stops, and once
   * what was written has left, the sockets are released. Undefined when the connection closed
   * meanwhile or was not recording.
   */
  async detachForHandOff(): Promise<HandOffState | undefined> {
    const transcript = this.#transcript;
    if (!transcript || this.#closed || this.#held) return undefined;
    const held: FedChunk[] = [];
    this.#held = held;
    this.#transcript = undefined;
    const eventsHandled = this.#eventsHandled;
    // From here nothing of the sockets is acted on here (a FIN read already is the next worker's
    // to see: the socket reads it again there); only a close ends the hand-off.
    this.#unlisten();
    let gone = false;
    const onGone = () => {
      gone = true;
    };
    const sockets = this.upstream ? [this.client, this.upstream] : [this.client];
    for (const socket of sockets) {
      socket.once('close', onGone);
      socket.on('error', onGone);
      for (const chunk of stopReading(socket))
        held.push({ from: socket === this.client ? 'client' : 'server', chunk });
    }
    await this.#gate;
    await Promise.all(sockets.map(flushed));
    for (const socket of sockets) {
      socket.off('close', onGone);
      socket.off('error', onGone);
    }
    if (gone || this.#closed || sockets.some((s) => s.destroyed)) {
      // Closed meanwhile: it ends here, as any connection ends.
      this.#held = undefined;
      this.close('closed during a hand-off');
      return undefined;
    }
    this.#closed = true;
    return { transcript, eventsHandled, held };
  }

  /**
   * The listeners every connection puts on its sockets, shared (one set of functions for all
   * connections, each socket pointing at its connection): a closure per listener per connection
   * was a good part of what an idle connection held.
   */
  static readonly #on = {
    clientData(this: Socket, chunk: Buffer) {
      const c = connectionOf(this);
      if (c) c.#feed('client', chunk);
    },
    clientEnd(this: Socket) {
      const c = connectionOf(this);
      if (c) c.#clientEnded();
    },
    clientClose(this: Socket) {
      connectionOf(this)?.close('client closed');
    },
    clientError(this: Socket) {
      connectionOf(this)?.close('client error');
    },
    serverData(this: Socket, chunk: Buffer) {
      const c = connectionOf(this);
      if (c) c.#feed('server', chunk);
    },
    serverEnd(this: Socket) {
      const c = connectionOf(this);
      if (c) c.#serverEnded();
    },
    serverClose(this: Socket) {
      connectionOf(this)?.close('server closed');
    },
    serverError(this: Socket) {
      connectionOf(this)?.close('server error');
    },
  };

  #listen(): void {
    const on = ProxiedConnection.#on;
    const client = this.client as OwnedSocket;
    client[CONNECTION] = this;
    client.on('data', on.clientData);
    client.on('end', on.clientEnd);
    client.on('close', on.clientClose);
    client.on('error', on.clientError);
    const upstream = this.upstream as OwnedSocket | undefined;
    if (upstream) {
      upstream[CONNECTION] = this;
      upstream.on('data', on.serverData);
      upstream.on('end', on.serverEnd);
      upstream.on('close', on.serverClose);
      upstream.on('error', on.serverError);
    }
    // A side may have sent FIN while the front was dialling or sniffing ('end' already emitted,
    // found by the fronts fuzzing): it would never be seen again, and the session would leak.
    if (this.client.readableEnded) this.#clientEnded();
    if (upstream?.readableEnded && !this.#closed) this.#serverEnded();
  }

  /** Takes this connection's listeners off its sockets (a hand-off: the sockets go on elsewhere). */
  #unlisten(): void {
    const on = ProxiedConnection.#on;
    const client = this.client as OwnedSocket;
    if (client[CONNECTION] === this) {
      client.off('data', on.clientData);
      client.off('end', on.clientEnd);
      client.off('close', on.clientClose);
      client.off('error', on.clientError);
      client[CONNECTION] = undefined;
    }
    this.#unlistenServer();
  }

  /** Takes this connection's listeners off the server's socket. */
  #unlistenServer(): void {
    const on = ProxiedConnection.#on;
    const upstream = this.upstream as OwnedSocket | undefined;
    if (upstream?.[CONNECTION] === this) {
      upstream.off('data', on.serverData);
      upstream.off('end', on.serverEnd);
      upstream.off('close', on.serverClose);
      upstream.off('error', on.serverError);
      upstream[CONNECTION] = undefined;
    }
  }

  // Half-close both ways (the sockets allow it): a client that sends FIN right after its last
  // bytes still gets the server's final words (RFC 6120 §4.4 stream close, MSNP OUT).
  #clientEnded(): void {
    this.#clientFin = true;
    if (!this.upstream || this.#serverFin) this.close('client closed');
    else this.upstream.end();
  }

  #serverEnded(): void {
    this.#serverFin = true;
    if (this.#clientFin) this.close('server closed');
    else this.client.end();
  }

  /**
   * One idle sweep found the connection where the last left it: once more than `periods` sweeps in
   * a row passed with nothing carried either way, the session may end it (`ProxySession.endIfIdle`:
   * an MSNP switchboard the gateway plays ends as an idle MSN switchboard does).
   */
  quietPeriod(periods: number): void {
    if (this.#closed || this.#held || !this.session.endIfIdle) return;
    if (++this.#quiet <= periods) return;
    let out: SessionOutput | undefined;
    try {
      out = this.session.endIfIdle();
    } catch (error) {
      this.fail(error);
      return;
    }
    if (!out) return;
    this.#write(out);
    const ended = out.events.find((e) => e.type === 'closed');
    if (ended?.type === 'closed') this.close(ended.reason);
  }

  /** Injects an event into this client stream (the session encodes it as its server would). */
  deliver(event: CanonicalEvent): void {
    this.#quiet = 0;
    const out = this.session.deliver(event);
    this.#write(out);
    if (this.client.writableLength > this.#maxBacklog) {
      this.fail(new SlowConsumerError(this.client.writableLength));
    }
  }

  /** Writes what the session returned for something the engine asked of it (a file's next block). */
  inject(out: SessionOutput): void {
    if (this.#closed) return;
    this.#quiet = 0;
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
      this.#flushGated();
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

  #record(from: 'client' | 'server', chunk: Uint8Array): void {
    if (!this.#transcript) return;
    this.#transcriptBytes += chunk.length;
    // A connection that says who it is within this many bytes can be handed on; past it, it stays.
    if (this.#transcriptBytes > MAX_TRANSCRIPT_BYTES) this.#transcript = undefined;
    else this.#transcript.push({ from, chunk });
  }

  #feed(from: 'client' | 'server', chunk: Uint8Array): boolean {
    if (this.#closed) return false;
    this.#quiet = 0;
    if (this.#held) {
      this.#held.push({ from, chunk });
      return false;
    }
    let out: SessionOutput;
    const mark = this.#barrier?.mark();
    try {
      out = from === 'client' ? this.session.fromClient(chunk) : this.session.fromServer(chunk);
    } catch (error) {
      this.fail(error);
      return false;
    }
    this.#record(from, chunk);
    if (mark !== undefined) {
      const wait = this.#barrier!.after(mark);
      if (wait) this.#holdClientOutput(wait);
    }
    this.#write(out);
    if (this.#held) return false;
    const ended = out.events.find((e) => e.type === 'closed');
    if (ended) {
      if (ended.type === 'closed' && ended.error) this.#hooks.onError(this, ended.error);
      this.close(ended.type === 'closed' ? ended.reason : 'session closed');
      return false;
    }
    return true;
  }

  /** Client-bound bytes from now on wait for `wait` (then leave in order). */
  #holdClientOutput(wait: Promise<void>): void {
    this.#gated ??= [];
    const gate = Promise.all([this.#gate, wait]).then(() => {
      if (this.#gate === gate) {
        this.#gate = undefined;
        this.#flushGated();
      }
    });
    this.#gate = gate;
  }

  #flushGated(): void {
    const gated = this.#gated;
    if (!gated) return;
    this.#gated = undefined;
    for (const b of gated) if (!send(this.client, b) && this.upstream) this.#hold(this.upstream, this.client);
  }

  #write(out: SessionOutput): void {
    // One syscall per side (the profile showed per-buffer writes). Built-in sessions already return
    // one buffer per side (core `joinOutput`, YMSG aside); this joins what other codecs return.
    const toServer = out.toServer.length > 1 ? [Buffer.concat(out.toServer)] : out.toServer;
    const toClient = out.toClient.length > 1 ? [Buffer.concat(out.toClient)] : out.toClient;
    for (const b of toServer) {
      if (this.upstream && !send(this.upstream, b)) this.#hold(this.client, this.upstream);
    }
    if (this.#gated) for (const b of toClient) this.#gated.push(b);
    else
      for (const b of toClient) {
        if (!send(this.client, b) && this.upstream) this.#hold(this.upstream, this.client);
      }
    for (const e of out.events) {
      if (e.type === 'closed') continue;
      if (e.type === 'server-released') this.#releaseUpstream();
      this.#hooks.onEvent(this, e);
      // This event began a hand-off: it and those after it are the next worker's.
      if (this.#held) return;
      this.#eventsHandled++;
    }
  }

  /** Ends the server's socket and forgets it; the client's stays (issue 20: descriptors per user). */
  #releaseUpstream(): void {
    const upstream = this.#upstream;
    if (!upstream) return;
    this.#unlistenServer();
    // No longer this connection's to react to, but an error on it must not go unhandled.
    upstream.on('error', () => {});
    this.#upstream = undefined;
    upstream.end();
    setTimeout(() => upstream.destroy(), 1000).unref();
    // Nothing is relayed to the server any more: a client held for its drain reads again.
    if (this.client.isPaused() && !this.#held) this.client.resume();
    if (this.#clientFin) this.close('client closed');
  }

  /** Backpressure: stop reading `source` until `sink` drains. */
  #hold(source: Socket, sink: Socket): void {
    if (source.isPaused() || this.#held) return;
    source.pause();
    sink.once('drain', () => {
      if (!this.#closed && !this.#held) source.resume();
    });
  }

  /** Closes the connection on an error (reported to the hooks first): bad input, or a refused login. */
  fail(error: unknown): void {
    this.#hooks.onError(this, error);
    this.close(isCrossTalkError(error) ? error.code : 'error');
  }
}

/**
 * Stops a socket reading, for handing it to another process: what it had read and not delivered
 * is returned, and its handle stops reading from the kernel, so that no byte is read here after
 * (net.Socket's `pause` only stops delivering; its handle keeps reading into the stream's buffer).
 */
export function stopReading(socket: Socket): Buffer[] {
  socket.pause();
  const chunks: Buffer[] = [];
  // Listeners were not told of these: read() in paused mode emits 'data' too, so they are taken
  // with every 'data' listener off.
  const listeners = socket.listeners('data') as ((chunk: Buffer) => void)[];
  socket.removeAllListeners('data');
  for (let c = socket.read() as Buffer | null; c !== null; c = socket.read() as Buffer | null) chunks.push(c);
  for (const l of listeners) socket.on('data', l);
  socket.pause();
  const handle = (socket as unknown as { _handle?: { reading?: boolean; readStop?(): number } })._handle;
  if (handle?.readStop) {
    handle.reading = false;
    handle.readStop();
  }
  return chunks;
}

/**
 * Sockets written to in this event-loop turn: each is corked at its first write and uncorked once
 * the turn's I/O callbacks have run (`setImmediate`), so what a turn writes to one socket (a burst
 * of events for one user, an injected frame beside a forwarded one) leaves in one system call, as
 * the G2G link batches its frames.
 */
const corked = new Set<Socket>();
let uncorkScheduled = false;

function uncorkAll(): void {
  uncorkScheduled = false;
  for (const socket of corked) socket.uncork();
  corked.clear();
}

/** Writes `bytes` to `socket` with the turn's other writes to it (see `corked`); false: its buffer is full. */
function send(socket: Socket, bytes: Uint8Array): boolean {
  if (!corked.has(socket) && socket.writable) {
    socket.cork();
    corked.add(socket);
    if (!uncorkScheduled) {
      uncorkScheduled = true;
      setImmediate(uncorkAll);
    }
  }
  return socket.write(bytes);
}

/** Resolves once everything written to `socket` so far has left for the kernel (or it closed). */
async function flushed(socket: Socket): Promise<void> {
  if (corked.delete(socket)) socket.uncork();
  if (socket.writableLength === 0 || socket.destroyed || !socket.writable) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      socket.off('close', done);
      resolve();
    };
    socket.once('close', done);
    // Writes complete in order: an empty one's callback runs once every earlier one left.
    socket.write(Buffer.alloc(0), done);
  });
}
