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
  // A reset during the handshake rejects below; without a listener it would crash the process.
  let failure: Error | undefined;
  const onError = (e: Error) => {
    failure = e;
  };
  socket.on('error', onError);
  await once(socket, 'connect');
  socket.write(socks4ConnectRequest(host, port));
  // Read the 8-byte reply in paused mode: bytes the server sent right after it (OSCAR servers speak
  // first) stay buffered for the caller's own 'data' listener. (Unshifting them in flowing mode
  // would emit them to no listener: they would be lost.)
  const reply = await new Promise<Buffer>((resolve, reject) => {
    const onReadable = () => {
      const got = socket.read(8) as Buffer | null;
      if (got === null) return;
      socket.off('readable', onReadable);
      socket.off('close', onClose);
      resolve(got);
    };
    const onClose = () => reject(failure ?? new Error('SOCKS proxy closed the connection before replying'));
    socket.on('readable', onReadable);
    socket.once('close', onClose);
  }).finally(() => socket.off('error', onError));
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
export * from './endpoint-inbox.js';
export * from './forged-envelope.js';
