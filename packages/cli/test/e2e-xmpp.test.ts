import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { addressToJid, stanza } from '@crosstalk/codec-xmpp';
import { directDial } from '@crosstalk/codec-xmpp/testing';
import { type Address, addressKey, MemoryDht, type PresenceStatus } from '@crosstalk/core';
import { createGateway, type Gateway, type GatewayEvent } from '@crosstalk/gateway';
import { socksConnect } from '@crosstalk/gateway/testing';
import { xml, client as xmppClient } from '@xmpp/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { builtInCodecs } from '../src/codecs.js';
import type { Dial, NetworkFixture, StartNetwork, UserDriver } from '../src/drivers/index.js';
import { startMsnpNetwork } from '../src/drivers/msnp.js';
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
      // A listener (as load generators use) gets IMs as they arrive instead of the queue.
      const heard = new Promise<string>((resolve) => {
        const off = alice.onIm((from, text) => {
          off();
          resolve(`${addressKey(from)}: ${text}`);
        });
      });
      await bob.sendIm(alice.address, 'one more');
      expect(await heard).toBe('bob@localhost: one more');
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

// ------------------------------------------------------------------ @xmpp/client through SOCKS

/**
 * @xmpp/client has no SOCKS support. To put it behind the gateway as a SOCKS-configured client
 * would be, it connects to this tiny local TCP forwarder (127.0.0.1, port 0), which opens each
 * connection to `target` through the SOCKS4 proxy with `socksConnect` and then only pipes bytes.
 */
