import { type SessionRelay, startSessionRelay } from '@crosstalk/compliance';
import { type Address, bytesEqual, concatBytes, type RosterItem } from '@crosstalk/core';
import { afterEach, describe, expect, it } from 'vitest';
import { msnp } from '../src/index.js';
import {
  directDial,
  type MockMsnpServer,
  type MockUserOptions,
  ScriptedMsnpClient,
  startMockMsnpServer,
} from '../src/testing/index.js';

/**
 * The scripted client logs in to the mock server through proxy sessions (the compliance session
 * relay: the gateway engine minus SOCKS). `dial` plays the client's SOCKS setting: every address
 * the server names is reached through the relay; the relay's virtual endpoint is reached directly.
 */
const USERS: MockUserOptions[] = [
  { email: 'alice@example.com', password: 'alicepw', friendly: 'Alice', contacts: ['bob@example.com'] },
  { email: 'bob@example.com', password: 'bobpw', friendly: 'Bob', contacts: ['alice@example.com'] },
];
const alice: Address = { user: 'alice@example.com', network: 'msn' };
const bobYahoo: Address = { user: 'bob', network: 'yahoo' };
const janeYahoo: Address = { user: 'jane', network: 'yahoo' };
const FOREIGN: RosterItem[] = [
  { address: bobYahoo, name: 'Bob on Yahoo', groups: [], subscription: 'both', pending: false },
];

let mock: MockMsnpServer;
let relay: SessionRelay;
const clients: ScriptedMsnpClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.logout().catch(() => {});
  await relay?.close();
  await mock?.close();
});

async function setUp() {
  mock = await startMockMsnpServer({ users: USERS });
  relay = await startSessionRelay({
    codec: msnp(),
    upstream: { host: mock.host, port: mock.port },
    foreignRoster: (owner) => (owner.user === 'alice@example.com' ? FOREIGN : []),
  });
}

function client(email: string, dialect: number): ScriptedMsnpClient {
  const c = new ScriptedMsnpClient({
    host: mock.host,
    port: mock.port,
    email,
    password: USERS.find((u) => u.email === email)!.password,
    dialect,
    passport: (e, p) => mock.issueTicket(e, p),
    dial: (host, port) =>
      port === mock.port || port === mock.sbPort
        ? directDial(relay.host, relay.port)
        : directDial(host, port),
  });
  clients.push(c);
  return c;
}

/** What the mock received on its connections of one kind for one user, in order. */
function receivedBy(user: string, kind: 'notification' | 'switchboard'): Uint8Array[] {
  return mock.connections
    .filter((c) => c.user === user && c.kind === kind)
    .map((c) => concatBytes(c.received));
}

const decoder = new TextDecoder();

