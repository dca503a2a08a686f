import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stanza } from '@crosstalk/codec-xmpp';
import { addressKey, formatAddress } from '@crosstalk/core';
import {
  Directory,
  G2gNode,
  G2gRefusedError,
  type GatewayIdentity,
  generateIdentity,
  identityKeyPair,
} from '@crosstalk/gateway';
import { HyperDhtStore, HyperDhtTransport } from '@crosstalk/network-hyperdht';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NetworkFixture, StartNetwork, UserDriver } from '../src/drivers/index.js';
import * as drivers from '../src/drivers/index.js';
import {
  type DirectoryReader,
  directoryReader,
  type GatewayProcess,
  seedStateFile,
  startGatewayProcess,
  startTestnetProcess,
  type TestnetProcess,
} from './support/distributed.js';
import {
  befriend,
  carriesRequestMessage,
  gatewayEvent,
  imBothWays,
  keysOf,
  offline,
  offlineRequest,
  online,
  type Party,
  same,
  through,
  until,
  walkThrough,
} from './support/walkthrough.js';

/**
 * Distributed mode with real processes: 36 hyperdht nodes in a process of their own, and one gateway
 * per network, each its own OS process started through the CLI (`crosstalk gateway --dht hyperdht
 * --bootstrap ...`). Every user goes through their network's gateway, so each pair's users are on
 * different gateways and everything between them crosses hyperdht: the directory, and G2G over
 * hyperdht's Noise streams. The IM servers (mock OSCAR, YMSG and MSNP servers, a real prosody) run
 * in this process.
 *
 * In file order: the paper's walk-through for the first 6 ordered pairs; churn (a third of the DHT
 * nodes stop while buddy requests wait for offline users, and the walk-through runs on what is left
 * before they come back); the other 6 pairs; an attacker on the DHT; every DHT node stopping and
 * coming back; a gateway killed with SIGKILL; a request held while its recipient's gateway is stopped
 * (SIGSTOP), shown once it resumes without a new login (two gateways of their own, `heldPoll`).
 *
 * The four gateways form a closed federation (`trustedGateways` lists their ids, known in advance
 * from seeded state files), as docs/operating.md advises for several gateways: in an open one, a
 * location record that a rogue signs for a user wins until the user's gateway republishes
 * (docs/ARCHITECTURE.md, "Who may say what").
 */
/**
 * More than the 20 the issue asks for: hyperdht's queries wait for the 20 closest nodes to answer
 * (its k), so with fewer than 20 live nodes left every query after churn would wait out the
 * retries to the stopped ones (6 s and more), as no network of real size would.
 */
const DHT_NODES = 36;
/** Stopped for the churn test: a third of the nodes, one of them a bootstrap node (0, 1 and 2 are). */
const CHURNED = Array.from({ length: DHT_NODES / 3 }, (_, i) => 3 * i + 1);
/**
 * From the DHT-loss test on, the Yahoo users' gateway runs with this soft TTL (`--soft-ttl`), so
 * that it notices a DHT gone within seconds and the SIGKILL test sees its users go offline within
 * seconds; the walk-through and churn run on the 60 s default. A soft TTL must be well above what a
 * publish takes: during churn that is several seconds, and records would lapse as they land.
 */
const SHORT_SOFT_TTL = 4000;

const NETWORKS = [
  {
    protocol: 'oscar',
    start: 'startOscarNetwork',
    names: ['aimasker', 'aimanswer', 'aimoffask', 'aimoffans'],
    extra: ['aimchurn', 'aimchurned', 'aimchurnwalk', 'aimvictim', 'aimkill'],
  },
  {
    protocol: 'ymsg',
    start: 'startYmsgNetwork',
    names: ['yasker', 'yanswer', 'yoffask', 'yoffans'],
    extra: ['ychurn', 'ychurned', 'ychurnwalk', 'yreplay', 'ylocal', 'ykill', 'yheld'],
  },
  {
    protocol: 'msnp',
    start: 'startMsnpNetwork',
    names: ['masker@hotmail.com', 'manswer@example.org', 'moffask@hotmail.com', 'moffans@example.org'],
    extra: [
      'mchurn@hotmail.com',
      'mchurned@hotmail.com',
      'mchurnwalk@hotmail.com',
      'mreplay@hotmail.com',
      'mlocal@hotmail.com',
      'mkill@hotmail.com',
      'mheld@hotmail.com',
    ],
  },
  {
    protocol: 'xmpp',
    start: 'startXmppNetwork',
    names: ['xasker', 'xanswer', 'xoffask', 'xoffans'],
    extra: ['xchurn', 'xchurned', 'xchurnwalk', 'xattack', 'xlocal', 'xkill', 'xtalk', 'xnew'],
  },
] as const;

