import { Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ClientConnection,
  challengeResponse,
  directDial,
  LoginError,
  type MockMsnpServer,
  type MockUserOptions,
  md5Hex,
  passportOverHttp,
  ScriptedMsnpClient,
  startMockMsnpServer,
} from '../src/testing/index.js';

const USERS: MockUserOptions[] = [
  { email: 'alice@example.com', password: 'alicepw', friendly: 'Alice', contacts: ['bob@example.com'] },
  {
    email: 'bob@example.com',
    password: 'bobpw',
    friendly: 'Bob',
    contacts: [{ email: 'alice@example.com', groups: ['Friends'] }],
  },
  { email: 'carol@example.com', password: 'carolpw', friendly: 'Carol Smith' },
];

const servers: MockMsnpServer[] = [];
const clients: ScriptedMsnpClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.logout().catch(() => {});
  for (const s of servers.splice(0)) await s.close();
});

async function server(options: Partial<Parameters<typeof startMockMsnpServer>[0]> = {}) {
  const s = await startMockMsnpServer({ users: USERS, ...options });
  servers.push(s);
  return s;
}

function client(s: MockMsnpServer, email: string, dialect: number) {
  const user = USERS.find((u) => u.email === email)!;
  const c = new ScriptedMsnpClient({
    host: s.host,
    port: s.port,
    email,
    password: user.password,
    dialect,
    passport: (e, p) => s.issueTicket(e, p),
  });
  clients.push(c);
  return c;
}

async function online(s: MockMsnpServer, email: string, dialect: number) {
  const c = client(s, email, dialect);
  await c.login();
  await c.sync();
  await c.setStatus('NLN');
  return c;
}

