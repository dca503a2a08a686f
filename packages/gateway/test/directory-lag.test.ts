import { type Address, type CanonicalEvent, MemoryDht, parseAddress } from '@crosstalk/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CrossTalkNode,
  createNode,
  Directory,
  type NodeOptions,
  type UserSession,
} from '../src/index.js';
import { EndpointInbox } from '../src/testing/index.js';
import { dhtView } from './support/dht-view.js';
import { until } from './support/until.js';

const imFrom = (who: Address) => (e: CanonicalEvent) =>
  e.kind === 'im' && e.from.user === who.user && e.from.network === who.network;

/**
 * Node one with alice attached and node two with bob (their events into `atAlice`, `atBob`), started before the
 * describe's tests and closed after them; each node with its own options (its view of the DHT).
 */
function aliceAndBob(alice: Address, bob: Address, optionsOne: NodeOptions, optionsTwo: NodeOptions) {
  const nodes = {
    one: undefined as unknown as CrossTalkNode,
    two: undefined as unknown as CrossTalkNode,
    aliceSession: undefined as unknown as UserSession,
    bobSession: undefined as unknown as UserSession,
    atAlice: new EndpointInbox(),
    atBob: new EndpointInbox(),
  };
  beforeAll(async () => {
    nodes.one = await createNode({ logger: false, ...optionsOne });
    nodes.two = await createNode({ logger: false, ...optionsTwo });
    nodes.aliceSession = await nodes.one.attach(alice, nodes.atAlice, { protocol: 'api' });
    nodes.bobSession = await nodes.two.attach(bob, nodes.atBob, { protocol: 'api' });
  });
  afterAll(async () => {
    await nodes.one?.close();
    await nodes.two?.close();
  });
  return nodes;
}

/**
 * A real DHT is eventually consistent: a location record just published may not be found yet by
 * another gateway's look-up (its query reached nodes the put had not). A recipient's gateway that
 * reads no record attached to the event (G2G version 1, as here) then refuses the event as spoofed
 * (it cannot tell a lagging directory from a forger); the sender's gateway, which knows it serves
 * the sender, tries once more after a pause instead of losing it. (A gateway of version 2 is sent
 * the sender's record with the event: located-events.test.ts.)
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
  const nodes = aliceAndBob(alice, bob, { dht }, { dht: lagging, g2gVersion: 1 });
  const { atBob } = nodes;

  it('the first reads miss the sender: the IM is delivered on the retry', async () => {
    hidden = 2; // the cached read and the fresh one both miss
    const sent = await nodes.aliceSession.send({
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
    const carolSession = await nodes.one.attach(carol, new EndpointInbox(), { protocol: 'api' });
    await expect(
      carolSession.send({ kind: 'im', id: 'lag-2', to: bob, text: 'again', sentAt: Date.now() }),
    ).rejects.toMatchObject({ refusal: 'ERR_SPOOFED_EVENT' });
    // Two sends, each read twice (cached, then fresh): the retry was one, not a loop.
    expect(reads).toBe(4);
    expect(atBob.events.some(imFrom(carol))).toBe(false);
  });
});

/**
 * A buddy answer (or request) for a recipient who is online but not found at that moment is held
 * for their next login, and also tried again for a while: delivered on a try, it is no longer held;
 * whichever of the two copies arrives second is not shown again.
 */
