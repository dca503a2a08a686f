import { type RelayedEvent, type SessionRelay, startSessionRelay } from '@crosstalk/compliance';
import {
  type Address,
  type CanonicalEvent,
  formatAddress,
  type RosterItem,
  type SessionEvent,
} from '@crosstalk/core';
import { afterEach, describe, expect, it } from 'vitest';
import { FeedbagClass, oscar, snacFrame } from '../src/index.js';
import {
  type MockOscarServer,
  type MockOscarUser,
  type ScriptedLoginOptions,
  ScriptedOscarClient,
  startMockOscarServer,
} from '../src/testing/index.js';

const users: MockOscarUser[] = [
  { screenName: 'alice', password: 'alicepw1', buddies: [{ screenName: 'bobby', group: 'Friends' }] },
  { screenName: 'bobby', password: 'bobbypw1', buddies: [{ screenName: 'alice' }] },
  { screenName: '123456789', password: 'icqpass' },
];

const aol = (user: string): Address => ({ user, network: 'aol' });
const yahoo = (user: string): Address => ({ user, network: 'yahoo' });

let server: MockOscarServer | undefined;
let relay: SessionRelay | undefined;
const clients: ScriptedOscarClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await relay?.close();
  await server?.close();
  relay = undefined;
  server = undefined;
});

async function setup(
  options: { foreignRoster?: (owner: Address) => readonly RosterItem[]; startSeq?: number } = {},
): Promise<{ server: MockOscarServer; relay: SessionRelay }> {
  server = await startMockOscarServer({
    users,
    ...(options.startSeq !== undefined ? { startSeq: options.startSeq } : {}),
  });
  relay = await startSessionRelay({
    codec: oscar(),
    upstream: { host: server.host, port: server.port },
    ...(options.foreignRoster ? { foreignRoster: options.foreignRoster } : {}),
  });
  return { server, relay };
}

/** Logs in through the relay: the auth connection and the BOS connection both go through it. */
async function viaRelay(login: Omit<ScriptedLoginOptions, 'host' | 'port'>): Promise<ScriptedOscarClient> {
  const c = await ScriptedOscarClient.login({
    host: relay!.host,
    port: relay!.port,
    bos: { host: relay!.host, port: relay!.port },
    ...login,
  });
  clients.push(c);
  return c;
}

async function direct(login: Omit<ScriptedLoginOptions, 'host' | 'port'>): Promise<ScriptedOscarClient> {
  const c = await ScriptedOscarClient.login({ host: server!.host, port: server!.port, ...login });
  clients.push(c);
  return c;
}

const ofType =
  <T extends SessionEvent['type']>(type: T, connectionId?: string) =>
  (e: RelayedEvent): boolean =>
    e.event.type === type && (connectionId === undefined || e.connectionId === connectionId);

function events<T extends SessionEvent['type']>(type: T): Extract<SessionEvent, { type: T }>[] {
  return relay!.events
    .filter((e) => e.event.type === type)
    .map((e) => e.event as Extract<SessionEvent, { type: T }>);
}

/** Consecutive mod 2^16, no repeat: what a strict receiver checks. */
function gapFree(seqs: readonly number[]): boolean {
  return seqs.every((s, i) => i === 0 || s === ((seqs[i - 1]! + 1) & 0xffff));
}

function bosConnectionOf(user: string) {
  return server!.connections.find((c) => c.kind === 'bos' && c.screenName === user)!;
}

