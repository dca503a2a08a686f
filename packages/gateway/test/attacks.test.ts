import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { toyCodec } from '@crosstalk/compliance';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createGateway,
  G2G_PRE_AUTH_BYTES,
  G2gNode,
  G2gRefusedError,
  type Gateway,
  type GatewayOptions,
  generateIdentity,
  socks4ConnectRequest,
  TcpG2gTransport,
} from '../src/index.js';
import { socksConnect, startEchoServer } from '../src/testing/index.js';

/**
 * Attacks on a gateway open to the internet, end to end over real sockets: each is refused,
 * counted in `crosstalk_refused_total{reason}`, logged, and other users are unaffected. Attackers
 * connect from 127.0.0.2 and up (Linux routes all of 127.0.0.0/8 to loopback), users from 127.0.0.1.
 */
const gateways: Gateway[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const g of gateways.splice(0)) await g.close();
});

interface LogLine {
  msg: string;
  reason?: string;
  source?: string;
}

async function gateway(options: Partial<GatewayOptions> = {}) {
  const logs: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line));
      done();
    },
  });
  const g = await createGateway({
    codecs: [toyCodec()],
    socks: { port: 0 },
    logger: pino({ level: 'info' }, sink),
    ...options,
  });
  gateways.push(g);
  const refused = async (reason: string) =>
    (await g.metrics.refused.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
  return { g, logs, refused };
}

/** A raw TCP connection to `port`, optionally from another loopback address. */
async function raw(port: number, from?: string): Promise<Socket> {
  const s = connect({ host: '127.0.0.1', port, ...(from ? { localAddress: from } : {}) });
  sockets.push(s);
  s.on('error', () => {});
  await once(s, 'connect');
  return s;
}

/** Resolves with what the peer sent once it closed the connection. */
async function closedWith(s: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  // A reset (we closed with unread bytes) is a close too.
  if (!s.destroyed) await new Promise((resolve) => s.once('close', resolve));
  return Buffer.concat(chunks);
}

/** The first bytes the peer sends, or undefined when it closes without a word. */
async function firstBytes(s: Socket): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    s.once('data', (c: Buffer) => resolve(c));
    s.once('close', () => resolve(undefined));
  });
}

/** A peer gateway: its event reaches the gateway when the gateway answers it (a refusal is an answer). */
function peerNode() {
  const n = new G2gNode({
    transport: new TcpG2gTransport({ identity: generateIdentity() }),
    onEvent: async () => 'x',
  });
  return {
    async reaches(g: Gateway) {
      const event = Buffer.from(
        JSON.stringify({ kind: 'typing', from: 'a@aol', to: 'b@yahoo', state: 'paused' }),
      );
      const error = await n.send({ id: g.id, contact: g.contact }, event).catch((e) => e);
      return error instanceof G2gRefusedError;
    },
    close: () => n.close(),
  };
}

async function echoThrough(g: Gateway, echo: { host: string; port: number }): Promise<string> {
  const s = await socksConnect(g.socks, echo.host, echo.port);
  sockets.push(s);
  s.write('still here');
  const [data] = await once(s, 'data');
  s.destroy();
  return String(data);
}

/**
 * The first Noise XX message as secret-stream frames it: a u24 little-endian length, then the
 * initiator's ephemeral public key (any ed25519 public key will do).
 */
const noiseMessage1 = () =>
  Buffer.concat([Buffer.from([32, 0, 0]), Buffer.from(generateIdentity().id, 'hex')]);

