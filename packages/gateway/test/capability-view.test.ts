import { type Feature, MemoryDht } from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import {
  type CapabilityLookup,
  CapabilityView,
  Directory,
  type GatewayIdentity,
  generateIdentity,
  jsonForm,
  ownCapabilities,
} from '../src/index.js';
import type { FormDescription } from '../src/routing/capability-records.js';
import { aimLike, ircLike, xmppLike } from './support/codecs.js';

const stanza: FormDescription = { name: 'xmpp-stanza' };
const ALL: Feature[] = [
  'im',
  'im.html',
  'typing',
  'presence',
  'presence.text',
  'presence.idle',
  'buddy-request',
];

/** A federation on one in-memory DHT with a clock the test moves. */
function federation() {
  let now = 1_000_000;
  const dht = new MemoryDht({ now: () => now });
  const directory = (identity: GatewayIdentity = generateIdentity()) =>
    new Directory({ dht, identity, now: () => now, capabilityTtl: 60_000 });
  /** A gateway that advertises what `caps` says (as the router would), and can withdraw it. */
  const gateway = async (caps: ReturnType<typeof ownCapabilities>, port: number) => {
    const identity = generateIdentity();
    const dir = directory(identity);
    const contact = { transport: 'tcp', host: '127.0.0.1', port };
    const byFrom = new Map<string, string[]>();
    for (const c of caps) {
      await dir.publishCapability(`${c.from}>${c.to}`, {
        cost: c.cost,
        preserves: c.preserves,
        ...(c.networks ? { networks: c.networks } : {}),
        contact,
      });
      byFrom.set(c.from, [...(byFrom.get(c.from) ?? []), c.to]);
    }
    for (const [from, to] of byFrom) await dir.publishCapabilityIndex(from, to);
    return {
      id: identity.id,
      withdraw: async () => {
        for (const c of caps) await dir.withdrawCapability(`${c.from}>${c.to}`);
        for (const from of byFrom.keys()) await dir.withdrawCapabilityIndex(from);
      },
    };
  };
  /** Counts the DHT reads a view makes. */
  const counting = (lookup: CapabilityLookup) => {
    const reads = { n: 0 };
    return {
      reads,
      lookup: {
        capabilityIndex: (from: string) => {
          reads.n++;
          return lookup.capabilityIndex(from);
        },
        capabilities: (edge: string) => {
          reads.n++;
          return lookup.capabilities(edge);
        },
      } satisfies CapabilityLookup,
    };
  };
  return { dht, directory, gateway, counting, advance: (ms: number) => (now += ms), now: () => now };
}

/** The paper's setting: A speaks JSON (AIM users), D stanzas (IRC, only there), B converts. */
async function chainOfThree() {
  const f = federation();
  const a = await f.gateway(ownCapabilities([aimLike()], [jsonForm]), 1);
  const b = await f.gateway(ownCapabilities([], [jsonForm, stanza]), 2);
  const d = await f.gateway(ownCapabilities([ircLike(), xmppLike()], [stanza]), 4);
  const { lookup, reads } = f.counting(f.directory());
  const view = new CapabilityView({ lookup, now: f.now, cacheTtl: 30_000 });
  await view.refresh(['oscar', 'canonical:json']);
  return { ...f, a, b, d, view, reads };
}

const steps = (route: { steps: { from: string; to: string; gateway: string }[] } | undefined) =>
  route?.steps.map((s) => `${s.from}>${s.to}@${s.gateway.slice(0, 6)}`);

