import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { socksConnect } from '@crosstalk/gateway/testing';

/** A dial function: straight to the server, or through a SOCKS4 proxy (our gateway or dante). */
export function socksVia(
  proxy: { host: string; port: number } | undefined,
): (host: string, port: number) => Promise<Socket> {
  if (proxy) return (host, port) => socksConnect(proxy, host, port);
  return async (host, port) => {
    const socket = connect(port, host);
    socket.setNoDelay(true);
    await once(socket, 'connect');
    return socket;
  };
}
