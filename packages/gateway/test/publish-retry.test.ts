import { addressKey, type CanonicalEvent, DhtKeyFullError, MemoryDht, parseAddress } from '@crosstalk/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CrossTalkNode, createNode, Directory } from '../src/index.js';
import { EndpointInbox } from '../src/testing/index.js';
import { dhtView } from './support/dht-view.js';
import { removeStateFiles, stateWithBuddies } from './support/state-file.js';
import { until } from './support/until.js';

/**
 * A put that fails (a DHT busy with a login burst) makes the gateway republish everything it keeps
 * in the directory after a backoff. Buddies elsewhere are told a user's presence again only where
 * they may have lost it: the user's location record lapsed before the new one went through (their
 * watch found none), or none had gone through since the login. Telling every user's buddies again
 * after each failed put was a flood of presence on the G2G links.
 */
describe('a failed put, retried', () => {
  const dht = new MemoryDht();
  const alice = parseAddress('alice@aol');
  const bob = parseAddress('bob@yahoo');
  // Both nodes' clock, moved on by the tests (records are signed and checked by it).
  let ahead = 0;
  const now = () => Date.now() + ahead;
  // Node one's puts of these users' location records fail once each (the next one goes through).
  const failOnce = new Set<string>();
  let alicePuts = 0;
  const flaky = dhtView(dht, (_key, get) => get());
  flaky.put = async (key, value, options) => {
    if (failOnce.delete(key)) throw new DhtKeyFullError(dht.limits.maxValuesPerKey);
    if (key === Directory.locationKey(alice)) alicePuts++;
    return dht.put(key, value, options);
  };
  let one: CrossTalkNode;
  let two: CrossTalkNode;
  const atBob = new EndpointInbox();
  const aliceOnline = () =>
    atBob.events.filter(
      (e: CanonicalEvent) =>
        e.kind === 'presence' && e.status === 'online' && addressKey(e.from) === addressKey(alice),
    ).length;

  /** A user of node one whose login's location put fails: the retry republishes every user. */
  const failedLogin = async (user: string) => {
    const who = parseAddress(`${user}@aol`);
    failOnce.add(Directory.locationKey(who));
    const before = alicePuts;
    await one.attach(who, new EndpointInbox(), { protocol: 'api' });
    // The retry (after a second's backoff) republishes alice's record too.
    await until(() => alicePuts > before);
    expect(alicePuts).toBeGreaterThan(before);
    await new Promise((r) => setTimeout(r, 200));
  };

  beforeAll(async () => {
    two = await createNode({ dht, logger: false, now });
    await two.attach(bob, atBob, { protocol: 'api' });
    const stateFile = await stateWithBuddies('publish-retry', alice, [bob]);
    // A short soft TTL at node one (alice's records lapse 5 s after signing; refreshed every 1.7 s).
    one = await createNode({ dht: flaky, logger: false, now, stateFile, softTtl: 5000 });
    await one.attach(alice, new EndpointInbox(), { protocol: 'api' });
    await until(() => aliceOnline() === 1);
  });

  afterAll(async () => {
    await one?.close();
    await two?.close();
    await removeStateFiles();
  });

  it("another user's failed put: alice's record had not lapsed, so bob is not told again", async () => {
    expect(aliceOnline()).toBe(1);
    await failedLogin('carol');
    expect(aliceOnline()).toBe(1);
  });

  it("alice's record lapsed before the retry's put went through: bob is told again", async () => {
    ahead += 6_000; // past her record's soft TTL (5 s), with no refresh in this clock's time
    await failedLogin('dave');
    await until(() => aliceOnline() === 2);
    expect(aliceOnline()).toBe(2);
  });
});
