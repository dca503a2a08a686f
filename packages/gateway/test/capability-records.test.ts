import { MemoryDht } from '@crosstalk/core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createGateway,
  Directory,
  encodeRecord,
  type Gateway,
  generateIdentity,
  jsonForm,
  signRecord,
} from '../src/index.js';
import { ownCapabilities } from '../src/routing/capability-records.js';
import { aimLike, ircLike } from './support/codecs.js';

const contact = { transport: 'tcp', host: '127.0.0.1', port: 4000 };
/** A second canonical form, named as codec-xmpp's stanza form is (the bytes are JSON: only the name matters here). */
const stanzaLike = { ...jsonForm, name: 'xmpp-stanza' };

const gateways: Gateway[] = [];
afterEach(async () => {
  for (const g of gateways.splice(0)) await g.close();
});

function setup() {
  let now = 1_000_000;
  const dht = new MemoryDht({ now: () => now });
  const rejected: { key: string; code: string; reason: string }[] = [];
  const make = (identity = generateIdentity()) =>
    new Directory({
      dht,
      identity,
      now: () => now,
      capabilityTtl: 60_000,
      onRejected: (key, reason, code) => rejected.push({ key, code, reason }),
    });
  return { dht, make, rejected, advance: (ms: number) => (now += ms), now: () => now };
}

describe('capability records', () => {
  it('a gateway performs its codecs over each form it speaks, and converts between its forms', () => {
    const caps = ownCapabilities([aimLike(), ircLike()], [jsonForm, stanzaLike]);
    const edges = caps.map((c) => `${c.from}>${c.to}`).sort();
    expect(edges).toEqual(
      [
        'canonical:json>canonical:xmpp-stanza',
        'canonical:json>irc',
        'canonical:json>oscar',
        'canonical:xmpp-stanza>canonical:json',
        'canonical:xmpp-stanza>irc',
        'canonical:xmpp-stanza>oscar',
        'irc>canonical:json',
        'irc>canonical:xmpp-stanza',
        'oscar>canonical:json',
        'oscar>canonical:xmpp-stanza',
      ].sort(),
    );
    const intoIrc = caps.find((c) => c.from === 'canonical:json' && c.to === 'irc')!;
    expect(intoIrc).toMatchObject({ cost: 1, networks: ['irc'] });
    expect(intoIrc.preserves).toEqual(['im', 'presence', 'presence.text', 'buddy-request']);
  });

  it('publishes, reads and withdraws a signed record with cost, preserved features, networks and contact', async () => {
    const { make } = setup();
    const d = generateIdentity();
    const dir = make(d);
    await dir.publishCapability('canonical:xmpp-stanza>irc', {
      cost: 2,
      preserves: ['im', 'presence', 'a-feature-from-a-newer-gateway'],
      networks: ['irc'],
      contact,
    });
    await dir.publishCapabilityIndex('canonical:xmpp-stanza', ['irc', 'oscar']);
    const reader = make();
    expect(await reader.capabilities('canonical:xmpp-stanza>irc')).toEqual([
      {
        gateway: d.id,
        from: 'canonical:xmpp-stanza',
        to: 'irc',
        cost: 2,
        preserves: ['im', 'presence'],
        networks: ['irc'],
        contact,
        expiresAt: expect.any(Number),
      },
    ]);
    expect(await reader.capabilityIndex('canonical:xmpp-stanza')).toEqual([
      { gateway: d.id, to: ['irc', 'oscar'], expiresAt: expect.any(Number) },
    ]);
    await dir.withdrawCapability('canonical:xmpp-stanza>irc');
    await dir.withdrawCapabilityIndex('canonical:xmpp-stanza');
    expect(await reader.capabilities('canonical:xmpp-stanza>irc')).toEqual([]);
    expect(await reader.capabilityIndex('canonical:xmpp-stanza')).toEqual([]);
  });

  it('refuses a forged record: one naming gateway D as its publisher but signed by another key', async () => {
    const { dht, make, rejected, now } = setup();
    const d = generateIdentity();
    const forger = generateIdentity();
    const signed = signRecord(forger, {
      kind: 'capability',
      subject: 'canonical:json>irc',
      body: { cost: 0, preserves: ['im'], networks: ['irc'], contact },
      issuedAt: now(),
      ttl: 60_000,
    });
    await dht.put('cap:canonical:json>irc', encodeRecord({ ...signed, publisher: d.id }));
    expect(await make().capabilities('canonical:json>irc')).toEqual([]);
    expect(rejected).toEqual([
      expect.objectContaining({ key: 'cap:canonical:json>irc', code: 'ERR_INVALID_RECORD' }),
    ]);
  });

  it('refuses a well-signed record about another gateway: capabilities are only about their publisher', async () => {
    const { dht, make, rejected, now } = setup();
    const d = generateIdentity();
    const liar = generateIdentity();
    for (const claim of [{ gateway: d.id }, { provider: { kind: 'remote', gateway: d.id } }]) {
      const record = signRecord(liar, {
        kind: 'capability',
        subject: 'canonical:json>irc',
        body: { cost: 0, preserves: ['im'], networks: ['irc'], contact, ...claim },
        issuedAt: now(),
        ttl: 60_000,
      });
      await dht.put('cap:canonical:json>irc', encodeRecord(record));
    }
    expect(await make().capabilities('canonical:json>irc')).toEqual([]);
    expect(rejected.map((r) => r.code)).toEqual(['ERR_INVALID_RECORD', 'ERR_INVALID_RECORD']);
    expect(rejected[0]!.reason).toMatch(/not a capability of its own/);
  });

  it('refuses a record stored under another edge than the one it signs, and a malformed edge', async () => {
    const { dht, make, rejected, now } = setup();
    const record = signRecord(generateIdentity(), {
      kind: 'capability',
      subject: 'canonical:json>oscar',
      body: { cost: 1, preserves: ['im'], networks: ['aol'], contact },
      issuedAt: now(),
      ttl: 60_000,
    });
    await dht.put('cap:canonical:json>irc', encodeRecord(record));
    expect(await make().capabilities('canonical:json>irc')).toEqual([]);
    expect(rejected.map((r) => r.code)).toEqual(['ERR_INVALID_RECORD']);
    await expect(make().publishCapability('json', { cost: 1, preserves: [], contact })).rejects.toMatchObject(
      {
        code: 'ERR_INVALID_RECORD',
      },
    );
  });

  it('a record lapses at its TTL unless its gateway re-signs it (soft state)', async () => {
    const { make, advance } = setup();
    const d = make();
    const reader = make();
    await d.publishCapability('oscar>canonical:json', { cost: 1, preserves: ['im'], contact });
    advance(40_000);
    await d.publishCapability('oscar>canonical:json', { cost: 1, preserves: ['im'], contact });
    advance(40_000);
    // 80 s after the first signature, 40 s after the second: the re-signed one is there, alone.
    expect(await reader.capabilities('oscar>canonical:json')).toHaveLength(1);
    advance(30_000);
    expect(await reader.capabilities('oscar>canonical:json')).toEqual([]);
  });
});