describe.each([8, 9, 10, 11, 12])('MSNP%i through proxy sessions', (dialect) => {
  it('logs in verified, merges the foreign buddy into the list, and passes native traffic byte for byte', async () => {
    await setUp();
    const a = client('alice@example.com', dialect);
    const b = client('bob@example.com', dialect);
    await a.login();
    await relay.waitFor((e) => e.event.type === 'verified' && e.event.address.user === 'alice@example.com');
    await b.login();
    const contacts = await a.sync();
    expect(contacts.map((c) => c.email).sort()).toEqual(['bob@example.com', 'bob@yahoo']);
    expect(contacts.find((c) => c.email === 'bob@yahoo')).toMatchObject({
      friendly: 'Bob on Yahoo',
      lists: 11,
    });
    const roster = await relay.waitFor((e) => e.event.type === 'roster');
    expect(roster.event).toMatchObject({ type: 'roster', owner: alice, merged: FOREIGN });
    await b.sync();
    await a.setStatus('NLN');
    await b.setStatus('NLN');
    await a.presenceOf('bob@example.com');

    // A conversation between two MSN users goes to the mock's switchboard untouched.
    const opening = a.openConversation('bob@example.com');
    const bobSide = await b.answer(await b.nextRing());
    const aliceSide = await opening;
    expect(
      await aliceSide.sendMessage('Hello Bob, over the proxy', {
        format: 'FN=Arial; EF=; CO=0; CS=0; PF=22',
      }),
    ).toBe('ACK');
    expect((await bobSide.nextMessage()).text).toBe('Hello Bob, over the proxy');
    bobSide.sendTyping();
    await aliceSide.nextMessage({ typing: true });
    expect(await bobSide.sendMessage('Hi Alice ☺')).toBe('ACK');
    expect((await aliceSide.nextMessage()).text).toBe('Hi Alice ☺');
    await bobSide.leave();
    await aliceSide.connection.command('BYE');

    // Every byte the clients wrote reached the mock unchanged (the lists the mock sent alice
    // were merged, so only her server-to-client direction differs).
    const [aliceNs] = receivedBy('alice@example.com', 'notification');
    expect(bytesEqual(aliceNs!, concatBytes(a.notification.written))).toBe(true);
    const [bobNs] = receivedBy('bob@example.com', 'notification');
    expect(bytesEqual(bobNs!, concatBytes(b.notification.written))).toBe(true);
    const bobNsSent = concatBytes(
      mock.connections.find((c) => c.user === 'bob@example.com' && c.kind === 'notification')!.sent,
    );
    expect(bytesEqual(bobNsSent, concatBytes(b.notification.received))).toBe(true);
    const [aliceSb] = receivedBy('alice@example.com', 'switchboard');
    expect(bytesEqual(aliceSb!, concatBytes(aliceSide.connection.written))).toBe(true);
    const [bobSb] = receivedBy('bob@example.com', 'switchboard');
    expect(bytesEqual(bobSb!, concatBytes(bobSide.connection.written))).toBe(true);
    const aliceSbSent = concatBytes(
      mock.connections.find((c) => c.user === 'alice@example.com' && c.kind === 'switchboard')!.sent,
    );
    expect(bytesEqual(aliceSbSent, concatBytes(aliceSide.connection.received))).toBe(true);
    expect(relay.events.filter((e) => e.event.type === 'outbound')).toEqual([]);
    expect(relay.errors).toEqual([]);
  });

  it('plays a conversation with a foreign buddy locally, and rings the client for a foreign message', async () => {
    await setUp();
    const a = client('alice@example.com', dialect);
    await a.login();
    const ns = await relay.waitFor((e) => e.event.type === 'verified');
    await a.sync();
    await a.setStatus('NLN');

    // The client opens a switchboard for bob@yahoo: the real one is joined, the CAL is answered here.
    const yahoo = await a.openConversation('bob@yahoo');
    expect([...yahoo.participants]).toEqual(['bob@yahoo']);
    const sbVerified = await relay.waitFor(
      (e) => e.event.type === 'verified' && e.connectionId !== ns.connectionId,
    );
    expect(sbVerified.event).toEqual({ type: 'verified', address: alice });
    expect(await yahoo.sendMessage('Hi Bob, from MSN', { format: 'FN=Arial; EF=I; CO=0; CS=0; PF=22' })).toBe(
      'ACK',
    );
    const outbound = await relay.waitFor((e) => e.event.type === 'outbound' && e.event.event.kind === 'im');
    expect(outbound.event).toMatchObject({
      type: 'outbound',
      event: {
        kind: 'im',
        from: alice,
        to: bobYahoo,
        text: 'Hi Bob, from MSN',
        html: '<span style="font-family:Arial;color:#000000"><i>Hi Bob, from MSN</i></span>',
      },
    });
    yahoo.sendTyping();
    await relay.waitFor((e) => e.event.type === 'outbound' && e.event.event.kind === 'typing');
    // The mock's switchboard only ever saw the USR, then the gateway leaving it (nobody native in
    // the conversation): nothing for bob@yahoo reached it.
    const [sbBytes] = receivedBy('alice@example.com', 'switchboard');
    expect(decoder.decode(sbBytes!)).toMatch(/^USR 1 alice@example\.com \S+\r\nOUT\r\n$/);

    // bob@yahoo answers: delivered into that conversation (affinity 2), as the switchboard would.
    relay.deliver({ kind: 'typing', from: bobYahoo, to: alice, state: 'composing' });
    expect(await yahoo.nextMessage({ typing: true })).toMatchObject({ from: 'bob@yahoo' });
    relay.deliver({
      kind: 'im',
      id: 'y1',
      from: bobYahoo,
      to: alice,
      text: 'Hi Alice, from Yahoo',
      sentAt: 1,
    });
    expect(await yahoo.nextMessage()).toMatchObject({
      from: 'bob@yahoo',
      friendly: 'Bob on Yahoo',
      text: 'Hi Alice, from Yahoo',
    });

    // jane@yahoo writes first: the notification session rings the client into a virtual switchboard.
    relay.deliver({ kind: 'im', id: 'j1', from: janeYahoo, to: alice, text: 'Hello from Jane', sentAt: 2 });
    relay.deliver({ kind: 'im', id: 'j2', from: janeYahoo, to: alice, text: 'Are you there?', sentAt: 3 });
    const ring = await a.nextRing();
    expect(ring).toMatchObject({ caller: 'jane@yahoo', host: '127.0.0.1' });
    expect(ring.port).not.toBe(mock.sbPort);
    const jane = await a.answer(ring);
    expect([...jane.participants]).toEqual(['jane@yahoo']);
    expect((await jane.nextMessage()).text).toBe('Hello from Jane');
    expect((await jane.nextMessage()).text).toBe('Are you there?');
    expect(await jane.sendMessage('Hi Jane')).toBe('ACK');
    const reply = await relay.waitFor(
      (e) => e.event.type === 'outbound' && e.event.event.kind === 'im' && e.event.event.text === 'Hi Jane',
    );
    expect(reply.event).toMatchObject({ event: { from: alice, to: janeYahoo } });
    expect(relay.connections.find((c) => c.virtual)?.server).toBeUndefined();

    // Presence of a foreign buddy arrives as the server would send it.
    relay.deliver({ kind: 'presence', from: bobYahoo, to: alice, status: 'away' });
    expect((await a.presenceOf('bob@yahoo', 'AWY')).verb).toBe('NLN');
    expect(relay.errors).toEqual([]);
  });

  it('answers a buddy request to a foreign user locally and delivers one from a foreign user', async () => {
    await setUp();
    const a = client('alice@example.com', dialect);
    await a.login();
    await a.sync();
    const added = await a.addContact('kim@yahoo', 'FL');
    expect(added.type).toBe('command');
    const request = await relay.waitFor(
      (e) => e.event.type === 'outbound' && e.event.event.kind === 'buddy-request',
    );
    expect(request.event).toMatchObject({
      event: { kind: 'buddy-request', from: alice, to: { user: 'kim', network: 'yahoo' } },
    });
    relay.deliver({ kind: 'buddy-request', from: janeYahoo, to: alice, name: 'Jane' });
    expect(await a.addedBy()).toEqual({ email: 'jane@yahoo', friendly: 'Jane' });
    await a.addContact('jane@yahoo', 'AL');
    const answer = await relay.waitFor(
      (e) => e.event.type === 'outbound' && e.event.event.kind === 'buddy-response',
    );
    expect(answer.event).toMatchObject({
      event: { kind: 'buddy-response', from: alice, to: janeYahoo, accepted: true },
    });
    // None of it reached the server.
    const [ns] = receivedBy('alice@example.com', 'notification');
    expect(decoder.decode(ns!)).not.toContain('yahoo');
  });
});

describe('MSNP7 (MD5) through proxy sessions', () => {
  it('logs in verified and relays the list download untouched (no merge before MSNP8)', async () => {
    await setUp();
    const a = client('alice@example.com', 7);
    await a.login();
    const verified = await relay.waitFor((e) => e.event.type === 'verified');
    expect(verified.event).toEqual({ type: 'verified', address: alice });
    expect((await a.sync()).map((c) => c.email)).toEqual(['bob@example.com']);
    const roster = await relay.waitFor((e) => e.event.type === 'roster');
    expect(roster.event).toMatchObject({ owner: alice, merged: [] });
    const sent = concatBytes(mock.connections.find((c) => c.user === 'alice@example.com')!.sent);
    expect(bytesEqual(sent, concatBytes(a.notification.received))).toBe(true);
  });
});