describe('OSCAR proxy session through a relay to the mock server', () => {
  it.each([
    ['bucp-strong', 'alice', 'alicepw1', aol('alice')],
    ['bucp-weak', 'bobby', 'bobbypw1', aol('bobby')],
    ['roasted', '123456789', 'icqpass', { user: '123456789', network: 'icq' }],
  ] as const)(
    '%s login: identified, cookie redirect, then verified on the BOS connection',
    async (method, name, password, address) => {
      await setup();
      await viaRelay({ screenName: name, password, method });
      const verified = await relay!.waitFor(ofType('verified'));
      expect(verified.event).toEqual({ type: 'verified', address });
      const identified = events('identified');
      expect(identified.map((e) => formatAddress(e.address))).toEqual([
        formatAddress(address),
        formatAddress(address),
      ]);
      expect(events('redirect')).toEqual([
        { type: 'redirect', host: '127.0.0.1', port: server!.port, purpose: 'bos' },
      ]);
      const [auth, bos] = relay!.connections;
      expect(auth!.session.state).not.toBe('verified');
      expect(bos!.session.state).toBe('verified');
      expect(bos!.session.user).toEqual(address);
      expect(verified.connectionId).toBe(bos!.id);
    },
  );

  it('a refused login comes out as login-failed with the server error code', async () => {
    await setup();
    await expect(viaRelay({ screenName: 'alice', password: 'nope', method: 'roasted' })).rejects.toThrow(
      /refused/,
    );
    await expect(viaRelay({ screenName: 'alice', password: 'nope', method: 'bucp-strong' })).rejects.toThrow(
      /refused/,
    );
    const failed = events('login-failed');
    expect(failed.map((e) => [e.code, e.address && formatAddress(e.address)])).toEqual([
      ['5', 'alice@aol'],
      ['5', 'alice@aol'],
    ]);
    expect(events('verified')).toEqual([]);
  });

  it('withholds an IM to a foreign user and injects two delivered IMs: both sides see gap-free, increasing seqs', async () => {
    // Sequence numbers near the 16-bit wrap on both sides.
    await setup({ startSeq: 0xfff0 });
    const bobby = await direct({ screenName: 'bobby', password: 'bobbypw1' });
    const alice = await viaRelay({ screenName: 'alice', password: 'alicepw1', startSeq: 0xfff8 });
    await relay!.waitFor(ofType('verified'));

    const cookie = alice.sendIm('bob@yahoo', 'hi bob, over the gateway');
    await alice.waitForAck(cookie); // answered locally by the session (TLV 3 was set)
    const outbound = await relay!.waitFor(ofType('outbound'));
    expect(outbound.event.type === 'outbound' && outbound.event.event).toMatchObject({
      kind: 'im',
      from: aol('alice'),
      to: yahoo('bob'),
      text: 'hi bob, over the gateway',
    });
    for (const text of ['first from bob', 'second from bob \u263a']) {
      relay!.deliver({
        kind: 'im',
        id: `y-${text.length}`,
        from: yahoo('bob'),
        to: aol('alice'),
        text,
        sentAt: 0,
      });
    }
    const received = [
      await alice.waitForEvent((e) => e.kind === 'im' && e.text === 'first from bob'),
      await alice.waitForEvent((e) => e.kind === 'im' && e.text === 'second from bob \u263a'),
    ];
    expect(received.map((e) => e.kind === 'im' && formatAddress(e.from))).toEqual(['bob@yahoo', 'bob@yahoo']);

    // Same-network traffic after the rewrites still flows both ways, acked by the real server.
    const native = alice.sendIm('bobby', 'and hi bobby');
    await alice.waitForAck(native);
    await bobby.waitForEvent((e) => e.kind === 'im' && e.text === 'and hi bobby');
    bobby.sendIm('alice', 'hello back', { ack: false });
    await alice.waitForEvent((e) => e.kind === 'im' && e.text === 'hello back');

    const serverSaw = bosConnectionOf('alice').seqs;
    expect(server!.seqErrors).toEqual([]);
    expect(gapFree(serverSaw)).toBe(true);
    expect(gapFree(alice.bos.seqs)).toBe(true);
    expect(alice.bos.seqErrors).toEqual([]);
    expect(serverSaw.some((s) => s < 0x10)).toBe(true); // wrapped past 0xffff
    expect(alice.bos.seqs.some((s) => s < 0x10)).toBe(true);
    // The server never saw the foreign IM; the client got the session's ack and two injected IMs.
    const mockEnd = bosConnectionOf('alice').socket;
    expect(serverSaw.length).toBe(alice.bos.sent - 1);
    expect(alice.bos.seqs.length).toBe(mockEnd.sent + 3);
  });
});

