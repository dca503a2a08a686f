import { type Address, type CanonicalEvent, MemoryDht, parseAddress } from '@crosstalk/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CrossTalkNode, createNode, Directory, type UserSession } from '../src/index.js';
import { EndpointInbox } from '../src/testing/index.js';
import { dhtView } from './support/dht-view.js';
import { until } from './support/until.js';

const imFrom = (who: Address) => (e: CanonicalEvent) =>
  e.kind === 'im' && e.from.user === who.user && e.from.network === who.network;

/**
 * The sender's gateway caches a recipient's location for 30 s. Once that lapses, a send used to
 * wait on a directory lookup (hundreds of ms on a busy DHT, for every user whose entry lapsed at
 * once); now the lapsed location is used while its signed record has not expired, and the lookup
 * runs in the background. Past the record's expiry, nothing cached is used.
 */
describe("a recipient's cached location, past the cache's time", () => {
  const dht = new MemoryDht();
  const alice = parseAddress('alice@aol');
  const bob = parseAddress('bob@yahoo');
  // Both nodes' clock, moved forward by the tests (records are signed and checked by it).
  let ahead = 0;
  const now = () => Date.now() + ahead;
  // Node one's reads of bob's location: counted, and held while `hold` is set.
  let reads = 0;
  let hold: Promise<void> | undefined;
  let release = () => {};
  const held = () => {
    hold = new Promise((r) => {
      release = () => {
        hold = undefined;
        r();
      };
    });
  };
  const watched = dhtView(dht, async (key, get) => {
    if (key === Directory.locationKey(bob)) {
      reads++;
      if (hold) await hold;
    }
    return get();
  });
  let one: CrossTalkNode;
  let two: CrossTalkNode;
  let aliceSession: UserSession;
  const atBob = new EndpointInbox();
  let n = 0;
  const im = () => ({ kind: 'im' as const, id: `cache-${++n}`, to: bob, text: `hello ${n}`, sentAt: now() });

  beforeAll(async () => {
    one = await createNode({ dht: watched, logger: false, now });
    two = await createNode({ dht, logger: false, now });
    aliceSession = await one.attach(alice, new EndpointInbox(), { protocol: 'api' });
    await two.attach(bob, atBob, { protocol: 'api' });
  });

  afterAll(async () => {
    release();
    await one?.close();
    await two?.close();
  });

  it('is used at once while the directory is asked again, once, in the background', async () => {
    expect(await aliceSession.send(im())).toBe('delivered'); // bob's location now cached at node one
    const before = reads;
    ahead += 31_000; // past the cache's 30 s, within the record's 60 s
    held();
    // Both sends are delivered while the lookup is still held: neither waits on it.
    expect(await aliceSession.send(im())).toBe('delivered');
    expect(await aliceSession.send(im())).toBe('delivered');
    expect(atBob.events.filter(imFrom(alice))).toHaveLength(3);
    expect(reads).toBe(before + 1);
    release();
    // The answer is cached afresh: the next send reads nothing.
    await new Promise((r) => setTimeout(r, 20));
    expect(await aliceSession.send(im())).toBe('delivered');
    expect(reads).toBe(before + 1);
  });

  it('is not used once its record has expired: the send waits on the directory', async () => {
    const before = reads;
    ahead += 61_000; // every record signed so far has expired (none re-signed in this clock's time)
    held();
    let outcome: unknown;
    const sending = aliceSession.send(im()).then(
      (sent) => (outcome = sent),
      (error: unknown) => (outcome = error),
    );
    await until(() => reads > before);
    await new Promise((r) => setTimeout(r, 50));
    expect(outcome).toBeUndefined();
    expect(atBob.events.filter(imFrom(alice))).toHaveLength(4);
    release();
    await sending;
    // The directory holds only expired records (bob's, and his gateway's): not delivered.
    expect(outcome).toBeInstanceOf(Error);
    expect(atBob.events.filter(imFrom(alice))).toHaveLength(4);
  });
});
