import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import {
  type Address,
  addressEquals,
  type CanonicalEvent,
  type Codec,
  defaultIsForeign,
  MemoryCookieTable,
  type ProxySession,
  type RosterItem,
  type SessionContext,
  type SessionEvent,
  type SessionOutput,
  type VirtualEndpoints,
  WaitingInbox,
} from '@crosstalk/core';

/**
 * A plain TCP relay that pumps one codec's proxy sessions between a real client and a real (or
 * mock) server on loopback: what the gateway engine does, minus SOCKS, the DHT and G2G. Codec
 * packages use it for interop tests before the gateway exists.
 */
export interface SessionRelayOptions {
  /** The codec whose sessions run on the connections. */
  codec: Codec;
  /** The server every client connection is relayed to. */
  upstream: { host: string; port: number };
  /** Which addresses are foreign (the sessions' `SessionContext.isForeign`). */
  isForeign?: (a: Address) => boolean;
  /** The foreign buddies merged into a user's roster. */
  foreignRoster?: (owner: Address) => readonly RosterItem[];
}

/** A session event, and the connection it came from. */
export interface RelayedEvent {
  /** The connection's id. */
  connectionId: string;
  /** What its session reported. */
  event: SessionEvent;
}

/** One client connection through a session relay, with its session and sockets. */
export interface RelayedConnection {
  /** The connection's id. */
  id: string;
  /** Its proxy session. */
  session: ProxySession;
  /** The client's socket. */
  client: Socket;
  /** The server's socket; undefined for a virtual endpoint, and once the session released it. */
  server: Socket | undefined;
  /** True when the client connected to a virtual endpoint. */
  virtual: boolean;
}

/** A running session relay (`startSessionRelay`): what its sessions reported, and its connections. */
export interface SessionRelay {
  /** Where the relay listens. */
  host: string;
  /** Its port. */
  port: number;
  /**
   * The events the sessions reported, in order (a live view; the latest 10,000, core's
   * `WaitingInbox` default capacity, the oldest dropped first).
   */
  readonly events: RelayedEvent[];
  /** Every connection so far. */
  readonly connections: RelayedConnection[];
  /** Resolves with the first event (past or future) that matches; else a `WaitTimeoutError` (`@crosstalk/core`). */
  waitFor(predicate: (e: RelayedEvent) => boolean, timeoutMs?: number): Promise<RelayedEvent>;
  /** Injects `event` into the best connection of `event.to`'s user (highest `affinity`). */
  deliver(event: CanonicalEvent & { to?: Address }): void;
  /** Protocol errors that closed a connection. */
  readonly errors: { connectionId: string; error: unknown }[];
  /** Stops the relay and closes its connections. */
  close(): Promise<void>;
}

/**
 * Starts a relay on loopback that runs a codec's proxy session on every connection between a client and a
 * server, as the gateway does, recording what the sessions report.
 */
export async function startSessionRelay(options: SessionRelayOptions): Promise<SessionRelay> {
  // Past or future, for `waitFor`; unref'd timers, so an abandoned wait does not hold the process.
  const events = new WaitingInbox<RelayedEvent>({ name: 'relay', unrefTimers: true });
  const errors: { connectionId: string; error: unknown }[] = [];
  const connections: RelayedConnection[] = [];
  const cookies = new MemoryCookieTable();
  const sockets = new Set<Socket>();
  let nextId = 0;
  let nextEventId = 0;
  // Virtual endpoints: one extra listener; connections to it take pending allocations in order.
  const pendingVirtual: unknown[] = [];
  let virtualServer: Server | undefined;
  let virtualPort = 0;

  const record = (connectionId: string, out: SessionOutput) => {
    for (const event of out.events) events.push({ connectionId, event });
  };

  const write = (conn: RelayedConnection, out: SessionOutput) => {
    for (const b of out.toServer) conn.server?.write(b);
    for (const b of out.toClient) conn.client.write(b);
    // As the gateway engine does: the server's socket is ended and forgotten, the client's stays.
    if (conn.server && out.events.some((e) => e.type === 'server-released')) {
      conn.server.end();
      conn.server = undefined;
    }
    record(conn.id, out);
  };

  const fail = (conn: RelayedConnection, error: unknown) => {
    errors.push({ connectionId: conn.id, error });
    conn.client.destroy();
    conn.server?.destroy();
  };

  const endpoints: VirtualEndpoints = {
    allocate(_protocol, data) {
      pendingVirtual.push(data);
      return { host: '127.0.0.1', port: virtualPort };
    },
    release() {},
  };

  const context = (id: string, virtual?: { data: unknown }): SessionContext => ({
    connectionId: id,
    target: options.upstream,
    isForeign: options.isForeign ?? defaultIsForeign(options.codec.networks),
    foreignRoster: options.foreignRoster ?? (() => []),
    cookies,
    endpoints,
    ...(virtual ? { virtual } : {}),
    now: () => Date.now(),
    newId: () => `relay-${++nextEventId}`,
  });

  const accept = (client: Socket, virtual: { data: unknown } | undefined) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    const id = `c${++nextId}`;
    const session = options.codec.openSession(context(id, virtual));
    const server = virtual ? undefined : connect(options.upstream.port, options.upstream.host);
    if (server) {
      sockets.add(server);
      server.on('close', () => sockets.delete(server));
    }
    const conn: RelayedConnection = { id, session, client, server, virtual: virtual !== undefined };
    connections.push(conn);
    const pump = (from: 'client' | 'server', chunk: Buffer) => {
      try {
        write(conn, from === 'client' ? session.fromClient(chunk) : session.fromServer(chunk));
      } catch (error) {
        fail(conn, error);
      }
    };
    client.on('data', (c: Buffer) => pump('client', c));
    client.on('error', () => server?.destroy());
    client.on('close', () => {
      try {
        write(conn, session.close('client closed'));
      } catch {
        // already failed
      }
      server?.end();
    });
    if (server) {
      // A released server socket is no longer this connection's to react to.
      server.on('data', (c: Buffer) => conn.server === server && pump('server', c));
      server.on('error', () => conn.server === server && client.destroy());
      server.on('close', () => conn.server === server && client.end());
    }
  };

  const server = createServer((socket) => accept(socket, undefined));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  virtualServer = createServer((socket) => {
    const data = pendingVirtual.shift();
    if (data === undefined) socket.destroy();
    else accept(socket, { data });
  });
  virtualServer.listen(0, '127.0.0.1');
  await once(virtualServer, 'listening');
  virtualPort = (virtualServer.address() as { port: number }).port;

  return {
    host: '127.0.0.1',
    port: (server.address() as { port: number }).port,
    get events() {
      return events.items as RelayedEvent[];
    },
    connections,
    errors,
    waitFor(predicate, timeoutMs = 10_000) {
      return events.waitFor(predicate, { timeoutMs, what: 'matching session event' });
    },
    deliver(event) {
      const to = event.to;
      if (!to) throw new TypeError('deliver needs an event with a `to` address');
      let best: RelayedConnection | undefined;
      let bestScore = 0;
      for (const c of connections) {
        if (c.client.destroyed || !c.session.user || !addressEquals(c.session.user, to)) continue;
        const score = c.session.affinity(event);
        if (score > bestScore) {
          best = c;
          bestScore = score;
        }
      }
      if (!best) throw new Error(`relay: no connection of ${to.user}@${to.network} can take a ${event.kind}`);
      write(best, best.session.deliver(event));
    },
    async close() {
      for (const s of sockets) s.destroy();
      server.close();
      virtualServer?.close();
    },
  };
}
