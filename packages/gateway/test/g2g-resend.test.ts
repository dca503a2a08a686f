import { type Address, type CanonicalEvent, MemoryDht, parseAddress } from '@crosstalk/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CrossTalkNode, createNode, Directory, type UserSession } from '../src/index.js';
import { RECENT_ARRIVAL_MS, RecentArrivals } from '../src/node/routing/recent-arrivals.js';
import { EndpointInbox } from '../src/testing/index.js';
import { dhtView } from './support/dht-view.js';

const imFrom = (who: Address) => (e: CanonicalEvent) =>
  e.kind === 'im' && e.from.user === who.user && e.from.network === who.network;

/**
 * A G2G sender that does not hear the ACK in time gives the link up and sends the event again on
 * a new one; the receiver, still checking the first copy's sender in a slow directory, delivers
 * that copy all the same. The receiver shows the IM once (at-least-once over G2G, made once).
 */
describe('an IM sent again after a missed G2G acknowledgement', () => {
  const dht = new MemoryDht();
  const alice = parseAddress('alice@aol');
  const bob = parseAddress('bob@yahoo');
  // Bob's node: its first look-up of alice's location (the first copy's sender check) is slow.
  let slowReads = 0;
  const slow = dhtView(dht, async (key, get) => {
    if (key === Directory.locationKey(alice) && slowReads > 0) {
      slowReads--;
      await new Promise((r) => setTimeout(r, 1500));
    }
    return get();
  });
  let one: CrossTalkNode;
  let two: CrossTalkNode;
  let aliceSession: UserSession;
  const atBob = new EndpointInbox();

  beforeAll(async () => {
    // Alice's node gives a link up when an ACK takes more than 500 ms.
    one = await createNode({ dht, logger: false, timeouts: { g2gAck: 500 } });
    two = await createNode({ dht: slow, logger: false });
    aliceSession = await one.attach(alice, new EndpointInbox(), { protocol: 'api' });
    await two.attach(bob, atBob, { protocol: 'api' });
  });

  afterAll(async () => {
    await one?.close();
    await two?.close();
  });

  it('is delivered once, and the sender hears it was', async () => {
    slowReads = 1;
    const sent = await aliceSession.send({
      kind: 'im',
      id: 'resent-1',
      to: bob,
      text: 'once',
      sentAt: Date.now(),
    });
    expect(sent).toBe('delivered');
    // Both copies have been through bob's node by now (the slow check ends 1.5 s after the first).
    await new Promise((r) => setTimeout(r, 1500));
    expect(slowReads).toBe(0);
    expect(atBob.events.filter(imFrom(alice))).toHaveLength(1);
  });

  it('an IM with the same id sent at another time is a new one', async () => {
    const before = atBob.events.filter(imFrom(alice)).length;
    await aliceSession.send({ kind: 'im', id: 'resent-1', to: bob, text: 'again', sentAt: Date.now() + 1 });
    expect(atBob.events.filter(imFrom(alice)).length).toBe(before + 1);
  });
});

describe('RecentArrivals', () => {
  const im = (id: string, sentAt = 1): CanonicalEvent => ({
    kind: 'im',
    id,
    from: parseAddress('alice@aol'),
    to: parseAddress('bob@yahoo'),
    text: 'hi',
    sentAt,
  });

  it('a copy gets the first delivery’s outcome, waiting for it when it is under way', async () => {
    const recent = new RecentArrivals(() => 0);
    let deliveries = 0;
    let finish!: (protocol: string) => void;
    const first = recent.once(im('a'), () => {
      deliveries++;
      return new Promise<string>((r) => {
        finish = r;
      });
    });
    const copy = recent.once(im('a'), async () => {
      deliveries++;
      return 'never';
    });
    finish('xmpp');
    expect(await first).toBe('xmpp');
    expect(await copy).toBe('xmpp');
    expect(deliveries).toBe(1);
  });

  it('a delivery that failed is forgotten: the next copy is delivered', async () => {
    const recent = new RecentArrivals(() => 0);
    await expect(recent.once(im('b'), async () => Promise.reject(new Error('offline')))).rejects.toThrow(
      'offline',
    );
    expect(await recent.once(im('b'), async () => 'ymsg')).toBe('ymsg');
  });

  it('remembers an IM at least RECENT_ARRIVAL_MS and at most twice that; other kinds not at all', async () => {
    let now = 0;
    const recent = new RecentArrivals(() => now);
    let deliveries = 0;
    const deliver = async () => {
      deliveries++;
      return 'oscar';
    };
    await recent.once(im('c'), deliver);
    now = RECENT_ARRIVAL_MS + 1;
    await recent.once(im('c'), deliver);
    expect(deliveries).toBe(1);
    now = 2 * RECENT_ARRIVAL_MS;
    await recent.once(im('c'), deliver);
    expect(deliveries).toBe(1);
    // The second turn-over after it arrived forgets it.
    now = 2 * RECENT_ARRIVAL_MS + 1;
    await recent.once(im('c'), deliver);
    expect(deliveries).toBe(2);
    const typing: CanonicalEvent = {
      kind: 'typing',
      from: parseAddress('alice@aol'),
      to: parseAddress('bob@yahoo'),
      state: 'composing',
    } as CanonicalEvent;
    await recent.once(typing, deliver);
    await recent.once(typing, deliver);
    expect(deliveries).toBe(4);
    expect(recent.size).toBe(1);
  });
});
