import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';

/**
 * A toy IRC server on a free loopback port, enough for the toy IRC codec's login: `NICK` then
 * `USER` get the RFC 2812 §5.1 welcome (`001`), `PING` its `PONG`; every line it reads is kept, so
 * a test can see what the gateway let through and what it withheld.
 */
export interface ToyIrcServer {
  host: string;
  port: number;
  /** Every line clients sent, in order, without the line end. */
  readonly received: string[];
  /** Resolves once a client sent a line matching `pattern` (at once if one already did). */
  nextLine(pattern: RegExp): Promise<string>;
  close(): Promise<void>;
}

export async function startToyIrcServer(): Promise<ToyIrcServer> {
  const received: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
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
        for (const w of [...waiters]) {
          if (!w.pattern.test(line)) continue;
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    host: '127.0.0.1',
    port,
    received,
    nextLine(pattern) {
      const seen = received.find((line) => pattern.test(line));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.push({ pattern, resolve }));
    },
    async close() {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

/** Reads lines from a client socket, for waiting on what the server (through the gateway) sent. */
export function lineReader(socket: Socket): { nextLine(pattern: RegExp): Promise<string> } {
  const lines: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  let carry = '';
  socket.on('data', (data: Buffer) => {
    const parts = (carry + data.toString('utf8')).split('\n');
    carry = parts.pop() ?? '';
    for (const raw of parts) {
      const line = raw.replace(/\r$/, '');
      lines.push(line);
      for (const w of [...waiters]) {
        if (!w.pattern.test(line)) continue;
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  return {
    nextLine(pattern) {
      const seen = lines.find((line) => pattern.test(line));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.push({ pattern, resolve }));
    },
  };
}
