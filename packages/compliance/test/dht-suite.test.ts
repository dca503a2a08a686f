import { MemoryDht } from '@crosstalk/core';
import { dhtSuite } from '../src/index.js';

// MemoryDht with an injected clock, so TTL checks do not wait.
dhtSuite({
  name: 'MemoryDht',
  async create(limits) {
    let now = 1_000_000;
    const dht = new MemoryDht({ limits, now: () => now });
    return {
      dht,
      advance: async (ms) => {
        now += ms;
      },
    };
  },
});

// And on the real clock, so the suite's waiting path is exercised too.
dhtSuite({ name: 'MemoryDht (real clock)', create: async (limits) => ({ dht: new MemoryDht({ limits }) }) });
