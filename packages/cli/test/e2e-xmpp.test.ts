import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { stanza } from '@crosstalk/codec-xmpp';
import { directDial } from '@crosstalk/codec-xmpp/testing';
import { type Address, addressKey, MemoryDht, type PresenceStatus } from '@crosstalk/core';
import { createGateway, type Gateway, type GatewayEvent } from '@crosstalk/gateway';
import { socksConnect } from '@crosstalk/gateway/testing';
import { xml, client as xmppClient } from '@xmpp/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { builtInCodecs } from '../src/codecs.js';
import type { Dial, NetworkFixture, StartNetwork, UserDriver } from '../src/drivers/index.js';
import { startXmppNetwork } from '../src/drivers/xmpp.js';
import { startYmsgNetwork } from '../src/drivers/ymsg.js';

// End to end over real sockets on 127.0.0.1: a real prosody (started by the XMPP driver, see
// startProsody), the other network's mock server, and real gateways whose SOCKS4 front is the only
// way clients reach their server. Needs prosody (installed by .ci/run).

const TEXT = 'héllo wörld ✓';
const TEXT_BACK = 'and back: ünïcödé ✓ 😀';

function gateway(dht: MemoryDht): Promise<Gateway> {
  return createGateway({
    codecs: builtInCodecs(),
    dht,
    canonical: stanza,
    socks: { port: 0 },
    logger: false,
  });
}

const through =
  (g: Gateway): Dial =>
  (host, port) =>
    socksConnect(g.socks, host, port);

