import { type Address, eventToJson, formatAddress, type G2gContact, MemoryDht } from '@crosstalk/core';
import {
  Directory,
  encodeRecord,
  G2gNode,
  type GatewayIdentity,
  generateIdentity,
  signRecord,
  TcpG2gTransport,
} from '@crosstalk/gateway';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type NetworkFixture, startXmppNetwork, startYmsgNetwork } from '../src/drivers/index.js';
import { refusals, testGateways } from './support/gateway.js';
import { offline, online, until } from './support/walkthrough.js';

/**
 * A rogue on the directory: a gateway key of its own, write access to the shared DHT, and a G2G
 * listener to receive what it steals. Each forged or future-dated record, rogue pending request or
 * answer, and squatted key must deliver nothing, be counted in `crosstalk_refused_total{reason}`,
 * and leave the real users talking (docs/ARCHITECTURE.md, "Who may say what").
 */
let yahoo: NetworkFixture;
let jabber: NetworkFixture;
const rogues: G2gNode[] = [];
const { gateway, user, closeAll } = testGateways();

beforeAll(async () => {
  yahoo = await startYmsgNetwork([{ name: 'alice', password: 'alicepw' }]);
  jabber = await startXmppNetwork([
    { name: 'dave', password: 'davepw' },
    { name: 'erin', password: 'erinpw' },
  ]);
}, 60_000);
afterAll(async () => {
  await yahoo?.stop();
  await jabber?.stop();
});
afterEach(async () => {
  await closeAll();
  for (const r of rogues.splice(0)) await r.close();
});

/** A rogue gateway: its own key and G2G listener; `stolen` collects whatever reaches it. */
async function rogue(): Promise<{
  identity: GatewayIdentity;
  contact: G2gContact;
  stolen: Uint8Array[];
}> {
  const identity = generateIdentity();
  const stolen: Uint8Array[] = [];
  const node = new G2gNode({
    transport: new TcpG2gTransport({ identity }),
    onEvent: async (_peer, payload) => {
      stolen.push(payload);
      return 'stolen';
    },
  });
  rogues.push(node);
  return { identity, contact: await node.listen(), stolen };
}

/** Stores a record signed by `identity` in the DHT, as any node with write access could. */
async function plant(
  dht: MemoryDht,
  identity: GatewayIdentity,
  key: string,
  fields: { kind: 'location' | 'buddy-request' | 'home'; subject: string; body: unknown },
  issuedAt = Date.now(),
): Promise<void> {
  const record = signRecord(identity, { ...fields, issuedAt, ttl: 60_000 });
  await dht.put(key, encodeRecord(record), { ttl: 60_000, secret: `rogue ${identity.id}` });
}

const at = (a: Address) => formatAddress(a);

