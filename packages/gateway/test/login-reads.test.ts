import {
  addressKey,
  type CanonicalEvent,
  MemoryDht,
  type PresenceEvent,
  parseAddress,
} from '@crosstalk/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CrossTalkNode, createNode, Directory } from '../src/index.js';
import { EndpointInbox } from '../src/testing/index.js';
import { dhtView } from './support/dht-view.js';
import { removeStateFiles, stateWithBuddies } from './support/state-file.js';

/**
 * At a login the node reads the buddies' presence from the directory, then the requests held for
 * the user. On hyperdht each read is a round trip: they overlap (a bounded number at a time), and
 * one that fails costs that buddy's presence alone, not the others' nor the held requests.
 */
describe("a login's reads of the directory", () => {
  const dht = new MemoryDht();
  const alice = parseAddress('alice@aol');
  const buddies = Array.from({ length: 12 }, (_, i) => parseAddress(`buddy${i}@yahoo`));
  const broken = buddies[3]!;
  const zed = parseAddress('zed@yahoo');
  const buddyKeys = new Set(buddies.map((b) => Directory.locationKey(b)));
  let inFlight = 0;
  let mostInFlight = 0;
  let counting = false;
  /** Reads of each buddy's location by alice's node, once counting. */
  const reads = new Map<string, number>();
  // Alice's node: each buddy's location read takes 40 ms; the broken buddy's fails.
  const slow = dhtView(dht, async (key, get) => {
    if (!counting || !buddyKeys.has(key)) return get();
    reads.set(key, (reads.get(key) ?? 0) + 1);
    await new Promise((r) => setTimeout(r, 40));
    if (key === Directory.locationKey(broken)) throw new Error('no DHT node answered');
    return get();
  });
  let one: CrossTalkNode;
  let two: CrossTalkNode;
  const atAlice = new EndpointInbox();

  beforeAll(async () => {
    one = await createNode({ dht, logger: false });
    for (const b of buddies) await one.attach(b, new EndpointInbox(), { protocol: 'api' });
    // Held for alice: she is not online anywhere when zed asks.
    const zedSession = await one.attach(zed, new EndpointInbox(), { protocol: 'api' });
    expect(await zedSession.send({ kind: 'buddy-request', to: alice })).toBe('held');
    const stateFile = await stateWithBuddies('login-reads', alice, buddies, 'to');
    two = await createNode({ dht: slow, logger: false, stateFile });
    // The login's presence reads under way at once.
    const lookupOnline = two.directory.lookupOnline.bind(two.directory);
    two.directory.lookupOnline = async (user) => {
      mostInFlight = Math.max(mostInFlight, ++inFlight);
      try {
        return await lookupOnline(user);
      } finally {
        inFlight--;
      }
    };
  });

  afterAll(async () => {
    await one?.close();
    await two?.close();
    await removeStateFiles();
  });

  it('overlap, and one that fails costs only that buddy', async () => {
    counting = true;
    await two.attach(alice, atAlice, { protocol: 'api' });
    const online = (e: CanonicalEvent): e is PresenceEvent => e.kind === 'presence' && e.status === 'online';
    const heldShown = (e: CanonicalEvent) =>
      e.kind === 'buddy-request' && addressKey(e.from) === addressKey(zed);
    for (let i = 0; i < 300 && !atAlice.events.some(heldShown); i++)
      await new Promise((r) => setTimeout(r, 10));
    const shown = atAlice.events.filter(online).map((e) => addressKey(e.from));
    expect(shown.sort()).toEqual(
      buddies
        .filter((b) => b !== broken)
        .map(addressKey)
        .sort(),
    );
    expect(atAlice.events.filter(heldShown)).toHaveLength(1);
    // Twelve 40 ms reads one after another would take half a second; they ran side by side.
    expect(mostInFlight).toBeGreaterThan(1);
    expect(mostInFlight).toBeLessThanOrEqual(4);
  });

  it('read once each: the watch of a buddy shown online starts at the expiry of the record the read found', async () => {
    // The watch would look at once (50 ms on) if the read had not said where the buddy is.
    await new Promise((r) => setTimeout(r, 300));
    expect([...reads.values()]).toEqual(buddies.map(() => 1));
  });
});

/**
 * At a login the node puts the user's location record, then their home record. Their buddies
 * elsewhere are told their presence once the location record is through (their gateways check the
 * sender against it), not after the home record too: on a DHT busy with logins each put takes seconds.
 */
describe("a login's presence, told elsewhere", () => {
  const dht = new MemoryDht();
  const alice = parseAddress('alice@aol');
  const bob = parseAddress('bob@yahoo');
  // Alice's node: its put of her home record waits until the test lets it go.
  let letHomeGo!: () => void;
  const homeHeld = new Promise<void>((resolve) => {
    letHomeGo = resolve;
  });
  const homePutsLast = { ...dhtView(dht, (_key, get) => get()) };
  homePutsLast.put = async (key, value, options) => {
    if (key === Directory.homeKey(alice)) await homeHeld;
    return dht.put(key, value, options);
  };
  let one: CrossTalkNode;
  let two: CrossTalkNode;
  const atBob = new EndpointInbox();

  beforeAll(async () => {
    two = await createNode({ dht, logger: false });
    await two.attach(bob, atBob, { protocol: 'api' });
    const stateFile = await stateWithBuddies('login-told', alice, [bob]);
    one = await createNode({ dht: homePutsLast, logger: false, stateFile });
  });
  afterAll(async () => {
    letHomeGo();
    await one?.close();
    await two?.close();
    await removeStateFiles();
  });

  it('once the location record is through, while the home record is still being put', async () => {
    await one.attach(alice, new EndpointInbox(), { protocol: 'api' });
    const fromAlice = (e: CanonicalEvent) =>
      e.kind === 'presence' && e.status === 'online' && addressKey(e.from) === addressKey(alice);
    for (let i = 0; i < 200 && !atBob.events.some(fromAlice); i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(atBob.events.some(fromAlice)).toBe(true);
    expect(await dht.get(Directory.homeKey(alice))).toEqual([]);
  });
});
