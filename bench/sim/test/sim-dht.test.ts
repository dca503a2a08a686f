import { MemoryDht, parseAddress } from '@crosstalk/core';
import { Directory, generateIdentity } from '@crosstalk/gateway';
import { describe, expect, it } from 'vitest';
import { KademliaNetwork } from '../kademlia.js';
import { Meter } from '../meter.js';
import { Rng } from '../rng.js';
import { hash32, QueryPools, SimDhtWorld, WIRE } from '../sim-dht.js';

function world(nodes = 100, inPlace = false) {
  const rng = new Rng(1);
  const network = new KademliaNetwork({ nodes, clients: 2, rng: rng.fork() });
  const meter = new Meter(2, nodes, rng.fork());
  meter.recording = true;
  let now = 1_000;
  const w = new SimDhtWorld(new QueryPools(network, rng.fork(), 256), meter, () => now, inPlace);
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

  it('re-signs in place for less: one write from the holders, the old value removed for free', async () => {
    const replace = async (inPlace: boolean) => {
      const { w, meter, tick } = world(100, inPlace);
      const dht = w.view(0);
      await meter.measure('first', () => dht.put('k', Buffer.from('v1'), { secret: 's' }));
      tick(1000);
      await meter.measure('replace', async () => {
        await dht.put('k', Buffer.from('v2'), { secret: 's' });
        expect(await dht.remove('k', Buffer.from('v1'), 's')).toBe(true);
      });
      expect((await w.storage.get('k')).map((v) => Buffer.from(v).toString())).toEqual(['v2']);
      expect(dht.ownValues).toBe(1);
      return meter.ops.get('replace')!.total.dhtMessages;
    };
    const today = await replace(false);
    const inPlace = await replace(true);
    expect(inPlace).toBeLessThan(today / 3);
    expect(inPlace).toBeGreaterThanOrEqual(2 * 20);
  });
});