describe('capability view', () => {
  it('finds a network only another gateway delivers to, through a converting gateway', async () => {
    const { view, a, b, d } = await chainOfThree();
    expect([...view.networks()].sort()).toEqual(['aol', 'icq', 'irc', 'xmpp']);
    const route = view.route({
      from: 'oscar',
      origin: a.id,
      network: 'irc',
      gateway: d.id,
      sourceFeatures: [...aimLike().features],
    });
    expect(steps(route)).toEqual([
      `oscar>canonical:json@${a.id.slice(0, 6)}`,
      `canonical:json>canonical:xmpp-stanza@${b.id.slice(0, 6)}`,
      `canonical:xmpp-stanza>irc@${d.id.slice(0, 6)}`,
    ]);
    expect(route).toMatchObject({ cost: 3, transfers: 2 });
    // What the chain loses: what AIM has and IRC does not carry.
    expect(route!.loses).toEqual(['im.html', 'presence.idle', 'typing']);
    expect(route!.steps[1]!.contact).toEqual({ transport: 'tcp', host: '127.0.0.1', port: 2 });
  });

  it('composes from what it holds: routing an event reads nothing from the DHT', async () => {
    const { view, a, d, reads } = await chainOfThree();
    const before = reads.n;
    for (let i = 0; i < 100; i++)
      expect(view.route({ from: 'oscar', origin: a.id, network: 'irc', gateway: d.id })).toBeDefined();
    expect(reads.n).toBe(before);
  });

  it('an IM with formatting prefers a chain that keeps im.html; a plain one takes the cheapest', async () => {
    const f = federation();
    const a = await f.gateway(ownCapabilities([aimLike()], [jsonForm]), 1);
    // Two converters: B keeps everything at cost 2, C drops formatting at cost 1.
    const b = await f.gateway(ownCapabilities([], [jsonForm, stanza], 2), 2);
    const c = await f.gateway(
      ownCapabilities(
        [],
        [{ name: 'json' }, { name: 'xmpp-stanza', features: new Set(ALL.filter((x) => x !== 'im.html')) }],
      ),
      3,
    );
    const d = await f.gateway(ownCapabilities([xmppLike()], [stanza]), 4);
    const view = new CapabilityView({ lookup: f.directory(), now: f.now, cacheTtl: 30_000 });
    await view.refresh(['oscar', 'canonical:json']);
    const query = { from: 'oscar', origin: a.id, network: 'xmpp', gateway: d.id };
    expect(view.route({ ...query, require: ['im', 'im.html'] })!.steps[1]!.gateway).toBe(b.id);
    expect(view.route({ ...query, require: ['im'] })!.steps[1]!.gateway).toBe(c.id);
    expect(view.route({ ...query, require: ['im'] })!.loses).toContain('im.html');
    expect(view.route({ ...query, require: ['im', 'im.html'] })!.preserves).toContain('im.html');
  });

  it('stays loop-free when forged records form a cycle of conversions at no cost', async () => {
    const { view, a, d, gateway } = await chainOfThree();
    // E says it converts both ways for free: a cycle json -> stanza -> json.
    const e = await gateway(ownCapabilities([], [jsonForm, stanza], 0), 5);
    await view.refresh(['oscar', 'canonical:json']);
    const route = view.route({ from: 'oscar', origin: a.id, network: 'irc', gateway: d.id })!;
    expect(route.steps.map((s) => s.gateway)).toEqual([a.id, e.id, d.id]);
    const formats = [route.steps[0]!.from, ...route.steps.map((s) => s.to)];
    expect(new Set(formats).size).toBe(formats.length);
  });

  it('keeps records for its cache TTL: a withdrawn gateway is used until the view reads again', async () => {
    const { view, a, b, d, advance } = await chainOfThree();
    const query = { from: 'oscar', origin: a.id, network: 'irc', gateway: d.id };
    await b.withdraw();
    expect(view.route(query)).toBeDefined();
    await view.refresh(['oscar', 'canonical:json']);
    expect(view.route(query)).toBeUndefined();
    expect(view.delivers('irc')).toBe(false);
    // A network once reached stays known, so its users keep being foreign ("no route", not native).
    expect(view.everReached('irc')).toBe(true);
    // And with no read at all, a record is not used past the cache TTL.
    const fresh = await chainOfThree();
    advance(0);
    fresh.advance(30_001);
    expect(
      fresh.view.route({ from: 'oscar', origin: fresh.a.id, network: 'irc', gateway: fresh.d.id }),
    ).toBeUndefined();
  });

  it('remembers a composed route only while every record it uses holds, and per query', async () => {
    const { view, a, b, d, advance } = await chainOfThree();
    const query = { from: 'oscar', origin: a.id, network: 'irc', gateway: d.id };
    expect(view.route(query)).toBeDefined();
    // Another query is not answered from the first's memo (avoiding B leaves no chain).
    expect(view.route({ ...query, avoid: new Set([b.id]) })).toBeUndefined();
    expect(view.route({ ...query, avoid: new Set<string>() })).toBeDefined();
    expect(view.route({ ...query, require: ['im.html' as Feature] })).toBeUndefined();
    advance(29_999);
    expect(view.route(query)).toBeDefined();
    advance(2);
    expect(view.route(query)).toBeUndefined();
  });

  it('keeps a record a read missed while its gateway still offers the edge, until its cache time is up', async () => {
    // On a real DHT a lookup can miss a record (a lagging node). Before, the view forgot the edge
    // until its next read, and the gateway answered "no route" (and held buddy requests) for a
    // user it could reach: the e2e-distributed walk-through's flake.
    const f = federation();
    const a = await f.gateway(ownCapabilities([aimLike()], [jsonForm]), 1);
    const b = await f.gateway(ownCapabilities([], [jsonForm, stanza]), 2);
    const d = await f.gateway(ownCapabilities([ircLike(), xmppLike()], [stanza]), 4);
    const directory = f.directory();
    let missing: string | undefined;
    const lookup: CapabilityLookup = {
      capabilityIndex: (from) => directory.capabilityIndex(from),
      capabilities: async (edge) => (await directory.capabilities(edge)).filter((r) => r.gateway !== missing),
    };
    const view = new CapabilityView({ lookup, now: f.now, cacheTtl: 30_000 });
    const start = ['oscar', 'canonical:json'];
    const query = { from: 'oscar', origin: a.id, network: 'irc', gateway: d.id };
    await view.refresh(start);
    expect(view.route(query)!.steps.map((s) => s.gateway)).toEqual([a.id, b.id, d.id]);
    // A read that misses B's records while B's index still offers its edges: B is still used.
    missing = b.id;
    f.advance(10_000);
    await view.refresh(start);
    expect(view.route(query)!.steps.map((s) => s.gateway)).toEqual([a.id, b.id, d.id]);
    // Missed again past the cache time of the read that saw them: gone.
    f.advance(20_001);
    await view.refresh(start);
    expect(view.route(query)).toBeUndefined();
    // Seen again: back.
    missing = undefined;
    await view.refresh(start);
    expect(view.route(query)!.steps.map((s) => s.gateway)).toEqual([a.id, b.id, d.id]);
  });

  it('gives no route when the recipient gateway has no edge into the network, or only through an avoided gateway', async () => {
    const { view, a, b, d } = await chainOfThree();
    expect(view.route({ from: 'oscar', origin: a.id, network: 'irc', gateway: b.id })).toBeUndefined();
    expect(view.route({ from: 'oscar', origin: a.id, network: 'yahoo', gateway: d.id })).toBeUndefined();
    expect(
      view.route({ from: 'oscar', origin: a.id, network: 'irc', gateway: d.id, avoid: new Set([b.id]) }),
    ).toBeUndefined();
    // The first step is the origin's: a chain never starts at another gateway's client protocol.
    expect(view.route({ from: 'oscar', origin: d.id, network: 'irc', gateway: d.id })).toBeUndefined();
  });
});