async function startSocksForwarder(
  proxy: { host: string; port: number },
  target: { host: string; port: number },
) {
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  };
  const server = createServer({ allowHalfOpen: true }, (local) => {
    track(local);
    local.pause();
    socksConnect(proxy, target.host, target.port).then(
      (remote) => {
        track(remote);
        local.on('error', () => remote.destroy());
        remote.on('error', () => local.destroy());
        local.pipe(remote);
        remote.pipe(local);
        local.resume();
      },
      () => local.destroy(),
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

// biome-ignore lint/suspicious/noExplicitAny: @xmpp/client 0.14 ships no types
type XmppJs = any;
interface XmppJsElement {
  name: string;
  attrs: Record<string, string>;
  getChildText(name: string): string | null;
  getChild(name: string): XmppJsElement | undefined;
  getChildren(name: string): XmppJsElement[];
}

/** A real @xmpp/client, forced onto SASL PLAIN (SCRAM would cost a second of CPU per login). */
function xmppJs(port: number, user: string, password: string) {
  const entity: XmppJs = xmppClient({
    service: `xmpp://127.0.0.1:${port}`,
    domain: 'localhost',
    resource: 'desk',
    username: user,
    password,
    credentials: (authenticate: (c: object, m: string) => Promise<void>) =>
      authenticate({ username: user, password }, 'PLAIN'),
  });
  entity.on('error', () => {});
  const stanzas: XmppJsElement[] = [];
  const waiters = new Set<(el: XmppJsElement) => void>();
  entity.on('stanza', (el: XmppJsElement) => {
    stanzas.push(el);
    for (const w of [...waiters]) w(el);
  });
  /** The first stanza received (earlier ones count) that matches, or a timeout error naming `what`. */
  const receive = (match: (el: XmppJsElement) => boolean, what: string, timeoutMs = 10_000) => {
    const found = stanzas.find(match);
    if (found) return Promise.resolve(found);
    return new Promise<XmppJsElement>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(w);
        reject(new Error(`${user}@localhost (@xmpp/client): no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const w = (el: XmppJsElement) => {
        if (!match(el)) return;
        clearTimeout(timer);
        waiters.delete(w);
        resolve(el);
      };
      waiters.add(w);
    });
  };
  const roster = async (): Promise<string[]> => {
    const result: XmppJsElement = await entity.iqCaller.request(
      xml('iq', { type: 'get' }, xml('query', { xmlns: 'jabber:iq:roster' })),
    );
    return (result.getChild('query')?.getChildren('item') ?? []).map((i) => i.attrs.jid!);
  };
  return { entity, receive, roster };
}

// ------------------------------------------------------------------ the paper's walk-through

/** Reads presences of `from` until one with `status` (earlier ones, e.g. login presences, are skipped). */
async function presenceUntil(d: UserDriver, from: Address, status: PresenceStatus): Promise<PresenceStatus> {
  for (;;) if ((await d.nextPresence(from)) === status) return status;
}

const keys = (list: Address[]) => list.map(addressKey);

/** Whether a buddy request's message survives into `protocol` (MSNP has nowhere to put one). */
const carriesRequestMessage = (protocol: string) =>
  builtInCodecs()
    .find((c) => c.protocol === protocol)!
    .features.has('buddy-request.message');

/** What a request with `message` looks like on arrival: the text where both protocols carry one. */
const requestAsSeen = (between: [string, string], message: string) =>
  between.every(carriesRequestMessage) ? { message } : {};

/**
 * Section 3.2 of the paper, between `a` (on gateway `ga`) and `y` (on `gy`), `a` asking: the
 * request, the acceptance, IMs both ways, typing, presence away and back, and both lists after
 * logging out and in again.
 */
async function walkThrough(a: UserDriver, y: UserDriver, protocols: [string, string]): Promise<void> {
  await a.login();
  await y.login();
  await a.addBuddy(y.address, 'may I add you?');
  expect(await y.nextBuddyRequest(a.address)).toEqual(requestAsSeen(protocols, 'may I add you?'));
  await y.answerBuddyRequest(a.address, true);
  expect(await a.nextBuddyResponse(y.address)).toEqual({ accepted: true });

  await a.sendIm(y.address, TEXT);
  expect(await y.nextIm(a.address)).toBe(TEXT);
  await y.sendIm(a.address, TEXT_BACK);
  expect(await a.nextIm(y.address)).toBe(TEXT_BACK);
  // Each list shows the other now (what changed arrived before the IMs did).
  expect(keys(a.buddies())).toContain(addressKey(y.address));
  expect(keys(y.buddies())).toContain(addressKey(a.address));

  await a.sendTyping(y.address, 'composing');
  expect(await y.nextTyping(a.address)).toBe('composing');
  await y.sendTyping(a.address, 'composing');
  expect(await a.nextTyping(y.address)).toBe('composing');

  await a.setPresence('away', 'out to lunch');
  await presenceUntil(y, a.address, 'away');
  await a.setPresence('online');
  await presenceUntil(y, a.address, 'online');
  await y.setPresence('away', 'in a meeting');
  await presenceUntil(a, y.address, 'away');
  await y.setPresence('online');
  await presenceUntil(a, y.address, 'online');

  await a.logout();
  await y.logout();
  await a.login();
  await y.login();
  expect(keys(a.buddies())).toContain(addressKey(y.address));
  expect(keys(y.buddies())).toContain(addressKey(a.address));
  // Both online again, and each still reaches the other.
  await a.sendIm(y.address, `${TEXT} again`);
  expect(await y.nextIm(a.address)).toBe(`${TEXT} again`);
  await a.logout();
  await y.logout();
}

/** The offline case: `y` is logged out when `a` asks; the request waits in the DHT for `y`'s next login. */
async function offlineRequest(
  a: UserDriver,
  y: UserDriver,
  protocols: [string, string],
  ga: Gateway,
): Promise<void> {
  await y.login();
  await y.logout();
  await a.login();
  const held = gatewayEvent(
    ga,
    (e) => e.type === 'pending-held' && addressKey(e.event.to) === addressKey(y.address),
    `a held buddy request for ${addressKey(y.address)}`,
  );
  await a.addBuddy(y.address, 'are you there?');
  await held;
  await y.login();
  expect(await y.nextBuddyRequest(a.address)).toEqual(requestAsSeen(protocols, 'are you there?'));
  await y.answerBuddyRequest(a.address, true);
  expect(await a.nextBuddyResponse(y.address)).toEqual({ accepted: true });
  await a.logout();
  await y.logout();
}

/** The other networks whose drivers exist (the lead's matrix adds the rest). */
const OTHERS: { protocol: string; start: StartNetwork }[] = [
  { protocol: 'ymsg', start: startYmsgNetwork },
  { protocol: 'msnp', start: startMsnpNetwork },
];

for (const other of OTHERS) {
  describe(`xmpp and ${other.protocol}: the paper's walk-through (Section 3.2), two gateways, one DHT`, () => {
    let xmppNet: NetworkFixture;
    let otherNet: NetworkFixture;
    let gx: Gateway;
    let go: Gateway;
    const drivers: UserDriver[] = [];
    const xmppUser = (name: string) => {
      const d = xmppNet.driver(name, through(gx));
      drivers.push(d);
      return d;
    };
    const otherUser = (name: string) => {
      const d = otherNet.driver(name, through(go));
      drivers.push(d);
      return d;
    };

    beforeAll(async () => {
      const names = ['alice', 'amy', 'ann', 'abe', 'ava'];
      xmppNet = await startXmppNetwork(names.map((name) => ({ name, password: `${name}-pw` })));
      const others = ['yuki', 'yves', 'yann', 'yolanda', 'yara'];
      otherNet = await other.start(others.map((name) => ({ name, password: `${name}-pw` })));
      const dht = new MemoryDht();
      gx = await gateway(dht);
      go = await gateway(dht);
    });

    afterEach(async () => {
      for (const d of drivers.splice(0)) await d.disconnect().catch(() => {});
    });

    afterAll(async () => {
      await gx?.close();
      await go?.close();
      await xmppNet?.stop();
      await otherNet?.stop();
    });

    it(`xmpp -> ${other.protocol}: request, acceptance, IMs, typing, presence, lists after re-login`, async () => {
      await walkThrough(xmppUser('alice'), otherUser('yuki'), ['xmpp', other.protocol]);
    });

    it(`${other.protocol} -> xmpp: request, acceptance, IMs, typing, presence, lists after re-login`, async () => {
      await walkThrough(otherUser('yves'), xmppUser('amy'), [other.protocol, 'xmpp']);
    });

    it(`xmpp -> ${other.protocol}, ${other.protocol} offline: the request waits in the DHT until the login`, async () => {
      await offlineRequest(xmppUser('ann'), otherUser('yann'), ['xmpp', other.protocol], gx);
    });

    it(`${other.protocol} -> xmpp, xmpp offline: the request waits in the DHT until the login`, async () => {
      await offlineRequest(otherUser('yolanda'), xmppUser('abe'), [other.protocol, 'xmpp'], go);
    });

    it(`a real @xmpp/client through the gateway and a ${other.protocol} user: request, acceptance, IMs, list after re-login`, async () => {
      const forwarder = await startSocksForwarder(gx.socks, xmppNet.server);
      const ava = xmppNet.address('ava');
      const yara = otherUser('yara');
      const yaraJid = addressToJid(yara.address); // e.g. yara@yahoo, yara\40hotmail.com@msn (XEP-0106)
      let client = xmppJs(forwarder.port, 'ava', 'ava-pw');
      try {
        await client.entity.start();
        expect(await client.roster()).toEqual([]);
        await client.entity.send(xml('presence'));
        await yara.login();
        await yara.addBuddy(ava, 'hello ava');
        const request = await client.receive(
          (el) => el.name === 'presence' && el.attrs.type === 'subscribe' && el.attrs.from === yaraJid,
          `subscription request from ${yaraJid}`,
        );
        // The request's text, where the other protocol carried one.
        expect(request.getChildText('status')).toBe(
          carriesRequestMessage(other.protocol) ? 'hello ava' : null,
        );
        await client.entity.send(xml('presence', { to: yaraJid, type: 'subscribed' }));
        expect(await yara.nextBuddyResponse(ava)).toEqual({ accepted: true });

        await client.entity.send(
          xml('message', { to: yaraJid, type: 'chat', id: 'js1' }, xml('body', {}, TEXT)),
        );
        expect(await yara.nextIm(ava)).toBe(TEXT);
        await yara.sendIm(ava, TEXT_BACK);
        const back = await client.receive(
          (el) => el.name === 'message' && el.attrs.from === yaraJid,
          `message from ${yaraJid}`,
        );
        expect(back.getChildText('body')).toBe(TEXT_BACK);
        expect(back.attrs.to).toBe('ava@localhost/desk');

        await client.entity.stop();
        client = xmppJs(forwarder.port, 'ava', 'ava-pw');
        await client.entity.start();
        expect(await client.roster()).toEqual([yaraJid]);
      } finally {
        await client.entity.stop().catch(() => {});
        await forwarder.close();
      }
    });
  });
}