describe('mock MSNP server: login', () => {
  it.each([8, 9, 10, 11, 12])('MSNP%i: TWN with a ticket the mock issued', async (dialect) => {
    const s = await server();
    const alice = client(s, 'alice@example.com', dialect);
    await alice.login();
    expect(alice.dialect).toBe(dialect);
    const contacts = await alice.sync();
    expect(alice.friendly).toBe('Alice');
    // bob has alice on FL too: FL|AL|RL = 11; MSNP8/9 put ungrouped contacts in group 0.
    const groups = dialect < 10 ? ['Other Contacts'] : [];
    expect(contacts).toEqual([{ email: 'bob@example.com', friendly: 'Bob', lists: 11, groups }]);
  });

  it.each([2, 5, 7])('MSNP%i: MD5 over the salt the server sent', async (dialect) => {
    const s = await server();
    const bob = client(s, 'bob@example.com', dialect);
    expect(await bob.login()).toBe('Bob');
    const contacts = await bob.sync();
    expect(contacts).toEqual([
      { email: 'alice@example.com', friendly: 'Alice', lists: 11, groups: dialect >= 6 ? ['Friends'] : [] },
    ]);
  });

  it('refuses a wrong password (MD5) and a forged ticket (TWN) with 911', async () => {
    const s = await server();
    const md5 = new ScriptedMsnpClient({
      host: s.host,
      port: s.port,
      email: 'bob@example.com',
      password: 'nope',
      dialect: 7,
    });
    clients.push(md5);
    await expect(md5.login()).rejects.toEqual(new LoginError(911));
    const twn = new ScriptedMsnpClient({
      host: s.host,
      port: s.port,
      email: 'bob@example.com',
      password: 'bobpw',
      dialect: 8,
      passport: () => '00112233445566778899',
    });
    clients.push(twn);
    await expect(twn.login()).rejects.toEqual(new LoginError(911));
    // A ticket is for one user and one use.
    expect(s.issueTicket('bob@example.com', 'wrong')).toBeUndefined();
  });

  it('serves tickets over the wire (Passport1.4 on its own port) for clients in another process', async () => {
    const s = await server();
    const passport = passportOverHttp(s);
    expect(await passport('bob@example.com', 'wrong')).toBeUndefined();
    const ticket = await passport('bob@example.com', 'bobpw');
    expect(ticket).toMatch(/^t=[0-9a-f]{20}&p=/);
    const bob = new ScriptedMsnpClient({
      host: s.host,
      port: s.port,
      email: 'bob@example.com',
      password: 'bobpw',
      dialect: 12,
      passport: () => ticket,
    });
    clients.push(bob);
    await bob.login();
    expect(await bob.sync()).toHaveLength(1);
    // Passport requests are not MSNP connections: the mock records only the login.
    expect(s.connections.map((c) => [c.kind, c.user])).toEqual([['notification', 'bob@example.com']]);
    // Single use: the ticket already spent logs nobody in.
    const replay = new ScriptedMsnpClient({ ...bob.options, passport: () => ticket });
    clients.push(replay);
    await expect(replay.login()).rejects.toEqual(new LoginError(911));
  });

  it('answers VER without a common version with VER t 0', async () => {
    const s = await server({ versions: [8] });
    const raw = await ClientConnection.open(s.host, s.port, 5000);
    raw.send('VER 1 MSNP12 MSNP11 CVR0');
    const reply = await raw.reply(1, 'VER');
    expect(reply).toEqual({ type: 'command', verb: 'VER', trid: 1, args: ['0'] });
  });

  it('sends a login elsewhere OUT OTH', async () => {
    const s = await server();
    const first = await online(s, 'alice@example.com', 8);
    await online(s, 'alice@example.com', 12);
    expect(await first.notification.command('OUT')).toMatchObject({ args: ['OTH'] });
  });

  it('redirects a TWN login with XFR NS, and the client follows', async () => {
    const target = await server();
    const dispatch = await server({ redirect: { host: target.host, port: target.port } });
    const alice = new ScriptedMsnpClient({
      host: dispatch.host,
      port: dispatch.port,
      email: 'alice@example.com',
      password: 'alicepw',
      dialect: 8,
      passport: (e, p) => target.issueTicket(e, p),
    });
    clients.push(alice);
    await alice.login();
    expect(dispatch.connections[0]!.sent.map((b) => new TextDecoder().decode(b))).toContain(
      `XFR 3 NS 127.0.0.1:${target.port} 0 127.0.0.1:${dispatch.port}\r\n`,
    );
    expect(target.connections[0]!.user).toBe('alice@example.com');
  });

  it.each([8, 10, 11, 12])('MSNP%i: challenges, and the client answers them', async (dialect) => {
    const s = await server({ challenge: true });
    const alice = client(s, 'alice@example.com', dialect);
    await alice.login();
    const chl = await alice.notification.command('CHL');
    const qry = await alice.notification.command('QRY');
    expect(qry.trid).toBeGreaterThan(0);
    expect(chl.args[0]).toMatch(/^\d{20}$/);
    // Still connected and usable.
    await alice.sync();
  });

  it('closes the connection on a wrong challenge answer (540)', async () => {
    const s = await server({ challenge: true, versions: [8] });
    const raw = await ClientConnection.open(s.host, s.port, 5000);
    raw.send('VER 1 MSNP8 CVR0');
    await raw.reply(1, 'VER');
    raw.send('USR 2 TWN I alice@example.com');
    await raw.reply(2, 'USR');
    raw.send(`USR 3 TWN S ${s.issueTicket('alice@example.com', 'alicepw')}`);
    await raw.reply(3, 'USR');
    const chl = await raw.command('CHL');
    // An MSNP11 answer where MSNP8 expects the MD5 one.
    raw.send('QRY 4 PROD0090YUAUV{2B', challengeResponse(chl.args[0]!, 'PROD0090YUAUV{2B')!);
    expect(await raw.reply(4, 'QRY')).toEqual({ type: 'error', code: 540, trid: 4, args: [] });
    await expect(raw.take(() => false, 'nothing')).rejects.toThrow(/closed/);
  });
});

