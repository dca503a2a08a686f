import { arbAddress, arbAolAddress, arbMsnAddress } from '@crosstalk/compliance';
import { type Address, address, formatAddress } from '@crosstalk/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addressToJid,
  bareJid,
  escapeLocalpart,
  jidToAddress,
  parseJid,
  unescapeLocalpart,
} from '../src/index.js';

describe('JIDs and addresses', () => {
  it('parses JIDs at the first "/" and the "@" before it (RFC 7622 §3.1)', () => {
    expect(parseJid('tom@cs-xmpp.lan/darkstar')).toEqual({
      local: 'tom',
      domain: 'cs-xmpp.lan',
      resource: 'darkstar',
    });
    expect(parseJid('chat@conference.x/tom@cs-xmpp.lan')).toEqual({
      local: 'chat',
      domain: 'conference.x',
      resource: 'tom@cs-xmpp.lan',
    });
    expect(parseJid('cs-xmpp.lan')).toEqual({ domain: 'cs-xmpp.lan' });
    expect(parseJid('@x')).toBeUndefined();
    expect(parseJid('a@b@c')).toBeUndefined();
    expect(bareJid('a@b/c/d')).toBe('a@b');
  });

  it('maps JIDs to bare addresses; XMPP localparts stay as written', () => {
    expect(jidToAddress('alice@localhost/phone')).toEqual({ user: 'alice', network: 'localhost' });
    expect(jidToAddress('bob@yahoo')).toEqual({ user: 'bob', network: 'yahoo' });
    expect(jidToAddress('d\\27artagnan@jabber.org')).toEqual({
      user: 'd\\27artagnan',
      network: 'jabber.org',
    });
    expect(jidToAddress('cs-xmpp.lan')).toBeUndefined(); // a server, not a user
    expect(jidToAddress('notanumber@icq')).toBeUndefined(); // not a valid ICQ user
  });

  it('escapes foreign users per XEP-0106 only when they are not valid localparts', () => {
    const cases: [Address, string][] = [
      [{ user: 'bob', network: 'yahoo' }, 'bob@yahoo'],
      [{ user: 'alice', network: 'aol' }, 'alice@aol'],
      [{ user: 'a@hotmail.com', network: 'msn' }, 'a\\40hotmail.com@msn'],
      [{ user: 'Alice Smith', network: 'aol' }, 'Alice\\20Smith@aol'],
      [{ user: '123456', network: 'icq' }, '123456@icq'],
    ];
    for (const [a, jid] of cases) {
      expect(addressToJid(a)).toBe(jid);
      expect(jidToAddress(jid)).toEqual(a);
    }
  });

  it('XEP-0106 escaping round-trips, backslashes included (§4.2)', () => {
    expect(escapeLocalpart('c:\\net')).toBe('c\\3a\\net');
    expect(escapeLocalpart('c:\\5commas')).toBe('c\\3a\\5c5commas');
    expect(escapeLocalpart('space cadet')).toBe('space\\20cadet');
    expect(unescapeLocalpart('call\\20me\\20\\22ishmael\\22')).toBe('call me "ishmael"');
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...' "&\'/:<>@\\52c0afx'.split('')) }), (s) => {
        expect(unescapeLocalpart(escapeLocalpart(s))).toBe(s);
      }),
      { numRuns: 2000 },
    );
  });

  it('every valid address survives address -> JID -> address', () => {
    fc.assert(
      fc.property(fc.oneof(arbAddress, arbAolAddress, arbMsnAddress), (a) => {
        const jid = addressToJid(a);
        expect(parseJid(jid)?.domain).toBe(a.network);
        expect(jidToAddress(jid)).toEqual(a);
      }),
      { numRuns: 2000 },
    );
  });

  it('a foreign JID from a roster survives JID -> address -> JID', () => {
    for (const jid of ['bob@yahoo', 'a\\40hotmail.com@msn', 'Alice\\20Smith@aol', '123456@icq']) {
      const a = jidToAddress(jid)!;
      expect(formatAddress(a)).toBe(formatAddress(address(a.user, a.network)));
      expect(addressToJid(a)).toBe(jid);
    }
  });
});
