import { isCrossTalkError, MalformedFrameError } from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { decodeFrame, MsnpTranslator, personalMessageText } from '../src/index.js';
import { eventsOf, feed, loginMsnp12, testGateway } from './session-harness.js';

/**
 * Inputs `npm run fuzz` found that made the codec throw untyped errors, each cut down to the
 * smallest that still failed. Every one was written here, and seen to fail, before the fix.
 */
const enc = new TextEncoder();
const ubx = (passport: string, xml: string) => `UBX ${passport} ${enc.encode(xml).length}\r\n${xml}`;

const uux = (trid: number, xml: string) => `UUX ${trid} ${enc.encode(xml).length}\r\n${xml}`;

describe('fuzz regressions: MSNP', () => {
  // The issue: "A character reference above U+10FFFF throws an untyped RangeError in the PSM
  // parser; in the gateway it closes the connection of every MSN user who has that contact."
  it('reads a personal message with a character reference above U+10FFFF (seed 99, input 187406)', () => {
    expect(personalMessageText('<Data><PSM>&#1114112;</PSM></Data>')).toBe('\uFFFD');
    expect(personalMessageText('<Data><PSM>a&#x110000;b</PSM></Data>')).toBe('a\uFFFDb');
    expect(personalMessageText('<Data><PSM>&#99999999999999999999;</PSM></Data>')).toBe('\uFFFD');
    // Surrogates and NUL are not characters XML may refer to either (XML 1.0 §4.1, production Char).
    expect(personalMessageText('<Data><PSM>&#xD800;&#0;</PSM></Data>')).toBe('\uFFFD\uFFFD');
    expect(personalMessageText('<Data><PSM>&#x1F600;</PSM></Data>')).toBe('\u{1F600}');
  });

  it('translates the buddy UBX carrying it', () => {
    const t = new MsnpTranslator({ dialect: 12 });
    const frame = decodeFrame(
      enc.encode(ubx('bob@example.com', '<Data><PSM>&#x110000;</PSM></Data>')),
      'server',
    );
    expect(t.toEvents(frame, 'server')).toEqual([
      {
        kind: 'presence',
        from: { user: 'bob@example.com', network: 'msn' },
        status: 'online',
        text: '\uFFFD',
      },
    ]);
  });

  it("keeps the user's own connection open when its client sets such a personal message (seed 99, input 29671)", () => {
    const session = testGateway().open();
    loginMsnp12(session, 'alice@example.com');
    const line = uux(5, '<Data><PSM>&#x7FFFFFFF;</PSM><CurrentMedia></CurrentMedia></Data>');
    const out = feed(session, 'client', line);
    expect(out.toServer).toBe(line);
    expect(eventsOf(out.events, 'closed')).toEqual([]);
    expect(eventsOf(out.events, 'self').map((e) => e.event)).toMatchObject([
      { kind: 'presence', text: '\uFFFD' },
    ]);
  });

  it('keeps the connection of the user who has that contact open', () => {
    const session = testGateway().open();
    loginMsnp12(session, 'alice@example.com');
    const line = ubx('bob@example.com', '<Data><PSM>&#1114112;</PSM><CurrentMedia></CurrentMedia></Data>');
    const out = feed(session, 'server', line);
    expect(out.toClient).toBe(line);
    expect(eventsOf(out.events, 'closed')).toEqual([]);
    expect(session.state).toBe('verified');
  });
});

/**
 * The issue: "a translator failure on a frame from the server about a contact must not close the
 * connection of every user with that contact". The MSNP translator reads whatever framed (it keeps
 * what it does not understand raw), so the failure is simulated where translation asks the gateway
 * about a contact: `isForeign` throws for one passport, typed (a rule the gateway enforces) and
 * untyped (a bug).
 */
describe('a server frame the MSNP session cannot translate', () => {
  const mallory = (error: Error) =>
    testGateway({
      isForeign: (a) => {
        if (a.user.startsWith('mallory')) throw error;
        return a.network !== 'msn';
      },
    }).open();

  it.each([
    ['typed', new MalformedFrameError('msnp', 'cannot translate this contact')],
    ['untyped', new TypeError('a bug')],
  ])(
    'goes to the client untouched with an untranslated event (%s failure), and the session goes on',
    (_kind, error) => {
      const session = mallory(error);
      loginMsnp12(session, 'alice@example.com');
      const line = 'NLN NLN mallory@yahoo Mallory 0\r\n';
      const out = feed(session, 'server', line);
      expect(out.toClient).toBe(line);
      const [untranslated, ...rest] = out.events;
      expect(rest).toEqual([]);
      expect(untranslated).toMatchObject({ type: 'untranslated', direction: 'server' });
      expect(isCrossTalkError((untranslated as { error: unknown }).error)).toBe(true);
      expect(session.state).toBe('verified');
      const next = feed(session, 'server', 'NLN AWY bob@example.com Bob 0\r\n');
      expect(eventsOf(next.events, 'inbound').map((e) => e.event.kind)).toEqual(['presence']);
    },
  );
});