type Net = (typeof NETWORKS)[number];
type Protocol = Net['protocol'];
const byProtocol = (p: Protocol) => NETWORKS.find((n) => n.protocol === p)!;

let dir: string;
let testnet: TestnetProcess;
let reader: DirectoryReader;
const identities = new Map<Protocol, GatewayIdentity>();
const fixtures = new Map<Protocol, NetworkFixture>();
const gateways = new Map<Protocol, GatewayProcess>();
const used: UserDriver[] = [];
const started = Date.now();

const stateFile = (p: Protocol) => join(dir, `${p}.state.json`);

async function startGateway(p: Protocol, softTtl?: number): Promise<GatewayProcess> {
  const g = await startGatewayProcess({
    name: `gw-${p}`,
    bootstrap: testnet.bootstrap,
    reader,
    stateFile: stateFile(p),
    config: { trustedGateways: [...identities.values()].map((i) => i.id) },
    ...(softTtl ? { softTtl } : {}),
  });
  gateways.set(p, g);
  return g;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crosstalk-distributed-'));
  testnet = await startTestnetProcess(DHT_NODES);
  reader = await directoryReader(testnet.bootstrap);
  for (const n of NETWORKS) {
    const identity = generateIdentity();
    identities.set(n.protocol, identity);
    await seedStateFile(stateFile(n.protocol), identity);
  }
  const networks = NETWORKS.map(async (n) => {
    const start = (drivers as unknown as Record<string, StartNetwork>)[n.start]!;
    // Each walk-through user appears in 3 pairs as asker and 3 as answerer: one account per pair.
    const names = [
      ...NETWORKS.flatMap((o) => (o === n ? [] : n.names.map((name) => tagged(name, o.protocol)))),
      ...n.extra,
    ];
    fixtures.set(n.protocol, await start(names.map((name) => ({ name, password: `${name}-pw` }))));
  });
  await Promise.all([...networks, ...NETWORKS.map((n) => startGateway(n.protocol))]);
  for (const n of NETWORKS) expect(gateways.get(n.protocol)!.id).toBe(identities.get(n.protocol)!.id);
}, 180_000);

afterAll(async () => {
  for (const d of used.splice(0)) await d.disconnect().catch(() => {});
  for (const g of gateways.values()) await g.stop().catch(() => {});
  for (const f of fixtures.values()) await f.stop().catch(() => {});
  await reader?.close();
  await testnet?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  if (process.env.E2E_DEBUG) process.stderr.write(`e2e-distributed: ${Date.now() - started} ms\n`);
}, 60_000);

/** A per-pair account name: `yasker` for the pair with oscar becomes `yaskeroscar` (MSN: before the @). */
function tagged(name: string, with_: string): string {
  const at = name.indexOf('@');
  return at < 0 ? `${name}${with_}` : `${name.slice(0, at)}${with_}${name.slice(at)}`;
}

/** A user and the gateway process their client goes through. */
type RemoteParty = Party & { gateway: GatewayProcess };

function user(p: Protocol, name: string, via: Protocol = p): RemoteParty {
  const gateway = gateways.get(via)!;
  const driver = fixtures.get(p)!.driver(name, through(gateway));
  used.push(driver);
  return { user: driver, gateway, protocol: p };
}

/** A request's text as it arrives: only where both protocols carry one (MSNP does not). */
const seen = (from: Party, to: Party, message: string) =>
  carriesRequestMessage(from.protocol) && carriesRequestMessage(to.protocol) ? { message } : {};

