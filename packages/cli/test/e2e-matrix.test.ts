import { MemoryDht } from '@crosstalk/core';
import type { Gateway } from '@crosstalk/gateway';
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { NetworkFixture, StartNetwork, UserDriver } from '../src/drivers/index.js';
import * as drivers from '../src/drivers/index.js';
import { offlineRequest, type Party, startGateway, through, walkThrough } from './support/walkthrough.js';

/**
 * The paper's walk-through (§3.2) for every ordered pair of the four protocols: 12 pairs, each
 * with the answerer online and offline. One gateway per network, all sharing one in-memory DHT;
 * XMPP on a real prosody, the others on their mock servers.
 */
const NETWORKS = [
  {
    protocol: 'oscar',
    start: 'startOscarNetwork',
    names: ['aimasker', 'aimanswer', 'aimoffask', 'aimoffans'],
  },
  { protocol: 'ymsg', start: 'startYmsgNetwork', names: ['yasker', 'yanswer', 'yoffask', 'yoffans'] },
  {
    protocol: 'msnp',
    start: 'startMsnpNetwork',
    names: ['masker@hotmail.com', 'manswer@example.org', 'moffask@hotmail.com', 'moffans@example.org'],
  },
  { protocol: 'xmpp', start: 'startXmppNetwork', names: ['xasker', 'xanswer', 'xoffask', 'xoffans'] },
] as const;

type Net = (typeof NETWORKS)[number];
const available = NETWORKS.filter(
  (n) => (drivers as unknown as Record<string, StartNetwork | undefined>)[n.start],
);
const fixtures = new Map<string, NetworkFixture>();
const gateways = new Map<string, Gateway>();
const used: UserDriver[] = [];

beforeAll(async () => {
  const dht = new MemoryDht();
  for (const n of available) {
    const start = (drivers as unknown as Record<string, StartNetwork>)[n.start]!;
    // Each user appears in 3 pairs as asker and 3 as answerer: one account per (role, pair).
    const names = available.flatMap((o) => (o === n ? [] : n.names.map((name) => tagged(name, o.protocol))));
    fixtures.set(n.protocol, await start(names.map((name) => ({ name, password: `${name}-pw` }))));
    gateways.set(n.protocol, await startGateway(dht));
  }
}, 120_000);

afterAll(async () => {
  for (const d of used.splice(0)) await d.disconnect().catch(() => {});
  for (const g of gateways.values()) await g.close();
  for (const f of fixtures.values()) await f.stop();
});

/** A per-pair account name: `yasker` for the pair with oscar becomes `yaskeroscar` (MSN: before the @). */
function tagged(name: string, with_: string): string {
  const at = name.indexOf('@');
  return at < 0 ? `${name}${with_}` : `${name.slice(0, at)}${with_}${name.slice(at)}`;
}

function party(net: Net, index: number, peer: Net): Party {
  const gateway = gateways.get(net.protocol)!;
  const user = fixtures.get(net.protocol)!.driver(tagged(net.names[index]!, peer.protocol), through(gateway));
  used.push(user);
  return { user, gateway, protocol: net.protocol };
}

const pairs = available.flatMap((a) => available.filter((b) => b !== a).map((b) => [a, b] as const));

describe.each(pairs.map(([a, b]) => ({ a, b, name: `${a.protocol} -> ${b.protocol}` })))(
  'walk-through $name',
  ({ a, b }) => {
    it('both online: request, acceptance, IMs, typing, presence, lists after logging back in', async () => {
      await walkThrough(party(a, 0, b), party(b, 1, a));
    }, 60_000);

    it('answerer offline: the request waits in the DHT and is accepted at the next login', async () => {
      await offlineRequest(party(a, 2, b), party(b, 3, a));
    }, 60_000);
  },
);

describe('the matrix', () => {
  it('covers all four protocols (12 ordered pairs)', () => {
    if (available.length !== 4)
      throw new Error(`only ${available.map((n) => n.protocol).join(', ')} have drivers`);
  });
});
