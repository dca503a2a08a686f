import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import type { Dial } from '../../src/drivers/index.js';

/**
 * Byte taps for the same-network tests, which compare what both ends of every connection saw with
 * and without a gateway in between.
 */

/** One connection's bytes at one end. */
export interface Streams {
  /** What was written into the connection at this end, in order. */
  sent: Buffer[];
  /** What was read from it at this end, in order. */
  received: Buffer[];
  /** Settles once the connection is closed at this end (both sockets, for a tap's). */
  closed: Promise<void>;
}

/** A client without a proxy: a plain TCP connection to the server (no Nagle delay, as through SOCKS). */
export const directDial: Dial = async (host, port) => {
  const socket = connect(port, host);
  socket.setNoDelay(true);
  await once(socket, 'connect');
  return socket;
};

/** Wraps `dial` to record what the client itself wrote and read on each connection it opens. */
export function recordingDial(dial: Dial, into: Streams[]): Dial {
  return async (host, port) => {
    const socket = await dial(host, port);
    const streams: Streams = { sent: [], received: [], closed: once(socket, 'close').then(() => {}) };
    into.push(streams);
    socket.on('data', (d: Buffer) => streams.received.push(Buffer.from(d)));
    const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
    socket.write = ((chunk: unknown, ...rest: unknown[]) => {
      streams.sent.push(Buffer.from(chunk as string | Uint8Array));
      return write(chunk, ...rest);
    }) as typeof socket.write;
    const end = socket.end.bind(socket) as (...args: unknown[]) => Socket;
    socket.end = ((chunk?: unknown, ...rest: unknown[]) => {
      if (typeof chunk === 'string' || chunk instanceof Uint8Array) streams.sent.push(Buffer.from(chunk));
      return end(chunk, ...rest);
    }) as typeof socket.end;
    return socket;
  };
}

/**
 * A TCP relay (127.0.0.1, a free port) in front of `upstream`, recording each connection's bytes as
 * the server sees them: `sent` is what the server wrote, `received` what it read. Each half of a
 * connection is closed as the other end closes it.
 */
export async function startServerTap(upstream: { host: string; port: number }) {
  const connections: Streams[] = [];
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (client) => {
    const up = connect({ port: upstream.port, host: upstream.host, allowHalfOpen: true });
    const streams: Streams = {
      sent: [],
      received: [],
      closed: Promise.all([once(client, 'close'), once(up, 'close')]).then(() => {}),
    };
    connections.push(streams);
    for (const s of [client, up]) {
      s.setNoDelay(true);
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        up.destroy();
      });
    }
    client.on('data', (d: Buffer) => {
      streams.received.push(Buffer.from(d));
      up.write(d);
    });
    up.on('data', (d: Buffer) => {
      streams.sent.push(Buffer.from(d));
      client.write(d);
    });
    client.on('end', () => up.end());
    up.on('end', () => client.end());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const at = { host: '127.0.0.1', port: (server.address() as { port: number }).port };
  return {
    ...at,
    connections,
    /** `dial`, pointed at the tap in place of whatever server the client names. */
    via:
      (dial: Dial): Dial =>
      (_host, _port) =>
        dial(at.host, at.port),
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
