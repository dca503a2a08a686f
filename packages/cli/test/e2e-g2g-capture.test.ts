import { stanza } from '@crosstalk/codec-xmpp';
import { captureLoopback, type LoopbackCapture, liveCaptureAvailable } from '@crosstalk/compliance';
import { MemoryDht } from '@crosstalk/core';
import { createGateway, type Gateway, parseConfig } from '@crosstalk/gateway';
import { socksConnect } from '@crosstalk/gateway/testing';
import { startTestnet, type Testnet } from '@crosstalk/network-hyperdht';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtInCodecs, defaultRegistry } from '../src/codecs.js';
import { startGatewayFromConfig } from '../src/commands/gateway.js';
import {
  type NetworkFixture,
  startXmppNetwork,
  startYmsgNetwork,
  type UserDriver,
} from '../src/drivers/index.js';

/**
 * What crosses a G2G link on the wire: two gateways on loopback, a Yahoo user (mock YMSG server) and
 * an XMPP user (a real prosody) exchange IMs, and dumpcap records the G2G ports and the Yahoo
 * user's SOCKS connection. The G2G streams must carry bytes, and neither the IM texts nor the
 * users' names may appear in them; the Yahoo client's own connection (plain YMSG) shows the text,
 * so the capture and the search would find it if it were there. The same in distributed mode, where
 * G2G runs over hyperdht's streams (UDP). Needs dumpcap, tshark and root (capturing on `lo`); CI
 * has all three.
 */
const TEXT_OUT = 'capture-canary: the heron flies at midnight';
const TEXT_BACK = 'capture-canary: and returns at dawn';

let yahoo: NetworkFixture;
let jabber: NetworkFixture;
const gateways: Gateway[] = [];
const drivers: UserDriver[] = [];
let capture: LoopbackCapture | undefined;
let testnet: Testnet | undefined;

beforeAll(async () => {
  if (!liveCaptureAvailable()) return;
  yahoo = await startYmsgNetwork([{ name: 'alice', password: 'alicepw' }]);
  jabber = await startXmppNetwork([{ name: 'dave', password: 'davepw' }]);
}, 60_000);
afterAll(async () => {
  for (const d of drivers.splice(0)) await d.disconnect().catch(() => {});
  for (const g of gateways.splice(0)) await g.close();
  await capture?.dispose();
  await testnet?.destroy();
  await yahoo?.stop();
  await jabber?.stop();
});

async function gateway(dht: MemoryDht): Promise<Gateway> {
  const g = await createGateway({
    codecs: builtInCodecs(),
    dht,
    canonical: stanza,
    socks: { port: 0 },
    logger: false,
  });
  gateways.push(g);
  return g;
}

const contains = (haystack: Uint8Array, needle: string) =>
  Buffer.from(haystack).includes(Buffer.from(needle, 'utf8'));

describe.skipIf(!liveCaptureAvailable())('a G2G link on the wire (dumpcap on lo)', () => {
  it('carries no IM text and no user name in clear', async () => {
    const dht = new MemoryDht();
    const gy = await gateway(dht);
    const gx = await gateway(dht);
    const g2gPorts = [gy.g2g!.port, gx.g2g!.port];
    capture = await captureLoopback({ ports: [...g2gPorts, gy.socks.port] });
    const alice = yahoo.driver('alice', (host, port) => socksConnect(gy.socks, host, port));
    const dave = jabber.driver('dave', (host, port) => socksConnect(gx.socks, host, port));
    drivers.push(alice, dave);
    await alice.login();
    await dave.login();
    await alice.sendIm(dave.address, TEXT_OUT);
    expect(await dave.nextIm(alice.address)).toBe(TEXT_OUT);
    await dave.sendIm(alice.address, TEXT_BACK);
    expect(await alice.nextIm(dave.address)).toBe(TEXT_BACK);
    const streams = await capture.stop();

    const isG2g = (s: (typeof streams)[number]) =>
      g2gPorts.includes(s.server.port) || g2gPorts.includes(s.client.port);
    const g2g = streams.filter(isG2g);
    const socks = streams.filter((s) => !isG2g(s));
    // The capture saw the links: gateway to gateway, with payload both ways.
    expect(g2g.length).toBeGreaterThan(0);
    expect(g2g.reduce((n, s) => n + s.fromClient.length + s.fromServer.length, 0)).toBeGreaterThan(0);
    // Control: the Yahoo client's plain YMSG connection shows the text it sent.
    expect(socks.some((s) => contains(s.fromClient, TEXT_OUT))).toBe(true);
    const secrets = [TEXT_OUT, TEXT_BACK, 'capture-canary', 'alice', 'dave', 'heron'];
    for (const s of g2g) {
      for (const side of [s.fromClient, s.fromServer]) {
        for (const secret of secrets)
          expect(contains(side, secret), `"${secret}" in a G2G stream`).toBe(false);
      }
    }
  }, 60_000);
});

