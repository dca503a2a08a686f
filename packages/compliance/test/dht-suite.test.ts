import { type Dht, MemoryDht } from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { dhtChecks, dhtSuite } from '../src/index.js';

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

// A DHT that says it honours slots and ignores them (a put into a slot adds a value beside the last,
// as before slots): every slot check must fail on it, and only those.
describe('dht compliance: the slot checks fail on a DHT that ignores the slot option', () => {
  const checks = dhtChecks({
    name: 'MemoryDht ignoring slots',
    async create(limits) {
      let now = 1_000_000;
      const inner = new MemoryDht({ limits, now: () => now });
      const dht: Dht = {
        limits: inner.limits,
        slots: true,
        put: (key, value, { slot: _ignored, ...options } = {}) => inner.put(key, value, options),
        get: (key) => inner.get(key),
        remove: (key, value, secret) => inner.remove(key, value, secret),
        close: () => inner.close(),
      };
      return {
        dht,
        advance: async (ms) => {
          now += ms;
        },
      };
    },
  });
  for (const check of checks) {
    it(check.name, async () => {
      if (check.name.startsWith('slots:')) await expect(check.run()).rejects.toThrow();
      else await check.run();
    });
  }
});
