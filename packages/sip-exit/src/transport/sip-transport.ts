import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { createConnection, createServer, isIP, type Server, type Socket } from 'node:net';
import { SipSlowConsumerError } from '../errors/errors.js';
import { DEFAULT_SIP_LIMITS, type SipLimits, type SipMessage } from '../message/message.js';
import { parseDatagram } from '../message/parse.js';
import { serializeSipMessage } from '../message/serialize.js';
import { SipStreamFramer } from '../message/stream-framer.js';
import type { SipDestination } from '../transaction/context.js';

/** What the transports hand up. */
export interface SipTransportHandler {
  /** A well-formed message. */
  onMessage(message: SipMessage, source: SipDestination): void;
  /** A message that could not be read: answered 400/513 when it carries enough headers, else dropped. */
  onInvalid(error: Error, source: SipDestination): void;
  /** Messages sent to `destination` will not arrive (a TCP connection failed or closed). */
  onTransportError(destination: SipDestination): void;
}

/** Options of `SipTransports`. */
export interface SipTransportOptions {
  /** The address to bind (loopback in tests). */
  host: string;
  /** UDP port (0: any free port; null: no UDP). Default 5060. */
  udpPort?: number | null;
  /** TCP port (0: any free port; null: no TCP). Default 5060. */
  tcpPort?: number | null;
  /** Caps on messages. */
  limits?: SipLimits;
  /** Most TCP connections at once (default 1024). */
  maxConnections?: number;
  /** Bytes written to a TCP peer and not yet taken before it is dropped as a slow consumer (default 1 MiB). */
  maxBacklog?: number;
  /** ms to establish an outgoing TCP connection (default 5 s). */
  connectTimeout?: number;
  /** Told about each connection dropped for a protocol error or a slow peer. */
  onConnectionError?: (error: Error, remote: string) => void;
}

interface Connection {
  id: number;
  socket: Socket;
  framer: SipStreamFramer;
  remote: string;
}

/**
 * SIP over UDP and TCP (RFC 3261 §18): one UDP socket and one TCP listener on the configured
 * address, outgoing TCP connections reused per remote address, a framer per connection, caps on
 * connections and on each peer's backlog. A bad message costs only its datagram or its connection.
 */
export class SipTransports {
  readonly #o: SipTransportOptions;
  readonly #limits: SipLimits;
  #handler: SipTransportHandler | undefined;
  #udp: UdpSocket | undefined;
  #tcp: Server | undefined;
  readonly #connections = new Map<number, Connection>();
  /** Open (or opening) connections by `host:port` of the far end. */
  readonly #byRemote = new Map<string, Connection>();
  #nextId = 1;
  #closed = false;
  /** The UDP port bound (after `listen`), or undefined without UDP. */
  udpPort: number | undefined;
  /** The TCP port bound (after `listen`), or undefined without TCP. */
  tcpPort: number | undefined;

  constructor(options: SipTransportOptions) {
    this.#o = options;
    this.#limits = options.limits ?? DEFAULT_SIP_LIMITS;
  }

  /** The bound address. */
  get host(): string {
    return this.#o.host;
  }

