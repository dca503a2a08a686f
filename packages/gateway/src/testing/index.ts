import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { socks4ConnectRequest } from '../socks/socks4.js';

/**
 * Opens a TCP connection to `host:port` through a SOCKS4 (IPv4 address) or SOCKS4a (name) proxy, as
 * an unmodified IM client configured with a SOCKS proxy does. Resolves once the proxy granted it.
 */
export async function socksConnect(
  proxy: { host: string; port: number },
  host: string,
  port: number,
): Promise<Socket> {
  const socket = connect(proxy.port, proxy.host);
  socket.setNoDelay(true);
  await once(socket, 'connect');
  socket.write(socks4ConnectRequest(host, port));
  const reply = await new Promise<Buffer>((resolve, reject) => {
    let got = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length < 8) return;
      socket.off('data', onData);
      socket.off('close', onClose);
      const rest = got.subarray(8);
      if (rest.length) socket.unshift(rest);
      resolve(got.subarray(0, 8));
    };
    const onClose = () => reject(new Error('SOCKS proxy closed the connection before replying'));
    socket.on('data', onData);
    socket.once('close', onClose);
  });
  if (reply[1] !== 90) {
    socket.destroy();
    throw new Error(`SOCKS proxy refused ${host}:${port} (reply ${reply[1]})`);
  }
  return socket;
}

/** An echo server on 127.0.0.1 (port 0): the simplest "unknown protocol" peer. */
export async function startEchoServer(): Promise<{
  host: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.pipe(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    host: '127.0.0.1',
    port: (server.address() as { port: number }).port,
    server,
    async close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}
