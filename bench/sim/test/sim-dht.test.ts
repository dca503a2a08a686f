import { type Dht, MemoryDht, parseAddress } from '@crosstalk/core';
import { Directory, generateIdentity } from '@crosstalk/gateway';
import { describe, expect, it } from 'vitest';
import { KademliaNetwork } from '../kademlia.js';
import { Meter } from '../meter.js';
import { Rng } from '../rng.js';
import { hash32, QueryPools, type SimDht, SimDhtWorld, WIRE } from '../sim-dht.js';

function world(nodes = 100, slots = true) {
  const rng = new Rng(1);
  const network = new KademliaNetwork({ nodes, clients: 2, rng: rng.fork() });
  const meter = new Meter(2, nodes, rng.fork());
  meter.recording = true;
  let now = 1_000;
  const w = new SimDhtWorld(new QueryPools(network, rng.fork(), 256), meter, () => now, slots);
  return { w, meter, tick: (ms: number) => (now += ms), clock: () => now };
}

describe('SimDht', () => {
  it('keeps values as MemoryDht does', async () => {
    const { w, meter } = world();
    const dht = w.view(0);
    const memory = new MemoryDht();
    await meter.measure('put', async () => {
      for (const d of [dht, memory]) {
        await d.put('k', Buffer.from('a'), { secret: 's' });
        await d.put('k', Buffer.from('b'), { secret: 's' });
        expect(await d.remove('k', Buffer.from('a'), 's')).toBe(true);
      }
      expect(await dht.get('k')).toEqual(await memory.get('k'));
    });
  });

  it('charges a read of an empty key one lookup: two datagrams per node asked, none of them a value', async () => {
    const { w, meter } = world();
    await meter.measure('get', () => w.view(0).get('nobody'));
    const cost = meter.ops.get('get')!.total;
    expect(cost.dhtMessages % 2).toBe(0);
    expect(cost.dhtMessages).toBeGreaterThanOrEqual(2 * 20);
    expect(cost.dhtBytes).toBe((cost.dhtMessages / 2) * (WIRE.lookupRequest + WIRE.lookupReply));
    expect(meter.gatewayDht[0][0]).toBe(cost.dhtMessages);
    expect(meter.nodeDht[0].reduce((a, b) => a + b, 0)).toBe(cost.dhtMessages);
  });

  it('charges a put its reading, a store at k nodes and an announcement at k nodes', async () => {
    const { w, meter } = world();
    const dht = w.view(1);
    await meter.measure('put', () => dht.put('k', new Uint8Array(300), { secret: 's' }));
    const put = meter.ops.get('put')!.total;
    await meter.measure('get', () => w.view(0).get('k'));
    const get = meter.ops.get('get')!.total;
    // At least: a lookup (k), a mutable-get query (k), k stores, an announce query (k), k announces.
    expect(put.dhtMessages).toBeGreaterThanOrEqual(2 * 5 * 20);
    // A read of the key now fetches the value too: more than the lookup alone.
    expect(get.dhtMessages).toBeGreaterThan(2 * 20);
    expect(dht.ownValues).toBe(1);
    // The key's topic nodes hold the announcement: each got at least the store's announce.
    for (const node of w.closest(hash32('k'))) expect(meter.nodeDht[0][node]).toBeGreaterThanOrEqual(2);
  });

  it('counts nothing outside the recording window, and refuses traffic outside an operation', async () => {
    const { w, meter } = world();
    meter.recording = false;
    await meter.measure('get', () => w.view(0).get('k'));
    expect(meter.ops.size).toBe(0);
    await expect(w.view(0).get('k')).rejects.toThrow('outside an operation');
  });

  it('carries the real Directory: what one gateway publishes another reads, with a signature checked', async () => {
    const { w, meter, tick, clock } = world();
    const a = new Directory({ dht: w.view(0), identity: generateIdentity(), now: clock });
    const b = new Directory({ dht: w.view(1), identity: generateIdentity(), now: clock });
    const user = parseAddress('u1@yahoo');
    await meter.measure('publish', () => a.publishLocation(user, { transport: 'hyperdht' }));
    tick(1000);
    const found = await meter.measure('lookup', () => b.lookupLocation(user));
    expect(found?.contact).toEqual({ transport: 'hyperdht' });
    tick(60_000);
    expect(await meter.measure('lookup', () => b.lookupLocation(user))).toBeUndefined();
  });

  it('re-signs a slot in place for less: one mutable put from its holders, no read, no removal', async () => {
    const replace = async (slots: boolean) => {
      const { w, meter, tick } = world(100, slots);
      const dht = w.view(0);
      const options = { secret: 's', ...(slots ? { slot: 'location' } : {}) };
      await meter.measure('first', () => dht.put('k', Buffer.from('v1'), options));
      tick(1000);
      await meter.measure('replace', async () => {
        await dht.put('k', Buffer.from('v2'), options);
        if (!slots) expect(await dht.remove('k', Buffer.from('v1'), 's')).toBe(true);
      });
      expect((await w.storage.get('k')).map((v) => Buffer.from(v).toString())).toEqual(['v2']);
      expect(dht.ownValues).toBe(1);
      return meter.ops.get('replace')!.total;
    };
    const before = await replace(false);
    const slotted = await replace(true);
    expect(slotted.dhtMessages).toBeLessThan(before.dhtMessages / 3);
    // At least the store at the slot's k holders, each answered; no lookup request among them.
    expect(slotted.dhtMessages).toBeGreaterThanOrEqual(2 * 20);
  });

  it('puts a slot where its key pair lands: the same k holders store every version', async () => {
    const { w, meter, tick } = world(100, true);
    const dht = w.view(0);
    const holders = w.closest(hash32('k\u0000slot\u0000s\u0000a'));
    await meter.measure('first', () => dht.put('k', Buffer.from('v1'), { secret: 's', slot: 'a' }));
    const before = Array.from(meter.nodeDht[0]);
    for (const node of holders) expect(before[node]).toBeGreaterThanOrEqual(2);
    tick(1000);
    await meter.measure('re-sign', () => dht.put('k', Buffer.from('v2'), { secret: 's', slot: 'a' }));
    for (const node of holders) expect(meter.nodeDht[0][node]! - before[node]!).toBeGreaterThanOrEqual(2);
    // One query and one store: fewer than a lookup, a query, a store and an announcement would ask.
    expect(meter.ops.get('re-sign')!.total.dhtMessages).toBeLessThan(
      meter.ops.get('first')!.total.dhtMessages / 2,
    );
  });

  it('removes a slotted value with a tombstone, and fills the slot again after', async () => {
    const { w, meter, tick } = world(100, true);
    const dht = w.view(0);
    await meter.measure('put', () => dht.put('k', Buffer.from('v1'), { secret: 's', slot: 'a' }));
    tick(1000);
    await meter.measure('put', () => dht.put('k', Buffer.from('v2'), { secret: 's', slot: 'a' }));
    expect(await meter.measure('remove', () => dht.remove('k', Buffer.from('v2'), 's'))).toBe(true);
    expect(await w.storage.get('k')).toEqual([]);
    expect(dht.ownValues).toBe(0);
    await meter.measure('put', () => dht.put('k', Buffer.from('v3'), { secret: 's', slot: 'a' }));
    expect((await w.storage.get('k')).map((v) => Buffer.from(v).toString())).toEqual(['v3']);
    expect(dht.ownValues).toBe(1);
  });

  it('drives the real Directory in place: one put and no removal per refresh with slots, put and remove before', async () => {
    const refresh = async (slots: boolean) => {
      const { w, meter, tick, clock } = world(100, slots);
      const calls: string[] = [];
      const sim: SimDht = w.view(0);
      const dht: Dht = {
        limits: sim.limits,
        slots: sim.slots,
        put: (key, value, options) => {
          calls.push(options?.slot === undefined ? 'put' : `put into ${options.slot}`);
          return sim.put(key, value, options);
        },
        get: (key) => sim.get(key),
        remove: (key, value, secret) => {
          calls.push('remove');
          return sim.remove(key, value, secret);
        },
        close: () => sim.close(),
      };
      const directory = new Directory({ dht, identity: generateIdentity(), now: clock });
      const user = parseAddress('u1@yahoo');
      await meter.measure('login', () => directory.publishLocation(user, { transport: 'hyperdht' }));
      calls.length = 0;
      tick(20_000);
      await meter.measure('refresh', () => directory.publishLocation(user, { transport: 'hyperdht' }));
      return { calls, messages: meter.ops.get('refresh')!.total.dhtMessages };
    };
    const slotted = await refresh(true);
    expect(slotted.calls).toEqual(['put into location']);
    const before = await refresh(false);
    expect(before.calls).toEqual(['put', 'remove']);
    expect(slotted.messages).toBeLessThan(before.messages / 3);
  });
});
