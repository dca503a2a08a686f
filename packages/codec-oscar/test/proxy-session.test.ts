import { type RelayedEvent, type SessionRelay, startSessionRelay } from '@crosstalk/compliance';
import { type Address, type CanonicalEvent, formatAddress, type RosterItem, type SessionEvent } from '@crosstalk/core';
import { afterEach, describe, expect, it } from 'vitest';
import { FeedbagClass, oscar } from '../src/index.js';
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
  server = await startMockOscarServer({ users, ...(options.startSeq !== undefined ? { startSeq: options.startSeq } : {}) });
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
  return relay!.events.filter((e) => e.event.type === type).map((e) => e.event as Extract<SessionEvent, { type: T }>);
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
  ] as const)('%s login: identified, cookie redirect, then verified on the BOS connection', async (method, name, password, address) => {
    await setup();
    await viaRelay({ screenName: name, password, method });
    const verified = await relay!.waitFor(ofType('verified'));
    expect(verified.event).toEqual({ type: 'verified', address });
    const identified = events('identified');
    expect(identified.map((e) => formatAddress(e.address))).toEqual([formatAddress(address), formatAddress(address)]);
    expect(events('redirect')).toEqual([{ type: 'redirect', host: '127.0.0.1', port: server!.port, purpose: 'bos' }]);
    const [auth, bos] = relay!.connections;
    expect(auth!.session.state).not.toBe('verified');
    expect(bos!.session.state).toBe('verified');
    expect(bos!.session.user).toEqual(address);
    expect(verified.connectionId).toBe(bos!.id);
  });

  it('a refused login comes out as login-failed with the server error code', async () => {
    await setup();
    await expect(viaRelay({ screenName: 'alice', password: 'nope', method: 'roasted' })).rejects.toThrow(/refused/);
    await expect(viaRelay({ screenName: 'alice', password: 'nope', method: 'bucp-strong' })).rejects.toThrow(/refused/);
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
      relay!.deliver({ kind: 'im', id: `y-${text.length}`, from: yahoo('bob'), to: aol('alice'), text, sentAt: 0 });
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
