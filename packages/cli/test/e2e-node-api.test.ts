import { stanza } from '@crosstalk/codec-xmpp';
import {
  type Address,
  addressKey,
  type CanonicalEvent,
  LIMITS,
  MemoryDht,
  parseAddress,
} from '@crosstalk/core';
import {
  AlreadyAttachedError,
  type AttachInfo,
  type CrossTalkNode,
  createNode,
  type Gateway,
  SpoofedSenderError,
  type UserEndpoint,
  type UserSession,
} from '@crosstalk/gateway';
import { EndpointInbox } from '@crosstalk/gateway/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type NetworkFixture, startYmsgNetwork, type UserDriver } from '../src/drivers/index.js';
import { gatewayEvent, startGateway, through } from './support/gateway.js';
import { online, TEXT, TEXT_BACK, until } from './support/walkthrough.js';

/**
 * The engine without SOCKS (issue 18): a user attached by API to a node (no SOCKS connection, no
 * codec session) and Yahoo users behind a SOCKS gateway, on one MemoryDht, over real G2G links on
 * 127.0.0.1. The paper's walk-through both ways, and what the API refuses.
 */

const from = (who: Address) => (e: CanonicalEvent) => 'from' in e && addressKey(e.from) === addressKey(who);

const alice = parseAddress('alice@aol');

let yahoo: NetworkFixture;
let dht: MemoryDht;
let node: CrossTalkNode;
let gateway: Gateway;
const drivers: UserDriver[] = [];

beforeAll(async () => {
  yahoo = await startYmsgNetwork(['bob', 'carol', 'dave'].map((name) => ({ name, password: `${name}-pw` })));
  dht = new MemoryDht();
  node = await createNode({ dht, canonical: stanza, logger: false });
  gateway = await startGateway(dht);
}, 60_000);

afterAll(async () => {
  for (const d of drivers) await d.disconnect().catch(() => {});
  await gateway?.close();
  await node?.close();
  await yahoo?.stop();
});

function yahooUser(name: string): UserDriver {
  const d = yahoo.driver(name, through(gateway));
  drivers.push(d);
  return d;
}

const sessions: UserSession[] = [];
/** Attaches alice; detached after the test whatever happens (a failed test leaves nobody attached). */
async function attach(endpoint: UserEndpoint, info?: AttachInfo): Promise<UserSession> {
  const session = await node.attach(alice, endpoint, info);
  sessions.push(session);
  return session;
}
afterEach(async () => {
  for (const s of sessions.splice(0)) await s.detach();
});

/** Attaches alice and waits until the directory says where she is. */
async function attached(inbox: EndpointInbox): Promise<UserSession> {
  const session = await attach(inbox, { protocol: 'test-api', clientAddress: '127.0.0.1' });
  await until(
    async () => (await gateway.directory.lookupLocation(alice))?.gateway === node.id,
    'alice published by her node',
  );
  return session;
}

describe('a user attached by API and Yahoo users behind a SOCKS gateway', () => {
  it('the walk-through both ways, and a request held while the API user is detached', async () => {
    const bob = yahooUser('bob');
    const carol = yahooUser('carol');
    await online(bob, gateway);
    await online(carol, gateway);
    const inbox = new EndpointInbox();
    let session = await attached(inbox);
    expect(addressKey(session.address)).toBe('alice@aol');
    expect(node.users().map(addressKey)).toEqual(['alice@aol']);

    // The API user asks a Yahoo user, who accepts.
    expect(await session.send({ kind: 'buddy-request', to: bob.address, message: 'may I add you?' })).toBe(
      'delivered',
    );
    expect(await bob.nextBuddyRequest(alice)).toEqual({ message: 'may I add you?' });
    await bob.answerBuddyRequest(alice, true);
    const answer = await inbox.next(
      (e) => e.kind === 'buddy-response' && from(bob.address)(e),
      "bob's answer",
    );
    expect(answer).toMatchObject({ accepted: true });
    // Newly mutual: bob sees alice online at once.
    expect(await bob.nextPresence(alice, 'online')).toBe('online');
    await until(
      () =>
        session
          .foreignBuddies()
          .some((b) => addressKey(b.address) === addressKey(bob.address) && b.subscription === 'both'),
      'bob a mutual buddy of alice in hard state',
    );

    // A Yahoo user asks the API user, who accepts.
    await carol.addBuddy(alice, 'hi from yahoo');
    const request = await inbox.next(
      (e) => e.kind === 'buddy-request' && from(carol.address)(e),
      "carol's request",
    );
    expect(request).toMatchObject({ message: 'hi from yahoo' });
    expect(await session.send({ kind: 'buddy-response', to: carol.address, accepted: true })).toBe(
      'delivered',
    );
    expect(await carol.nextBuddyResponse(alice)).toEqual({ accepted: true });

    // IMs both ways, non-ASCII text.
    await session.send({ kind: 'im', id: 'api-1', to: bob.address, text: TEXT, sentAt: Date.now() });
    expect(await bob.nextIm(alice)).toBe(TEXT);
    await bob.sendIm(alice, TEXT_BACK);
    expect(await inbox.next((e) => e.kind === 'im' && from(bob.address)(e), "bob's IM")).toMatchObject({
      text: TEXT_BACK,
    });

    // Typing both ways.
    await session.send({ kind: 'typing', to: bob.address, state: 'composing' });
    expect(await bob.nextTyping(alice)).toBe('composing');
    await bob.sendTyping(alice, 'composing');
    expect(
      await inbox.next((e) => e.kind === 'typing' && from(bob.address)(e), "bob's typing"),
    ).toMatchObject({
      state: 'composing',
    });

    // Presence both ways.
    await session.setPresence({ status: 'away', text: 'out to lunch' });
    expect(await bob.nextPresence(alice, 'away')).toBe('away');
    await bob.setPresence('away', 'brb');
    expect(
      await inbox.next(
        (e) => e.kind === 'presence' && from(bob.address)(e) && e.status === 'away',
        "bob's away",
      ),
    ).toMatchObject({ text: 'brb' });

    // Detached: the Yahoo side sees alice go offline, and a request to her is held for her next login.
    await session.detach();
    expect(session.closed).toBe(true);
    expect(await bob.nextPresence(alice, 'offline')).toBe('offline');
    const dave = yahooUser('dave');
    await online(dave, gateway);
    const held = gatewayEvent(gateway, (e) => e.type === 'pending-held', 'the request held');
    await dave.addBuddy(alice, 'are you there?');
    await held;
    const again = new EndpointInbox();
    session = await attached(again);
    expect(
      await again.next((e) => e.kind === 'buddy-request' && from(dave.address)(e), "dave's held request"),
    ).toMatchObject({ message: 'are you there?' });
    // And the buddies alice had see her again.
    expect(await bob.nextPresence(alice, 'online')).toBe('online');
    await session.detach();
  }, 60_000);
});