describe('roster merge and foreign buddy-list edits', () => {
  const foreign: RosterItem[] = [
    { address: yahoo('bob'), name: 'Bob Y', groups: ['Friends'], subscription: 'both', pending: false },
    { address: { user: 'carol@hotmail.com', network: 'msn' }, groups: [], subscription: 'to', pending: true },
  ];

  it('merges foreign buddies after "client online" (the reply came before it): server-initiated insert, fresh ids', async () => {
    await setup({ foreignRoster: (owner) => (owner.user === 'alice' ? foreign : []) });
    const alice = await viaRelay({ screenName: 'alice', password: 'alicepw1' });
    const roster = (await relay!.waitFor(ofType('roster'))).event as Extract<
      SessionEvent,
      { type: 'roster' }
    >;
    expect(roster.owner).toEqual(aol('alice'));
    expect(roster.items.map((i) => formatAddress(i.address))).toEqual(['bobby@aol']);
    expect(roster.merged.map((i) => formatAddress(i.address))).toEqual([
      'bob@yahoo',
      'carol@hotmail.com@msn',
    ]);
    await alice.waitForFrame(
      (f) => f.payload.type === 'snac' && f.payload.subtype === 0x0008 && f.payload.family === 0x13,
    );
    const names = alice.feedbag.buddies().map((b) => `${alice.feedbag.group(b.groupId)?.name}/${b.name}`);
    // bob goes into the existing "Friends" group; carol names no group and goes to "CrossTalk".
    expect(names.sort()).toEqual(['CrossTalk/carol@hotmail.com@msn', 'Friends/bob@yahoo', 'Friends/bobby']);
    const ids = alice.feedbag.items.map((i) => `${i.groupId}/${i.itemId}`);
    expect(new Set(ids).size).toBe(ids.length);
    const friends = alice.feedbag.groupByName('Friends')!;
    const bob = alice.feedbag.buddies().find((b) => b.name === 'bob@yahoo')!;
    expect(friends.attributes.find((a) => a.type === 0xc8)!.value).toContain(bob.itemId & 0xff);
    // The server's stored list is untouched.
    expect(server!.feedbag('alice').some((i) => i.name.includes('@'))).toBe(false);
    // The client's own events show the foreign buddies with their addresses.
    await alice.waitForEvent(
      (e) => e.kind === 'roster' && e.items.some((i) => formatAddress(i.address) === 'bob@yahoo'),
    );
  });

  it('merges into the feedbag reply itself when the client asks after "client online"', async () => {
    await setup({ foreignRoster: () => foreign });
    const alice = await viaRelay({ screenName: 'alice', password: 'alicepw1', feedbag: false });
    await relay!.waitFor(ofType('verified'));
    expect(events('roster')).toEqual([]);
    const requery = alice.waitForFrame(
      (f) => f.payload.type === 'snac' && f.payload.body.type === 'feedbag-reply',
      'feedbag reply',
    );
    alice.bos.send({
      channel: 2,
      seq: 0,
      payload: {
        type: 'snac',
        family: 0x13,
        subtype: 0x04,
        flags: 0,
        requestId: 77,
        body: { type: 'tlvs', tlvs: [] },
      },
    });
    const reply = await requery;
    expect(
      reply.payload.type === 'snac' &&
        reply.payload.body.type === 'feedbag-reply' &&
        reply.payload.body.items.map((i) => i.name),
    ).toEqual(['', 'Friends', 'bobby', 'CrossTalk', 'bob@yahoo', 'carol@hotmail.com@msn']);
    const roster = (await relay!.waitFor(ofType('roster'))).event as Extract<
      SessionEvent,
      { type: 'roster' }
    >;
    expect(roster.merged).toHaveLength(2);
    expect(gapFree(alice.bos.seqs)).toBe(true);
  });

  it('withholds feedbag inserts of foreign buddies and answers them; a mixed insert is split and its status spliced', async () => {
    await setup();
    const alice = await viaRelay({ screenName: 'alice', password: 'alicepw1' });
    await relay!.waitFor(ofType('verified'));
    expect(await alice.addBuddy('bob@yahoo', { group: 'Friends', alias: 'Bobby Y' })).toEqual([0]);
    const added = (await relay!.waitFor(ofType('outbound'))).event as Extract<
      SessionEvent,
      { type: 'outbound' }
    >;
    expect(added.event).toMatchObject({
      kind: 'roster',
      owner: aol('alice'),
      items: [
        { address: yahoo('bob'), name: 'Bobby Y', groups: ['Friends'], subscription: 'to', pending: false },
      ],
    });
    expect(server!.feedbag('alice').some((i) => i.name === 'bob@yahoo')).toBe(false);

    const group = alice.feedbag.groupByName('Friends')!;
    const mixed = [
      {
        name: 'dave@hotmail.com@msn',
        groupId: group.groupId,
        itemId: 901,
        classId: FeedbagClass.buddy,
        attributes: [],
      },
      { name: '123456789', groupId: group.groupId, itemId: 902, classId: FeedbagClass.buddy, attributes: [] },
      {
        name: 'erin@yahoo',
        groupId: group.groupId,
        itemId: 903,
        classId: FeedbagClass.buddy,
        attributes: [],
      },
    ];
    expect(await alice.feedbagEdit('insert', mixed)).toEqual([0, 0, 0]);
    const stored = server!.feedbag('alice').map((i) => i.name);
    expect(stored).toContain('123456789');
    expect(stored.filter((n) => n.includes('@'))).toEqual([]);
    expect(await alice.removeBuddy('bob@yahoo')).toEqual([0]);
    const removed = relay!.events
      .filter(ofType('outbound'))
      .map((e) => (e.event as Extract<SessionEvent, { type: 'outbound' }>).event)
      .filter((e) => e.kind === 'roster')
      .at(-1);
    expect(removed).toMatchObject({
      items: [{ address: yahoo('bob'), groups: [], subscription: 'none', pending: false }],
    });
    expect(server!.seqErrors).toEqual([]);
    expect(gapFree(alice.bos.seqs)).toBe(true);
  });

  it('withholds typing and authorization traffic to foreign users; native ones pass with their bytes', async () => {
    await setup();
    const icq = await direct({ screenName: '123456789', password: 'icqpass', method: 'roasted' });
    const alice = await viaRelay({ screenName: 'alice', password: 'alicepw1' });
    await relay!.waitFor(ofType('verified'));
    alice.sendTyping('bob@yahoo', 'typing');
    alice.requestAuthorization('bob@yahoo', 'let me add you');
    alice.respondAuthorization('carol@hotmail.com@msn', false, 'no thanks');
    alice.requestAuthorization('123456789', 'native request');
    await icq.waitForEvent((e) => e.kind === 'buddy-request' && e.message === 'native request');
    const outbound = relay!.events
      .filter(ofType('outbound'))
      .map((e) => (e.event as Extract<SessionEvent, { type: 'outbound' }>).event);
    expect(outbound).toEqual([
      { kind: 'typing', from: aol('alice'), to: yahoo('bob'), state: 'composing' },
      { kind: 'buddy-request', from: aol('alice'), to: yahoo('bob'), message: 'let me add you' },
      {
        kind: 'buddy-response',
        from: aol('alice'),
        to: { user: 'carol@hotmail.com', network: 'msn' },
        accepted: false,
        message: 'no thanks',
      },
    ]);
    expect(server!.seqErrors).toEqual([]);
  });
});

