import type { Address, CanonicalEvent, RosterItem } from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { contactGuid } from '../src/index.js';
import { eventsOf, feed, loginMsnp8, loginMsnp12, msnAddress, testGateway } from './session-harness.js';

const alice = msnAddress('alice@example.com');
const bobYahoo: Address = { user: 'bob', network: 'yahoo' };
const carolAol: Address = { user: 'carol', network: 'aol' };
const foreignRoster: RosterItem[] = [
  { address: bobYahoo, name: 'Bob Y', groups: [], subscription: 'both', pending: false },
  { address: carolAol, groups: ['Other Contacts'], subscription: 'to', pending: true },
];

describe('notification session: identity gate', () => {
  it('is a pure relay before USR OK: nothing withheld, nothing injected', () => {
    const gateway = testGateway();
    const session = gateway.open();
    const first = feed(session, 'client', 'VER 1 MSNP8 CVR0\r\n');
    expect(first.toServer).toBe('VER 1 MSNP8 CVR0\r\n');
    feed(session, 'server', 'VER 1 MSNP8\r\n');
    const usr = feed(session, 'client', 'USR 3 TWN I alice@example.com\r\n');
    expect(usr.events).toEqual([{ type: 'identified', address: alice }]);
    expect(session.state).toBe('identified');
    // A list edit naming a foreign user goes to the server untouched before the login is confirmed.
    expect(feed(session, 'client', 'ADD 4 FL bob@yahoo bob@yahoo 0\r\n').toServer).toBe(
      'ADD 4 FL bob@yahoo bob@yahoo 0\r\n',
    );
    expect(() => session.deliver({ kind: 'presence', from: bobYahoo, status: 'online' })).toThrow(
      expect.objectContaining({ code: 'ERR_SESSION_STATE' }),
    );
    expect(session.affinity({ kind: 'presence', from: bobYahoo, status: 'online' })).toBe(0);
    const ok = feed(session, 'server', 'USR 5 OK alice@example.com Alice 1 0\r\n');
    expect(ok.toClient).toBe('USR 5 OK alice@example.com Alice 1 0\r\n');
    expect(ok.events).toEqual([{ type: 'verified', address: alice }]);
    expect(session.state).toBe('verified');
  });

  it('returns one buffer per side that does not alias the chunk, which the caller may reuse', () => {
    const session = testGateway().open();
    const chunk = new TextEncoder().encode(
      'VER 1 MSNP8 CVR0\r\nCVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS a@b.c\r\n',
    );
    const out = session.fromClient(chunk);
    chunk.fill(0xee); // the engine may reuse its buffer
    expect(out.toServer).toHaveLength(1);
    expect(new TextDecoder().decode(out.toServer[0])).toBe(
      'VER 1 MSNP8 CVR0\r\nCVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS a@b.c\r\n',
    );
  });

  it('reports a redirect to another notification server without touching it', () => {
    const session = testGateway().open();
    feed(session, 'client', 'VER 1 MSNP10 MSNP9 CVR0\r\n');
    const out = feed(session, 'server', 'XFR 3 NS 10.0.0.5:1863 0 10.0.0.1:1863\r\n');
    expect(out.toClient).toBe('XFR 3 NS 10.0.0.5:1863 0 10.0.0.1:1863\r\n');
    expect(out.events).toEqual([{ type: 'redirect', host: '10.0.0.5', port: 1863, purpose: 'notification' }]);
  });

  it('records switchboard cookies from XFR and RNG for the verified user', () => {
    const gateway = testGateway();
    const session = gateway.open();
    loginMsnp8(session, 'alice@example.com', 'Alice');
    const xfr = feed(session, 'server', 'XFR 9 SB 127.0.0.1:1864 CKI 535f8aab96989d07d34f\r\n');
    expect(xfr.events).toEqual([{ type: 'redirect', host: '127.0.0.1', port: 1864, purpose: 'switchboard' }]);
    expect(gateway.cookies.lookup('msnp', '535f8aab96989d07d34f')).toEqual({
      owner: alice,
      data: { protocol: 'msnp', via: 'XFR', dialect: 8, host: '127.0.0.1', port: 1864 },
    });
    feed(session, 'server', 'RNG 11752013 127.0.0.1:1864 CKI 123456 bob@example.com Bob\r\n');
    expect(gateway.cookies.lookup('msnp', '123456')?.data).toMatchObject({
      via: 'RNG',
      sessid: '11752013',
      caller: 'bob@example.com',
    });
  });

  it('reports the user own presence and still sends it to the server', () => {
    const session = testGateway().open();
    loginMsnp12(session, 'alice@example.com');
    const chg = feed(session, 'client', 'CHG 6 AWY 268435456\r\n');
    expect(chg.toServer).toBe('CHG 6 AWY 268435456\r\n');
    expect(chg.events).toEqual([{ type: 'self', event: { kind: 'presence', from: alice, status: 'away' } }]);
    const psm = '<Data><PSM>at lunch</PSM><CurrentMedia></CurrentMedia></Data>';
    const uux = feed(session, 'client', `UUX 7 ${psm.length}\r\n${psm}`);
    expect(uux.toServer).toBe(`UUX 7 ${psm.length}\r\n${psm}`);
    expect(uux.events).toEqual([
      { type: 'self', event: { kind: 'presence', from: alice, status: 'away', text: 'at lunch' } },
    ]);
  });
});