const party = (net: Net, index: number, peer: Net) =>
  user(net.protocol, tagged(net.names[index]!, peer.protocol));

const pairs = NETWORKS.flatMap((a) => NETWORKS.filter((b) => b !== a).map((b) => [a, b] as const));

// Each step may wait up to 30 s: four gateway processes and a DHT of 36 nodes share two cores
// with the rest of the suite, and a step there took over 10 s on a loaded machine.
const STEP = { timeoutMs: 30_000 };

function walkThroughPairs(list: typeof pairs) {
  describe.each(list.map(([a, b]) => ({ a, b, name: `${a.protocol} -> ${b.protocol}` })))(
    'walk-through $name',
    ({ a, b }) => {
      it('both online: request, acceptance, IMs, typing, presence, lists after logging back in', async () => {
        await walkThrough(party(a, 0, b), party(b, 1, a), STEP);
      }, 180_000);

      it('answerer offline: the request waits in the DHT and is accepted at the next login', async () => {
        await offlineRequest(party(a, 2, b), party(b, 3, a), STEP);
      }, 180_000);
    },
  );
}

walkThroughPairs(pairs.slice(0, 6));

describe('churn: a third of the DHT nodes stop', () => {
  it('buddy requests held for offline users are all delivered after it, and the walk-through passes', async () => {
    // After churn each DHT operation takes seconds: hyperdht waits out its requests to the stopped
    // nodes, which the others keep naming for minutes.
    const slow = { timeoutMs: 60_000 };
    // Each network's user asks the next network's user, who is offline: four requests in the DHT.
    const ring: Protocol[] = ['oscar', 'ymsg', 'msnp', 'xmpp'];
    const rounds = ring.map((p, i) => {
      const next = ring[(i + 1) % ring.length]!;
      return { asker: user(p, byProtocol(p).extra[0]), answerer: user(next, byProtocol(next).extra[1]) };
    });
    await Promise.all(
      rounds.map(async ({ asker, answerer }) => {
        await online(asker.user, asker.gateway);
        const held = gatewayEvent(
          asker.gateway,
          (e) => e.type === 'pending-held' && same(e.event.to, answerer.user.address),
          `the request to ${formatAddress(answerer.user.address)} held`,
        );
        await asker.user.addBuddy(answerer.user.address, 'through the churn?');
        await held;
        await offline(asker.user, asker.gateway);
      }),
    );

    await testnet.stop(CHURNED);
    try {
      // The held requests, and the walk-through on what is left (two pairs between all four
      // gateways), all at once.
      await Promise.all([
        ...rounds.map(async ({ asker, answerer }) => {
          await online(asker.user, asker.gateway, slow);
          await online(answerer.user, answerer.gateway, slow);
          expect(await answerer.user.nextBuddyRequest(asker.user.address, slow.timeoutMs)).toEqual(
            seen(asker, answerer, 'through the churn?'),
          );
          await answerer.user.answerBuddyRequest(asker.user.address, true);
          expect(await asker.user.nextBuddyResponse(answerer.user.address, slow.timeoutMs)).toEqual({
            accepted: true,
          });
          await imBothWays(asker.user, answerer.user, slow);
          await offline(asker.user, asker.gateway, slow);
          await offline(answerer.user, answerer.gateway, slow);
        }),
        walkThrough(
          user('oscar', byProtocol('oscar').extra[2]),
          user('xmpp', byProtocol('xmpp').extra[2]),
          slow,
        ),
        walkThrough(
          user('msnp', byProtocol('msnp').extra[2]),
          user('ymsg', byProtocol('ymsg').extra[2]),
          slow,
        ),
      ]);
    } finally {
      // Back on the same ports (the same node ids), so the tests after this one run at full speed.
      await testnet.start(CHURNED);
    }
  }, 300_000);
});

walkThroughPairs(pairs.slice(6));

