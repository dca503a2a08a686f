import { once } from 'node:events';
import { connect } from 'node:net';
import { toyCodec, toyFrame } from '@crosstalk/compliance';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway, type Gateway, socks4ConnectRequest } from '../src/index.js';
import { socksConnect, startEchoServer } from '../src/testing/index.js';

let gateway: Gateway;
let echo: Awaited<ReturnType<typeof startEchoServer>>;

beforeAll(async () => {
  echo = await startEchoServer();
  gateway = await createGateway({
    codecs: [toyCodec()],
    socks: { port: 0 },
    logger: false,
    timeouts: { sniff: 200 },
  });
});
afterAll(async () => {
  await gateway.close();
  await echo.close();
});

async function rawRequest(bytes: Uint8Array): Promise<Buffer> {
  const socket = connect(gateway.socks.port, gateway.socks.host);
  await once(socket, 'connect');
  socket.write(bytes);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  await once(socket, 'close');
  return Buffer.concat(chunks);
}

async function roundTrip(payload: Uint8Array): Promise<Buffer> {
  const socket = await socksConnect(gateway.socks, echo.host, echo.port);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.write(payload);
  while (Buffer.concat(chunks).length < payload.length) await once(socket, 'data');
  socket.destroy();
  return Buffer.concat(chunks);
}

describe('SOCKS front', () => {
  it('relays an unrecognised protocol untouched (a plain SOCKS4 proxy)', async () => {
    const payload = Buffer.from('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'.repeat(100));
    expect(await roundTrip(payload)).toEqual(payload);
  });

  it('relays a stream where nobody speaks first after the sniff timeout', async () => {
    const socket = await socksConnect(gateway.socks, echo.host, echo.port);
    await new Promise((r) => setTimeout(r, 300));
    socket.write('late');
    const [data] = await once(socket, 'data');
    expect(String(data)).toBe('late');
    socket.destroy();
  });

  it('frees the upstream at once when a client hangs up before saying anything', async () => {
    // A sniff timeout far beyond the test's: only the client's hang-up can end the upstream.
    const patient = await createGateway({
      codecs: [toyCodec()],
      socks: { port: 0 },
      logger: false,
      timeouts: { sniff: 600_000 },
    });
    try {
      const upstream = once(echo.server, 'connection');
      const socket = await socksConnect(patient.socks, echo.host, echo.port);
      const [server] = (await upstream) as [import('node:net').Socket];
      const serverClosed = once(server, 'close');
      socket.end();
      await serverClosed;
      await once(socket, 'close');
    } finally {
      await patient.close();
    }
  });

  it('runs recognised protocols through their codec session', async () => {
    const frames = Buffer.concat([toyFrame('T:hello'), toyFrame('T:again')]);
    expect(await roundTrip(frames)).toEqual(frames);
  });

  it('refuses BIND with reply 91', async () => {
    const bind = Uint8Array.from([4, 2, 0, 80, 127, 0, 0, 1, 0]);
    expect([...(await rawRequest(bind))]).toEqual([0, 91, 0, 0, 0, 0, 0, 0]);
  });

  it('refuses a destination outside the policy without dialling it', async () => {
    const reply = await rawRequest(socks4ConnectRequest('192.0.2.1', 5190));
    expect(reply[1]).toBe(91);
  });

  it('refuses an unreachable upstream', async () => {
    const closed = await startEchoServer();
    await closed.close();
    await new Promise((r) => setTimeout(r, 20));
    const reply = await rawRequest(socks4ConnectRequest('127.0.0.1', closed.port));
    expect(reply[1]).toBe(91);
  });

  it('answers a garbage request with 91 and closes only that connection', async () => {
    const survivor = await socksConnect(gateway.socks, echo.host, echo.port);
    expect((await rawRequest(Uint8Array.of(5, 1, 0, 80)))[1]).toBe(91);
    survivor.write('still here');
    const [data] = await once(survivor, 'data');
    expect(String(data)).toBe('still here');
    survivor.destroy();
  });

  it('a protocol error ends only its own connection', async () => {
    const healthy = await socksConnect(gateway.socks, echo.host, echo.port);
    const broken = await socksConnect(gateway.socks, echo.host, echo.port);
    broken.write(Buffer.concat([toyFrame('T:ok'), Buffer.from([0xc7, 0x7f, 0xff])])); // toy cap is 1024
    const refused = new Promise((resolve) => gateway.on((e) => e.type === 'refused' && resolve(e)));
    await refused;
    healthy.write(toyFrame('T:fine'));
    const [data] = await once(healthy, 'data');
    expect(Buffer.from(data)).toEqual(Buffer.from(toyFrame('T:fine')));
    healthy.destroy();
    broken.destroy();
  });
});