describe('notification session: roster merge', () => {
  it('MSNP8: raises the SYN count and writes the foreign buddies before the first LST', () => {
    const gateway = testGateway();
    gateway.roster.set('alice@example.com', foreignRoster);
    const session = gateway.open();
    loginMsnp8(session, 'alice@example.com', 'Alice');
    feed(session, 'client', 'SYN 5 0\r\n');
    let client = '';
    const events = [];
    for (const line of [
      'SYN 5 1 1 1',
      'GTC A',
      'BLP AL',
      'LSG 0 Other%20Contacts 0',
      'LST bob@example.com Bob 11 0',
    ]) {
      const out = feed(session, 'server', `${line}\r\n`);
      client += out.toClient;
      events.push(...out.events);
    }
    expect(client).toBe(
      [
        'SYN 5 1 3 1',
        'GTC A',
        'BLP AL',
        'LSG 0 Other%20Contacts 0',
        'LST bob@yahoo Bob%20Y 11 0',
        'LST carol@aol carol@aol 3 0',
        'LST bob@example.com Bob 11 0',
        '',
      ].join('\r\n'),
    );
    expect(eventsOf(events, 'roster')).toEqual([
      {
        type: 'roster',
        owner: alice,
        items: [
          {
            address: msnAddress('bob@example.com'),
            name: 'Bob',
            groups: ['Other Contacts'],
            subscription: 'both',
            pending: false,
          },
        ],
        merged: foreignRoster,
      },
    ]);
  });

  it('MSNP8: with no contacts, writes them after the last group', () => {
    const gateway = testGateway();
    gateway.roster.set('alice@example.com', [foreignRoster[0]!]);
    const session = gateway.open();
    loginMsnp8(session, 'alice@example.com', 'Alice');
    let client = '';
    for (const line of ['SYN 5 1 0 1', 'GTC A', 'BLP AL', 'LSG 0 Other%20Contacts 0'])
      client += feed(session, 'server', `${line}\r\n`).toClient;
    expect(client).toBe(
      'SYN 5 1 1 1\r\nGTC A\r\nBLP AL\r\nLSG 0 Other%20Contacts 0\r\nLST bob@yahoo Bob%20Y 11 0\r\n',
    );
  });

  it('MSNP12: N=/F=/C= lines with network id, stable GUIDs, and REM by GUID answered locally', () => {
    const gateway = testGateway();
    gateway.roster.set('alice@example.com', foreignRoster);
    const session = gateway.open();
    loginMsnp12(session, 'alice@example.com');
    feed(session, 'client', 'SYN 5 0 0\r\n');
    let client = '';
    for (const line of [
      'SYN 5 2000-01-01T00:00:00.0-00:00 2000-01-01T00:00:00.0-00:00 1 0',
      'GTC A',
      'BLP AL',
      'PRP MFN Alice',
      'LST N=bob@example.com F=Bob C=57205498-6883-4ffd-9350-1254e7bee9dd 11 1 ',
    ]) {
      client += feed(session, 'server', `${line}\r\n`).toClient;
    }
    const guid = contactGuid('bob@yahoo');
    expect(client).toBe(
      [
        'SYN 5 2000-01-01T00:00:00.0-00:00 2000-01-01T00:00:00.0-00:00 3 0',
        'GTC A',
        'BLP AL',
        'PRP MFN Alice',
        `LST N=bob@yahoo F=Bob%20Y C=${guid} 11 1 `,
        `LST N=carol@aol F=carol@aol C=${contactGuid('carol@aol')} 3 1 `,
        'LST N=bob@example.com F=Bob C=57205498-6883-4ffd-9350-1254e7bee9dd 11 1 ',
        '',
      ].join('\r\n'),
    );
    const rem = feed(session, 'client', `REM 11 FL ${guid}\r\n`);
    expect(rem.toServer).toBe('');
    expect(rem.toClient).toBe(`REM 11 FL ${guid}\r\n`);
    // A native contact's REM still goes to the server.
    expect(feed(session, 'client', 'REM 12 FL 57205498-6883-4ffd-9350-1254e7bee9dd\r\n').toServer).toBe(
      'REM 12 FL 57205498-6883-4ffd-9350-1254e7bee9dd\r\n',
    );
  });

  it('MSNP12: with an empty list, writes them right after SYN', () => {
    const gateway = testGateway();
    gateway.roster.set('carol@example.com', [foreignRoster[0]!]);
    const session = gateway.open();
    loginMsnp12(session, 'carol@example.com');
    const out = feed(
      session,
      'server',
      'SYN 5 2000-01-01T00:00:00.0-00:00 2000-01-01T00:00:00.0-00:00 0 0\r\n',
    );
    expect(out.toClient).toBe(
      `SYN 5 2000-01-01T00:00:00.0-00:00 2000-01-01T00:00:00.0-00:00 1 0\r\nLST N=bob@yahoo F=Bob%20Y C=${contactGuid('bob@yahoo')} 11 1 \r\n`,
    );
    expect(eventsOf(out.events, 'roster')[0]?.merged).toEqual([foreignRoster[0]]);
  });

  it('leaves a current cached list alone (SYN without counts)', () => {
    const gateway = testGateway();
    gateway.roster.set('alice@example.com', foreignRoster);
    const session = gateway.open();
    loginMsnp8(session, 'alice@example.com', 'Alice');
    const out = feed(session, 'server', 'SYN 5 7\r\n');
    expect(out.toClient).toBe('SYN 5 7\r\n');
    expect(out.events).toEqual([]);
  });
});