describe('an attacker on the DHT gets nothing delivered', () => {
  /** A rogue: a DHT node and a G2G listener of its own key; `stolen` collects what reaches it. */
  let rogue: {
    identity: GatewayIdentity;
    store: HyperDhtStore;
    directory: Directory;
    node: G2gNode;
    stolen: Uint8Array[];
  };

  beforeAll(async () => {
    const identity = generateIdentity();
    const store = new HyperDhtStore({ bootstrap: [...testnet.bootstrap] });
    await store.ready();
    const stolen: Uint8Array[] = [];
    const node = new G2gNode({
      transport: new HyperDhtTransport({ node: store.node, keyPair: identityKeyPair(identity) }),
      onEvent: async (_peer, payload) => {
        stolen.push(payload);
        return 'stolen';
      },
    });
    await node.listen();
    rogue = { identity, store, directory: new Directory({ dht: store, identity }), node, stolen };
  }, 60_000);
  afterAll(async () => {
    await rogue?.node.close();
    await rogue?.store.close();
  });

  it('a location record for alice@aol under its own key: IMs to alice still reach her', async () => {
    const alice = user('oscar', 'aimvictim');
    const dave = user('xmpp', 'xattack');
    await online(alice.user, alice.gateway);
    await online(dave.user, dave.gateway);
    // Dated after alice's own record, so in an open federation it would be the one believed.
    await rogue.directory.publishLocation(alice.user.address, { transport: 'hyperdht' });
    const refused = dave.gateway.nextLog(
      (l) => l.msg === 'rejected a directory record' && l.code === 'ERR_UNAUTHORISED_RECORD',
      'the rogue location record refused',
      20_000,
    );
    await dave.user.sendIm(alice.user.address, 'for alice only');
    expect(await alice.user.nextIm(dave.user.address, 20_000)).toBe('for alice only');
    await refused;
    expect(rogue.stolen).toHaveLength(0);
    await rogue.directory.withdrawLocation(alice.user.address);
    await offline(dave.user, dave.gateway);
    await offline(alice.user, alice.gateway);
  }, 90_000);

  it('a buddy request replayed after it was answered is not delivered again', async () => {
    const asker = user('ymsg', 'yreplay');
    const answerer = user('msnp', 'mreplay@hotmail.com');
    const newcomer = user('xmpp', 'xnew');
    const key = Directory.pendingKey(answerer.user.address);
    await online(asker.user, asker.gateway);
    const held = gatewayEvent(asker.gateway, (e) => e.type === 'pending-held', 'the request held');
    await asker.user.addBuddy(answerer.user.address, 'replay me');
    await held;
    // The rogue keeps the genuine record's bytes (signed by the asker's gateway) as the DHT serves them.
    const recorded = await rogue.store.get(key);
    expect(recorded).toHaveLength(1);
    await online(answerer.user, answerer.gateway);
    await answerer.user.nextBuddyRequest(asker.user.address, 20_000);
    await answerer.user.answerBuddyRequest(asker.user.address, true);
    expect(await asker.user.nextBuddyResponse(answerer.user.address, 20_000)).toEqual({ accepted: true });
    await offline(answerer.user, answerer.gateway);
    // Answered: the asker's gateway no longer holds it. The rogue stores the old record again.
    await until(async () => (await rogue.store.get(key)).length === 0, 'the answered request released');
    await rogue.store.put(key, recorded[0]!, { ttl: 60 * 60 * 1000, secret: 'rogue' });
    expect(
      (await reader.directory.pendingFor(answerer.user.address)).map((p) => addressKey(p.request.from)),
    ).toEqual([addressKey(asker.user.address)]);
    // A genuine request stored after the replay: delivered after it, in the same pass.
    await online(newcomer.user, newcomer.gateway);
    const newHeld = gatewayEvent(newcomer.gateway, (e) => e.type === 'pending-held', 'the new request held');
    await newcomer.user.addBuddy(answerer.user.address, 'genuine');
    await newHeld;
    await online(answerer.user, answerer.gateway);
    await answerer.user.nextBuddyRequest(newcomer.user.address, 20_000);
    await expect(answerer.user.nextBuddyRequest(asker.user.address, 1)).rejects.toThrow(/timed out/);
    for (const p of [asker, answerer, newcomer]) await offline(p.user, p.gateway);
  }, 90_000);

  it('a G2G link from a key the directory does not name for the sender: refused, nothing delivered', async () => {
    const alice = user('oscar', 'aimvictim');
    const dave = user('xmpp', 'xattack');
    await online(alice.user, alice.gateway);
    await online(dave.user, dave.gateway);
    const forged = stanza.encode({
      kind: 'im',
      id: 'forged-1',
      from: dave.user.address,
      to: alice.user.address,
      text: 'forged',
      sentAt: Date.now(),
    });
    const sent = rogue.node.send({ id: alice.gateway.id, contact: { transport: 'hyperdht' } }, forged);
    await expect(sent).rejects.toBeInstanceOf(G2gRefusedError);
    await expect(sent).rejects.toMatchObject({ refusal: 'ERR_SPOOFED_EVENT' });
    // The next IM alice gets from dave is the one dave sent.
    await dave.user.sendIm(alice.user.address, 'the real dave');
    expect(await alice.user.nextIm(dave.user.address, 20_000)).toBe('the real dave');
    expect(rogue.stolen).toHaveLength(0);
    await offline(dave.user, dave.gateway);
    await offline(alice.user, alice.gateway);
  }, 90_000);
});

