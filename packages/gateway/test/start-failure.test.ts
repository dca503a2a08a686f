import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { toyCodec } from '@crosstalk/compliance';
import { afterEach, describe, expect, it } from 'vitest';
import { createGateway } from '../src/index.js';

const servers: Server[] = [];

async function listen(port = 0): Promise<Server> {
  const server = createServer();
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  return server;
}

const portOf = (server: Server) => (server.address() as { port: number }).port;

/** A port nobody listens on: taken from the kernel, then given back. */
async function freePort(): Promise<number> {
  const server = await listen();
  const port = portOf(server);
  servers.splice(servers.indexOf(server), 1);
  server.close();
  await once(server, 'close');
  return port;
}

/** Whether `port` can be listened on again, i.e. the gateway left nothing open there. */
async function isFree(port: number): Promise<boolean> {
  try {
    const server = await listen(port);
    servers.splice(servers.indexOf(server), 1);
    server.close();
    await once(server, 'close');
    return true;
  } catch {
    return false;
  }
}

afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.close();
    await once(s, 'close');
  }
});

describe('a gateway that cannot start', () => {
  it('rejects when the SOCKS port is taken, and closes the G2G listener it had opened', async () => {
    const taken = await listen();
    const g2gPort = await freePort();
    await expect(
      createGateway({
        codecs: [toyCodec()],
        socks: { host: '127.0.0.1', port: portOf(taken) },
        g2g: { host: '127.0.0.1', port: g2gPort },
        logger: false,
      }),
    ).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect(await isFree(g2gPort)).toBe(true);
  });

  it('rejects when the metrics port is taken, and closes the SOCKS and G2G listeners', async () => {
    const taken = await listen();
    const [socksPort, g2gPort] = [await freePort(), await freePort()];
    await expect(
      createGateway({
        codecs: [toyCodec()],
        socks: { host: '127.0.0.1', port: socksPort },
        g2g: { host: '127.0.0.1', port: g2gPort },
        metrics: { host: '127.0.0.1', port: portOf(taken) },
        logger: false,
      }),
    ).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect(await isFree(socksPort)).toBe(true);
    expect(await isFree(g2gPort)).toBe(true);
  });
});