describe('a rogue on the directory gets nothing delivered', () => {
  it('a location record for alice dated a year ahead: dave’s IM still reaches the real alice', async () => {
    const dht = new MemoryDht();
    const gy = await gateway(dht);
    const gx = await gateway(dht);
    const alice = user(yahoo, 'alice', gy);
    const dave = user(jabber, 'dave', gx);
    await online(alice, gy);
    await online(dave, gx);
    const r = await rogue();
    await plant(
      dht,
      r.identity,
      Directory.locationKey(alice.address),
      { kind: 'location', subject: at(alice.address), body: { contact: r.contact } },
      Date.now() + 365 * 24 * 3600 * 1000,
    );
    await dave.sendIm(alice.address, 'for alice only');
    expect(await alice.nextIm(dave.address)).toBe('for alice only');
    expect(r.stolen).toHaveLength(0);
    expect(await refusals(gx, 'ERR_RECORD_FROM_FUTURE')).toBeGreaterThan(0);
  });

  it('a location record taken over while alice is offline is won back when she logs in again', async () => {
    const dht = new MemoryDht();
    const gy = await gateway(dht);
    const gx = await gateway(dht);
    const alice = user(yahoo, 'alice', gy);
    const dave = user(jabber, 'dave', gx);
    await online(dave, gx);
    const r = await rogue();
    await plant(dht, r.identity, Directory.locationKey(alice.address), {
      kind: 'location',
      subject: at(alice.address),
      body: { contact: r.contact },
    });
    await new Promise((resolve) => setTimeout(resolve, 5)); // her login is dated after the rogue's record
    await online(alice, gy);
    await dave.sendIm(alice.address, 'welcome back');
    expect(await alice.nextIm(dave.address)).toBe('welcome back');
    expect(r.stolen).toHaveLength(0);
  });

  it('a presence for alice in a location record that is not the newest is not shown', async () => {
    const dht = new MemoryDht();
    const gy = await gateway(dht);
    const gx = await gateway(dht);
    const alice = user(yahoo, 'alice', gy);
    const dave = user(jabber, 'dave', gx);
    await online(alice, gy);
    await online(dave, gx);
    await dave.addBuddy(alice.address, 'hi');
    await alice.nextBuddyRequest(dave.address);
    await alice.answerBuddyRequest(dave.address, true);
    await dave.nextBuddyResponse(alice.address);
    await offline(dave, gx);
    const r = await rogue();
    // Her gateway's record is newer: the rogue's presence (and contact) lose with the rest of it.
    await plant(
      dht,
      r.identity,
      Directory.locationKey(alice.address),
      {
        kind: 'location',
        subject: at(alice.address),
        body: { contact: r.contact, presence: { status: 'away', text: 'hacked' } },
      },
      Date.now() - 10_000,
    );
    expect(await dht.get(Directory.locationKey(alice.address))).toHaveLength(2);
    await dave.login();
    expect(await dave.nextPresence(alice.address)).toBe('online');
    await dave.sendIm(alice.address, 'still you?');
    expect(await alice.nextIm(dave.address)).toBe('still you?');
    expect(r.stolen).toHaveLength(0);
  });

  it('a rogue pending request "from alice" and a rogue answer "alice accepted" are not delivered', async () => {
    const dht = new MemoryDht();
    const gy = await gateway(dht);
    const gx = await gateway(dht);
    const alice = user(yahoo, 'alice', gy);
    const erin = user(jabber, 'erin', gx);
    await online(alice, gy); // alice's home and location are gy's
    const r = await rogue();
    const erinAddress = jabber.address('erin');
    await plant(dht, r.identity, Directory.pendingKey(erinAddress), {
      kind: 'buddy-request',
      subject: at(erinAddress),
      body: eventToJson({
        kind: 'buddy-request',
        id: 'rogue-1',
        from: alice.address,
        to: erinAddress,
        message: 'rogue',
      }),
    });
    await plant(dht, r.identity, Directory.pendingKey(erinAddress), {
      kind: 'buddy-request',
      subject: at(erinAddress),
      body: eventToJson({
        kind: 'buddy-response',
        id: 'rogue-2',
        from: alice.address,
        to: erinAddress,
        accepted: true,
      }),
    });
    // The genuine request, held by alice's own gateway while erin is offline.
    await alice.addBuddy(erinAddress, 'genuine');
    await until(
      async () => (await dht.get(Directory.pendingKey(erinAddress))).length === 3,
      'three pending values',
    );
    await erin.login();
    expect((await erin.nextBuddyRequest(alice.address)).message).toBe('genuine');
    await expect(erin.nextBuddyRequest(alice.address, 500)).rejects.toThrow(/timed out/);
    await expect(erin.nextBuddyResponse(alice.address, 500)).rejects.toThrow(/timed out/);
    expect(gx.foreignBuddies(erinAddress).filter((b) => b.subscription === 'both')).toEqual([]);
    expect(await refusals(gx, 'ERR_UNAUTHORISED_RECORD')).toBeGreaterThanOrEqual(2);
  });

  it('junk squatting alice’s location key does not silence her', async () => {
    const dht = new MemoryDht();
    for (let i = 0; i < 300; i++)
      await dht
        .put(Directory.locationKey(yahoo.address('alice')), Buffer.from(`junk ${i}`), {
          secret: `squat${i % 4}`,
        })
        .catch(() => {});
    const gy = await gateway(dht);
    const gx = await gateway(dht);
    const alice = user(yahoo, 'alice', gy);
    const dave = user(jabber, 'dave', gx);
    await online(alice, gy);
    await online(dave, gx);
    await dave.sendIm(alice.address, 'still reachable');
    expect(await alice.nextIm(dave.address)).toBe('still reachable');
  });
});