describe('notification session: buddy requests', () => {
  it('MSNP8: answers an ADD for a foreign buddy itself and reports the request', () => {
    const session = testGateway().open();
    loginMsnp8(session, 'alice@example.com', 'Alice');
    feed(session, 'server', 'SYN 5 1 0 0\r\n');
    const add = feed(session, 'client', 'ADD 7 FL bob@yahoo bob@yahoo 0\r\n');
    expect(add.toServer).toBe('');
    expect(add.toClient).toBe('ADD 7 FL 2 bob@yahoo bob@yahoo 0\r\n');
    expect(add.events).toEqual([
      { type: 'outbound', event: { kind: 'buddy-request', from: alice, to: bobYahoo, name: 'Alice' } },
    ]);
    // A native contact's ADD reaches the server byte for byte.
    expect(feed(session, 'client', 'ADD 8 FL carol@example.com carol@example.com 0\r\n').toServer).toBe(
      'ADD 8 FL carol@example.com carol@example.com 0\r\n',
    );
  });

  it('MSNP8: delivers a request as ADD 0 RL and reports the AL answer as acceptance', () => {
    const session = testGateway().open();
    loginMsnp8(session, 'alice@example.com', 'Alice');
    const jane: Address = { user: 'jane', network: 'yahoo' };
    const delivered = session.deliver({
      kind: 'buddy-request',
      from: jane,
      to: alice,
      name: 'Jane',
      message: 'hi!',
    });
    expect(new TextDecoder().decode(delivered.toClient[0])).toBe('ADD 0 RL 1 jane@yahoo Jane\r\n');
    expect(delivered.events).toEqual([
      {
        type: 'feature-loss',
        event: expect.objectContaining({ kind: 'buddy-request' }),
        lost: ['buddy-request.message'],
      },
    ]);
    const accept = feed(session, 'client', 'ADD 9 AL jane@yahoo jane@yahoo\r\n');
    expect(accept.toServer).toBe('');
    expect(accept.toClient).toBe('ADD 9 AL 2 jane@yahoo jane@yahoo\r\n');
    expect(accept.events).toEqual([
      { type: 'outbound', event: { kind: 'buddy-response', from: alice, to: jane, accepted: true } },
    ]);
    // Answered once: a second AL edit is only acknowledged.
    expect(feed(session, 'client', 'ADD 10 AL jane@yahoo jane@yahoo\r\n').events).toEqual([]);
    // Adding the accepted requester back (MSN clients offer it) asks nothing new.
    const back = feed(session, 'client', 'ADD 11 FL jane@yahoo jane@yahoo 0\r\n');
    expect(back.toClient).toBe('ADD 11 FL 4 jane@yahoo jane@yahoo 0\r\n');
    expect(back.events).toEqual([]);
  });

  it('shows an accepted request as the buddy adding the user back; a refusal as nothing', () => {
    const session = testGateway().open();
    loginMsnp12(session, 'alice@example.com');
    feed(session, 'client', 'ADC 7 FL N=bob@yahoo F=bob@yahoo\r\n');
    expect(session.affinity({ kind: 'buddy-response', from: bobYahoo, to: alice, accepted: true })).toBe(1);
    const accepted = session.deliver({ kind: 'buddy-response', from: bobYahoo, to: alice, accepted: true });
    expect(accepted.toClient.map((b) => new TextDecoder().decode(b))).toEqual([
      'ADC 0 RL N=bob@yahoo F=bob@yahoo\r\n',
    ]);
    expect(accepted.events).toEqual([]);
    const refused = session.deliver({ kind: 'buddy-response', from: bobYahoo, to: alice, accepted: false });
    expect(refused.toClient).toEqual([]);
    expect(refused.events).toEqual([
      { type: 'feature-loss', event: expect.objectContaining({ accepted: false }), lost: ['buddy-response'] },
    ]);
  });

  it('adding a buddy the gateway already lists as mutual sends no request', () => {
    const gateway = testGateway();
    gateway.roster.set('alice@example.com', [
      { address: bobYahoo, groups: [], subscription: 'both', pending: false },
    ]);
    const session = gateway.open();
    loginMsnp12(session, 'alice@example.com');
    const add = feed(session, 'client', 'ADC 7 FL N=bob@yahoo F=bob@yahoo\r\n');
    expect(add.toServer).toBe('');
    expect(add.events).toEqual([]);
  });

  it('MSNP12: ADC forms, and a BL answer is a refusal', () => {
    const session = testGateway().open();
    loginMsnp12(session, 'alice@example.com');
    const add = feed(session, 'client', 'ADC 7 FL N=bob@yahoo F=bob@yahoo\r\n');
    expect(add.toClient).toBe(`ADC 7 FL N=bob@yahoo F=bob@yahoo C=${contactGuid('bob@yahoo')}\r\n`);
    expect(eventsOf(add.events, 'outbound')[0]?.event).toEqual({
      kind: 'buddy-request',
      from: alice,
      to: bobYahoo,
    });
    const jane: Address = { user: 'jane', network: 'yahoo' };
    const delivered = session.deliver({ kind: 'buddy-request', from: jane, to: alice });
    expect(new TextDecoder().decode(delivered.toClient[0])).toBe('ADC 0 RL N=jane@yahoo F=jane@yahoo\r\n');
    const deny = feed(session, 'client', 'ADC 8 BL N=jane@yahoo\r\n');
    expect(deny.toClient).toBe('ADC 8 BL N=jane@yahoo\r\n');
    expect(deny.events).toEqual([
      { type: 'outbound', event: { kind: 'buddy-response', from: alice, to: jane, accepted: false } },
    ]);
  });

  it('asks the server first about a passport that may be an XMPP user', () => {
    const gateway = testGateway({ isForeign: (a) => a.network !== 'msn' });
    const session = gateway.open();
    loginMsnp8(session, 'alice@example.com', 'Alice');
    const add = feed(session, 'client', 'ADD 7 FL carol@jabber.org carol@jabber.org 0\r\n');
    expect(add.toServer).toBe('ADD 7 FL carol@jabber.org carol@jabber.org 0\r\n');
    // The server does not know the passport (Escargot: 207 invalid user): a foreign user after all.
    const refused = feed(session, 'server', '207 7\r\n');
    expect(refused.toClient).toBe('ADD 7 FL 1 carol@jabber.org carol@jabber.org 0\r\n');
    expect(refused.events).toEqual([
      {
        type: 'outbound',
        event: {
          kind: 'buddy-request',
          from: alice,
          to: { user: 'carol', network: 'jabber.org' },
          name: 'Alice',
        },
      },
    ]);
    // A passport the server knows is left to it.
    feed(session, 'client', 'ADD 8 FL dave@example.org dave@example.org 0\r\n');
    expect(feed(session, 'server', 'ADD 8 FL 2 dave@example.org dave@example.org 0\r\n').events).toEqual([]);
  });
});