describe('every DHT node stops, then comes back', () => {
  beforeAll(async () => {
    // Restarted (gracefully, same state file, same id) with the short soft TTL, for this test and the next.
    expect(await gateways.get('ymsg')!.stop()).toBe(0);
    const g = await startGateway('ymsg', SHORT_SOFT_TTL);
    expect(g.id).toBe(identities.get('ymsg')!.id);
  }, 60_000);

  it('the gateway keeps serving its local users, and republishes its records when the DHT is back', async () => {
    // Two users of one gateway (the Yahoo one) on different protocols, buddies of each other.
    const yahoo = user('ymsg', 'ylocal');
    const msn = user('msnp', 'mlocal@hotmail.com', 'ymsg');
    const away = user('xmpp', 'xlocal');
    const g = gateways.get('ymsg')!;
    await online(yahoo.user, g);
    await online(msn.user, g);
    await befriend(yahoo.user, msn.user, undefined, {});
    // A request this gateway holds for an offline user: hard state, in the DHT.
    const held = gatewayEvent(g, (e) => e.type === 'pending-held', 'the request held');
    await yahoo.user.addBuddy(away.user.address, 'when you are back');
    await held;

    const noticed = g.nextLog(
      (l) => l.msg === 'could not publish to the directory; retrying',
      'a failed publish',
      60_000,
    );
    await testnet.stop(testnet.nodes.map((_, i) => i));
    await noticed;
    // Without the DHT: IMs both ways, typing, presence, and a logout and login.
    await imBothWays(yahoo.user, msn.user);
    await yahoo.user.sendTyping(msn.user.address, 'composing');
    expect(await msn.user.nextTyping(yahoo.user.address)).toBe('composing');
    await yahoo.user.setPresence('away', 'no DHT');
    expect(await msn.user.nextPresence(yahoo.user.address, 'away')).toBe('away');
    await yahoo.user.setPresence('online');
    expect(await msn.user.nextPresence(yahoo.user.address, 'online')).toBe('online');
    // The logout reaches its buddy here at once (withdrawing its records waits for the DHT).
    await msn.user.logout();
    expect(await yahoo.user.nextPresence(msn.user.address, 'offline')).toBe('offline');
    const back = gatewayEvent(g, (e) => e.type === 'verified' && same(e.user, msn.user.address), 'login');
    await msn.user.login();
    await back;
    expect(keysOf(msn.user.buddies())).toContain(addressKey(yahoo.user.address));
    await imBothWays(msn.user, yahoo.user);

    await testnet.start(testnet.nodes.map((_, i) => i));
    // The bound the issue asks for. The gateway retries a failed publish with a backoff capped at a
    // third of its soft TTL (1.3 s here), and a republish takes about a second; but an attempt begun
    // while every node was down fails only after hyperdht's request timeouts and retries (15 to
    // 20 s here), so records are back within about 25 s. 60 s leaves room for a loaded CI machine.
    const bound = 60_000;
    const directory = reader.directory;
    await until(
      async () => {
        const [l1, l2, home, pending, caps, reachable] = await Promise.all([
          directory.lookupLocation(yahoo.user.address),
          directory.lookupLocation(msn.user.address),
          directory.lookupHome(yahoo.user.address),
          directory.pendingFor(away.user.address),
          directory.capabilities('ymsg>canonical:xmpp-stanza'),
          // Every gateway, not only the one that noticed: the others' announcements were lost too.
          Promise.all([...gateways.values()].map((other) => reader.reachable(other.id))).then((all) =>
            all.every(Boolean),
          ),
        ]).catch(() => []);
        return (
          l1?.gateway === g.id &&
          l2?.gateway === g.id &&
          home?.gateway === g.id &&
          (pending ?? []).some((p) => same(p.request.from, yahoo.user.address)) &&
          (caps ?? []).some((c) => c.gateway === g.id) &&
          reachable === true
        );
      },
      "the gateway's records back in the DHT, and every gateway reachable by its key",
      bound,
    );
    // And it is reachable again: the held request reaches its user on another gateway, the answer
    // comes back over G2G.
    await online(away.user, away.gateway);
    expect(await away.user.nextBuddyRequest(yahoo.user.address, 20_000)).toEqual(
      seen(yahoo, away, 'when you are back'),
    );
    await away.user.answerBuddyRequest(yahoo.user.address, true);
    expect(await yahoo.user.nextBuddyResponse(away.user.address, 20_000)).toEqual({ accepted: true });
    await imBothWays(away.user, yahoo.user);
    for (const p of [yahoo, msn, away]) await offline(p.user, p.gateway);
  }, 180_000);
});

