import type { ClientConnection } from '@crosstalk/codec-msnp/testing';
import { directDial } from '@crosstalk/codec-msnp/testing';
import { stanza } from '@crosstalk/codec-xmpp';
import { type Address, addressKey, MemoryDht } from '@crosstalk/core';
import { createGateway, type Gateway, type GatewayEvent } from '@crosstalk/gateway';
import { socksConnect } from '@crosstalk/gateway/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtInCodecs } from '../src/codecs.js';
import type { Dial, NetworkFixture, NetworkUser, StartNetwork, UserDriver } from '../src/drivers/index.js';
import * as drivers from '../src/drivers/index.js';
import { type MsnpUserDriver, msnpNetwork } from '../src/drivers/msnp.js';

// End to end over real sockets on 127.0.0.1 only: the MSN mock server (notification server and
// switchboard), the other network's server (whatever its driver starts), and real gateways whose
// SOCKS4 front is the only way a client reaches any server: the login, every switchboard XFR and
// RNG name, and the virtual switchboards a gateway rings its MSN users into
// (dial = socksConnect(gateway.socks, host, port)).

const TEXT = 'héllo wörld ✓';
const TEXT_BACK = 'and back: ünïcödé ✓';
const DIALECTS = [12, 8] as const;

const gateway = (dht: MemoryDht): Promise<Gateway> =>
  createGateway({ codecs: builtInCodecs(), dht, canonical: stanza, socks: { port: 0 }, logger: false });

const through =
  (g: Gateway): Dial =>
  (host, port) =>
    socksConnect(g.socks, host, port);

const keysOf = (list: Address[]) => list.map(addressKey);
const same = (a: Address, b: Address) => addressKey(a) === addressKey(b);

