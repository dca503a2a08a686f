import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningProsody, startProsody } from '@crosstalk/codec-xmpp/testing';
import { bytesSource } from '@crosstalk/shim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectXmppUser,
  type NetworkFixture,
  type StartNetwork,
  startMsnpNetwork,
  startOscarNetwork,
  startYmsgNetwork,
  type UserDriver,
} from '../src/drivers/index.js';
import {
  type DirectoryReader,
  directoryReader,
  type GatewayProcess,
  startGatewayProcess,
  startTestnetProcess,
  type TestnetProcess,
} from './support/distributed.js';
import { ShimUser } from './support/shim-user.js';
import {
  gatewayEvent,
  offline,
  offlineRequest,
  online,
  type Party,
  through,
  walkThrough,
} from './support/walkthrough.js';

/**
 * The shim across processes: a hyperdht network in a process of its own, a SOCKS gateway per
 * legacy network each in its own process (`crosstalk gateway --dht hyperdht`), and the shim user
 * (alice's node, with her XMPP base client on a prosody that requires TLS) in this one. Everything
 * between the shim user and the others crosses hyperdht: the directory records, and G2G over
 * hyperdht's Noise streams. The walk-through both ways with each, and requests held for whoever is
 * offline. The fourth legacy network is XMPP: users of a plain prosody of another domain
 * (`jabber.localhost`) behind their gateway, which reaches the shim user's domain through
 * CrossTalk (`foreignDomains`) since no s2s joins the two servers.
 */

/** XMPP users of a plain prosody whose domain is not the shim user's server's. */
const startPlainXmpp: StartNetwork = async (users) => {
  const server = await startProsody({
    domain: 'jabber.localhost',
    users: users.map((u) => ({ user: u.name, password: u.password })),
  });
  const at = { host: server.host, port: server.port, network: server.domain };
  return {
    protocol: 'xmpp',
    network: server.domain,
    server: { host: server.host, port: server.port },
    address: (name) => ({ user: name, network: server.domain }),
    driver: (name, dial) => connectXmppUser(at, users.find((u) => u.name === name)!, dial),
    stop: () => server.stop(),
  };
};

const LEGACY = [
  {
    protocol: 'oscar',
    start: startOscarNetwork,
    names: ['aimasker', 'aimanswer', 'aimoffask', 'aimoffans'],
  },
  { protocol: 'ymsg', start: startYmsgNetwork, names: ['yasker', 'yanswer', 'yoffask', 'yoffans'] },
  {
    protocol: 'msnp',
    start: startMsnpNetwork,
    names: ['masker@hotmail.com', 'manswer@example.org', 'moffask@hotmail.com', 'moffans@example.org'],
  },
  { protocol: 'xmpp', start: startPlainXmpp, names: ['xasker', 'xanswer', 'xoffask', 'xoffans'] },
] as const;
type Legacy = (typeof LEGACY)[number];
const ROLES = ['asks', 'answers', 'offasks', 'offanswers'] as const;
/** hyperdht's queries wait for its k (20) closest nodes; fewer would make every lookup wait out retries. */
const DHT_NODES = 20;
/** A step across processes and the DHT: lookups take tens of ms, a login's publish a few hundred. */
const STEP = { timeoutMs: 30_000 };

let dir: string;
let testnet: TestnetProcess;
let reader: DirectoryReader;
let prosody: RunningProsody;
const fixtures = new Map<string, NetworkFixture>();
const gateways = new Map<string, GatewayProcess>();
const used: UserDriver[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crosstalk-e2e-shim-dist-'));
  testnet = await startTestnetProcess(DHT_NODES);
  reader = await directoryReader(testnet.bootstrap);
  prosody = await startProsody({
    requireEncryption: true,
    users: LEGACY.flatMap((n) => ROLES.map((r) => `${r}-${n.protocol}`)).map((user) => ({
      user,
      password: `${user}-pw`,
    })),
  });
  await Promise.all(
    LEGACY.map(async (n) => {
      fixtures.set(n.protocol, await n.start(n.names.map((name) => ({ name, password: `${name}-pw` }))));
      gateways.set(
        n.protocol,
        await startGatewayProcess({
          name: n.protocol,
          bootstrap: testnet.bootstrap,
          reader,
          stateFile: join(dir, `${n.protocol}.state.json`),
          // No s2s joins the plain prosody to the shim user's: her domain is reached through CrossTalk.
          ...(n.protocol === 'xmpp' ? { config: { foreignDomains: [prosody.domain] } } : {}),
        }),
      );
    }),
  );
}, 180_000);

