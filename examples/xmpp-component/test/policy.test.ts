import { NestingTooDeepError } from '@crosstalk/codec-xmpp';
import { FrameTooLargeError, InvalidEventError, parseAddress } from '@crosstalk/core';
import { AlreadyAttachedError, UserOfflineError } from '@crosstalk/gateway';
import { xml } from '@xmpp/component';
import { describe, expect, it } from 'vitest';
import {
  checkRecipient,
  checkSender,
  defaultNetworks,
  foreignAddress,
  foreignJid,
  SenderNotAllowedError,
  StanzaTranslator,
  stanzaErrorFor,
  UnknownForeignUserError,
} from '../src/index.js';

const DOMAIN = 'crosstalk.localhost';
const policy = {
  componentDomain: DOMAIN,
  userDomains: ['localhost'],
  networks: defaultNetworks(['aol', 'icq', 'msn', 'yahoo']),
};

describe('foreign users as JIDs on the component', () => {
  it('spells each address as codec-xmpp does in SOCKS mode, with the last @ written %, and reads it back', () => {
    const cases: [string, string][] = [
      ['bob@yahoo', 'bob%yahoo@crosstalk.localhost'],
      ['alice@aol', 'alice%aol@crosstalk.localhost'],
      ['Alice Smith@aol', 'Alice\\20Smith%aol@crosstalk.localhost'], // XEP-0106
      ['a@hotmail.com@msn', 'a\\40hotmail.com%msn@crosstalk.localhost'],
      ['a%b@hotmail.com@msn', 'a%b\\40hotmail.com%msn@crosstalk.localhost'], // a % of its own
      ['123456@icq', '123456%icq@crosstalk.localhost'],
      ['crosstalk@crosstalk', 'crosstalk%crosstalk@crosstalk.localhost'], // the node's /plugins
    ];
    for (const [address, jid] of cases) {
      expect(foreignJid(parseAddress(address), DOMAIN), address).toBe(jid);
      expect(foreignAddress(jid, DOMAIN), jid).toEqual(parseAddress(address));
      expect(foreignAddress(`${jid}/resource`, DOMAIN), jid).toEqual(parseAddress(address));
    }
  });

  it('reads nothing from a JID elsewhere, without user%network, or with a user the network refuses', () => {
    for (const jid of [
      'bob%yahoo@other.localhost',
      'bob@crosstalk.localhost',
      '%yahoo@crosstalk.localhost',
      'bob%@crosstalk.localhost',
      'crosstalk.localhost',
      'abc%icq@crosstalk.localhost', // ICQ users are UINs
      `${'a'.repeat(98)}%aol@crosstalk.localhost`, // AIM screen names are at most 97 characters
    ]) {
      expect(foreignAddress(jid, DOMAIN), jid).toBeUndefined();
    }
  });
});

describe('who may say what', () => {
  it('believes `from` only for users of the configured user domains', () => {
    expect(checkSender('carol@localhost/desk', policy)).toMatchObject({
      user: parseAddress('carol@localhost'),
      bare: 'carol@localhost',
      resource: 'desk',
    });
    expect(checkSender('Carol@LocalHost', policy).user).toEqual({ user: 'Carol', network: 'localhost' });
    for (const from of [
      undefined, // nobody
      'localhost', // the server itself
      'crosstalk.localhost', // the component's own domain
      'alice%aol@crosstalk.localhost', // a foreign user: only the component speaks for them
      'mallory@guests.localhost', // another virtual host
      'mallory@evil.localhost', // another component
      'eve@jabber.org/home', // a server elsewhere (s2s)
    ]) {
      expect(() => checkSender(from, policy), String(from)).toThrow(SenderNotAllowedError);
    }
  });

  it('takes `to` only as a user of a foreign network reachable here', () => {
    expect(checkRecipient('bob%yahoo@crosstalk.localhost/x', policy)).toEqual(parseAddress('bob@yahoo'));
    expect(checkRecipient('crosstalk%crosstalk@crosstalk.localhost', policy)).toEqual(
      parseAddress('crosstalk@crosstalk'),
    );
    for (const to of [
      undefined,
      'crosstalk.localhost',
      'carol%localhost@crosstalk.localhost', // the server's own users: not foreign
      'eve%jabber.org@crosstalk.localhost', // another XMPP server: s2s's business
      'bob%irc@crosstalk.localhost', // a network no codec defined
      'bob%yahoo@elsewhere.localhost',
    ]) {
      expect(() => checkRecipient(to, policy), String(to)).toThrow(UnknownForeignUserError);
    }
    const aimOnly = { ...policy, networks: ['aol'] };
    expect(() => checkRecipient('bob%yahoo@crosstalk.localhost', aimOnly)).toThrow(UnknownForeignUserError);
  });

  it('each refusal becomes its RFC 6120 stanza error', () => {
    expect(stanzaErrorFor(new SenderNotAllowedError('x'))).toEqual({ type: 'auth', condition: 'forbidden' });
    expect(stanzaErrorFor(new UnknownForeignUserError('x'))).toEqual({
      type: 'cancel',
      condition: 'item-not-found',
    });
    expect(stanzaErrorFor(new NestingTooDeepError(128))).toEqual({
      type: 'modify',
      condition: 'policy-violation',
    });
    expect(stanzaErrorFor(new FrameTooLargeError('xmpp', 300_000, 262_144)).condition).toBe(
      'policy-violation',
    );
    expect(stanzaErrorFor(new InvalidEventError('x')).condition).toBe('not-acceptable');
    expect(stanzaErrorFor(new UserOfflineError('x')).condition).toBe('service-unavailable');
    expect(stanzaErrorFor(new AlreadyAttachedError('x')).condition).toBe('conflict');
    expect(stanzaErrorFor(new Error('a bug'))).toEqual({
      type: 'cancel',
      condition: 'internal-server-error',
    });
  });
});

describe('stanzas <-> events', () => {
  const t = new StanzaTranslator(DOMAIN, { maxStanzaSize: 1024 });
  const bob = parseAddress('bob@yahoo');

  it('reads a stanza on the component stream as the client stanza it was', () => {
    const el = xml(
      'message',
      {
        xmlns: 'jabber:component:accept',
        from: 'carol@localhost/desk',
        to: 'bob%yahoo@crosstalk.localhost',
        type: 'chat',
        id: 'm1',
      },
      xml('body', {}, 'café ✓'),
    );
    const [event] = t.read(t.parse(el), bob);
    expect(event).toMatchObject({
      kind: 'im',
      id: 'm1',
      text: 'café ✓',
      to: bob,
      from: parseAddress('carol@localhost'),
    });
  });

  it('caps a stanza before reading it', () => {
    const el = xml('message', { to: 'bob%yahoo@crosstalk.localhost' }, xml('body', {}, 'x'.repeat(2000)));
    expect(() => t.parse(el)).toThrow(FrameTooLargeError);
  });

  it('writes an event from a foreign user as a stanza from their JID on the component', () => {
    const [el] = t.write({
      kind: 'presence',
      from: parseAddress('a@hotmail.com@msn'),
      to: parseAddress('carol@localhost'),
      status: 'away',
      text: 'brb',
    });
    expect(el!.toString()).toBe(
      `<presence from="a\\40hotmail.com%msn@crosstalk.localhost" to="carol@localhost"><show>away</show><status>brb</status></presence>`,
    );
  });
});