describe('a gateway killed with SIGKILL', () => {
  it('others keep talking, its users look offline within the soft TTL, and a restart brings them back', async () => {
    const victim = user('ymsg', 'ykill');
    const aim = user('oscar', 'aimkill');
    const msn = user('msnp', 'mkill@hotmail.com');
    const xmpp = user('xmpp', 'xtalk');
    const later = user('xmpp', 'xkill');
    const gKilled = gateways.get('ymsg')!;
    for (const p of [victim, aim, msn, xmpp]) await online(p.user, p.gateway);
    await befriend(victim.user, aim.user, undefined, {});
    await befriend(victim.user, msn.user, undefined, {});
    await befriend(aim.user, xmpp.user, undefined, {});
    // Seen online by both buddies (each delivery confirmed by the watcher's gateway).
    for (const watcher of [aim, msn])
      expect(await watcher.user.nextPresence(victim.user.address, 'online')).toBe('online');
    const held = gatewayEvent(gKilled, (e) => e.type === 'pending-held', 'the request held');
    await victim.user.addBuddy(later.user.address, 'after the crash');
    await held;

    await gKilled.kill();
    const killedAt = Date.now();
    // The other gateways' users keep talking.
    await imBothWays(aim.user, xmpp.user);
    // The bound the issue asks for: the victim's foreign buddies see it offline once its location
    // record lapses, at most the soft TTL after the kill (it was signed before), plus the lookup
    // that finds it gone; 5 s of slack for that lookup on a loaded 2-core CI machine.
    for (const watcher of [aim, msn])
      expect(await watcher.user.nextPresence(victim.user.address, 'offline', SHORT_SOFT_TTL + 20_000)).toBe(
        'offline',
      );
    expect(Date.now() - killedAt).toBeLessThan(SHORT_SOFT_TTL + 5_000);
    await victim.user.disconnect();

    const restarted = await startGateway('ymsg', SHORT_SOFT_TTL);
    expect(restarted.id).toBe(gKilled.id);
    const back = user('ymsg', 'ykill');
    await online(back.user, restarted);
    // Its foreign buddies are in its list again, see it online, and talk to it.
    expect(keysOf(back.user.buddies())).toEqual(
      expect.arrayContaining([aim, msn, later].map((p) => addressKey(p.user.address))),
    );
    for (const watcher of [aim, msn])
      expect(await watcher.user.nextPresence(back.user.address, 'online', 20_000)).toBe('online');
    await imBothWays(back.user, aim.user);
    await imBothWays(msn.user, back.user);
    // The request it held before the crash reaches its user, and the answer comes back.
    await online(later.user, later.gateway);
    expect(await later.user.nextBuddyRequest(back.user.address, 20_000)).toEqual(
      seen(back, later, 'after the crash'),
    );
    await later.user.answerBuddyRequest(back.user.address, true);
    expect(await back.user.nextBuddyResponse(later.user.address, 20_000)).toEqual({ accepted: true });
    for (const p of [aim, msn, xmpp, later]) await offline(p.user, p.gateway);
    await offline(back.user, restarted);
  }, 180_000);
});