describe('ICQ', () => {
  const ch4 = (to: string, msgType: number, text: string) =>
    snacFrame(
      0x0004,
      0x0006,
      {
        type: 'icbm-to-host',
        cookie: '0a0b0c0d0e0f1011',
        channel: 4,
        screenName: to,
        tlvs: [
          { type: 5, icq: { uin: 123456789, msgType, flags: 0, text, terminated: true } },
          { type: 6, value: new Uint8Array(0) },
        ],
      },
      { requestId: 0x99 },
    );

  it('channel-4 messages: to a foreign user withheld as im or buddy-request; to a native user relayed', async () => {
    await setup();
    const alice = await direct({ screenName: 'alice', password: 'alicepw1' });
    const icq = await viaRelay({ screenName: '123456789', password: 'icqpass', method: 'roasted' });
    await relay!.waitFor(ofType('verified'));
    icq.bos.send(ch4('bob@yahoo', 1, 'plain ICQ text'));
    icq.bos.send(
      ch4('bob@yahoo', 6, 'Icy\u00feIce\u00feCube\u00feice@example.com\u00fe1\u00feplease authorize me'),
    );
    icq.bos.send(ch4('alice', 1, 'hello alice from ICQ'));
    const got = await alice.waitForEvent((e) => e.kind === 'im');
    expect(got).toMatchObject({ from: { user: '123456789', network: 'icq' }, text: 'hello alice from ICQ' });
    const outbound = relay!.events
      .filter(ofType('outbound'))
      .map((e) => (e.event as Extract<SessionEvent, { type: 'outbound' }>).event);
    expect(outbound).toMatchObject([
      { kind: 'im', from: { user: '123456789', network: 'icq' }, to: yahoo('bob'), text: 'plain ICQ text' },
      { kind: 'buddy-request', to: yahoo('bob'), name: 'Icy', message: 'please authorize me' },
    ]);
    expect(server!.seqErrors).toEqual([]);
  });
});