/** The first gateway event that matches, from now on; rejects naming `what` after `timeoutMs`. */
function gatewayEvent(
  g: Gateway,
  match: (e: GatewayEvent) => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<GatewayEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for the gateway to report ${what}`));
    }, timeoutMs);
    timer.unref();
    const off = g.on((e) => {
      if (!match(e)) return;
      clearTimeout(timer);
      off();
      resolve(e);
    });
  });
}

/** Resolves once `check` holds (looked at every 10 ms); rejects naming `what` after `timeoutMs`. */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

// ------------------------------------------------------------------ same network

/**
 * The byte streams of one connection at both ends, with only what the mock server randomises per
 * run replaced: Passport tickets and switchboard cookies (20 hex digits), switchboard session ids
 * (8 digits), contact GUIDs (MSNP10+ `C=`), and the server's own port in `XFR`/`RNG` (a new mock
 * listens on new ports). Nothing else differs between two runs of the same script.
 */
function normalised(bytes: Uint8Array[]): string {
  return Buffer.concat(bytes)
    .toString('utf8')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, 'GUID')
    .replace(/\b[0-9a-f]{20}\b/g, 'COOKIE')
    .replace(/\b127\.0\.0\.1:\d+\b/g, 'SERVER')
    .replace(/\b\d{8}\b/g, 'SESSID');
}

interface Connection {
  /** `passport notification|switchboard`. */
  who: string;
  /** What the client wrote / what the server received. */
  up: Uint8Array[];
  /** What the server wrote / what the client received. */
  down: Uint8Array[];
}

const byWho = (a: Connection, b: Connection) => a.who.localeCompare(b.who);

describe.each(DIALECTS)('MSNP%i: same-network traffic through a gateway is byte-identical', (dialect) => {
  /**
   * Two MSN users: log in, one adds the other, who accepts (and adds back), IMs both ways with
   * typing, then both log out. Returns both ends of every connection, taken once every reply was
   * seen and before the sign-off (whose socket closes race between the two users).
   */
  async function run(viaGateway: boolean) {
    const network = await msnpNetwork({ dialect })([
      { name: 'carol@hotmail.com', password: 'carolpw' },
      { name: 'dan@example.org', password: 'danpw' },
    ]);
    const g = viaGateway ? await gateway(new MemoryDht()) : undefined;
    const verified: string[] = [];
    const intercepted: string[] = [];
    g?.on((e) => {
      if (e.type === 'verified') verified.push(`${e.protocol}:${addressKey(e.user)}`);
      if (e.type === 'session' && e.event.type === 'outbound') intercepted.push(e.event.event.kind);
      if (e.type === 'session' && e.event.type === 'roster' && e.event.merged.length)
        intercepted.push('roster');
      if (e.type === 'delivered') intercepted.push(`delivered ${e.event.kind}`);
    });
    const dial = g ? through(g) : directDial;
    const carol = network.driver('carol@hotmail.com', dial);
    const dan = network.driver('dan@example.org', dial);
    try {
      await carol.login();
      await dan.login();
      await carol.addBuddy(dan.address);
      await dan.nextBuddyRequest(carol.address);
      await dan.answerBuddyRequest(carol.address, true);
      expect(await carol.nextBuddyResponse(dan.address)).toEqual({ accepted: true });
      expect(await carol.nextPresence(dan.address, 'online')).toBe('online');
      expect(await dan.nextPresence(carol.address, 'online')).toBe('online');
      await carol.sendTyping(dan.address, 'composing');
      expect(await dan.nextTyping(carol.address)).toBe('composing');
      await carol.sendIm(dan.address, TEXT);
      expect(await dan.nextIm(carol.address)).toBe(TEXT);
      await dan.sendIm(carol.address, TEXT_BACK);
      expect(await carol.nextIm(dan.address)).toBe(TEXT_BACK);
      expect(keysOf(carol.buddies())).toEqual(['dan@example.org@msn']);
      expect(keysOf(dan.buddies())).toEqual(['carol@hotmail.com@msn']);
      const server: Connection[] = network.mock.connections.map((c) => ({
        who: `${c.user} ${c.kind}`,
        up: [...c.received],
        down: [...c.sent],
      }));
      const client: Connection[] = [carol, dan].flatMap((d) =>
        connectionsOf(d).map((c) => ({
          who: `${d.address.user} ${new TextDecoder().decode(c.written[0]).startsWith('VER') ? 'notification' : 'switchboard'}`,
          up: [...c.written],
          down: [...c.received],
        })),
      );
      await carol.logout();
      await dan.logout();
      return { server: server.sort(byWho), client: client.sort(byWho), verified, intercepted };
    } finally {
      await carol.disconnect();
      await dan.disconnect();
      await network.stop();
      await g?.close();
    }
  }

  const connectionsOf = (d: MsnpUserDriver): ClientConnection[] => d.clients.flatMap((c) => c.opened);

  let plain: Awaited<ReturnType<typeof run>>;
  let proxied: Awaited<ReturnType<typeof run>>;
  beforeAll(async () => {
    plain = await run(false);
    proxied = await run(true);
  });

  it('the gateway verified every connection with the msnp codec and intercepted nothing', () => {
    // Each user: the notification connection and one switchboard (carol called, dan was rung).
    expect(proxied.verified.sort()).toEqual([
      'msnp:carol@hotmail.com@msn',
      'msnp:carol@hotmail.com@msn',
      'msnp:dan@example.org@msn',
      'msnp:dan@example.org@msn',
    ]);
    expect(proxied.intercepted).toEqual([]);
  });

  it('every byte each client wrote reached the server, and every byte the server wrote reached the client', () => {
    expect(proxied.client.map((c) => c.who)).toEqual([
      'carol@hotmail.com notification',
      'carol@hotmail.com switchboard',
      'dan@example.org notification',
      'dan@example.org switchboard',
    ]);
    expect(proxied.server.map((c) => c.who)).toEqual(proxied.client.map((c) => c.who));
    proxied.client.forEach((client, i) => {
      const server = proxied.server[i]!;
      expect(Buffer.concat(server.up).equals(Buffer.concat(client.up))).toBe(true);
      expect(Buffer.concat(client.down).equals(Buffer.concat(server.down))).toBe(true);
    });
  });

  it('the session through the gateway is the session without it (what the mock randomises aside)', () => {
    expect(plain.client.map((c) => c.who)).toEqual(proxied.client.map((c) => c.who));
    plain.client.forEach((client, i) => {
      const via = proxied.client[i]!;
      expect(normalised(via.up)).toBe(normalised(client.up));
      expect(normalised(via.down)).toBe(normalised(client.down));
    });
    plain.server.forEach((server, i) => {
      const via = proxied.server[i]!;
      expect(normalised(via.up)).toBe(normalised(server.up));
      expect(normalised(via.down)).toBe(normalised(server.down));
    });
  });
});

// ------------------------------------------------------------------ a server in another process

describe('connectMsnpUser: users of a mock server the driver did not start', () => {
  it('logs in with a Passport ticket fetched over the wire, keeps no client history, and hands IMs to onIm', async () => {
    const network = await msnpNetwork()([
      { name: 'erin@hotmail.com', password: 'erinpw' },
      { name: 'finn@example.org', password: 'finnpw' },
    ]);
    const g = await gateway(new MemoryDht());
    const server = { host: network.server.host, port: network.server.port, network: 'msn' };
    const erin = drivers.connectMsnpUser(
      server,
      { name: 'erin@hotmail.com', password: 'erinpw' },
      through(g),
    );
    const finn = drivers.connectMsnpUser(
      server,
      { name: 'finn@example.org', password: 'finnpw' },
      through(g),
    );
    try {
      await erin.login();
      await finn.login();
      await erin.addBuddy(finn.address);
      await finn.nextBuddyRequest(erin.address);
      await finn.answerBuddyRequest(erin.address, true);
      expect(await erin.nextBuddyResponse(finn.address)).toEqual({ accepted: true });
      const got: string[] = [];
      const arrived = new Promise<void>((resolve) => {
        finn.onIm((from, text) => {
          got.push(`${addressKey(from)}: ${text}`);
          if (got.length === 2) resolve();
        });
      });
      await erin.sendIm(finn.address, TEXT);
      await erin.sendIm(finn.address, TEXT_BACK);
      await arrived;
      expect(got).toEqual([`erin@hotmail.com@msn: ${TEXT}`, `erin@hotmail.com@msn: ${TEXT_BACK}`]);
      expect((erin as MsnpUserDriver).clients).toEqual([]);
      expect(network.mock.connections.map((c) => c.kind).sort()).toEqual([
        'notification',
        'notification',
        'switchboard',
        'switchboard',
      ]);
      await erin.logout();
      await finn.logout();
    } finally {
      await erin.disconnect();
      await finn.disconnect();
      await g.close();
      await network.stop();
    }
  });
});

// ------------------------------------------------------------------ the walk-through

/** The other networks whose drivers exist in src/drivers (the lead's matrix adds the rest). */
const OTHERS = (['startYmsgNetwork', 'startOscarNetwork', 'startXmppNetwork'] as const)
  .map((name) => ({ name, start: (drivers as unknown as Record<string, StartNetwork | undefined>)[name] }))
  .filter((o): o is { name: (typeof o)['name']; start: StartNetwork } => o.start !== undefined);

/** Logs in and waits until the user's gateway has published where they are (foreign gateways can find them). */
async function online(user: UserDriver, g: Gateway): Promise<void> {
  await user.login();
  await until(
    async () => (await g.directory.lookupLocation(user.address))?.gateway === g.id,
    `${addressKey(user.address)} published by its gateway`,
  );
}

/** Logs out and waits until the user's gateway has taken them offline. */
async function offline(user: UserDriver, g: Gateway): Promise<void> {
  const gone = gatewayEvent(g, (e) => e.type === 'offline' && same(e.user, user.address), 'the logout');
  await user.logout();
  await gone;
}

/** Section 3.2 with both users online: request, acceptance, IMs, typing, presence, lists after re-login. */
async function walkThrough(asker: UserDriver, gAsk: Gateway, answerer: UserDriver, gAns: Gateway) {
  await online(asker, gAsk);
  await online(answerer, gAns);

  await asker.addBuddy(answerer.address);
  await answerer.nextBuddyRequest(asker.address);
  await answerer.answerBuddyRequest(asker.address, true);
  expect(await asker.nextBuddyResponse(answerer.address)).toEqual({ accepted: true });

  await asker.sendIm(answerer.address, TEXT);
  expect(await answerer.nextIm(asker.address)).toBe(TEXT);
  await answerer.sendIm(asker.address, TEXT_BACK);
  expect(await asker.nextIm(answerer.address)).toBe(TEXT_BACK);

  await asker.sendTyping(answerer.address, 'composing');
  expect(await answerer.nextTyping(asker.address)).toBe('composing');
  await answerer.sendTyping(asker.address, 'composing');
  expect(await asker.nextTyping(answerer.address)).toBe('composing');

  // Presence both ways. Each change is confirmed delivered by the watcher's gateway after it was
  // made, so an "online" seen before cannot stand in for the one after "away".
  for (const [who, watcher, gWatcher] of [
    [asker, answerer, gAns],
    [answerer, asker, gAsk],
  ] as const) {
    const delivered = (status: string) =>
      gatewayEvent(
        gWatcher,
        (e) =>
          e.type === 'delivered' &&
          e.event.kind === 'presence' &&
          same(e.event.from, who.address) &&
          e.event.status === status,
        `${addressKey(who.address)} ${status} delivered to ${addressKey(watcher.address)}`,
      );
    const away = delivered('away');
    await who.setPresence('away', 'out to lunch');
    await away;
    expect(await watcher.nextPresence(who.address, 'away')).toBe('away');
    const back = delivered('online');
    await who.setPresence('online');
    await back;
    expect(await watcher.nextPresence(who.address, 'online')).toBe('online');
  }

  await offline(asker, gAsk);
  await offline(answerer, gAns);
  await online(asker, gAsk);
  await online(answerer, gAns);
  expect(keysOf(asker.buddies())).toContain(addressKey(answerer.address));
  expect(keysOf(answerer.buddies())).toContain(addressKey(asker.address));
  await offline(asker, gAsk);
  await offline(answerer, gAns);
}

/** Section 3.2, the offline case: the request waits in the DHT until the answerer logs in. */
async function offlineRequest(asker: UserDriver, gAsk: Gateway, answerer: UserDriver, gAns: Gateway) {
  // The answerer has been online once (their gateway knows them) and is now logged out.
  await online(answerer, gAns);
  await offline(answerer, gAns);
  await online(asker, gAsk);
  const held = gatewayEvent(
    gAsk,
    (e) =>
      e.type === 'pending-held' && e.event.kind === 'buddy-request' && same(e.event.to, answerer.address),
    `the request to ${addressKey(answerer.address)} held as pending`,
  );
  await asker.addBuddy(answerer.address);
  await held;
  expect(
    (await gAns.directory.pendingFor(answerer.address)).map((p) => [
      p.request.kind,
      addressKey(p.request.from),
    ]),
  ).toContainEqual(['buddy-request', addressKey(asker.address)]);

  await online(answerer, gAns);
  await answerer.nextBuddyRequest(asker.address);
  await answerer.answerBuddyRequest(asker.address, true);
  expect(await asker.nextBuddyResponse(answerer.address)).toEqual({ accepted: true });
  await asker.sendIm(answerer.address, TEXT);
  expect(await answerer.nextIm(asker.address)).toBe(TEXT);
  await offline(asker, gAsk);
  await offline(answerer, gAns);
}

describe.each(OTHERS.flatMap((o) => DIALECTS.map((dialect) => ({ ...o, dialect }))))(
  "MSNP$dialect and $name: the paper's walk-through (Section 3.2), two gateways, one DHT",
  ({ start, dialect }) => {
    let msn: NetworkFixture;
    let other: NetworkFixture;
    let gM: Gateway;
    let gO: Gateway;
    const used: UserDriver[] = [];
    // MSN passports on domains that look like XMPP servers to a gateway bridging XMPP.
    const msnNames = ['carol@hotmail.com', 'cora@hotmail.com', 'cleo@example.org', 'cy@example.org'];
    const otherNames = ['yuki', 'yves', 'yann', 'yara'];

    beforeAll(async () => {
      msn = await msnpNetwork({ dialect })(
        msnNames.map((name): NetworkUser => ({ name, password: `${name}-pw` })),
      );
      other = await start(otherNames.map((name): NetworkUser => ({ name, password: `${name}-pw` })));
      const dht = new MemoryDht();
      gM = await gateway(dht);
      gO = await gateway(dht);
    });

    afterAll(async () => {
      for (const d of used.splice(0)) await d.disconnect().catch(() => {});
      await gM?.close();
      await gO?.close();
      await msn?.stop();
      await other?.stop();
    });

    const msnUser = (i: number) => {
      const d = msn.driver(msnNames[i]!, through(gM));
      used.push(d);
      return d;
    };
    const otherUser = (i: number) => {
      const d = other.driver(otherNames[i]!, through(gO));
      used.push(d);
      return d;
    };

    it('msn -> other: request, acceptance, IMs, typing, presence, lists after logging in again', async () => {
      await walkThrough(msnUser(0), gM, otherUser(0), gO);
    });

    it('other -> msn: request, acceptance, IMs, typing, presence, lists after logging in again', async () => {
      await walkThrough(otherUser(1), gO, msnUser(1), gM);
    });

    it('msn -> other, other offline: the request waits in the DHT until the login', async () => {
      await offlineRequest(msnUser(2), gM, otherUser(2), gO);
    });

    it('other -> msn, msn offline: the request waits in the DHT until the login', async () => {
      await offlineRequest(otherUser(3), gO, msnUser(3), gM);
    });
  },
);