describe('notification session: delivery', () => {
  it('MSNP12: presence as NLN with UBX, offline as FLN', () => {
    const session = testGateway().open();
    loginMsnp12(session, 'alice@example.com');
    const online = session.deliver({
      kind: 'presence',
      from: bobYahoo,
      to: alice,
      status: 'busy',
      text: 'in a meeting',
    });
    expect(online.toClient.map((b) => new TextDecoder().decode(b))).toEqual([
      'NLN BSY bob@yahoo bob@yahoo 0\r\n',
      'UBX bob@yahoo 65\r\n<Data><PSM>in a meeting</PSM><CurrentMedia></CurrentMedia></Data>',
    ]);
    const offline = session.deliver({ kind: 'presence', from: bobYahoo, status: 'offline' });
    expect(new TextDecoder().decode(offline.toClient[0])).toBe('FLN bob@yahoo\r\n');
  });

  it('MSNP8: a status text is reported as lost', () => {
    const session = testGateway().open();
    loginMsnp8(session, 'alice@example.com', 'Alice');
    const out = session.deliver({ kind: 'presence', from: bobYahoo, status: 'idle', text: 'zzz' });
    expect(new TextDecoder().decode(out.toClient[0])).toBe('NLN IDL bob@yahoo bob@yahoo 0\r\n');
    expect(out.events).toEqual([{ type: 'feature-loss', event: expect.anything(), lost: ['presence.text'] }]);
  });

  it('rings the client into a virtual switchboard for a message, once per buddy', () => {
    const gateway = testGateway();
    gateway.roster.set('alice@example.com', foreignRoster);
    const session = gateway.open();
    loginMsnp8(session, 'alice@example.com', 'Alice');
    const im: CanonicalEvent = {
      kind: 'im',
      id: 'm1',
      from: bobYahoo,
      to: alice,
      text: 'hi alice',
      sentAt: 1,
    };
    expect(session.affinity(im)).toBe(1);
    const out = session.deliver(im);
    expect(gateway.allocations).toHaveLength(1);
    const [allocation] = gateway.allocations;
    const data = allocation!.data as { cookie: string; sessid: string; pending: CanonicalEvent[] };
    expect(new TextDecoder().decode(out.toClient[0])).toBe(
      `RNG ${data.sessid} 127.77.1.1:40000 CKI ${data.cookie} bob@yahoo Bob%20Y\r\n`,
    );
    // Typing joins the ring that is waiting; so does a second message. The end of typing writes nothing.
    const typing: CanonicalEvent = { kind: 'typing', from: bobYahoo, to: alice, state: 'composing' };
    expect(session.affinity(typing)).toBe(1);
    expect(session.deliver(typing).toClient).toEqual([]);
    session.deliver({ ...im, id: 'm2', text: 'are you there?' });
    expect(session.deliver({ ...typing, state: 'paused' })).toEqual({
      toClient: [],
      toServer: [],
      events: [],
    });
    expect(gateway.allocations).toHaveLength(1);
    expect(data.pending.map((e) => e.kind)).toEqual(['im', 'typing', 'im']);
    // Typing from a buddy with no conversation rings the client in, as a message does.
    const carolTyping: CanonicalEvent = { kind: 'typing', from: carolAol, to: alice, state: 'composing' };
    expect(session.affinity(carolTyping)).toBe(1);
    expect(new TextDecoder().decode(session.deliver(carolTyping).toClient[0])).toMatch(
      /^RNG \d+ 127\.77\.1\.1:40001 CKI [\d.]+ carol@aol /,
    );
    expect(gateway.allocations).toHaveLength(2);
    // A ring the client never answered gives its endpoint back when the session ends.
    session.close('client closed');
    expect(gateway.released).toEqual([
      { host: '127.77.1.1', port: 40000 },
      { host: '127.77.1.1', port: 40001 },
    ]);
  });
});