describe('a buddy answer held for a recipient the directory does not show yet', () => {
  const dht = new MemoryDht();
  const alice = parseAddress('alice@aol');
  const bob = parseAddress('bob@yahoo');
  let hideBob = false;
  let hideDave = false;
  const lagging = dhtView(dht, async (key, get) =>
    (key === Directory.locationKey(bob) && hideBob) ||
    (key === Directory.locationKey(parseAddress('dave@yahoo')) && hideDave)
      ? []
      : get(),
  );
  let one: CrossTalkNode;
  let two: CrossTalkNode;
  let aliceSession: UserSession;

  const answers = (inbox: EndpointInbox) =>
    inbox.events.filter((e) => e.kind === 'buddy-response' && e.from.user === alice.user);

  beforeAll(async () => {
    one = await createNode({ dht: lagging, logger: false, heldRetry: [100, 100, 100, 100] });
    two = await createNode({ dht, logger: false });
    aliceSession = await one.attach(alice, new EndpointInbox(), { protocol: 'api' });
  });

  afterAll(async () => {
    await one?.close();
    await two?.close();
  });

  it('is delivered on a later try once the recipient is found, and no longer held', async () => {
    const atBob = new EndpointInbox();
    const bobSession = await two.attach(bob, atBob, { protocol: 'api' });
    hideBob = true;
    const sent = await aliceSession.send({ kind: 'buddy-response', to: bob, accepted: true });
    expect(sent).toBe('held');
    expect(answers(atBob)).toHaveLength(0);
    hideBob = false;
    await until(() => answers(atBob).length > 0);
    expect(answers(atBob)).toHaveLength(1);
    let held = await two.directory.pendingFor(bob);
    for (let i = 0; i < 100 && held.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
      held = await two.directory.pendingFor(bob);
    }
    expect(held).toEqual([]);
    // Bob's next login finds nothing held, and sees the answer once in all.
    await bobSession.detach();
    const again = new EndpointInbox();
    await two.attach(bob, again, { protocol: 'api' });
    await new Promise((r) => setTimeout(r, 300));
    expect(answers(again)).toHaveLength(0);
  });

  it('a held request answered meanwhile is no longer tried', async () => {
    const dave = parseAddress('dave@yahoo');
    const atDave = new EndpointInbox();
    const daveSession = await two.attach(dave, atDave, { protocol: 'api' });
    hideDave = true;
    const sent = await aliceSession.send({ kind: 'buddy-request', to: dave });
    expect(sent).toBe('held');
    // Dave adds alice himself before the first try (100 ms): his answer reaches her node, which
    // stops holding her request and trying it.
    hideDave = false;
    expect(await daveSession.send({ kind: 'buddy-response', to: alice, accepted: true })).toBe('delivered');
    await new Promise((r) => setTimeout(r, 600));
    expect(atDave.events.filter((e) => e.kind === 'buddy-request')).toHaveLength(0);
  });

  it('the held copy shown at a login first: the try’s copy is not shown again', async () => {
    const carol = parseAddress('carol@yahoo');
    const sent = await aliceSession.send({ kind: 'buddy-response', to: carol, accepted: false });
    expect(sent).toBe('held');
    const atCarol = new EndpointInbox();
    await two.attach(carol, atCarol, { protocol: 'api' });
    await until(() => answers(atCarol).length > 0);
    // Past every try (4 x 100 ms): still one.
    await new Promise((r) => setTimeout(r, 600));
    expect(answers(atCarol)).toHaveLength(1);
  });
});

/**
 * A request whose sender's gateway could not reach the recipient's past its tries stays held in the
 * directory under the recipient's key. The recipient's gateway reads what is held for each user
 * online there now and then (`heldPoll`, at the refreshes of the user's records), so a recipient
 * who stays logged in is shown it without waiting for their next login.
 */
