import { dhtSuite } from '@crosstalk/compliance';
import { type DhtPutOptions, MemoryDht } from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { answerDht, SharedDht } from '../src/cluster/shared-dht.js';

// A worker's DHT, its calls answered by the primary's MemoryDht (the IPC channel left out, and the
// messages cloned as it would): the port's compliance suite, slots included, as MemoryDht passes it.
dhtSuite({
  name: 'SharedDht (a worker, over the primary MemoryDht)',
  async create(limits) {
    let now = 1_000_000;
    const primary = new MemoryDht({ limits, now: () => now });
    const worker: SharedDht = new SharedDht(primary.limits, (m) => {
      void answerDht(primary, structuredClone(m)).then((reply) => worker.reply(structuredClone(reply)));
    });
    return {
      dht: worker,
      advance: async (ms) => {
        now += ms;
      },
      cleanup: () => primary.close(),
    };
  },
});

describe("SharedDht passes a put's options on to the primary's store", () => {
  it('urgent included', async () => {
    const primary = new MemoryDht();
    const seen: (DhtPutOptions | undefined)[] = [];
    const put = primary.put.bind(primary);
    primary.put = (key, value, options) => {
      seen.push(options);
      return put(key, value, options);
    };
    const worker: SharedDht = new SharedDht(primary.limits, (m) => {
      void answerDht(primary, structuredClone(m)).then((reply) => worker.reply(structuredClone(reply)));
    });
    await worker.put('loc:alice@aol', new Uint8Array([1]), { secret: 's', slot: 'location', urgent: true });
    await worker.put('home:alice@aol', new Uint8Array([2]), { secret: 's', slot: 'home' });
    expect(seen).toEqual([
      { secret: 's', slot: 'location', urgent: true },
      { secret: 's', slot: 'home' },
    ]);
  });
});
