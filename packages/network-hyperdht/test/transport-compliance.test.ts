import { transportSuite } from '@crosstalk/compliance';
import HyperDHT from 'hyperdht';
import { afterAll, beforeAll } from 'vitest';
import { HyperDhtTransport, startTestnet, type Testnet } from '../src/index.js';

// The distributed G2G transport (hyperdht's Noise streams, dialled by public key) against the
// transport contract, on a 10-node testnet in this process. Each transport gets a DHT node of its
// own, as each gateway has; the key is the address, so a wrong key is simply unreachable.
let testnet: Testnet;
const nodes: HyperDHT[] = [];
beforeAll(async () => {
  testnet = await startTestnet({ size: 10 });
});
afterAll(async () => {
  for (const node of nodes.splice(0)) await node.destroy();
  await testnet?.destroy();
});

transportSuite({
  name: 'HyperDhtTransport (10-node testnet)',
  wrongKey: 'unreachable',
  stepTimeout: 30_000,
  maxBuffered: 64 * 1024 * 1024,
  async create() {
    const node = new HyperDHT({ bootstrap: testnet.bootstrap, host: '127.0.0.1' });
    await node.ready();
    nodes.push(node);
    return new HyperDhtTransport({ node, keyPair: HyperDHT.keyPair(), connectTimeout: 10_000 });
  },
});
