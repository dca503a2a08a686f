import { describe, expect, it } from 'vitest';
import { decodeFrame, MsnpTranslator, personalMessageText } from '../src/index.js';
import { eventsOf, feed, loginMsnp12, testGateway } from './session-harness.js';

/**
 * Inputs `npm run fuzz` found that made the codec throw untyped errors, each cut down to the
 * smallest that still failed. Every one was written here, and seen to fail, before the fix.
 */
const enc = new TextEncoder();
const ubx = (passport: string, xml: string) => `UBX ${passport} ${enc.encode(xml).length}\r\n${xml}`;

describe('fuzz regressions: MSNP', () => {
  // The issue: "A character reference above U+10FFFF throws an untyped RangeError in the PSM
  // parser; in the gateway it closes the connection of every MSN user who has that contact."
  it('reads a personal message with a character reference above U+10FFFF (seed 1, input 38043)', () => {
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
