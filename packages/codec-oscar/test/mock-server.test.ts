import { afterEach, describe, expect, it } from 'vitest';
import { Family, Icbm } from '../src/index.js';
import {
  type MockOscarServer,
  OscarLoginError,
  ScriptedOscarClient,
  startMockOscarServer,
} from '../src/testing/index.js';

const users = [
  {
    screenName: 'alice',
    password: 'alicepw1',
    buddies: [{ screenName: 'bobby', group: 'Friends', alias: 'Bob' }],
  },
  { screenName: 'bobby', password: 'bobbypw1', buddies: [{ screenName: 'alice' }] },
  { screenName: '123456789', password: 'icqpass' },
];

let server: MockOscarServer | undefined;
const clients: ScriptedOscarClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await server?.close();
});

async function login(name: string, password: string, method: 'bucp-strong' | 'bucp-weak' | 'roasted') {
  const c = await ScriptedOscarClient.login({
    host: server!.host,
    port: server!.port,
    screenName: name,
    password,
    method,
  });
  clients.push(c);
  return c;
}

describe('mock OSCAR server', () => {
  it('logs in by BUCP (strong and weak hash) and by roasted password, and refuses a wrong password with 0x0005', async () => {
    server = await startMockOscarServer({ users });
    const alice = await login('alice', 'alicepw1', 'bucp-strong');
    const bobby = await login('bobby', 'bobbypw1', 'bucp-weak');
    const icq = await login('123456789', 'icqpass', 'roasted');
    expect(server.isOnline('alice') && server.isOnline('bobby') && server.isOnline('123456789')).toBe(true);
    expect(alice.feedbag.buddies().map((b) => b.name)).toEqual(['bobby']);
    for (const method of ['bucp-strong', 'roasted'] as const) {
      const error = await login('alice', 'wrong', method).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OscarLoginError);
      expect((error as OscarLoginError).code).toBe(0x0005);
    }
    const unknown = await login('nobody', 'x', 'bucp-weak').catch((e: unknown) => e);
    expect((unknown as OscarLoginError).code).toBe(0x0001);
    expect(bobby.events.some((e) => e.kind === 'roster')).toBe(true);
    expect(icq.screenName).toBe('123456789');
  });

  it('fans out presence, routes IMs with acks, relays typing with the sender request id', async () => {
    server = await startMockOscarServer({ users });
    const alice = await login('alice', 'alicepw1', 'bucp-strong');
    const bobby = await login('bobby', 'bobbypw1', 'bucp-weak');
    await alice.waitForEvent(
      (e) => e.kind === 'presence' && e.from.user === 'bobby' && e.status === 'online',
    );
    await bobby.waitForEvent(
      (e) => e.kind === 'presence' && e.from.user === 'alice' && e.status === 'online',
    );
    const cookie = alice.sendIm('bobby', 'hello <b>bob</b> \u00e9\u4e16');
    await alice.waitForAck(cookie);
    const im = await bobby.waitForEvent((e) => e.kind === 'im');
    expect(im).toMatchObject({
      from: { user: 'alice' },
      text: 'hello bob \u00e9\u4e16',
      html: 'hello <b>bob</b> \u00e9\u4e16',
    });
    // Open OSCAR Server strips TLV 3 from the relayed message.
    const relayed = bobby.bos.received.find(
      (f) => f.payload.type === 'snac' && f.payload.body.type === 'icbm-to-client',
    )!;
    expect(
      relayed.payload.type === 'snac' &&
        relayed.payload.body.type === 'icbm-to-client' &&
        relayed.payload.body.tlvs.map((t) => t.type),
    ).toEqual([2]);
    const requestId = alice.sendTyping('bobby', 'typing');
    const typing = await bobby.waitForFrame(
      (f) =>
        f.payload.type === 'snac' &&
        f.payload.family === Family.icbm &&
        f.payload.subtype === Icbm.clientEvent,
    );
    // Open OSCAR Server relays typing with the sender's request id.
    expect(typing.payload.type === 'snac' && typing.payload.requestId).toBe(requestId);
    expect(await bobby.waitForEvent((e) => e.kind === 'typing')).toMatchObject({
      from: { user: 'alice' },
      state: 'composing',
    });
    await bobby.close();
    await alice.waitForEvent(
      (e) => e.kind === 'presence' && e.from.user === 'bobby' && e.status === 'offline',
    );
    expect(server.seqErrors).toEqual([]);
  });

  it('stores feedbag edits, sends "you were added" and relays authorization requests and replies', async () => {
    server = await startMockOscarServer({ users });
    const alice = await login('alice', 'alicepw1', 'bucp-strong');
    const icq = await login('123456789', 'icqpass', 'roasted');
    expect(await alice.addBuddy('123456789', { group: 'ICQ', pending: true })).toEqual([0, 0]);
    expect(server.feedbag('alice').some((i) => i.name === '123456789')).toBe(true);
    await icq.waitForEvent(
      (e) => e.kind === 'buddy-request' && e.from.user === 'alice' && e.message === undefined,
    );
    alice.requestAuthorization('123456789', 'please add me');
    await icq.waitForEvent((e) => e.kind === 'buddy-request' && e.message === 'please add me');
    icq.respondAuthorization('alice', true, 'ok');
    const answer = await alice.waitForEvent((e) => e.kind === 'buddy-response');
    expect(answer).toMatchObject({
      from: { user: '123456789', network: 'icq' },
      accepted: true,
      message: 'ok',
    });
    expect(await alice.removeBuddy('123456789')).toEqual([0]);
    expect(server.feedbag('alice').some((i) => i.name === '123456789')).toBe(false);
  });
});