afterAll(async () => {
  for (const d of used.splice(0)) await d.disconnect().catch(() => {});
  await Promise.all([...gateways.values()].map((g) => g.stop()));
  for (const f of fixtures.values()) await f.stop();
  await prosody?.stop();
  await reader?.close();
  await testnet?.close();
  await rm(dir, { recursive: true, force: true });
}, 60_000);

function shimParty(account: string): Party {
  const user = new ShimUser({
    prosody,
    user: account,
    password: `${account}-pw`,
    hyperdht: { bootstrap: testnet.bootstrap },
    stateFile: join(dir, `${account}.json`),
    directory: reader.directory,
    // Alice's server does not federate: users of other XMPP domains are reached over G2G.
    reaches: (to) => to.network === prosody.domain,
  });
  used.push(user);
  return { user, gateway: user.view, protocol: 'xmpp' };
}

function legacyParty(net: Legacy, index: number): Party {
  const gateway = gateways.get(net.protocol)!;
  const user = fixtures.get(net.protocol)!.driver(net.names[index]!, through(gateway));
  used.push(user);
  return { user, gateway, protocol: net.protocol };
}

describe.each(LEGACY.map((n) => ({ n, name: n.protocol })))(
  'the shim user and $name, each on a node of its own process, over hyperdht',
  ({ n }) => {
    it('walk-through, the shim user asking', async () => {
      await walkThrough(shimParty(`asks-${n.protocol}`), legacyParty(n, 1), STEP);
    }, 180_000);

    it(`walk-through, the ${n.protocol} user asking`, async () => {
      await walkThrough(legacyParty(n, 0), shimParty(`answers-${n.protocol}`), STEP);
    }, 180_000);

    it('a request from the shim user to an offline user is held in the DHT and accepted at their login', async () => {
      await offlineRequest(shimParty(`offasks-${n.protocol}`), legacyParty(n, 3), STEP);
    }, 180_000);

    it('a request to the shim user while offline is held in the DHT and reaches the shim when it starts', async () => {
      await offlineRequest(legacyParty(n, 2), shimParty(`offanswers-${n.protocol}`), STEP);
    }, 180_000);

    it(`a file the shim user offers: ${n.protocol === 'xmpp' ? 'the offer, its bytes pushed by the gateway' : 'a notice IM with its name, size and SHA-256'}`, async () => {
      // The first walk-through's two users, buddies since.
      const shim = shimParty(`asks-${n.protocol}`);
      const legacy = legacyParty(n, 1);
      await online(shim.user, shim.gateway, STEP);
      await online(legacy.user, legacy.gateway, STEP);
      const data = new TextEncoder().encode('minutes of the meeting, ünïcödé ✓\n'.repeat(200));
      const sha256 = createHash('sha256').update(data).digest('hex');
      const delivered = gatewayEvent(
        legacy.gateway,
        (e) => e.type === 'delivered' && (e.event.kind === 'file-offer' || e.event.kind === 'im'),
        `the offer delivered to ${legacy.user.address.user}`,
        STEP.timeoutMs,
      );
      const offer = await (shim.user as ShimUser).shim.sendFile(
        legacy.user.address,
        bytesSource('minutes.txt', data),
      );
      expect(offer.sha256).toBe(sha256);
      if (n.protocol === 'xmpp') {
        // XMPP carries the offer itself (XEP-0447; its bytes follow as XEP-0047, e2e-ibb.test.ts).
        expect(await delivered).toMatchObject({ event: { kind: 'file-offer', id: offer.id } });
      } else {
        const text = await legacy.user.nextIm(shim.user.address, STEP.timeoutMs);
        expect(text).toContain('minutes.txt');
        expect(text).toContain(data.length.toLocaleString('en-US'));
        expect(text).toContain(sha256);
      }
      // Nothing crashed: an IM after it gets there.
      await legacy.user.sendIm(shim.user.address, 'got it, thanks ✓');
      expect(await shim.user.nextIm(legacy.user.address, STEP.timeoutMs)).toBe('got it, thanks ✓');
      await offline(shim.user, shim.gateway, STEP);
      await offline(legacy.user, legacy.gateway, STEP);
    }, 180_000);
  },
);