describe('delivery and identity', () => {
  it('delivers presence, typing, buddy requests and responses, and roster additions as the server would', async () => {
    await setup();
    const alice = await viaRelay({ screenName: 'alice', password: 'alicepw1' });
    await relay!.waitFor(ofType('verified'));
    const bob = yahoo('bob');
    const deliveries: CanonicalEvent[] = [
      { kind: 'presence', from: bob, to: aol('alice'), status: 'busy', idleSince: Date.now() - 10 * 60_000 },
      { kind: 'typing', from: bob, to: aol('alice'), state: 'composing' },
      { kind: 'buddy-request', from: bob, to: aol('alice'), message: 'add me?' },
      { kind: 'buddy-response', from: bob, to: aol('alice'), accepted: true },
      {
        kind: 'roster',
        owner: aol('alice'),
        items: [{ address: bob, groups: ['Yahoo'], subscription: 'both', pending: false }],
      },
      { kind: 'presence', from: bob, to: aol('alice'), status: 'offline' },
    ];
    const bos = relay!.connections.find((c) => c.session.state === 'verified')!;
    for (const e of deliveries) {
      // The relay routes by `to`; a roster has an owner instead, so it goes to the session directly.
      const out = bos.session.deliver(e);
      for (const b of out.toClient) bos.client.write(b);
      expect(out.toServer).toEqual([]);
    }
    await alice.waitForEvent((e) => e.kind === 'presence' && e.status === 'offline');
    const got = alice.events.filter(
      (e) => e.kind !== 'roster' || e.items.some((i) => i.address.network === 'yahoo'),
    );
    expect(got.find((e) => e.kind === 'presence' && e.status === 'busy')).toMatchObject({ from: bob });
    expect(got.find((e) => e.kind === 'typing')).toMatchObject({ from: bob, state: 'composing' });
    expect(got.find((e) => e.kind === 'buddy-request')).toMatchObject({ from: bob, message: 'add me?' });
    expect(got.find((e) => e.kind === 'buddy-response')).toMatchObject({ from: bob, accepted: true });
    await alice.waitForFrame(
      (f) => f.payload.type === 'snac' && f.payload.family === 0x13 && f.payload.subtype === 0x08,
    );
    expect(
      alice.feedbag
        .buddies()
        .some((b) => b.name === 'bob@yahoo' && alice.feedbag.group(b.groupId)?.name === 'CrossTalk'),
    ).toBe(true);
    expect(gapFree(alice.bos.seqs)).toBe(true);
    // Feature loss is reported (inactive typing is not an OSCAR state).
    relay!.deliver({ kind: 'typing', from: bob, to: aol('alice'), state: 'gone' });
    const loss = (await relay!.waitFor(ofType('feature-loss'))).event as Extract<
      SessionEvent,
      { type: 'feature-loss' }
    >;
    expect(loss.lost).toEqual(['typing.states']);
  });

  it("reports the client's away message and its return as self events and passes them to the server", async () => {
    await setup();
    const bobby = await direct({ screenName: 'bobby', password: 'bobbypw1' });
    const alice = await viaRelay({ screenName: 'alice', password: 'alicepw1' });
    await relay!.waitFor(ofType('verified'));
    alice.setAway('out to <b>lunch</b>');
    const away = await relay!.waitFor(ofType('self'));
    expect(away.event).toEqual({
      type: 'self',
      event: { kind: 'presence', from: aol('alice'), status: 'away', text: 'out to lunch' },
    });
    // The server got it too: bobby, a native buddy, sees alice away.
    await bobby.waitForEvent((e) => e.kind === 'presence' && e.status === 'away');
    alice.setAway(undefined);
    await relay!.waitFor(
      (e) =>
        e.event.type === 'self' && e.event.event.kind === 'presence' && e.event.event.status === 'online',
    );
    // bobby saw alice arrive online, then away, then back.
    const seen = () => bobby.events.flatMap((e) => (e.kind === 'presence' ? [e.status] : []));
    await bobby.waitForEvent(() => seen().join() === 'online,away,online');
    expect(events('self').map((e) => e.event.kind === 'presence' && e.event.status)).toEqual([
      'away',
      'online',
    ]);
  });

  it('affinity is 1 only for the verified BOS connection of the addressed user', async () => {
    await setup();
    await viaRelay({ screenName: 'alice', password: 'alicepw1' });
    await relay!.waitFor(ofType('verified'));
    const [auth, bos] = relay!.connections;
    const im: CanonicalEvent = {
      kind: 'im',
      id: '1',
      from: yahoo('bob'),
      to: aol('alice'),
      text: 'x',
      sentAt: 0,
    };
    expect(bos!.session.affinity(im)).toBe(1);
    expect(bos!.session.affinity({ ...im, to: aol('bobby') })).toBe(0);
    expect(auth!.session.affinity(im)).toBe(0);
    expect(() => auth!.session.deliver(im)).toThrow(/verified|BOS/);
  });

  it('a BOS connection whose cookie the gateway never saw identifies the user from the server self info', async () => {
    await setup();
    // Auth directly at the server; only the BOS connection goes through the relay.
    const alice = await ScriptedOscarClient.login({
      host: server!.host,
      port: server!.port,
      screenName: 'alice',
      password: 'alicepw1',
      bos: { host: relay!.host, port: relay!.port },
    });
    clients.push(alice);
    const verified = await relay!.waitFor(ofType('verified'));
    expect(verified.event).toEqual({ type: 'verified', address: aol('alice') });
    expect(events('redirect')).toEqual([]);
  });
});