describe('a request held while its recipient stays online', () => {
  it("is shown once the recipient's gateway is reachable again, without a new login (heldPoll)", async () => {
    // Two gateways of their own: the sender's makes no tries (`heldRetry: []`), so only the
    // recipient's gateway reading what is held for its online users can show the request; it
    // reads at every refresh of the user's records (a third of its 3 s soft TTL), at most every 3 s.
    const senderId = generateIdentity();
    const recipientId = generateIdentity();
    const trusted = [senderId.id, recipientId.id];
    await seedStateFile(join(dir, 'held-sender.state.json'), senderId);
    await seedStateFile(join(dir, 'held-recipient.state.json'), recipientId);
    const sender = await startGatewayProcess({
      name: 'gw-held-sender',
      bootstrap: testnet.bootstrap,
      reader,
      stateFile: join(dir, 'held-sender.state.json'),
      config: { trustedGateways: trusted, heldRetry: [] },
    });
    const recipient = await startGatewayProcess({
      name: 'gw-held-recipient',
      bootstrap: testnet.bootstrap,
      reader,
      stateFile: join(dir, 'held-recipient.state.json'),
      config: { trustedGateways: trusted, heldPoll: 3000 },
      softTtl: 3000,
    });
    try {
      const asker = fixtures.get('ymsg')!.driver('yheld', through(sender));
      const answerer = fixtures.get('msnp')!.driver('mheld@hotmail.com', through(recipient));
      used.push(asker, answerer);
      await online(asker, sender);
      // The login's own read of held requests done before the request exists (it runs once the
      // user's records are published, which may take seconds).
      const loginRead = recipient.nextLog(
        (l) => l.msg === 'read held requests' && l.user === formatAddress(answerer.address),
        "the login's read of held requests",
        60_000,
      );
      await online(answerer, recipient);
      await loginRead;
      // The recipient's gateway stops answering (SIGSTOP): its user's connection stays open. The
      // request is sent once their location has lapsed, so the sender's gateway holds it at once
      // rather than after a dial to the stopped gateway times out.
      process.kill(recipient.pid, 'SIGSTOP');
      await until(
        async () => (await reader.directory.lookupLocation(answerer.address)) === undefined,
        "the recipient's location lapsed",
        30_000,
      );
      const held = gatewayEvent(
        sender,
        (e) => e.type === 'pending-held' && same(e.event.to, answerer.address),
        'the request held',
        60_000,
      );
      await asker.addBuddy(answerer.address, 'while you were unreachable');
      await held;
      process.kill(recipient.pid, 'SIGCONT');
      // The same session, no new login: read from the DHT at a refresh after the gateway resumed.
      expect(await answerer.nextBuddyRequest(asker.address, 30_000)).toEqual({});
      await answerer.answerBuddyRequest(asker.address, true);
      expect(await asker.nextBuddyResponse(answerer.address, 30_000)).toEqual({ accepted: true });
      await offline(asker, sender);
      await offline(answerer, recipient);
    } finally {
      try {
        process.kill(recipient.pid, 'SIGCONT');
      } catch {}
      await sender.stop().catch(() => {});
      await recipient.stop().catch(() => {});
    }
  }, 180_000);
});

describe('the distributed matrix', () => {
  it('covers all four protocols (12 ordered pairs), each user on another gateway than the buddy', () => {
    expect(pairs).toHaveLength(12);
    expect(new Set([...gateways.values()].map((g) => g.pid)).size).toBe(4);
    expect(new Set([...gateways.values()].map((g) => g.pid)).has(process.pid)).toBe(false);
  });
});