describe('mock MSNP server: presence', () => {
  it('MSNP8: ILN on the first CHG, NLN to watchers, FLN on sign-out', async () => {
    const s = await server();
    const bob = await online(s, 'bob@example.com', 8);
    const alice = await online(s, 'alice@example.com', 8);
    expect(await alice.presenceOf('bob@example.com')).toEqual({
      type: 'command',
      verb: 'ILN',
      trid: expect.any(Number),
      args: ['NLN', 'bob@example.com', 'Bob', '0'],
    });
    expect(await bob.presenceOf('alice@example.com')).toEqual({
      type: 'command',
      verb: 'NLN',
      args: ['NLN', 'alice@example.com', 'Alice', '0'],
    });
    await alice.setStatus('AWY');
    expect((await bob.presenceOf('alice@example.com', 'AWY')).args[0]).toBe('AWY');
    await alice.setStatus('HDN');
    expect((await bob.presenceOf('alice@example.com', 'FLN')).verb).toBe('FLN');
    await alice.setStatus('BSY');
    expect((await bob.presenceOf('alice@example.com', 'BSY')).verb).toBe('NLN');
    await alice.logout();
    expect((await bob.presenceOf('alice@example.com', 'FLN')).verb).toBe('FLN');
  });

  it('MSNP12: the MSN object on NLN and the personal message fan-out (UBX)', async () => {
    const s = await server();
    const bob = await online(s, 'bob@example.com', 12);
    const alice = await online(s, 'alice@example.com', 12);
    expect((await alice.presenceOf('bob@example.com')).args).toEqual([
      'NLN',
      'bob@example.com',
      'Bob',
      '0',
      '%3Cmsnobj%2F%3E',
    ]);
    expect(await alice.personalMessageOf('bob@example.com')).toBe('');
    expect(await bob.personalMessageOf('alice@example.com')).toBe('');
    await alice.setPersonalMessage('out for lunch');
    expect(await bob.personalMessageOf('alice@example.com')).toBe('out for lunch');
    expect(s.user('alice@example.com')?.psm).toBe('out for lunch');
  });

  it('MSNP8 viewers get no UBX from an MSNP12 user', async () => {
    const s = await server();
    const bob = await online(s, 'bob@example.com', 8);
    const alice = await online(s, 'alice@example.com', 12);
    await alice.setPersonalMessage('hello');
    await alice.setStatus('IDL');
    await bob.presenceOf('alice@example.com', 'IDL');
    expect(bob.notification.frames.some((f) => f.type === 'command' && f.verb === 'UBX')).toBe(false);
  });
});

describe('mock MSNP server: lists', () => {
  it('MSNP8: ADD FL notifies the added user (Escargot: no serial) and sends its presence', async () => {
    const s = await server();
    const carol = await online(s, 'carol@example.com', 8);
    const alice = await online(s, 'alice@example.com', 8);
    const reply = await alice.addContact('carol@example.com', 'FL');
    expect(reply).toMatchObject({
      verb: 'ADD',
      args: ['FL', '2', 'carol@example.com', 'carol@example.com', '0'],
    });
    expect(await carol.addedBy()).toEqual({ email: 'alice@example.com', friendly: 'Alice' });
    expect(carol.notification.frames).toContainEqual({
      type: 'command',
      verb: 'ADD',
      trid: 0,
      args: ['RL', 'alice@example.com', 'Alice'],
    });
    expect((await alice.presenceOf('carol@example.com')).args).toEqual([
      'NLN',
      'carol@example.com',
      'Carol%20Smith',
      '0',
    ]);
    // Accepting is adding to AL; a second add to the same list is refused (215).
    expect(await carol.addContact('alice@example.com', 'AL')).toMatchObject({
      verb: 'ADD',
      args: ['AL', '2', 'alice@example.com', 'alice@example.com'],
    });
    expect(await carol.addContact('alice@example.com', 'AL')).toEqual({
      type: 'error',
      code: 215,
      trid: expect.any(Number),
      args: [],
    });
    expect(await alice.removeContact('carol@example.com', 'FL')).toMatchObject({
      verb: 'REM',
      args: ['FL', '3', 'carol@example.com'],
    });
  });

  it('MSNP12: ADC with a contact GUID, ADC 0 RL to the added user, unknown passports refused', async () => {
    const s = await server();
    const carol = await online(s, 'carol@example.com', 12);
    const alice = await online(s, 'alice@example.com', 12);
    const reply = await alice.addContact('carol@example.com', 'FL', 'Carol');
    expect(reply).toEqual({
      type: 'command',
      verb: 'ADC',
      trid: expect.any(Number),
      args: ['FL', 'N=carol@example.com', 'F=Carol', `C=${s.user('carol@example.com')!.guid}`],
    });
    expect(await carol.addedBy()).toEqual({ email: 'alice@example.com', friendly: 'Alice' });
    expect(await alice.addContact('nobody@example.com', 'FL')).toMatchObject({ type: 'error', code: 205 });
    const contacts = await carol.sync();
    expect(contacts).toEqual([{ email: 'alice@example.com', friendly: 'Alice', lists: 8, groups: [] }]);
  });
});

