import {
  type Address,
  addressKey,
  type CanonicalEvent,
  isCrossTalkError,
  LIMITS,
  MemoryDht,
  type PresenceStatus,
  parseAddress,
  type RosterItem,
} from '@crosstalk/core';
import type { GatewayEvent } from '@crosstalk/gateway';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type BaseClient,
  type BaseClientEvents,
  type BaseClientShim,
  type BaseOutgoingEvent,
  BaseTlsUnavailableError,
  bytesSource,
  createClient,
  createShim,
  memorySink,
  type ShimClient,
  type ShimOptions,
} from '../src/index.js';
import { Heard, TEXT, TEXT_BACK, until } from './support.js';

/**
 * `createShim` over a base client written in the test (an in-memory network that reaches the
 * `example.org` domain), with a real node on a MemoryDht and a client-API user (bob@yahoo) on a node
 * of its own: what goes through the base client and what over G2G, who may say what through the
 * base client, events held while starting, and a lost base connection.
 */

const alice = parseAddress('alice@example.org');
const carol = parseAddress('carol@example.org');
const bob = parseAddress('bob@yahoo');

/** A base network in memory: records what the shim sends, and lets the test speak for the server. */
class FakeBase implements BaseClient {
  readonly address = alice;
  readonly protocol = 'fake';
  readonly sent: BaseOutgoingEvent[] = [];
  readonly statuses: [PresenceStatus, string | undefined][] = [];
  items: RosterItem[] = [];
  events: BaseClientEvents | undefined;
  closed = 0;
  /** What the server says during the login (a backlog: held requests, offline messages). */
  backlog: CanonicalEvent[] = [];
  refuse: Error | undefined;

  reaches(to: Address): boolean {
    return to.network === 'example.org';
  }
  async connect(events: BaseClientEvents): Promise<void> {
    if (this.refuse) throw this.refuse;
    this.events = events;
    for (const e of this.backlog) events.receive(e);
  }
  async send(event: BaseOutgoingEvent): Promise<void> {
    this.sent.push(event);
  }
  async presence(status: PresenceStatus, text?: string): Promise<void> {
    this.statuses.push([status, text]);
  }
  roster(): RosterItem[] {
    return this.items;
  }
  async close(): Promise<void> {
    this.closed++;
  }
}

let dht: MemoryDht;
const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c.close();
});

async function shim(base: FakeBase, options: Partial<ShimOptions> = {}): Promise<BaseClientShim> {
  const s = await createShim({ base, dht, ...options });
  open.push(s);
  return s;
}
async function peer(who: Address): Promise<ShimClient> {
  const c = await createClient({ identity: { address: who }, network: who.network, dht });
  open.push(c);
  return c;
}
const is = (who: Address) => (e: { from: Address }) => addressKey(e.from) === addressKey(who);

