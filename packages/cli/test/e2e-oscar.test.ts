import { once } from 'node:events';
import { connect } from 'node:net';
import { createFlapFramer, decodeFlap, type FlapFrame, frameToJson } from '@crosstalk/codec-oscar';
import { addressKey, MemoryDht } from '@crosstalk/core';
import type { Gateway } from '@crosstalk/gateway';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dial, NetworkFixture, NetworkUser, StartNetwork, UserDriver } from '../src/drivers/index.js';
import * as drivers from '../src/drivers/index.js';
import { startOscarNetwork } from '../src/drivers/oscar.js';
import {
  keysOf,
  offlineRequest,
  startGateway,
  TEXT,
  TEXT_BACK,
  through,
  walkThrough,
} from './support/walkthrough.js';

// End to end over real sockets on 127.0.0.1 only: the mock OSCAR server, the other network's
// server (whatever its driver starts) and real gateways, whose SOCKS4 front is the only way a
// client reaches its server (dial = socksConnect(gateway.socks, host, port)) for both the auth and
// the BOS connection. The walk-through steps are the shared ones (support/walkthrough.ts).

const direct: Dial = async (host, port) => {
  const socket = connect(port, host);
  await once(socket, 'connect');
  return socket;
};

// ------------------------------------------------------------------ same network

/**
 * Frames as JSON with what differs between two runs replaced, and only that: the login cookie the
 * server draws at random (login reply TLV 6, presented again in the BOS sign-on), its random BUCP
 * challenge and so the client's hash of the password with it (TLV 0x25), the BOS address in the
 * login reply (TLV 5: each run's mock server listens on a port the OS picked), and the server's
 * clock (sign-on time, user info TLV 3; the feedbag's last-update time).
 */
function normalised(frames: readonly FlapFrame[]): unknown[] {
  type Tlv = { type: number; value: unknown };
  const blank = (tlvs: Tlv[], types: number[]) =>
    tlvs.map((t) => (types.includes(t.type) ? { type: t.type, value: 'VARIES' } : t));
  return frames.map((frame) => {
    // biome-ignore lint/suspicious/noExplicitAny: a JSON tree walked by hand
    const json = frameToJson(frame) as any;
    const p = json.payload;
    if (p.type === 'signon') p.tlvs = blank(p.tlvs, [6]);
    if (p.type !== 'snac') return json;
    const b = p.body;
    if (p.family === 0x17 && b.type === 'tlvs') b.tlvs = blank(b.tlvs, [5, 6, 0x25]);
    if (b.type === 'bucp-challenge') b.key = 'VARIES';
    if (b.type === 'feedbag-reply') b.lastUpdate = 'VARIES';
    if (b.type === 'user-info') for (const u of b.users) u.tlvs = blank(u.tlvs, [3]);
    if (b.type === 'icbm-to-client') b.sender.tlvs = blank(b.sender.tlvs, [3]);
    return json;
  });
}

/** Wraps `dial` to record the bytes the client read on each connection it opened, in order. */
function recording(dial: Dial, into: Buffer[][]): Dial {
  return async (host, port) => {
    const socket = await dial(host, port);
    const chunks: Buffer[] = [];
    into.push(chunks);
    socket.on('data', (d: Buffer) => chunks.push(Buffer.from(d)));
    return socket;
  };
}

function framesOf(chunks: Buffer[]): FlapFrame[] {
  const framer = createFlapFramer();
  const frames = framer.push(Buffer.concat(chunks)).map((raw) => decodeFlap(raw));
  expect(framer.buffered).toBe(0);
  return frames;
}

describe('oscar: same-network traffic through a gateway is byte-identical', () => {
  /** Login, add buddy, accept, IM both ways, typing, away, log out; what both ends of each connection saw. */
  async function run(viaGateway: boolean) {
    const network = await startOscarNetwork([
      { name: 'alice', password: 'alicepw' },
      { name: 'bobby', password: 'bobbypw' },
    ]);
    const g = viaGateway ? await startGateway(new MemoryDht()) : undefined;
    const verified: string[] = [];
    const intercepted: string[] = [];
    g?.on((e) => {
      if (e.type === 'verified') verified.push(`${e.protocol}:${addressKey(e.user)}`);
      if (e.type === 'session' && e.event.type === 'outbound') intercepted.push(e.event.event.kind);
      if (e.type === 'session' && e.event.type === 'roster' && e.event.merged.length)
        intercepted.push('roster');
      if (e.type === 'delivered') intercepted.push(`delivered ${e.event.kind}`);
    });
    const clientSide: Buffer[][] = [];
    const dial = recording(g ? through(g) : direct, clientSide);
    const alice = network.driver('alice', dial);
    const bobby = network.driver('bobby', dial);
    let serverSide: FlapFrame[][] = [];
    try {
      await alice.login();
      await bobby.login();
      await alice.addBuddy(bobby.address, 'may I add you?');
      // The request, then "you were added" (0x13/0x1C, also a request in canonical form).
      expect(await bobby.nextBuddyRequest(alice.address)).toEqual({ message: 'may I add you?' });
      expect(await bobby.nextBuddyRequest(alice.address)).toEqual({});
      await bobby.answerBuddyRequest(alice.address, true);
      expect(await alice.nextBuddyResponse(bobby.address)).toEqual({ accepted: true });
      expect(await alice.nextBuddyRequest(bobby.address)).toEqual({}); // bobby listed alice back
      await alice.sendIm(bobby.address, TEXT);
      expect(await bobby.nextIm(alice.address)).toBe(TEXT);
      await bobby.sendIm(alice.address, TEXT_BACK);
      expect(await alice.nextIm(bobby.address)).toBe(TEXT_BACK);
      await bobby.sendTyping(alice.address, 'composing');
      expect(await alice.nextTyping(bobby.address)).toBe('composing');
      await alice.setPresence('away', 'lunch');
      expect(await bobby.nextPresence(alice.address, 'away')).toBe('away');
      expect(keysOf(alice.buddies())).toEqual(['bobby@aol']);
      expect(keysOf(bobby.buddies())).toEqual(['alice@aol']);
      await alice.logout();
      await bobby.logout();
    } finally {
      serverSide = network.mock.connections.map((c) => [...c.socket.received]);
      await network.stop();
      await g?.close();
    }
    return { clientSide, serverSide, verified, intercepted };
  }

  let plain: Awaited<ReturnType<typeof run>>;
  let proxied: Awaited<ReturnType<typeof run>>;
  beforeAll(async () => {
    plain = await run(false);
    proxied = await run(true);
  });

  it('the gateway proxied both logins with the oscar codec and intercepted nothing', () => {
    expect(proxied.verified.sort()).toEqual(['oscar:alice@aol', 'oscar:bobby@aol']);
    expect(proxied.intercepted).toEqual([]);
  });

  it('auth and BOS both went through the gateway: four connections, in the same order as without it', () => {
    expect(plain.clientSide).toHaveLength(4);
    expect(proxied.clientSide).toHaveLength(4);
    expect(proxied.serverSide).toHaveLength(4);
  });

  it('the server received the same frames, and the clients the same frames, with and without the gateway', () => {
    plain.serverSide.forEach((frames, i) => {
      expect(normalised(proxied.serverSide[i]!)).toEqual(normalised(frames));
    });
    plain.clientSide.forEach((chunks, i) => {
      expect(normalised(framesOf(proxied.clientSide[i]!))).toEqual(normalised(framesOf(chunks)));
    });
  });
});