describe.skipIf(!liveCaptureAvailable())('a G2G link over hyperdht on the wire (dumpcap on lo, UDP)', () => {
  it('carries no IM text and no user name in clear', async () => {
    await capture?.dispose();
    capture = undefined;
    testnet = await startTestnet({ size: 6 });
    const config = parseConfig({
      socks: { port: 0 },
      log: { level: 'silent' },
      dht: { kind: 'hyperdht', bootstrap: testnet.bootstrap.map((b) => `${b.host}:${b.port}`) },
    });
    const gy = await startGatewayFromConfig(defaultRegistry(), config);
    gateways.push(gy);
    const gx = await startGatewayFromConfig(defaultRegistry(), config);
    gateways.push(gx);
    // hyperdht opens a stream's UDP socket of its own, on a port nobody publishes: all of UDP on
    // loopback is captured, and told apart by its ends below.
    capture = await captureLoopback({ ports: [gy.socks.port], udp: 'all' });
    const alice = yahoo.driver('alice', (host, port) => socksConnect(gy.socks, host, port));
    const dave = jabber.driver('dave', (host, port) => socksConnect(gx.socks, host, port));
    drivers.push(alice, dave);
    await alice.login();
    await dave.login();
    await alice.sendIm(dave.address, TEXT_OUT);
    expect(await dave.nextIm(alice.address, 20_000)).toBe(TEXT_OUT);
    await dave.sendIm(alice.address, TEXT_BACK);
    expect(await alice.nextIm(dave.address, 20_000)).toBe(TEXT_BACK);
    const streams = await capture.stop();
    const datagrams = capture.datagrams();

    // DHT requests have a DHT node at one end; the G2G stream runs between the gateways' own sockets.
    const dhtNodes = new Set(testnet.nodes.map((n) => n.address.port));
    const g2g = datagrams.filter((d) => !dhtNodes.has(d.source.port) && !dhtNodes.has(d.destination.port));
    expect(g2g.length).toBeGreaterThan(0);
    expect(g2g.reduce((n, d) => n + d.payload.length, 0)).toBeGreaterThan(TEXT_OUT.length + TEXT_BACK.length);
    // Control: the Yahoo client's plain YMSG connection shows the text it sent.
    expect(streams.some((s) => contains(s.fromClient, TEXT_OUT))).toBe(true);
    // No IM text anywhere in UDP: the directory's records (public by design) name users, never say what they said.
    for (const d of datagrams)
      for (const secret of [TEXT_OUT, TEXT_BACK, 'capture-canary', 'heron'])
        expect(contains(d.payload, secret), `"${secret}" in a UDP datagram`).toBe(false);
    for (const d of g2g)
      for (const secret of ['alice', 'dave'])
        expect(contains(d.payload, secret), `"${secret}" in a G2G datagram`).toBe(false);
  }, 90_000);
});