describe('createShim over a base client', () => {
  it('users the base network reaches go through the base client, untouched; the others over G2G', async () => {
    dht = new MemoryDht();
    const base = new FakeBase();
    const a = await shim(base, { name: 'Alice' });
    const b = await peer(bob);
    const heardA = new Heard(a);
    const heardB = new Heard(b);
    const nodeEvents: GatewayEvent[] = [];
    a.node.on((e) => nodeEvents.push(e));
    expect(a.identity).toEqual({ address: alice, name: 'Alice' });

    // To carol (example.org): the base client, as the shim was asked; the node hears nothing of it.
    const im = await a.sendIM(carol, TEXT);
    await a.sendTyping(carol, 'composing');
    expect(await a.addBuddy(carol, 'hi carol')).toBe('delivered');
    expect(base.sent).toEqual([
      im,
      { kind: 'typing', from: alice, to: carol, state: 'composing' },
      {
        kind: 'buddy-request',
        id: expect.any(String),
        from: alice,
        to: carol,
        name: 'Alice',
        message: 'hi carol',
      },
    ]);
    expect(im).toMatchObject({ kind: 'im', from: alice, to: carol, text: TEXT });

    // To bob@yahoo: over G2G, the base client never sees it.
    expect(await a.addBuddy(bob, 'hi bob')).toBe('delivered');
    expect((await heardB.next('buddy-request', is(alice))).message).toBe('hi bob');
    await b.answerBuddy(alice, true);
    expect((await heardA.next('buddy-response', is(bob))).accepted).toBe(true);
    await a.sendIM(bob, TEXT_BACK);
    expect((await heardB.next('im', is(alice))).text).toBe(TEXT_BACK);
    expect(base.sent).toHaveLength(3);
    expect(nodeEvents.some((e) => JSON.stringify(e).includes('carol@example.org'))).toBe(false);

    // Presence: both networks hear it.
    await a.setPresence('away', 'out ☕');
    expect(base.statuses).toEqual([['away', 'out ☕']]);
    expect(await heardB.next('presence', (e) => is(alice)(e) && e.status === 'away')).toMatchObject({
      text: 'out ☕',
    });

    // The roster is both: the base network's, then the foreign buddies.
    base.items = [{ address: carol, groups: [], subscription: 'to', pending: false }];
    expect(a.roster().map((i) => addressKey(i.address))).toEqual(['carol@example.org', 'bob@yahoo']);
  });

  it('events from the base network arrive with the rest; what the base network cannot say is dropped', async () => {
    dht = new MemoryDht();
    const base = new FakeBase();
    const a = await shim(base);
    const heard = new Heard(a);
    const say = (e: CanonicalEvent) => base.events!.receive(e);
    say({ kind: 'im', id: 'm1', from: carol, to: alice, text: TEXT, sentAt: 1 });
    say({ kind: 'buddy-request', id: 'r1', from: carol, to: alice, message: 'add me' });
    // A base network speaking for a user of another network, to another user, too long, or a kind it has no business with.
    say({ kind: 'im', id: 'spoof', from: bob, to: alice, text: 'I am bob@yahoo', sentAt: 1 });
    say({
      kind: 'im',
      id: 'other',
      from: carol,
      to: parseAddress('dave@example.org'),
      text: 'not yours',
      sentAt: 1,
    });
    say({ kind: 'im', id: 'long', from: carol, to: alice, text: 'x'.repeat(LIMITS.text + 1), sentAt: 1 });
    say({ kind: 'roster', owner: alice, items: [] });
    say({ kind: 'typing', from: carol, to: alice, state: 'paused' });
    await heard.next('typing', is(carol));
    expect(heard.pending.map((e) => ('id' in e ? e.id : e.kind))).toEqual(['m1', 'r1']);
    expect(a.buddyRequests()).toMatchObject([{ id: 'r1', from: carol }]);

    // The answer goes back through the base client, with the request's id.
    await a.answerBuddy(carol, true);
    expect(base.sent.at(-1)).toEqual({
      kind: 'buddy-response',
      id: 'r1',
      from: alice,
      to: carol,
      accepted: true,
    });
    expect(a.buddyRequests()).toEqual([]);
  });

  it('what the base server says while the shim starts reaches listeners added right after createShim', async () => {
    dht = new MemoryDht();
    const base = new FakeBase();
    base.backlog = [
      { kind: 'buddy-request', id: 'held', from: carol, to: alice },
      { kind: 'im', id: 'offline-msg', from: carol, to: alice, text: 'while you were away', sentAt: 1 },
    ];
    const a = await shim(base);
    const seen: string[] = [];
    a.on('event', (e) => seen.push('id' in e ? String(e.id) : e.kind));
    await until(() => seen.length === 2, 'the backlog');
    expect(seen).toEqual(['held', 'offline-msg']);
  });

  it('a lost base connection logs the user out of CrossTalk too', async () => {
    dht = new MemoryDht();
    const base = new FakeBase();
    let reason: Error | undefined;
    const a = await shim(base, { onClosed: (r) => (reason = r) });
    const b = await peer(bob);
    const heardB = new Heard(b);
    await a.addBuddy(bob);
    await heardB.next('buddy-request', is(alice));
    await b.answerBuddy(alice, true);
    await heardB.next('presence', (e) => is(alice)(e) && e.status === 'online');

    base.events!.lost(new Error('connection reset'));
    await until(() => reason !== undefined, 'onClosed');
    expect(isCrossTalkError(reason, 'ERR_BASE_CONNECTION_LOST')).toBe(true);
    expect(a.closed).toBe(true);
    expect(base.closed).toBe(1);
    await heardB.next('presence', (e) => is(alice)(e) && e.status === 'offline', 'alice offline');
    const error = await a.sendIM(carol, 'hello?').catch((e: unknown) => e);
    expect(isCrossTalkError(error, 'ERR_CLIENT_CLOSED')).toBe(true);
  });

  it('refusals: a base client that cannot log in, a base that is not one, files and calls it cannot carry', async () => {
    dht = new MemoryDht();
    const refusing = new FakeBase();
    refusing.refuse = new BaseTlsUnavailableError('no STARTTLS');
    const error = await createShim({ base: refusing, dht }).catch((e: unknown) => e);
    expect(isCrossTalkError(error, 'ERR_BASE_TLS_UNAVAILABLE')).toBe(true);
    // Nothing was published for a user whose base client never logged in.
    const reader = await peer(bob);
    expect(await reader.node.directory.lookupLocation(alice)).toBeUndefined();

    for (const base of [undefined, {}, { ...new FakeBase(), connect: undefined }]) {
      const e = await createShim({ base: base as never, dht }).catch((x: unknown) => x);
      expect(isCrossTalkError(e, 'ERR_INVALID_CLIENT_OPTIONS')).toBe(true);
    }

    const a = await shim(new FakeBase());
    const file = bytesSource('a.txt', new TextEncoder().encode('hello'));
    expect(
      isCrossTalkError(await a.sendFile(carol, file).catch((e: unknown) => e), 'ERR_BASE_UNSUPPORTED'),
    ).toBe(true);
    expect(
      isCrossTalkError(
        await a.dialCall(carol, { sdp: 'v=0' }).catch((e: unknown) => e),
        'ERR_BASE_UNSUPPORTED',
      ),
    ).toBe(true);
    expect(
      isCrossTalkError(
        await a.sendIM(carol, 'x'.repeat(LIMITS.text + 1)).catch((e: unknown) => e),
        'ERR_MESSAGE_TOO_LARGE',
      ),
    ).toBe(true);
    expect(
      isCrossTalkError(
        await a.sendTyping(carol, 'bored' as never).catch((e: unknown) => e),
        'ERR_INVALID_EVENT',
      ),
    ).toBe(true);
    // A malformed offer is the file transfer's refusal, whatever its sender field holds.
    for (const offer of [{}, { kind: 'file-offer', from: 'carol@example.org' }, { from: { user: 7 } }])
      expect(
        isCrossTalkError(
          await a.getFile(offer as never, memorySink()).catch((e: unknown) => e),
          'ERR_INVALID_FILE_OFFER',
        ),
      ).toBe(true);
    await a.close();
    await a.close();
    expect(isCrossTalkError(await a.sendIM(bob, 'hi').catch((e: unknown) => e), 'ERR_CLIENT_CLOSED')).toBe(
      true,
    );
  });
});
