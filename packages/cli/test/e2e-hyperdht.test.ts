import { parseConfig } from '@crosstalk/gateway';
import { socksConnect } from '@crosstalk/gateway/testing';
import { startTestnet, type Testnet } from '@crosstalk/network-hyperdht';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultRegistry } from '../src/codecs.js';
import { startGatewayFromConfig } from '../src/commands/gateway.js';
import { type NetworkFixture, startXmppNetwork, startYmsgNetwork } from '../src/drivers/index.js';
import { TEXT, TEXT_BACK } from './support/walkthrough.js';

/**
 * Distributed mode, in one process: two gateways configured as the CLI configures them
 * (`dht: hyperdht` with a bootstrap list) share a directory on a hyperdht testnet and reach each
 * other over hyperdht's Noise streams, dialled by key. The multi-process walk-through is in
 * e2e-distributed.test.ts.
 */
let testnet: Testnet;
let yahoo: NetworkFixture;
let jabber: NetworkFixture;

beforeAll(async () => {
  testnet = await startTestnet({ size: 10 });
  yahoo = await startYmsgNetwork([{ name: 'alice', password: 'alicepw' }]);
  jabber = await startXmppNetwork([{ name: 'dave', password: 'davepw' }]);
}, 60_000);
afterAll(async () => {
  await yahoo?.stop();
  await jabber?.stop();
  await testnet?.destroy();
});

describe('gateways on a hyperdht network', () => {
  it('publish contacts without addresses, find each other by key, and carry IMs both ways', async () => {
    const config = parseConfig({
      socks: { port: 0 },
      log: { level: 'silent' },
      dht: { kind: 'hyperdht', bootstrap: testnet.bootstrap.map((b) => `${b.host}:${b.port}`) },
    });
    const gy = await startGatewayFromConfig(defaultRegistry(), config);
    const gx = await startGatewayFromConfig(defaultRegistry(), config);
    try {
      expect(gy.contact).toEqual({ transport: 'hyperdht' });
      const alice = yahoo.driver('alice', (host, port) => socksConnect(gy.socks, host, port));
      const dave = jabber.driver('dave', (host, port) => socksConnect(gx.socks, host, port));
      await alice.login();
      await dave.login();
      await alice.sendIm(dave.address, TEXT);
      expect(await dave.nextIm(alice.address, 20_000)).toBe(TEXT);
      await dave.sendIm(alice.address, TEXT_BACK);
      expect(await alice.nextIm(dave.address, 20_000)).toBe(TEXT_BACK);
      await alice.disconnect();
      await dave.disconnect();
    } finally {
      await gy.close();
      await gx.close();
    }
  }, 90_000);
});