describe('a gateway advertises its capabilities', () => {
  it('on start, each signed by it with its contact; refreshed with the soft state; withdrawn on stop', async () => {
    const dht = new MemoryDht();
    const g = await createGateway({
      codecs: [ircLike()],
      canonical: [jsonForm, stanzaLike],
      dht,
      socks: { port: 0 },
      logger: false,
      capabilityTtl: 3000,
    });
    gateways.push(g);
    expect(g.routing.capabilities().sort()).toEqual([
      'canonical:json>canonical:xmpp-stanza',
      'canonical:json>irc',
      'canonical:xmpp-stanza>canonical:json',
      'canonical:xmpp-stanza>irc',
      'irc>canonical:json',
      'irc>canonical:xmpp-stanza',
    ]);
    const reader = new Directory({ dht, identity: generateIdentity() });
    const [record] = await reader.capabilities('canonical:xmpp-stanza>irc');
    expect(record).toMatchObject({ gateway: g.id, contact: g.contact, networks: ['irc'] });
    expect((await reader.capabilityIndex('canonical:json'))[0]).toMatchObject({
      gateway: g.id,
      to: ['canonical:xmpp-stanza', 'irc'],
    });
    // Re-signed at a third of the 3 s TTL: a record with a later expiry replaces the first.
    const first = record!.expiresAt;
    for (;;) {
      const [again] = await reader.capabilities('canonical:xmpp-stanza>irc');
      if (again && again.expiresAt > first) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await g.close();
    gateways.splice(0);
    expect(await reader.capabilities('canonical:xmpp-stanza>irc')).toEqual([]);
    expect(await reader.capabilityIndex('irc')).toEqual([]);
  });
});
