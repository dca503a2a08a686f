import { setTimeout as delay } from 'node:timers/promises';
import { type Address, type CanonicalEvent, MemoryDht, parseAddress } from '@crosstalk/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CrossTalkNode, createNode, type UserSession } from '../src/index.js';
import { EndpointInbox } from '../src/testing/index.js';
import { dhtView } from './support/dht-view.js';

const from = (who: Address, kind: CanonicalEvent['kind'], status?: string) => (e: CanonicalEvent) =>
  e.kind === kind &&
  'from' in e &&
  e.from.user === who.user &&
  e.from.network === who.network &&
  (status === undefined || (e.kind === 'presence' && e.status === status));

/**
 * A node that shuts down while a user's "offline" is still on its way (the user's connection closed
 * on its own a moment before): the buddy on another node still hears it, before G2G closes.
 */
describe('closing a node', () => {
  const dht = new MemoryDht();
  let one: CrossTalkNode;
  let two: CrossTalkNode;
  const alice = parseAddress('alice@aol');
  const bob = parseAddress('bob@yahoo');
  const atAlice = new EndpointInbox();
  const atBob = new EndpointInbox();
  let aliceSession: UserSession;
  let bobSession: UserSession;
  // Node one reads the DHT slowly at the end (as over a real network): its "offline" takes a while...
  let readDelay = 0;
  // ...and its clock can jump past its cache of where bob is, so the "offline" has to read it.
  let skew = 0;
  const slow = dhtView(dht, async (_key, get) => {
    if (readDelay) await delay(readDelay);
    return get();
  });

  beforeAll(async () => {
    one = await createNode({ dht: slow, logger: false, now: () => Date.now() + skew });
    two = await createNode({ dht, logger: false });
    aliceSession = await one.attach(alice, atAlice, { protocol: 'api' });
    bobSession = await two.attach(bob, atBob, { protocol: 'api' });
    // Mutual buddies: alice asks, bob accepts.
    await aliceSession.send({ kind: 'buddy-request', to: bob, message: 'hi' });
    await atBob.next(from(alice, 'buddy-request'), "alice's request");
    await bobSession.send({ kind: 'buddy-response', to: alice, accepted: true });
    await atAlice.next(from(bob, 'buddy-response'), "bob's answer");
    await atBob.next(from(alice, 'presence', 'online'), 'alice online');
  });

  afterAll(async () => {
    await one?.close();
    await two?.close();
  });

  it('a user detached just before close: the buddy elsewhere still hears "offline"', async () => {
    readDelay = 300;
    skew = 31_000;
    void aliceSession.detach();
    await one.close();
    const offline = await atBob.next(from(alice, 'presence', 'offline'), 'alice offline', 2_000);
    expect(offline).toMatchObject({ kind: 'presence', status: 'offline' });
  });
});
