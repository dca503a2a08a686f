import { dhtSuite } from '@crosstalk/compliance';
import { MemoryDht } from '@crosstalk/core';
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