describe('G2G before authentication', () => {
  it('a peer that never completes its handshake is cut off at the deadline, counted and logged', async () => {
    const { g, logs, refused } = await gateway({ timeouts: { g2gHandshake: 300 } });
    const silent = await raw(g.g2g!.port, '127.0.0.2');
    const firstMessageOnly = await raw(g.g2g!.port, '127.0.0.2');
    firstMessageOnly.write(noiseMessage1());
    await Promise.all([closedWith(silent), closedWith(firstMessageOnly)]);
    expect(await refused('ERR_G2G_HANDSHAKE_TIMEOUT')).toBe(2);
    expect(
      logs.filter((l) => l.msg === 'refused a G2G connection' && /ERR_G2G_HANDSHAKE_TIMEOUT/.test(l.reason!)),
    ).toHaveLength(2);
    const peer = peerNode();
    expect(await peer.reaches(g)).toBe(true);
    await peer.close();
  });

  it('a handshake message bigger than the small pre-auth bound is refused at once, not buffered', async () => {
    // The deadline is far away: the connections close because of what they sent.
    const { g, refused } = await gateway({ timeouts: { g2gHandshake: 600_000 } });
    const flooders = await Promise.all(Array.from({ length: 6 }, () => raw(g.g2g!.port, '127.0.0.2')));
    for (const [i, s] of flooders.entries()) {
      // A Noise message announcing 1 MiB (u24 little-endian), then part of it; or, from the
      // second half, a proper first message followed by one announcing just over the bound.
      const huge = Buffer.from([0, 0, 16]);
      const over = Buffer.alloc(3);
      over.writeUIntLE(G2G_PRE_AUTH_BYTES, 0, 3);
      s.write(
        i < 3 ? Buffer.concat([huge, Buffer.alloc(64 * 1024, 0xaa)]) : Buffer.concat([noiseMessage1(), over]),
      );
    }
    await Promise.all(flooders.map(closedWith));
    expect(await refused('ERR_G2G_PROTOCOL')).toBe(6);
    const peer = peerNode();
    expect(await peer.reaches(g)).toBe(true);
    await peer.close();
  });

  it('unauthenticated connections are capped per source and in total; linked peers are unaffected', async () => {
    const { g, logs, refused } = await gateway({
      timeouts: { g2gHandshake: 600_000 },
      limits: { g2gPendingPerSource: 3, g2gPending: 5 },
    });
    const linked = peerNode();
    expect(await linked.reaches(g)).toBe(true);
    // Accepted connections hear the gateway's second Noise message; refused ones are closed without a word.
    const hello = async (from: string) => {
      const s = await raw(g.g2g!.port, from);
      s.write(noiseMessage1());
      return firstBytes(s);
    };
    const fromTwo: (Buffer | undefined)[] = [];
    for (let i = 0; i < 5; i++) fromTwo.push(await hello('127.0.0.2'));
    expect(fromTwo.map((b) => b !== undefined)).toEqual([true, true, true, false, false]);
    expect(await refused('ERR_TOO_MANY_FROM_SOURCE')).toBe(2);
    const fromThree: (Buffer | undefined)[] = [];
    for (let i = 0; i < 3; i++) fromThree.push(await hello('127.0.0.3'));
    expect(fromThree.map((b) => b !== undefined)).toEqual([true, true, false]);
    expect(await refused('ERR_TOO_MANY_CONNECTIONS')).toBe(1);
    expect(logs.filter((l) => l.msg === 'refused a G2G connection' && l.source === '127.0.0.2')).toHaveLength(
      2,
    );
    // The peer that had authenticated before the flood still gets through.
    expect(await linked.reaches(g)).toBe(true);
    // Once the flooders are gone, new peers are welcome again.
    for (const s of sockets.splice(0)) s.destroy();
    const later = peerNode();
    let reached = false;
    while (!reached) reached = await later.reaches(g).catch(() => false);
    expect(reached).toBe(true);
    await later.close();
    await linked.close();
  });
});

