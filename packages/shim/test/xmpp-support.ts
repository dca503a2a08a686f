import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';

/** One relayed connection: what the client wrote, and a way to cut it. */
export interface Relayed {
  /** The client's bytes, in order, as the server got them. */
  fromClient: Buffer[];
  /** Drops both sides at once (a network failure). */
  cut(): void;
}

/**
 * A TCP relay on 127.0.0.1 (a free port) in front of `upstream`, recording what each client writes:
 * what a passive observer of the network sees of the client's side.
 */
export async function startRelay(upstream: { host: string; port: number }) {
  const connections: Relayed[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const up = connect(upstream.port, upstream.host);
    const fromClient: Buffer[] = [];
    connections.push({
      fromClient,
      cut: () => {
        client.destroy();
        up.destroy();
      },
    });
    for (const s of [client, up]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.on('data', (d: Buffer) => fromClient.push(Buffer.from(d)));
    client.pipe(up);
    up.pipe(client);
    client.on('close', () => up.destroy());
    up.on('close', () => client.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    connections,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/**
 * A server that is not a real XMPP server: for each `[trigger, reply]` in order, once what the
 * client sent so far contains `trigger`, it writes `reply` (in one write). Records what the client
 * sent. For the negotiation's refusals.
 */
export async function startFakeServer(script: readonly (readonly [string, string])[]) {
  const received: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    let step = 0;
    socket.on('data', (d: Buffer) => {
      received.push(Buffer.from(d));
      const text = Buffer.concat(received).toString('latin1');
      while (step < script.length && text.includes(script[step]![0])) socket.write(script[step++]![1]);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    received,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
