import { randomUUID } from 'node:crypto';
import { dhtSuite } from '@crosstalk/compliance';
import { afterAll, beforeAll } from 'vitest';
import { HyperDhtStore, startTestnet, type Testnet } from '../src/index.js';

// The port's compliance suite, unchanged, on a 12-node hyperdht network in this process. Each check
// gets a fresh store in a namespace of its own (an empty directory on the shared network).
let testnet: Testnet;
beforeAll(async () => {
  testnet = await startTestnet({ size: 12 });
});
afterAll(async () => {
  await testnet?.destroy();
});

dhtSuite({
  name: 'HyperDhtStore (12-node testnet, one process)',
  async create(limits) {
    let now = Date.now();
    const dht = new HyperDhtStore({
      bootstrap: testnet.bootstrap,
      namespace: randomUUID(),
      limits,
      now: () => now,
    });
    await dht.ready();
    return {
      dht,
      advance: async (ms) => {
        now += ms;
      },
    };
  },
});

// Reading every record's latest version instead of its first valid copy: the same semantics.
dhtSuite({
  name: 'HyperDhtStore (12-node testnet, latest-version reads)',
  async create(limits) {
    let now = Date.now();
    const dht = new HyperDhtStore({
      bootstrap: testnet.bootstrap,
      namespace: randomUUID(),
      limits,
      now: () => now,
      freshness: 'latest',
    });
    await dht.ready();
    return {
      dht,
      advance: async (ms) => {
        now += ms;
      },
    };
  },
});