// ------------------------------------------------------------------ the walk-through

/**
 * The other network to pair with: `CROSSTALK_E2E_PEER` (ymsg, msnp or xmpp) when set, else YMSG
 * (or the first other driver in src/drivers). e2e-matrix.test.ts runs every pair.
 */
const available = drivers as unknown as Record<string, StartNetwork | undefined>;
const PEERS: Record<string, StartNetwork | undefined> = {
  ymsg: available.startYmsgNetwork,
  msnp: available.startMsnpNetwork,
  xmpp: available.startXmppNetwork,
};
const wanted = process.env.CROSSTALK_E2E_PEER;
if (wanted && !PEERS[wanted]) throw new Error(`CROSSTALK_E2E_PEER=${wanted}: no such driver in src/drivers`);
const OTHERS = Object.entries(PEERS)
  .filter(([name, start]) => start !== undefined && (!wanted || name === wanted))
  .map(([name, start]) => ({ name, start: start! }))
  .slice(0, 1);

/** A native user name valid on `protocol` (MSN users are passports). */
const userName = (protocol: string, base: string) => (protocol === 'msnp' ? `${base}@hotmail.com` : base);

describe.each(OTHERS)(
  "oscar and $name: the paper's walk-through (Section 3.2), two gateways, one DHT",
  ({ name, start }) => {
    let aim: NetworkFixture;
    let other: NetworkFixture;
    let gA: Gateway;
    let gY: Gateway;
    const used: UserDriver[] = [];
    // The last is an ICQ user (a UIN): its status goes out as ICQ status 0x01/0x1E, not an away message.
    const aimNames = ['amelia', 'arthur', 'agatha', 'ambrose', '7654321'];
    const otherNames = ['yuki', 'yves', 'yann', 'yara', 'yolanda'].map((b) => userName(name, b));

    beforeAll(async () => {
      aim = await startOscarNetwork(aimNames.map((n): NetworkUser => ({ name: n, password: `${n}-pw` })));
      other = await start(otherNames.map((n): NetworkUser => ({ name: n, password: `${n}-pw` })));
      const dht = new MemoryDht();
      gA = await startGateway(dht);
      gY = await startGateway(dht);
    });

    afterAll(async () => {
      for (const d of used.splice(0)) await d.disconnect().catch(() => {});
      await gA?.close();
      await gY?.close();
      await aim?.stop();
      await other?.stop();
    });

    const aimUser = (i: number) => {
      const d = aim.driver(aimNames[i]!, through(gA));
      used.push(d);
      return d;
    };
    const otherUser = (i: number) => {
      const d = other.driver(otherNames[i]!, through(gY));
      used.push(d);
      return d;
    };

    it(`oscar -> ${name}: request, acceptance, IMs, typing, presence, lists after logging in again`, async () => {
      await walkThrough(aimUser(0), gA, otherUser(0), gY);
    });

    it(`${name} -> oscar: request, acceptance, IMs, typing, presence, lists after logging in again`, async () => {
      await walkThrough(otherUser(1), gY, aimUser(1), gA);
    });

    it(`oscar -> ${name}: a request to a user who is offline waits in the DHT until they log in`, async () => {
      await offlineRequest(aimUser(2), gA, otherUser(2), gY);
    });

    it(`${name} -> oscar: a request to a user who is offline waits in the DHT until they log in`, async () => {
      await offlineRequest(otherUser(3), gY, aimUser(3), gA);
    });

    it(`icq -> ${name}: the walk-through with an ICQ user`, async () => {
      const icq = aimUser(4);
      expect(addressKey(icq.address)).toBe('7654321@icq');
      await walkThrough(icq, gA, otherUser(4), gY);
    });
  },
);
