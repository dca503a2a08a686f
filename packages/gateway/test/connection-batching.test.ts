import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Codec, ProxySession, SessionOutput } from '@crosstalk/core';
import { afterEach, describe, expect, it } from 'vitest';
import { ProxiedConnection } from '../src/engine/connection.js';

const opened: { server: Server; sockets: Socket[] }[] = [];

/** Two ends of one loopback TCP connection. */
async function socketPair(): Promise<{ near: Socket; far: Socket }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address() as { port: number };
  const accepted = once(server, 'connection');
  const near = connect(address.port, '127.0.0.1');
  await once(near, 'connect');
  const [far] = (await accepted) as [Socket];
  opened.push({ server, sockets: [near, far] });
  return { near, far };
}

afterEach(async () => {
  for (const { server, sockets } of opened.splice(0)) {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});

const nothing = (): SessionOutput => ({ toClient: [], toServer: [], events: [] });

describe('ProxiedConnection writes', () => {
  it('what one event-loop turn writes to one socket leaves in one write call', async () => {
    const { near: client, far: peer } = await socketPair();
    // Every call that hands bytes to the socket's handle: one per system call (writev or write).
    let calls = 0;
    const spied = client as Socket & {
      _write: (...a: unknown[]) => void;
      _writev: (...a: unknown[]) => void;
    };
    const write = spied._write.bind(client);
    const writev = spied._writev.bind(client);
    spied._write = (...a) => {
      calls++;
      write(...a);
    };
    spied._writev = (...a) => {
      calls++;
      writev(...a);
    };
    const session = { user: undefined, close: nothing } as unknown as ProxySession;
    const connection = new ProxiedConnection({
      id: 'c1',
      codec: {} as Codec,
      session,
      client,
      upstream: undefined,
      target: { host: '127.0.0.1', port: 1 },
      hooks: { onOpen() {}, onEvent() {}, onClose() {}, onError() {} },
      maxBacklog: 1024 * 1024,
    });
    const received: Buffer[] = [];
    let length = 0;
    const arrived = new Promise<void>((resolve) =>
      peer.on('data', (chunk: Buffer) => {
        received.push(chunk);
        length += chunk.length;
        if (length >= 8) resolve();
      }),
    );
    // Two frames for one client in one turn (a burst of events for one user).
    connection.inject({ ...nothing(), toClient: [Buffer.from('one\n')] });
    connection.inject({ ...nothing(), toClient: [Buffer.from('two\n')] });
    await arrived;
    expect(Buffer.concat(received).toString()).toBe('one\ntwo\n');
    expect(calls).toBe(1);
    connection.close('done');
  });
});
