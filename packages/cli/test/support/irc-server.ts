import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { WaitingInbox } from '@crosstalk/core';

/**
 * A toy IRC server on a free loopback port, enough for the toy IRC codec's login: `NICK` then
 * `USER` get the RFC 2812 §5.1 welcome (`001`), `PING` its `PONG`; every line it reads is kept, so
 * a test can see what the gateway let through and what it withheld.
 */
export interface ToyIrcServer {
  host: string;
  port: number;
  /** Every line clients sent, in order, without the line end (the latest 10,000). */
  readonly received: string[];
  /** Resolves once a client sent a line matching `pattern` (at once if one already did); else a `WaitTimeoutError` after 20 s. */
  nextLine(pattern: RegExp): Promise<string>;
  close(): Promise<void>;
}

export async function startToyIrcServer(): Promise<ToyIrcServer> {
  const received = new WaitingInbox<string>({ name: 'toy IRC server', timeoutMs: 20_000 });
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let nick = '*';
    let carry = '';
    socket.on('data', (data: Buffer) => {
      const lines = (carry + data.toString('utf8')).split('\n');
      carry = lines.pop() ?? '';
      for (const raw of lines) {
        const line = raw.replace(/\r$/, '');
        received.push(line);
        const [command, first] = line.split(' ');
        if (command === 'NICK' && first) nick = first;
        if (command === 'USER')
          socket.write(`:irc.test 001 ${nick} :Welcome to the toy IRC network ${nick}\r\n`);
        if (command === 'PING')
          socket.write(`:irc.test PONG irc.test :${line.slice(line.indexOf(':') + 1)}\r\n`);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    host: '127.0.0.1',
    port,
    // The inbox's own array, kept in place: a live view.
    received: received.items as string[],
    nextLine: (pattern) =>
      received.waitFor((line) => pattern.test(line), { what: `a line matching ${pattern}` }),
    async close() {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

/** Reads lines from a client socket, for waiting on what the server (through the gateway) sent. */
export function lineReader(socket: Socket): { nextLine(pattern: RegExp): Promise<string> } {
  const lines = new WaitingInbox<string>({ name: 'IRC client', timeoutMs: 20_000 });
  let carry = '';
  socket.on('data', (data: Buffer) => {
    const parts = (carry + data.toString('utf8')).split('\n');
    carry = parts.pop() ?? '';
    for (const raw of parts) {
      lines.push(raw.replace(/\r$/, ''));
    }
  });
  return {
    nextLine: (pattern) =>
      lines.waitFor((line) => pattern.test(line), { what: `a line matching ${pattern}` }),
  };
}
