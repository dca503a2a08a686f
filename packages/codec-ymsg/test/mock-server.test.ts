import { afterEach, describe, expect, it } from 'vitest';
import { YmsgKey as K, YmsgService as S, YmsgStatus } from '../src/index.js';
import { type MockYmsgServer, ScriptedYmsgClient, startMockYmsgServer } from '../src/testing/index.js';

const users = [
  { id: 'dave', password: 'davepw', buddies: ['erin'] },
  { id: 'erin', password: 'erinpw', buddies: [{ id: 'dave', group: 'Pals' }] },
  { id: 'frank', password: 'frankpw' },
];

let server: MockYmsgServer | undefined;
const clients: ScriptedYmsgClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await server?.close();
  server = undefined;
});

async function client(id: string, password = `${id}pw`): Promise<ScriptedYmsgClient> {
  const c = await ScriptedYmsgClient.connect({ host: server!.host, port: server!.port, id, password });
  clients.push(c);
  return c;
}

/** Polls a condition the test cannot await directly (the server noticing a closed socket). */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(condition()).toBe(true);
}

async function loggedIn(id: string): Promise<ScriptedYmsgClient> {
  const c = await client(id);
  await c.login();
  return c;
}

describe('mock YMSG server', () => {
  it('logs a user in with the v1 challenge and sends LIST, LOGON and PINGCONFIG with the session id', async () => {
    server = await startMockYmsgServer({ users });
    const dave = await loggedIn('dave');
    const list = dave.packets.find((p) => p.service === S.LIST)!;
    expect(list.get(K.BUDDY_LIST)).toBe('Friends:erin\n');
    expect(list.sessionId).toBe(server.sessionIdOf('dave'));
    expect(dave.sessionId).toBe(server.sessionIdOf('dave'));
    await dave.waitFor(S.PING);
    expect(server.isOnline('dave')).toBe(true);
    // The AUTH reply carried the challenge in key 94 and the session id in the header.
    const auth = dave.packets.find((p) => p.service === S.AUTH)!;
    expect(auth.get(K.CHALLENGE)).toMatch(/^[A-Za-z0-9._]{22}--$/);
  });

  it("accepts Escargot's client version bytes (0a 00) and writes 00 00 00 00 as Escargot does", async () => {
    server = await startMockYmsgServer({ users });
    const dave = await ScriptedYmsgClient.connect({
      host: server.host,
      port: server.port,
      id: 'dave',
      password: 'davepw',
      version: 0x0a00,
    });
    clients.push(dave);
    await dave.login();
    expect(server.received.every((r) => r.packet.version === 0x0a00)).toBe(true);
    expect(dave.packets.every((p) => p.version === 0 && p.vendor === 0)).toBe(true);
  });

  it('refuses a wrong password (66 = 13) and an unknown user (66 = 3)', async () => {
    server = await startMockYmsgServer({ users });
    await expect((await client('dave', 'nope')).login()).rejects.toThrow('error 13');
    await expect((await client('nobody')).login()).rejects.toThrow('error 3');
    expect(server.isOnline('dave')).toBe(false);
  });

  it('fans presence out: LOGON on login, ISAWAY with the custom message, ISBACK, LOGOFF', async () => {
    server = await startMockYmsgServer({ users });
    const dave = await loggedIn('dave');
    const erin = await loggedIn('erin');
    // erin's LOGON lists dave (online, she lists him); dave hears erin arrive.
    expect(
      erin.packets.find((p) => p.service === S.LOGON && p.get(K.CURRENT_ID) === 'erin')!.getAll(K.BUDDY),
    ).toEqual(['dave']);
    await dave.waitFor((p) => p.service === S.LOGON && p.get(K.BUDDY) === 'erin');
    erin.setAway('out for lunch');
    const away = await dave.waitFor(S.ISAWAY);
    expect([away.get(K.BUDDY), away.get(K.STATE), away.get(K.CUSTOM_STATUS), away.get(K.AWAY)]).toEqual([
      'erin',
      '99',
      'out for lunch',
      '1',
    ]);
    await dave.waitForEvent(
      (e) => e.kind === 'presence' && e.status === 'away' && e.text === 'out for lunch',
    );
    erin.setBack();
    await dave.waitFor((p) => p.service === S.ISBACK && p.get(K.BUDDY) === 'erin');
    erin.logoff();
    const off = await dave.waitFor(S.LOGOFF);
    expect(off.get(K.BUDDY)).toBe('erin');
    await dave.waitForEvent((e) => e.kind === 'presence' && e.status === 'offline');
  });

  it('routes messages (UTF-8 with key 97) and typing, and keeps messages for offline users', async () => {
    server = await startMockYmsgServer({ users });
    const dave = await loggedIn('dave');
    const erin = await loggedIn('erin');
    dave.sendTyping('erin', true);
    const typing = await erin.waitFor(S.NOTIFY);
    expect([typing.get(K.SENDER), typing.get(K.NOTIFY_TYPE), typing.get(K.FLAG)]).toEqual([
      'dave',
      'TYPING',
      '1',
    ]);
    dave.sendMessage('erin', 'Hi Erin \u263a');
    const im = await erin.waitForEvent((e) => e.kind === 'im');
    expect(im).toMatchObject({ text: 'Hi Erin \u263a', from: { user: 'dave' }, to: { user: 'erin' } });
    const frank = await loggedIn('frank');
    await frank.close();
    await until(() => !server!.isOnline('frank'));
    dave.sendMessage('frank', 'while you were out');
    await until(() => server!.received.some((r) => r.packet.get(K.MESSAGE) === 'while you were out'));
    const again = await loggedIn('frank');
    const offline = await again.waitFor((p) => p.service === S.MESSAGE);
    expect([offline.status, offline.get(K.SENDER), offline.get(K.MESSAGE)]).toEqual([
      5,
      'dave',
      'while you were out',
    ]);
  });

  it('adds a buddy with key 66 results and asks for authorisation; accepting shows presence', async () => {
    server = await startMockYmsgServer({ users });
    const dave = await loggedIn('dave');
    const frank = await loggedIn('frank');
    dave.addBuddy('nobody');
    expect((await dave.waitFor(S.ADDBUDDY)).get(K.RESULT)).toBe('3');
    dave.addBuddy('erin');
    expect((await dave.waitFor(S.ADDBUDDY)).get(K.RESULT)).toBe('2'); // already in Friends
    dave.addBuddy('frank', 'Friends', 'hi frank');
    expect((await dave.waitFor(S.ADDBUDDY)).get(K.RESULT)).toBe('0');
    // YMSG10 client: the request arrives as NEWCONTACT status 3 (Escargot).
    const request = await frank.waitFor(S.NEWCONTACT);
    expect([request.status, request.get(K.USER_ID), request.get(K.MESSAGE)]).toEqual([
      YmsgStatus.NOTATHOME,
      'dave',
      'hi frank',
    ]);
    await frank.waitForEvent(
      (e) => e.kind === 'buddy-request' && e.from.user === 'dave' && e.message === 'hi frank',
    );
    frank.answerBuddy('dave', true);
    await dave.waitFor((p) => p.service === S.LOGON && p.get(K.BUDDY) === 'frank');
  });

  it('a denial reaches the requester as NEWCONTACT status 7 with the reason; REMBUDDY answers 66', async () => {
    server = await startMockYmsgServer({ users });
    const erin = await loggedIn('erin');
    const frank = await loggedIn('frank');
    erin.addBuddy('frank');
    await frank.waitFor(S.NEWCONTACT);
    frank.rejectBuddy('erin', 'no thanks');
    const denied = await erin.waitFor(
      (p) => p.service === S.NEWCONTACT && p.status === YmsgStatus.ONVACATION,
    );
    expect([denied.get(K.USER_ID), denied.get(K.MESSAGE)]).toEqual(['frank', 'no thanks']);
    await erin.waitForEvent((e) => e.kind === 'buddy-response' && !e.accepted && e.message === 'no thanks');
    erin.removeBuddy('dave', 'Pals');
    expect((await erin.waitFor(S.REMBUDDY)).get(K.RESULT)).toBe('0');
    erin.removeBuddy('dave', 'Pals');
    expect((await erin.waitFor(S.REMBUDDY)).get(K.RESULT)).toBe('3');
  });

  it('tells a YMSG16 client of requests and answers with AUTH_REQ_15', async () => {
    server = await startMockYmsgServer({ users });
    const dave = await client('dave');
    const v16 = await ScriptedYmsgClient.connect({
      host: server.host,
      port: server.port,
      id: 'frank',
      password: 'frankpw',
      version: 0x0010,
    });
    clients.push(v16);
    await dave.login();
    await v16.login();
    dave.addBuddy('frank', 'Friends', 'hello');
    const request = await v16.waitFor(S.AUTH_REQ_15);
    expect([request.status, request.get(K.SENDER), request.get(K.TARGET), request.get(K.MESSAGE)]).toEqual([
      3,
      'dave',
      'frank',
      'hello',
    ]);
    v16.answerBuddy('dave', false, 'who are you');
    // dave speaks YMSG10: a denial is NEWCONTACT status 7.
    const denied = await dave.waitFor((p) => p.service === S.NEWCONTACT && p.status === 7);
    expect(denied.get(K.MESSAGE)).toBe('who are you');
  });
});