describe('mock MSNP server: conversations', () => {
  it('MSNP8 and MSNP12 users talk: XFR, USR, CAL, RNG, ANS, IRO, JOI, MSG with ACK, typing, BYE', async () => {
    const s = await server();
    const bob = await online(s, 'bob@example.com', 12);
    const alice = await online(s, 'alice@example.com', 8);
    const opening = alice.openConversation('bob@example.com');
    const ring = await bob.nextRing();
    expect(ring).toMatchObject({
      caller: 'alice@example.com',
      friendly: 'Alice',
      host: '127.0.0.1',
      port: s.sbPort,
    });
    const bobs = await bob.answer(ring);
    const conversation = await opening;
    expect(conversation.target).toEqual({ host: '127.0.0.1', port: s.sbPort });
    expect([...bobs.participants]).toEqual(['alice@example.com']);
    expect(
      await conversation.sendMessage('Hello Bob', { format: 'FN=Arial; EF=B; CO=ff; CS=0; PF=22' }),
    ).toBe('ACK');
    const got = await bobs.nextMessage();
    expect(got).toMatchObject({ from: 'alice@example.com', friendly: 'Alice', text: 'Hello Bob' });
    bobs.sendTyping();
    expect(await conversation.nextMessage({ typing: true })).toMatchObject({
      from: 'bob@example.com',
      contentType: 'text/x-msmsgscontrol',
    });
    expect(await bobs.sendMessage('Hi Alice ☺', { ack: 'N' })).toBeUndefined();
    expect((await conversation.nextMessage()).text).toBe('Hi Alice ☺');
    await bobs.leave();
    expect(await conversation.connection.command('BYE')).toMatchObject({ args: ['bob@example.com'] });
  });

  it('three users in one conversation, and a NAK when nobody is left', async () => {
    const s = await server();
    const alice = await online(s, 'alice@example.com', 12);
    const bob = await online(s, 'bob@example.com', 12);
    const carol = await online(s, 'carol@example.com', 12);
    const opening = alice.openConversation('bob@example.com');
    const b = await bob.answer(await bob.nextRing());
    const a = await opening;
    const invited = a.invite('carol@example.com');
    const c = await carol.answer(await carol.nextRing());
    await invited;
    expect([...c.participants].sort()).toEqual(['alice@example.com', 'bob@example.com']);
    expect(await b.connection.command('JOI')).toMatchObject({ args: ['carol@example.com', 'Carol%20Smith'] });
    await a.sendMessage('hi all');
    expect((await b.nextMessage()).text).toBe('hi all');
    expect((await c.nextMessage()).text).toBe('hi all');
    await b.leave();
    await c.leave();
    await a.connection.command('BYE', (f) => f.args[0] === 'carol@example.com');
    expect(await a.sendMessage('anyone?')).toBe('NAK');
  });

  it('turns Nagle off at both ends of every connection (no delayed-ACK wait per switchboard)', async () => {
    // The server writes `IRO` then `ANS t OK`, `CAL t RINGING` then `JOI`, with nothing from the
    // client in between: with Nagle's algorithm the second line waited for the client's delayed
    // ACK (40 ms on Linux), and every first message to a partner cost that.
    const noDelay = vi.spyOn(Socket.prototype, 'setNoDelay');
    try {
      const s = await server();
      const dialled: Socket[] = [];
      const passports: Socket[] = [];
      const collect =
        (into: Socket[]) =>
        async (host: string, port: number): Promise<Socket> => {
          const socket = await directDial(host, port);
          into.push(socket);
          return socket;
        };
      const mk = (email: string) =>
        new ScriptedMsnpClient({
          host: s.host,
          port: s.port,
          email,
          password: USERS.find((u) => u.email === email)!.password,
          dialect: 12,
          passport: passportOverHttp(s, collect(passports)),
          dial: collect(dialled),
        });
      const [alice, bob] = [mk('alice@example.com'), mk('bob@example.com')];
      clients.push(alice, bob);
      for (const c of [alice, bob]) {
        await c.login();
        await c.sync();
        await c.setStatus('NLN');
      }
      const opening = alice.openConversation('bob@example.com');
      const b = await bob.answer(await bob.nextRing());
      await (await opening).sendMessage('hi');
      expect((await b.nextMessage()).text).toBe('hi');

      const off = (noDelay.mock.contexts as Socket[]).filter((_, i) => noDelay.mock.calls[i]![0] !== false);
      // Two notification connections and two switchboard connections, and the Passport requests.
      expect(dialled).toHaveLength(4);
      expect(passports).toHaveLength(2);
      for (const c of [...dialled, ...passports]) {
        const end = off.find((o) => o.localPort === c.remotePort && o.remotePort === c.localPort);
        expect(end, `the mock's end of ${c.localPort} -> ${c.remotePort}`).toBeDefined();
      }
      // The scripted client's own ends (`directDial` leaves Nagle on: the client turns it off).
      for (const c of dialled) expect(off).toContain(c);
    } finally {
      noDelay.mockRestore();
    }
  });

  it('checks switchboard cookies: a wrong one is refused with 911', async () => {
    const s = await server();
    const raw = await ClientConnection.open(s.host, s.sbPort, 5000);
    raw.send('USR 1 alice@example.com 0123456789abcdef0123');
    expect(await raw.reply(1, 'USR')).toEqual({ type: 'error', code: 911, trid: 1, args: [] });
  });

  it('refuses a call to a user who is offline (217) or unknown (208)', async () => {
    const s = await server();
    const alice = await online(s, 'alice@example.com', 8);
    await expect(alice.openConversation('bob@example.com')).rejects.toThrow(/error 217/);
    await expect(alice.openConversation('nobody@example.com')).rejects.toThrow(/error 208/);
  });

  it('computes the documented challenge answers', () => {
    // manastech/em-msn spec/msn/challenge_spec.rb (MSNP11 and MSNP15 vectors).
    expect(challengeResponse('22210219642164014968', 'PROD0090YUAUV{2B')).toBe(
      '85ecb0db8f32113df79ce0892b9a102c',
    );
    expect(challengeResponse('11533365622852247127', 'PROD0113H11T8$X_')).toBe(
      'f086d1ded067186deca8dba2231602cf',
    );
    expect(challengeResponse('237191752526424888127371168', 'PROD0113H11T8$X_')).toBe(
      '65b6b623c649c25629af048d34066040',
    );
    // MSNP2 transcript: md5('1a2b3c4d5e6f789' + 'bobpw').
    expect(md5Hex('1a2b3c4d5e6f789bobpw')).toBe('fa29f9679547aa3a74276ab82efdb93c');
    // MSNP6-10: MD5 of challenge and key.
    expect(challengeResponse('12345678901234567890', 'msmsgs@msnmsgr.com')).toBe(
      md5Hex('12345678901234567890Q1P7W2E4J9R8U3S5'),
    );
  });
});