/** Resolves with the first gateway event that matches, or rejects after `timeoutMs`. */
function gatewayEvent(g: Gateway, match: (e: GatewayEvent) => boolean, what: string, timeoutMs = 10_000) {
  return new Promise<GatewayEvent>((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for the gateway to report ${what}`));
    }, timeoutMs);
    const off = g.on((e) => {
      if (!match(e)) return;
      clearTimeout(timer);
      off();
      resolve(e);
    });
  });
}

// ------------------------------------------------------------------ byte recording

interface Recorded {
  /** Bytes the client wrote, in order. */
  sent: Buffer[];
  /** Bytes the client read, in order. */
  received: Buffer[];
  closed: Promise<void>;
}

const joined = (parts: Buffer[]) => Buffer.concat(parts).toString('utf8');

/** A TCP relay in front of the server that records each connection's bytes (as the server saw them). */
async function startRecorder(upstream: { host: string; port: number }) {
  const connections: Recorded[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true }, (c) => {
    const u = connect({ port: upstream.port, host: upstream.host, allowHalfOpen: true });
    const rec: Recorded = {
      sent: [],
      received: [],
      closed: Promise.all([once(c, 'close'), once(u, 'close')]).then(() => {}),
    };
    connections.push(rec);
    for (const s of [c, u]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        c.destroy();
        u.destroy();
      });
    }
    c.on('data', (d: Buffer) => {
      rec.sent.push(d);
      u.write(d);
    });
    u.on('data', (d: Buffer) => {
      rec.received.push(d);
      c.write(d);
    });
    c.on('end', () => u.end());
    u.on('end', () => c.end());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    host: '127.0.0.1',
    port: (server.address() as { port: number }).port,
    connections,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Wraps `dial` so that what the client itself wrote and read on each connection is recorded. */
function recordingDial(dial: Dial, into: Recorded[]): Dial {
  return async (host, port) => {
    const socket = await dial(host, port);
    const rec: Recorded = { sent: [], received: [], closed: once(socket, 'close').then(() => {}) };
    into.push(rec);
    socket.on('data', (d: Buffer) => rec.received.push(Buffer.from(d)));
    const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
    socket.write = ((chunk: unknown, ...rest: unknown[]) => {
      rec.sent.push(Buffer.from(chunk as string | Uint8Array));
      return write(chunk, ...rest);
    }) as typeof socket.write;
    const end = socket.end.bind(socket) as (...args: unknown[]) => Socket;
    socket.end = ((chunk?: unknown, ...rest: unknown[]) => {
      if (typeof chunk === 'string' || chunk instanceof Uint8Array) rec.sent.push(Buffer.from(chunk));
      return end(chunk, ...rest);
    }) as typeof socket.end;
    return socket;
  };
}

/**
 * One connection's bytes with what prosody randomises per run replaced, and only that: the stream
 * id in its stream headers (RFC 6120 §4.7.3), the ids of the roster pushes it originates (RFC 6121
 * §2.1.6; numbered in order of appearance, in both directions, so the client's answers still have
 * to name the right push), `<delay stamp>` timestamps, and the order of what prosody keeps in Lua
 * tables, which have no stable iteration order: attributes (XML gives their order no meaning) and
 * the stream features it offers (compared as a sorted list of their tags and texts). SASL PLAIN
 * has no nonce, the scripted clients bind a fixed resource and number their own ids `sc1`, `sc2`...
 */
function normaliser(): (text: string) => string {
  const ids = new Map<string, string>();
  const sortAttrs = (tag: string, name: string, attrs: string, end: string) => {
    const list = attrs.match(/[^\s=]+=(?:'[^']*'|"[^"]*")/g) ?? [];
    return list.length < 2 ? tag : `<${name} ${list.sort().join(' ')}${end}>`;
  };
  return (text) =>
    text
      .replace(/(<stream:stream\b[^>]*\bid=)('[^']*'|"[^"]*")/g, '$1"STREAM-ID"')
      .replace(/(\bstamp=)('[^']*'|"[^"]*")/g, '$1"STAMP"')
      .replace(/(\bid=)(['"])([^'"]*)\2/g, (m, attr: string, _q, id: string) => {
        if (/^sc\d+$/.test(id)) return m;
        if (!ids.has(id)) ids.set(id, `ID${ids.size + 1}`);
        return `${attr}"${ids.get(id)}"`;
      })
      .replace(/<([A-Za-z][\w:.-]*)((?:\s+[^\s=>]+=(?:'[^']*'|"[^"]*"))*)\s*(\/?)>/g, sortAttrs)
      .replace(
        /<stream:features>([\s\S]*?)<\/stream:features>/g,
        (_m, inner: string) =>
          `<stream:features>${(inner.match(/<[^>]+>|[^<]+/g) ?? []).sort().join('')}</stream:features>`,
      );
}

// ------------------------------------------------------------------ same network

describe('xmpp: same-network traffic through a gateway is byte-identical', () => {
  /** One short session: login, add buddy, accept, IM both ways, logout. Returns what each side saw. */
  async function run(viaGateway: boolean) {
    const network = await startXmppNetwork([
      { name: 'alice', password: 'alicepw' },
      { name: 'bob', password: 'bobpw' },
    ]);
    const recorder = await startRecorder(network.server);
    const dht = new MemoryDht();
    const g = viaGateway ? await gateway(dht) : undefined;
    const verified: string[] = [];
    const intercepted: string[] = [];
    g?.on((e) => {
      if (e.type === 'verified') verified.push(addressKey(e.user));
      if (e.type === 'session' && ['outbound', 'roster'].includes(e.event.type)) {
        if (e.event.type === 'outbound' || (e.event.type === 'roster' && e.event.merged.length > 0))
          intercepted.push(e.event.type);
      }
    });
    const clientSide: Recorded[] = [];
    const base: Dial = g ? through(g) : directDial;
    // Clients are pointed at the recorder (in place of the server) so the server's side is recorded.
    const dial = recordingDial((_host, _port) => base(recorder.host, recorder.port), clientSide);
    const alice = network.driver('alice', dial);
    const bob = network.driver('bob', dial);
    try {
      await alice.login();
      await bob.login();
      await alice.addBuddy(bob.address, 'may I add you?');
      expect(await bob.nextBuddyRequest(alice.address)).toEqual({ message: 'may I add you?' });
      await bob.answerBuddyRequest(alice.address, true);
      expect(await alice.nextBuddyResponse(bob.address)).toEqual({ accepted: true });
      expect(await alice.nextPresence(bob.address, 'online')).toBe('online');
      await alice.sendIm(bob.address, TEXT);
      expect(await bob.nextIm(alice.address)).toBe(TEXT);
      await bob.sendIm(alice.address, TEXT_BACK);
      expect(await alice.nextIm(bob.address)).toBe(TEXT_BACK);
      expect(alice.buddies().map(addressKey)).toEqual(['bob@localhost']);
      await alice.logout();
      await bob.logout();
      await Promise.all([...recorder.connections, ...clientSide].map((c) => c.closed));
      return { server: recorder.connections, client: clientSide, verified, intercepted };
    } finally {
      await alice.disconnect();
      await bob.disconnect();
      await g?.close();
      await recorder.close();
      await network.stop();
    }
  }

  it('the clients and the server exchange the same bytes with or without the gateway', async () => {
    const direct = await run(false);
    const proxied = await run(true);
    // The gateway really watched (both logins verified by the XMPP session) and took nothing out.
    expect(proxied.verified.sort()).toEqual(['alice@localhost', 'bob@localhost']);
    expect(proxied.intercepted).toEqual([]);
    expect(proxied.server).toHaveLength(2);
    expect(proxied.client).toHaveLength(2);
    // Through the gateway: per connection, exactly the bytes the client wrote reached the server,
    // and exactly the bytes the server wrote reached the client (no normalisation).
    for (const [i, server] of proxied.server.entries()) {
      expect(joined(proxied.client[i]!.sent)).toBe(joined(server.sent));
      expect(joined(proxied.client[i]!.received)).toBe(joined(server.received));
    }
    // And the session took the same course as without the gateway: what the server received is
    // identical; what it sent differs only where prosody randomises (see `normalise`).
    expect(direct.server).toHaveLength(2);
    for (const [i, server] of proxied.server.entries()) {
      const [a, b] = [normaliser(), normaliser()];
      // The server's side first: that is where the random ids appear first.
      expect(a(joined(server.received))).toBe(b(joined(direct.server[i]!.received)));
      expect(a(joined(server.sent))).toBe(b(joined(direct.server[i]!.sent)));
    }
    expect(joined(proxied.server[0]!.received)).toContain(TEXT_BACK);
    expect(joined(proxied.server[1]!.received)).toContain(TEXT);
  });
});
