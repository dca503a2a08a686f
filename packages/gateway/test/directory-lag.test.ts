import { type Address, type CanonicalEvent, MemoryDht, parseAddress } from '@crosstalk/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CrossTalkNode, createNode, Directory, type UserSession } from '../src/index.js';
import { EndpointInbox } from '../src/testing/index.js';
import { dhtView } from './support/dht-view.js';

const imFrom = (who: Address) => (e: CanonicalEvent) =>
  e.kind === 'im' && e.from.user === who.user && e.from.network === who.network;

/**
 * A real DHT is eventually consistent: a location record just published may not be found yet by
 * another gateway's look-up (its query reached nodes the put had not). The recipient's gateway then
 * refuses the event as spoofed (it cannot tell a lagging directory from a forger); the sender's
 * gateway, which knows it serves the sender, tries once more after a pause instead of losing it.
 */
describe('a directory that lags behind a login', () => {
  const dht = new MemoryDht();
  const alice = parseAddress('alice@aol');
  const bob = parseAddress('bob@yahoo');
  const carol = parseAddress('carol@aol');
  // Node two's reads of alice's location come back empty while `hidden` is above 0 (one per read);
  // carol's never show.
  let hidden = 0;
  let reads = 0;
  const lagging = dhtView(dht, async (key, get) => {
    if (key === Directory.locationKey(alice) && hidden > 0) {
      hidden--;
      return [];
    }
    if (key === Directory.locationKey(carol)) {
      reads++;
      return [];
    }
    return get();
  });
  let one: CrossTalkNode;
  let two: CrossTalkNode;
  let aliceSession: UserSession;
  const atBob = new EndpointInbox();

  beforeAll(async () => {
    one = await createNode({ dht, logger: false });
    two = await createNode({ dht: lagging, logger: false });
    aliceSession = await one.attach(alice, new EndpointInbox(), { protocol: 'api' });
    await two.attach(bob, atBob, { protocol: 'api' });
  });

  afterAll(async () => {
    await one?.close();
    await two?.close();
  });

  it('the first reads miss the sender: the IM is delivered on the retry', async () => {
    hidden = 2; // the cached read and the fresh one both miss
    const sent = await aliceSession.send({
      kind: 'im',
      id: 'lag-1',
      to: bob,
      text: 'hello',
      sentAt: Date.now(),
    });
    expect(sent).toBe('delivered');
    expect(atBob.events.find(imFrom(alice))).toMatchObject({ text: 'hello' });
  });

  it('a directory that never shows the sender: still refused, after one retry', async () => {
    const carolSession = await one.attach(carol, new EndpointInbox(), { protocol: 'api' });
    await expect(
      carolSession.send({ kind: 'im', id: 'lag-2', to: bob, text: 'again', sentAt: Date.now() }),
    ).rejects.toMatchObject({ refusal: 'ERR_SPOOFED_EVENT' });
    // Two sends, each read twice (cached, then fresh): the retry was one, not a loop.
    expect(reads).toBe(4);
    expect(atBob.events.some(imFrom(carol))).toBe(false);
  });
});