describe('SOCKS CONNECT to the gateway itself', () => {
  it("is refused for the gateway's SOCKS, G2G and metrics ports, a chain at its first hop", async () => {
    const echo = await startEchoServer();
    const { g, logs, refused } = await gateway({ metrics: { port: 0 } });
    const socksPort = g.socks.port;
    // A client that asks the gateway to connect to itself and, through that, to itself again.
    const chain = await raw(socksPort);
    chain.write(
      Buffer.concat([
        socks4ConnectRequest('127.0.0.1', socksPort),
        socks4ConnectRequest('127.0.0.1', socksPort),
      ]),
    );
    const reply = await closedWith(chain);
    expect(reply.subarray(0, 2)).toEqual(Buffer.from([0, 91]));
    expect(await refused('ERR_PROXY_LOOP')).toBe(1);
    for (const port of [g.g2g!.port, g.metricsAddress!.port]) {
      await expect(socksConnect(g.socks, '127.0.0.1', port)).rejects.toThrow(/reply 91/);
    }
    // SOCKS4a: a name that resolves to the gateway's own address.
    await expect(socksConnect(g.socks, 'localhost', socksPort)).rejects.toThrow(/reply 91/);
    expect(await refused('ERR_PROXY_LOOP')).toBe(4);
    expect(
      logs.filter((l) => l.msg === 'refused a SOCKS request' && /ERR_PROXY_LOOP/.test(l.reason!)),
    ).toHaveLength(4);
    expect(await echoThrough(g, echo)).toBe('still here');
    await echo.close();
  });

  it('is refused through wildcard binds, other loopback addresses and the unspecified address', async () => {
    // Bound to every address; the upstream policy still allows loopback destinations only.
    const { g, refused } = await gateway({ socks: { host: '0.0.0.0', port: 0 }, g2g: { host: '0.0.0.0' } });
    const proxy = { host: '127.0.0.1', port: g.socks.port };
    for (const host of ['127.0.0.1', '127.0.0.2', '0.0.0.0']) {
      await expect(socksConnect(proxy, host, g.socks.port)).rejects.toThrow(/reply 91/);
      await expect(socksConnect(proxy, host, g.g2g!.port)).rejects.toThrow(/reply 91/);
    }
    expect(await refused('ERR_PROXY_LOOP')).toBe(6);
    const echo = await startEchoServer();
    expect(await echoThrough({ ...g, socks: proxy } as Gateway, echo)).toBe('still here');
    await echo.close();
  });
});

describe('SOCKS clients that hold connections', () => {
  it('an idle client and a slowloris are cut off at the request deadline, counted and logged', async () => {
    const echo = await startEchoServer();
    const { g, logs, refused } = await gateway({ timeouts: { socksRequest: 300 } });
    const idle = await raw(g.socks.port, '127.0.0.2');
    const slow = await raw(g.socks.port, '127.0.0.2');
    const request = socks4ConnectRequest(echo.host, echo.port);
    let sent = 0;
    // One byte at a time, never the whole request: the deadline is for the request, not per byte.
    const drip = setInterval(() => {
      if (!slow.destroyed && sent < request.length - 1) slow.write(request.subarray(sent, ++sent));
    }, 20);
    await Promise.all([closedWith(idle), closedWith(slow)]);
    clearInterval(drip);
    expect(await refused('ERR_SOCKS_TIMEOUT')).toBe(2);
    expect(
      logs.filter(
        (l) =>
          l.msg === 'refused a SOCKS request' &&
          /ERR_SOCKS_TIMEOUT/.test(l.reason!) &&
          l.source === '127.0.0.2',
      ),
    ).toHaveLength(2);
    expect(await echoThrough(g, echo)).toBe('still here');
    await echo.close();
  });

  it('connections are capped per source and in total; other sources are unaffected', async () => {
    const echo = await startEchoServer();
    const { g, refused } = await gateway({ limits: { socksConnectionsPerSource: 3, socksConnections: 5 } });
    const granted = async (from: string) => {
      const s = await raw(g.socks.port, from);
      s.write(socks4ConnectRequest(echo.host, echo.port));
      const reply = await firstBytes(s);
      return reply?.[1] === 90;
    };
    const fromTwo: boolean[] = [];
    for (let i = 0; i < 4; i++) fromTwo.push(await granted('127.0.0.2'));
    expect(fromTwo).toEqual([true, true, true, false]);
    expect(await refused('ERR_TOO_MANY_FROM_SOURCE')).toBe(1);
    const fromThree: boolean[] = [];
    for (let i = 0; i < 2; i++) fromThree.push(await granted('127.0.0.3'));
    expect(fromThree).toEqual([true, true]);
    // The listener is full: the next client from anywhere is refused until one leaves.
    expect(await granted('127.0.0.4')).toBe(false);
    expect(await refused('ERR_TOO_MANY_CONNECTIONS')).toBe(1);
    const leaving = sockets.shift()!;
    leaving.destroy();
    await once(leaving, 'close');
    let again = false;
    while (!again) again = await granted('127.0.0.1');
    expect(again).toBe(true);
    await echo.close();
  });
});