describe('what the node API refuses', () => {
  const refused = async (reason: string) =>
    (await node.metrics.refused.get()).values
      .filter((v) => v.labels.reason === reason)
      .reduce((sum, v) => sum + v.value, 0);

  it('a `from` naming anyone else: SpoofedSenderError, counted, nothing sent', async () => {
    const inbox = new EndpointInbox();
    const session = await attach(inbox);
    const before = await refused('ERR_SPOOFED_SENDER');
    const sent: CanonicalEvent[] = [];
    const stop = node.on((e) => {
      if (e.type === 'translated') sent.push(e.event);
    });
    const forged = parseAddress('mallory@aol');
    await expect(
      session.send({ kind: 'im', id: 's1', from: forged, to: alice, text: 'spoofed', sentAt: 1 }),
    ).rejects.toBeInstanceOf(SpoofedSenderError);
    await expect(session.setPresence({ status: 'away', from: forged })).rejects.toMatchObject({
      code: 'ERR_SPOOFED_SENDER',
    });
    expect(await refused('ERR_SPOOFED_SENDER')).toBe(before + 2);
    // The own address, written out, is the user's own: accepted.
    await expect(
      session.send({ kind: 'im', id: 's2', from: alice, to: alice, text: 'note to self', sentAt: 1 }),
    ).resolves.toBe('delivered');
    stop();
    expect(sent.map((e) => e.kind)).toEqual(['im']);
    await session.detach();
  });

  it('attaching an address twice: AlreadyAttachedError, the first session stays', async () => {
    const first = new EndpointInbox();
    const session = await attach(first);
    await expect(node.attach(alice, new EndpointInbox())).rejects.toBeInstanceOf(AlreadyAttachedError);
    await expect(node.attach(alice, new EndpointInbox(), { shared: true })).rejects.toMatchObject({
      code: 'ERR_ALREADY_ATTACHED',
    });
    await session.send({ kind: 'im', id: 't1', to: alice, text: 'still here', sentAt: 1 });
    expect(await first.next((e) => e.kind === 'im', 'the IM to self')).toMatchObject({ text: 'still here' });
    await session.detach();
  });

  it('sending after detach: NotLoggedInError', async () => {
    const session = await attach(new EndpointInbox());
    await session.detach();
    await session.detach(); // idempotent
    await expect(session.send({ kind: 'typing', to: alice, state: 'composing' })).rejects.toMatchObject({
      name: 'NotLoggedInError',
      code: 'ERR_NOT_LOGGED_IN',
    });
    await expect(session.setPresence({ status: 'online' })).rejects.toMatchObject({
      code: 'ERR_NOT_LOGGED_IN',
    });
    expect(node.users()).toEqual([]);
  });

  it('events over the canonical limits: InvalidEventError, counted, nothing sent', async () => {
    const inbox = new EndpointInbox();
    const session = await attach(inbox);
    const before = await refused('ERR_INVALID_EVENT');
    const big = 'x'.repeat(LIMITS.text + 1);
    await expect(
      session.send({ kind: 'im', id: 'b1', to: alice, text: big, sentAt: 1 }),
    ).rejects.toMatchObject({ name: 'InvalidEventError', code: 'ERR_INVALID_EVENT' });
    await expect(session.setPresence({ status: 'away', text: big })).rejects.toMatchObject({
      code: 'ERR_INVALID_EVENT',
    });
    await expect(
      session.send({ kind: 'buddy-request', id: 'i'.repeat(LIMITS.id + 1), to: alice }),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_EVENT' });
    expect(await refused('ERR_INVALID_EVENT')).toBe(before + 3);
    // At the limit it goes.
    await session.send({ kind: 'im', id: 'b2', to: alice, text: 'y'.repeat(LIMITS.text), sentAt: 1 });
    expect(
      (await inbox.next((e) => e.kind === 'im', 'the IM at the limit')) as { text: string },
    ).toMatchObject({
      text: 'y'.repeat(LIMITS.text),
    });
    // Nothing else reached her (buddies' presence at login aside).
    expect(inbox.events.filter((e) => e.kind === 'im')).toEqual([]);
    await session.detach();
  });

  it('an endpoint that cannot show an IM: the sender is told the user is offline', async () => {
    const inbox = new EndpointInbox();
    const session = await attach(inbox);
    inbox.showing = false;
    await expect(
      session.send({ kind: 'im', id: 'o1', to: alice, text: 'nobody home', sentAt: 1 }),
    ).rejects.toMatchObject({ code: 'ERR_USER_OFFLINE' });
    await session.detach();
  });
});