describe('a request held while the recipient stays online', () => {
  const dht = new MemoryDht();
  const alice = parseAddress('alice@aol');
  const erin = parseAddress('erin@yahoo');
  const frank = parseAddress('frank@yahoo');
  // Node one never finds the recipients (as if their gateway could not be reached), and does not try again.
  const blind = dhtView(dht, async (key, get) =>
    key === Directory.locationKey(erin) || key === Directory.locationKey(frank) ? [] : get(),
  );
  let one: CrossTalkNode;
  let polling: CrossTalkNode;
  let notPolling: CrossTalkNode;
  let aliceSession: UserSession;
  const requests = (inbox: EndpointInbox) =>
    inbox.events.filter((e) => e.kind === 'buddy-request' && e.from.user === alice.user);

  beforeAll(async () => {
    one = await createNode({ dht: blind, logger: false, heldRetry: [] });
    // Records refreshed every second (a third of the soft TTL), held requests read at each refresh.
    polling = await createNode({ dht, logger: false, softTtl: 3000, heldPoll: 1000 });
    notPolling = await createNode({ dht, logger: false, softTtl: 3000, heldPoll: 0 });
    aliceSession = await one.attach(alice, new EndpointInbox(), { protocol: 'api' });
  });

  afterAll(async () => {
    await one?.close();
    await polling?.close();
    await notPolling?.close();
  });

  it('is shown once, at a refresh of the recipient’s records, with no new login', async () => {
    const atErin = new EndpointInbox();
    await polling.attach(erin, atErin, { protocol: 'api' });
    // Logged in before the request was held: the login's read found nothing.
    await new Promise((r) => setTimeout(r, 100));
    expect(await aliceSession.send({ kind: 'buddy-request', to: erin })).toBe('held');
    expect(requests(atErin)).toHaveLength(0);
    for (let i = 0; i < 300 && requests(atErin).length === 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(requests(atErin)).toHaveLength(1);
    // Later reads find it again (still held: it is released by an answer), and do not show it again.
    await new Promise((r) => setTimeout(r, 2200));
    expect(requests(atErin)).toHaveLength(1);
  });

  it('with heldPoll 0, only a login shows it', async () => {
    const atFrank = new EndpointInbox();
    const frankSession = await notPolling.attach(frank, atFrank, { protocol: 'api' });
    await new Promise((r) => setTimeout(r, 100));
    expect(await aliceSession.send({ kind: 'buddy-request', to: frank })).toBe('held');
    await new Promise((r) => setTimeout(r, 2200));
    expect(requests(atFrank)).toHaveLength(0);
    await frankSession.detach();
    const again = new EndpointInbox();
    await notPolling.attach(frank, again, { protocol: 'api' });
    for (let i = 0; i < 300 && requests(again).length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(requests(again)).toHaveLength(1);
  });
});

describe('heldPoll', () => {
  it('refuses a value that is not a number of ms', async () => {
    await expect(createNode({ logger: false, heldPoll: -1 })).rejects.toMatchObject({
      code: 'ERR_INVALID_CONFIG',
    });
    await expect(createNode({ logger: false, heldPoll: Number.NaN })).rejects.toMatchObject({
      code: 'ERR_INVALID_CONFIG',
    });
  });
});

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
  // Alice's node gives a link up when an ACK takes more than 500 ms (and nothing else arrives on it).
  // Bob's node reads no attached record (G2G version 1): its sender check is the directory's.
  const nodes = aliceAndBob(alice, bob, { dht, timeouts: { g2gAck: 500 } }, { dht: slow, g2gVersion: 1 });
  const { atBob } = nodes;

  it('is delivered once, and the sender hears it was', async () => {
    slowReads = 1;
    const sent = await nodes.aliceSession.send({
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
    await nodes.aliceSession.send({
      kind: 'im',
      id: 'resent-1',
      to: bob,
      text: 'again',
      sentAt: Date.now() + 1,
    });
    expect(atBob.events.filter(imFrom(alice)).length).toBe(before + 1);
  });
});

/**
 * A gateway of G2G version 1 (from before LOCATED frames) and one of version 2, both ways: the newer
 * one sends the older plain events (its records announce no version), the older one sends plain
 * events to the newer, and neither link is closed for what it carried.
 */
describe('a gateway of G2G version 1 beside one of version 2', () => {
  const dht = new MemoryDht();
  const alice = parseAddress('alice@aol');
  const bob = parseAddress('bob@yahoo');
  const nodes = aliceAndBob(alice, bob, { dht }, { dht, g2gVersion: 1 });

  it('IMs go both ways on plain events', async () => {
    expect(
      await nodes.aliceSession.send({
        kind: 'im',
        id: 'v2-to-v1',
        to: bob,
        text: 'new to old',
        sentAt: Date.now(),
      }),
    ).toBe('delivered');
    expect(nodes.atBob.events.find(imFrom(alice))).toMatchObject({ text: 'new to old' });
    expect(await nodes.two.directory.lookupLocation(bob)).not.toHaveProperty('g2g');
    expect(await nodes.one.directory.lookupLocation(alice)).toMatchObject({ g2g: 2 });
    expect(
      await nodes.bobSession.send({
        kind: 'im',
        id: 'v1-to-v2',
        to: alice,
        text: 'old to new',
        sentAt: Date.now(),
      }),
    ).toBe('delivered');
    expect(nodes.atAlice.events.find(imFrom(bob))).toMatchObject({ text: 'old to new' });
    for (const node of [nodes.one, nodes.two])
      expect((await node.metrics.refused.get()).values.filter((v) => v.value > 0)).toEqual([]);
  });
});
