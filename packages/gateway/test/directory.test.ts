import { MemoryDht, parseAddress } from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { canonicalJson, Directory, encodeRecord, generateIdentity, signRecord } from '../src/index.js';

const alice = parseAddress('alice@aol');
const bob = parseAddress('bob@yahoo');

function setup(options: { trusted?: (id: string) => boolean } = {}) {
  let now = 1_000_000;
  const dht = new MemoryDht({ now: () => now });
  const rejected: string[] = [];
  const make = (identity = generateIdentity()) =>
    new Directory({
      dht,
      identity,
      now: () => now,
      softTtl: 60_000,
      onRejected: (_k, reason) => rejected.push(reason),
      ...options,
    });
  return { dht, make, rejected, advance: (ms: number) => (now += ms), now: () => now };
}

describe('directory', () => {
  it('publishes, looks up and withdraws a signed location', async () => {
    const { make } = setup();
    const gw = generateIdentity();
    const dir = make(gw);
    await dir.publishLocation(alice, { host: '127.0.0.1', port: 4000 });
    expect(await dir.lookupLocation(parseAddress('Alice@aol'))).toMatchObject({
      gateway: gw.id,
      host: '127.0.0.1',
      port: 4000,
    });
    await dir.withdrawLocation(alice);
    expect(await dir.lookupLocation(alice)).toBeUndefined();
  });

  it('picks the newest location when a user moved between gateways', async () => {
    const { make, advance } = setup();
    const one = make();
    const two = generateIdentity();
    await one.publishLocation(alice, { host: '127.0.0.1', port: 1 });
    advance(10);
    await make(two).publishLocation(alice, { host: '127.0.0.1', port: 2 });
    expect((await one.lookupLocation(alice))?.gateway).toBe(two.id);
  });

  it('rejects a tampered record', async () => {
    const { dht, make, rejected, now } = setup();
    const gw = generateIdentity();
    const record = signRecord(gw, {
      kind: 'location',
      subject: 'alice@aol',
      body: { host: '127.0.0.1', port: 1 },
      issuedAt: now(),
      ttl: 60_000,
    });
    const tampered = { ...record, body: { host: '127.0.0.1', port: 6666 } };
    await dht.put('loc:alice@aol', Buffer.from(canonicalJson(tampered)));
    expect(await make().lookupLocation(alice)).toBeUndefined();
    expect(rejected.join()).toMatch(/signature does not verify/);
  });

  it('rejects a forged record: signed by one gateway, naming another as publisher', async () => {
    const { dht, make, rejected, now } = setup();
    const victim = generateIdentity();
    const forger = generateIdentity();
    const record = signRecord(forger, {
      kind: 'location',
      subject: 'alice@aol',
      body: { host: '127.0.0.1', port: 1 },
      issuedAt: now(),
      ttl: 60_000,
    });
    await dht.put('loc:alice@aol', encodeRecord({ ...record, publisher: victim.id }));
    expect(await make().lookupLocation(alice)).toBeUndefined();
    expect(rejected).toHaveLength(1);
  });

  it('rejects a record stored under another subject, malformed or expired values', async () => {
    const { dht, make, rejected, now, advance } = setup();
    const gw = generateIdentity();
    const forBob = signRecord(gw, {
      kind: 'location',
      subject: 'bob@yahoo',
      body: { host: '127.0.0.1', port: 1 },
      issuedAt: now(),
      ttl: 60_000,
    });
    await dht.put('loc:alice@aol', encodeRecord(forBob));
    await dht.put('loc:alice@aol', Buffer.from('not json'));
    const shortLived = signRecord(gw, {
      kind: 'location',
      subject: 'alice@aol',
      body: { host: '127.0.0.1', port: 1 },
      issuedAt: now(),
      ttl: 5,
    });
    await dht.put('loc:alice@aol', encodeRecord(shortLived));
    advance(10);
    expect(await make().lookupLocation(alice)).toBeUndefined();
    expect(rejected).toHaveLength(3);
  });

  it('verifies a stored value once, but still notices when it expires', async () => {
    const { dht, make, advance } = setup();
    const reader = make();
    const gw = generateIdentity();
    const record = signRecord(gw, {
      kind: 'location',
      subject: 'alice@aol',
      body: { host: '127.0.0.1', port: 1 },
      issuedAt: 1_000_000,
      ttl: 50,
    });
    await dht.put('loc:alice@aol', encodeRecord(record), { ttl: 60_000 });
    expect((await reader.lookupLocation(alice))?.gateway).toBe(gw.id);
    expect((await reader.lookupLocation(alice))?.gateway).toBe(gw.id);
    advance(100);
    expect(await reader.lookupLocation(alice)).toBeUndefined();
  });

  it('believes only trusted publishers when a trust list is set', async () => {
    const good = generateIdentity();
    const { make, rejected } = setup({ trusted: (id) => id === good.id });
    await make(generateIdentity()).publishLocation(alice, { host: '127.0.0.1', port: 1 });
    expect(await make(good).lookupLocation(alice)).toBeUndefined();
    expect(rejected.join()).toMatch(/not trusted/);
  });

  it('holds pending buddy requests, bounded per user, refreshable and releasable', async () => {
    const { make } = setup();
    const holder = make();
    const request = { kind: 'buddy-request' as const, id: 'r1', from: alice, to: bob, message: 'hi' };
    const value = await holder.holdPending(request);
    expect(value).toBeDefined();
    expect(await holder.pendingFor(bob)).toEqual([{ request, holder: expect.any(String) }]);
    const refreshed = await holder.holdPending(request, value);
    expect(await holder.pendingFor(bob)).toHaveLength(1);
    await holder.releasePending(bob, refreshed!);
    expect(await holder.pendingFor(bob)).toEqual([]);
    const small = new Directory({ dht: new MemoryDht(), identity: generateIdentity(), maxPendingPerUser: 2 });
    for (let i = 0; i < 2; i++) expect(await small.holdPending({ ...request, id: `r${i}` })).toBeDefined();
    expect(await small.holdPending({ ...request, id: 'r9' })).toBeUndefined();
  });

  it('another gateway cannot remove what this one published', async () => {
    const { dht, make } = setup();
    const a = make();
    await a.publishLocation(alice, { host: '127.0.0.1', port: 1 });
    const [value] = await dht.get('loc:alice@aol');
    await expect(dht.remove('loc:alice@aol', value!, 'guess')).rejects.toThrow(/secret/);
    await make().withdrawLocation(alice);
    expect(await a.lookupLocation(alice)).toBeDefined();
  });
});