  /** Open TCP connections. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Binds the sockets; messages go to `handler`. */
  async listen(handler: SipTransportHandler): Promise<void> {
    this.#handler = handler;
    const udpPort = this.#o.udpPort === undefined ? 5060 : this.#o.udpPort;
    const tcpPort = this.#o.tcpPort === undefined ? 5060 : this.#o.tcpPort;
    try {
      if (udpPort !== null) {
        const udp = createSocket(isIP(this.#o.host) === 6 ? 'udp6' : 'udp4');
        this.#udp = udp;
        udp.on('message', (bytes, info) => this.#datagram(bytes, info.address, info.port));
        udp.on('error', () => {});
        udp.bind(udpPort, this.#o.host);
        await once(udp, 'listening');
        this.udpPort = udp.address().port;
      }
      if (tcpPort !== null) {
        const tcp = createServer((socket) => this.#accept(socket));
        this.#tcp = tcp;
        tcp.maxConnections = this.#o.maxConnections ?? 1024;
        // With UDP on an ephemeral port, TCP takes the same port number when it is free.
        tcp.listen(tcpPort === 0 && this.udpPort !== undefined ? this.udpPort : tcpPort, this.#o.host);
        const failed = once(tcp, 'error').then(([e]) => e as Error);
        const bound = await Promise.race([once(tcp, 'listening').then(() => undefined), failed]);
        if (bound && tcpPort === 0 && this.udpPort !== undefined) {
          tcp.listen(0, this.#o.host);
          await once(tcp, 'listening');
        } else if (bound) throw bound;
        this.tcpPort = (tcp.address() as { port: number }).port;
      }
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  #datagram(bytes: Buffer, host: string, port: number): void {
    const source: SipDestination = { transport: 'udp', host, port };
    let message: SipMessage | undefined;
    try {
      message = parseDatagram(bytes, this.#limits);
    } catch (error) {
      this.#handler?.onInvalid(error as Error, source);
      return;
    }
    if (message) this.#handler?.onMessage(message, source);
  }

  #accept(socket: Socket): void {
    if (this.#closed) {
      socket.destroy();
      return;
    }
    this.#adopt(socket, `${socket.remoteAddress}:${socket.remotePort}`);
  }

  #adopt(socket: Socket, remote: string): Connection {
    const connection: Connection = {
      id: this.#nextId++,
      socket,
      framer: new SipStreamFramer(this.#limits),
      remote,
    };
    this.#connections.set(connection.id, connection);
    this.#byRemote.set(remote, connection);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#stream(connection, chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.#connections.delete(connection.id);
      if (this.#byRemote.get(remote) === connection) this.#byRemote.delete(remote);
      const [host, port] = splitRemote(remote);
      this.#handler?.onTransportError({ transport: 'tcp', host, port, connection: connection.id });
    });
    return connection;
  }

  #stream(connection: Connection, chunk: Buffer): void {
    const [host, port] = splitRemote(connection.remote);
    const source: SipDestination = { transport: 'tcp', host, port, connection: connection.id };
    let items: ReturnType<SipStreamFramer['push']>;
    try {
      items = connection.framer.push(chunk);
    } catch {
      return; // fed after an error: the connection is already closing
    }
    for (const item of items) {
      if (item.kind === 'ping') this.#write(connection, new Uint8Array([13, 10]));
      else if (item.kind === 'invalid') this.#handler?.onInvalid(item.error, source);
      else if (item.kind === 'message') this.#handler?.onMessage(item.message, source);
      else {
        // The stream is out of step: answer what can be answered, then close this connection only.
        this.#handler?.onInvalid(item.error, source);
        this.#o.onConnectionError?.(item.error, connection.remote);
        connection.socket.end();
      }
    }
  }

  /** Sends a message: over UDP, or over the named (or an existing, or a new) TCP connection. */
  send(message: SipMessage, to: SipDestination): void {
    if (this.#closed) return;
    const bytes = serializeSipMessage(message);
    if (to.transport === 'udp') {
      if (!this.#udp) {
        queueMicrotask(() => this.#handler?.onTransportError(to));
        return;
      }
      this.#udp.send(bytes, to.port, to.host, (error) => {
        if (error) this.#handler?.onTransportError(to);
      });
      return;
    }
    let connection = to.connection === undefined ? undefined : this.#connections.get(to.connection);
    connection ??= this.#byRemote.get(`${to.host}:${to.port}`);
    connection ??= this.#connect(to);
    if (!connection) {
      queueMicrotask(() => this.#handler?.onTransportError(to));
      return;
    }
    this.#write(connection, bytes);
  }

  #connect(to: SipDestination): Connection | undefined {
    if (this.#connections.size >= (this.#o.maxConnections ?? 1024)) return undefined;
    const socket = createConnection({ host: to.host, port: to.port });
    const connection = this.#adopt(socket, `${to.host}:${to.port}`);
    const timer = setTimeout(() => socket.destroy(), this.#o.connectTimeout ?? 5000);
    timer.unref?.();
    socket.once('connect', () => clearTimeout(timer));
    socket.once('close', () => clearTimeout(timer));
    return connection;
  }

  #write(connection: Connection, bytes: Uint8Array): void {
    const { socket } = connection;
    if (socket.destroyed) return;
    if (socket.writableLength + bytes.length > (this.#o.maxBacklog ?? 1024 * 1024)) {
      this.#o.onConnectionError?.(
        new SipSlowConsumerError(`peer ${connection.remote} stopped reading`),
        connection.remote,
      );
      socket.destroy();
      return;
    }
    socket.write(bytes);
  }

  /** True when TCP connection `id` is open. */
  hasConnection(id: number): boolean {
    return this.#connections.has(id);
  }

  /** Closes every socket. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const connection of this.#connections.values()) connection.socket.destroy();
    const udp = this.#udp;
    if (udp) await new Promise<void>((resolve) => udp.close(() => resolve())).catch(() => undefined);
    const tcp = this.#tcp;
    if (tcp?.listening) await new Promise<void>((resolve) => tcp.close(() => resolve()));
    this.#udp = undefined;
    this.#tcp = undefined;
  }
}

function splitRemote(remote: string): [string, number] {
  const at = remote.lastIndexOf(':');
  return [remote.slice(0, at), Number(remote.slice(at + 1))];
}
