import { type SessionRelay, startSessionRelay } from '@crosstalk/compliance';
import type { RosterItem } from '@crosstalk/core';
import { afterEach, describe, expect, it } from 'vitest';
import { YmsgKey as K, YmsgService as S, ymsg } from '../src/index.js';
import { type MockYmsgServer, ScriptedYmsgClient, startMockYmsgServer } from '../src/testing/index.js';

const bob = { user: 'bob', network: 'aol' };
const foreign: RosterItem[] = [{ address: bob, groups: [], subscription: 'both', pending: false }];

let server: MockYmsgServer | undefined;
let relay: SessionRelay | undefined;
const clients: ScriptedYmsgClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await relay?.close();
  await server?.close();
  relay = undefined;
  server = undefined;
});

async function setup() {
  server = await startMockYmsgServer({
    users: [
      { id: 'dave', password: 'davepw', buddies: ['erin'] },
      { id: 'erin', password: 'erinpw', buddies: ['dave'] },
    ],
  });
  relay = await startSessionRelay({
    codec: ymsg(),
    upstream: { host: server.host, port: server.port },
    foreignRoster: (owner) => (owner.user === 'dave' ? foreign : []),
  });
  const dave = await ScriptedYmsgClient.connect({
    host: relay.host,
    port: relay.port,
    id: 'dave',
    password: 'davepw',
  });
  clients.push(dave);
  await dave.login();
  const verified = await relay.waitFor((e) => e.event.type === 'verified');
  return { dave, verified, relay, server };
}

describe('YMSG through a proxy session (scripted client -> relay -> mock server)', () => {
  it('identifies, then verifies with the right id once the server sends the list', async () => {
    const { verified, relay } = await setup();
    expect(verified.event).toEqual({ type: 'verified', address: { user: 'dave', network: 'yahoo' } });
    const types = relay.events.map((e) => e.event.type);
    expect(types.indexOf('identified')).toBeGreaterThanOrEqual(0);
    expect(types.indexOf('identified')).toBeLessThan(types.indexOf('verified'));
    expect(relay.errors).toEqual([]);
  });

  it('merges the foreign buddies into the list the server sends', async () => {
    const { dave, relay } = await setup();
    const roster = await relay.waitFor((e) => e.event.type === 'roster');
    expect(roster.event).toMatchObject({
      type: 'roster',
      owner: { user: 'dave' },
      items: [{ address: { user: 'erin', network: 'yahoo' }, groups: ['Friends'] }],
      merged: foreign,
    });
    // The server's LIST is untouched; a second LIST right after it names bob@aol in "CrossTalk".
    const lists = dave.packets.filter((p) => p.service === S.LIST);
    expect(lists.map((p) => p.get(K.BUDDY_LIST))).toEqual(['Friends:erin\n', 'CrossTalk:bob@aol\n']);
    expect(lists[1]!.sessionId).toBe(server!.sessionIdOf('dave'));
    await dave.waitForEvent((e) => e.kind === 'roster' && e.items.some((i) => i.address.network === 'aol'));
  });

  it('withholds a message to a foreign user and reports it as outbound', async () => {
    const { dave, relay, server } = await setup();
    dave.sendMessage('bob@aol', 'hello bob');
    const outbound = await relay.waitFor((e) => e.event.type === 'outbound');
    expect(outbound.event).toMatchObject({
      type: 'outbound',
      event: { kind: 'im', from: { user: 'dave', network: 'yahoo' }, to: bob, text: 'hello bob' },
    });
    // A message to a Yahoo buddy after it still reaches the server; the foreign one never did.
    const erin = await ScriptedYmsgClient.connect({
      host: server.host,
      port: server.port,
      id: 'erin',
      password: 'erinpw',
    });
    clients.push(erin);
    await erin.login();
    dave.sendMessage('erin', 'hello erin');
    await erin.waitForEvent((e) => e.kind === 'im' && e.text === 'hello erin');
    const texts = server.received
      .filter((r) => r.packet.service === S.MESSAGE)
      .map((r) => r.packet.get(K.MESSAGE));
    expect(texts).toEqual(['hello erin']);
  });

  it('injects a delivered message with the session id the client expects', async () => {
    const { dave, relay, server } = await setup();
    relay.deliver({
      kind: 'im',
      id: 'g2g-1',
      from: bob,
      to: { user: 'dave', network: 'yahoo' },
      text: 'hi dave',
      html: '<b>hi</b> dave',
      sentAt: 1_700_000_000_000,
    });
    const packet = await dave.waitFor((p) => p.service === S.MESSAGE);
    expect(packet.sessionId).toBe(server.sessionIdOf('dave'));
    expect(packet.sessionId).not.toBe(0);
    expect([
      packet.status,
      packet.get(K.SENDER),
      packet.get(K.TARGET),
      packet.get(K.TIME),
      packet.get(K.UTF8),
    ]).toEqual([1, 'bob@aol', 'dave', '1700000000', '1']);
    const im = await dave.waitForEvent((e) => e.kind === 'im');
    expect(im).toMatchObject({ from: bob, text: 'hi dave', html: '<b>hi</b> dave' });
  });

  it('answers a foreign ADDBUDDY locally (66 = 0) and reports a buddy request', async () => {
    const { dave, relay, server } = await setup();
    dave.addBuddy('carol@msn.com@msn', 'Friends', 'add me?');
    const reply = await dave.waitFor(S.ADDBUDDY);
    expect([reply.get(K.BUDDY), reply.get(K.GROUP), reply.get(K.RESULT), reply.sessionId]).toEqual([
      'carol@msn.com@msn',
      'Friends',
      '0',
      server.sessionIdOf('dave'),
    ]);
    const outbound = await relay.waitFor((e) => e.event.type === 'outbound');
    expect(outbound.event).toMatchObject({
      event: { kind: 'buddy-request', to: { user: 'carol@msn.com', network: 'msn' }, message: 'add me?' },
    });
    expect(server.received.some((r) => r.packet.service === S.ADDBUDDY)).toBe(false);
    // Delivered presence of the new buddy: LOGON first (YMSG10), with the session id.
    relay.deliver({
      kind: 'presence',
      from: { user: 'carol@msn.com', network: 'msn' },
      to: { user: 'dave', network: 'yahoo' },
      status: 'online',
    });
    const logon = await dave.waitFor((p) => p.service === S.LOGON && p.get(K.BUDDY) === 'carol@msn.com@msn');
    expect(logon.sessionId).toBe(server.sessionIdOf('dave'));
  });

  it('refuses to inject before the login is verified', async () => {
    server = await startMockYmsgServer({ users: [{ id: 'dave', password: 'davepw' }] });
    relay = await startSessionRelay({ codec: ymsg(), upstream: { host: server.host, port: server.port } });
    const dave = await ScriptedYmsgClient.connect({
      host: relay.host,
      port: relay.port,
      id: 'dave',
      password: 'wrong',
    });
    clients.push(dave);
    await expect(dave.login()).rejects.toThrow('error 13');
    const failed = await relay.waitFor((e) => e.event.type === 'login-failed');
    expect(failed.event).toMatchObject({ type: 'login-failed', code: '13', address: { user: 'dave' } });
    const session = relay.connections[0]!.session;
    expect(session.state).toBe('identified');
    expect(() =>
      session.deliver({
        kind: 'typing',
        from: bob,
        to: { user: 'dave', network: 'yahoo' },
        state: 'composing',
      }),
    ).toThrow(expect.objectContaining({ code: 'ERR_SESSION_STATE' }));
  });
});
