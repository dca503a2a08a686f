import { describe, expect, it } from 'vitest';
import {
  addressEquals,
  addressKey,
  addressToNative,
  defaultIsForeign,
  defineNetworkRules,
  formatAddress,
  isCrossTalkError,
  nativeToAddress,
  normalizeAddress,
  parseAddress,
} from '../src/index.js';

describe('parseAddress', () => {
  const valid: [string, string, string][] = [
    ['alice@aol', 'alice', 'aol'],
    ['Alice Smith@aol', 'Alice Smith', 'aol'],
    ['someone@mac.com@aol', 'someone@mac.com', 'aol'],
    ['123456789@icq', '123456789', 'icq'],
    ['bob_99@yahoo', 'bob_99', 'yahoo'],
    ['a@hotmail.com@msn', 'a@hotmail.com', 'msn'],
    ['carol@jabber.org', 'carol', 'jabber.org'],
    ['dave@localhost', 'dave', 'localhost'],
    ['émile@example.net', 'émile', 'example.net'],
  ];
  for (const [input, user, network] of valid) {
    it(`accepts ${input}`, () => {
      expect(parseAddress(input)).toEqual({ user, network });
      expect(formatAddress(parseAddress(input))).toBe(input);
    });
  }

  const invalid: [string, RegExp][] = [
    ['', /empty/],
    ['alice', /missing "@network"/],
    ['alice@', /empty network/],
    ['@aol', /empty user/],
    ['alice@AOL', /lower-case network id/],
    ['al!ce@aol', /AIM screen names/],
    [' alice@aol', /leading or trailing spaces/],
    ['12ab@icq', /UINs/],
    ['1234@icq', /UINs/],
    ['bob smith@yahoo', /Yahoo ids/],
    ['bob@msn', /e-mail/],
    ['a@b@c.com@msn', /e-mail/],
    ["o'brien@jabber.org", /RFC 7622/],
    ['a b@jabber.org', /RFC 7622/],
    ['carol@jab_ber.org', /domain name/],
    ['x@net work', /network id/],
    ['a'.repeat(4000) + '@aol', /longer than/],
  ];
  for (const [input, reason] of invalid) {
    it(`rejects ${JSON.stringify(input.slice(0, 30))} saying ${reason.source}`, () => {
      try {
        parseAddress(input);
        expect.unreachable('accepted');
      } catch (error) {
        expect(isCrossTalkError(error, 'ERR_INVALID_ADDRESS')).toBe(true);
        expect((error as Error).name).toBe('InvalidAddressError');
        expect((error as Error).message).toMatch(reason);
      }
    });
  }
});

describe('normalisation and equality', () => {
  it('AIM screen names compare case- and space-insensitively', () => {
    expect(addressEquals(parseAddress('Alice Smith@aol'), parseAddress('alicesmith@aol'))).toBe(true);
    expect(addressKey(parseAddress('ALICE SMITH@aol'))).toBe('alicesmith@aol');
  });
  it('Yahoo ids and MSN passports lower-case', () => {
    expect(addressEquals(parseAddress('Bob@yahoo'), parseAddress('bob@yahoo'))).toBe(true);
    expect(addressEquals(parseAddress('A@Hotmail.com@msn'), parseAddress('a@hotmail.com@msn'))).toBe(true);
  });
  it('XMPP localparts case-fold and NFC-normalise, domains lower-case (RFC 7622)', () => {
    expect(normalizeAddress(parseAddress('Carol@Jabber.ORG'))).toEqual({
      user: 'carol',
      network: 'jabber.org',
    });
    expect(
      addressEquals(parseAddress('e\u0301mile@example.net'), parseAddress('\u00e9mile@example.net')),
    ).toBe(true);
  });
  it('different networks never compare equal', () => {
    expect(addressEquals(parseAddress('bob@yahoo'), parseAddress('bob@aol'))).toBe(false);
  });
  it('ICQ UINs are not case-folded but are distinct from AIM', () => {
    expect(addressKey(parseAddress('123456@icq'))).toBe('123456@icq');
  });
  it('third-party networks define their own rules', () => {
    defineNetworkRules('skypeish', {
      checkUser: (u) => (/^[a-z]+$/.test(u) ? undefined : 'lower-case letters only'),
    });
    expect(parseAddress('abc@skypeish')).toEqual({ user: 'abc', network: 'skypeish' });
    expect(() => parseAddress('ABC@skypeish')).toThrow(/lower-case letters only/);
    expect(() => defineNetworkRules('aol', {})).toThrow(/built in/);
  });
  it('a key remembered before new rules is worked out again under them', () => {
    // addressKey remembers the last addresses it keyed (the same object asked again): the rules'
    // generation must invalidate that, or a user would keep a key the new rules no longer give.
    const carol = { user: 'Carol', network: 'rulesnet' };
    expect(addressKey(carol)).toBe('Carol@rulesnet'); // generic rules: the name as written
    expect(addressKey(carol)).toBe('Carol@rulesnet'); // now remembered
    defineNetworkRules('rulesnet', { normalizeUser: (u) => u.toLowerCase() });
    expect(addressKey(carol)).toBe('carol@rulesnet');
    expect(addressEquals(carol, { user: 'CAROL', network: 'rulesnet' })).toBe(true);
  });
});

describe('native names', () => {
  const foreignToAim = defaultIsForeign(['aol', 'icq']);
  it('a foreign buddy in an AIM list is user@network', () => {
    expect(nativeToAddress('bob@yahoo', 'aol', foreignToAim)).toEqual({ user: 'bob', network: 'yahoo' });
    expect(nativeToAddress('a@hotmail.com@msn', 'aol', foreignToAim)).toEqual({
      user: 'a@hotmail.com',
      network: 'msn',
    });
  });
  it('an own-network name with an @ stays native', () => {
    expect(nativeToAddress('someone@mac.com', 'aol', foreignToAim)).toEqual({
      user: 'someone@mac.com',
      network: 'aol',
    });
    expect(nativeToAddress('alice@aol', 'aol', foreignToAim)).toEqual({ user: 'alice@aol', network: 'aol' });
  });
  it('round-trips through addressToNative', () => {
    for (const input of ['bob@yahoo', 'a@hotmail.com@msn', 'carl']) {
      const address = nativeToAddress(input, 'aol', foreignToAim);
      expect(addressToNative(address, ['aol', 'icq'])).toBe(input);
    }
  });
});