describe('metrics endpoint', () => {
  it('serves Prometheus text with sessions, translations and latency', async () => {
    const g = await createGateway({
      codecs: [toyCodec()],
      socks: { port: 0 },
      metrics: { port: 0 },
      logger: false,
    });
    try {
      const socket = await socksConnect(g.socks, echo.host, echo.port);
      socket.write(toyFrame('T:counted'));
      await once(socket, 'data');
      const res = await fetch(`http://127.0.0.1:${g.metricsAddress!.port}/metrics`);
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).toMatch(/crosstalk_sessions\{protocol="toy"\} 1/);
      for (const name of [
        'crosstalk_translated_events_total',
        'crosstalk_delivery_latency_seconds_bucket',
        'crosstalk_refused_total',
      ]) {
        expect(text).toContain(name);
      }
      expect((await fetch(`http://127.0.0.1:${g.metricsAddress!.port}/other`)).status).toBe(404);
      socket.destroy();
    } finally {
      await g.close();
    }
  });
});

describe('a session that releases its server connection (server-released)', () => {
  it('ends the upstream and keeps serving the client alone', async () => {
    // A toy session: the frame `T:release` sends `T:bye` upstream and releases it; from then on every
    // frame is answered locally (as an MSNP switchboard with foreign buddies only is).
    const toy = toyCodec();
    let released = false;
    const codec: typeof toy = {
      ...toy,
      openSession: () => ({
        protocol: 'toy',
        state: 'connecting',
        user: undefined,
        fromClient: (b) => {
          const text = Buffer.from(b).subarray(3).toString();
          if (text === 'T:release') {
            released = true;
            return {
              toServer: [toyFrame('T:bye')],
              toClient: [toyFrame('T:released')],
              events: [{ type: 'server-released', reason: 'test' }],
            };
          }
          return released
            ? { toServer: [], toClient: [toyFrame(`T:local ${text}`)], events: [] }
            : { toServer: [b], toClient: [], events: [] };
        },
        fromServer: (b) => ({ toServer: [], toClient: [b], events: [] }),
        deliver: () => ({ toServer: [], toClient: [], events: [] }),
        close: () => ({ toServer: [], toClient: [], events: [] }),
        affinity: () => 0,
      }),
    };
    const releasing = await createGateway({ codecs: [codec], socks: { port: 0 }, logger: false });
    try {
      const upstream = once(echo.server, 'connection');
      const socket = await socksConnect(releasing.socks, echo.host, echo.port);
      const [server] = (await upstream) as [import('node:net').Socket];
      const received: Buffer[] = [];
      server.on('data', (c: Buffer) => received.push(c));
      const serverEnded = once(server, 'end');
      const replies: Buffer[] = [];
      socket.on('data', (c: Buffer) => replies.push(c));
      const until = async (text: string) => {
        while (!Buffer.concat(replies).includes(text)) await once(socket, 'data');
      };
      // Before the release the upstream is relayed (the echo server answers).
      socket.write(toyFrame('T:hello'));
      await until('T:hello');
      socket.write(toyFrame('T:release'));
      await until('T:released');
      // The server got the last words and its connection was ended: one descriptor fewer.
      await serverEnded;
      expect(Buffer.concat(received).includes('T:bye')).toBe(true);
      // The client's connection stays, served by the session alone.
      socket.write(toyFrame('T:still'));
      await until('T:local T:still');
      expect(socket.destroyed).toBe(false);
      socket.destroy();
    } finally {
      await releasing.close();
    }
  });
});
