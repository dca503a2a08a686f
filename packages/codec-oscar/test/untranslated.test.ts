import {
  type Address,
  isCrossTalkError,
  MalformedFrameError,
  MemoryCookieTable,
  type SessionContext,
  toHex,
} from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { textToFragments } from '../src/icbm/message-text.js';
import { encodeFlap, type FlapFrame, oscar, snacFrame } from '../src/index.js';

/**
 * The issue: "a translator failure on a frame from the server about a contact must not close the
 * connection of every user with that contact". OSCAR decoding keeps what it cannot structure raw,
 * so the failure is simulated where translation asks the gateway about a contact: `isForeign`
 * throws for one screen name, typed (a rule the gateway enforces) and untyped (a bug).
 */
function context(error: Error, cookies: MemoryCookieTable): SessionContext {
  let id = 0;
  return {
    connectionId: 'c1',
    target: { host: '127.0.0.1', port: 5190 },
    isForeign: (a: Address) => {
      if (a.user === 'mallory') throw error;
      return a.network !== 'aol' && a.network !== 'icq';
    },
    foreignRoster: () => [],
    cookies,
    endpoints: { allocate: () => ({ host: '127.0.0.1', port: 1 }), release: () => {} },
    now: () => 1_700_000_000_000,
    newId: () => `id${++id}`,
  };
}

const cookie = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
const flap = (frame: FlapFrame, seq: number) => encodeFlap({ ...frame, seq });
const imFrom = (screenName: string) =>
  snacFrame(0x04, 0x07, {
    type: 'icbm-to-client',
    cookie: '0102030405060708',
    channel: 1,
    sender: { screenName, warning: 0, tlvs: [] },
    tlvs: [{ type: 2, fragments: textToFragments('hi') }],
  });

describe('a server frame the OSCAR session cannot translate', () => {
  it.each([
    ['typed', new MalformedFrameError('oscar', 'cannot translate this contact')],
    ['untyped', new TypeError('a bug')],
  ])(
    'goes to the client untouched with an untranslated event (%s failure), and the session goes on',
    (_kind, error) => {
      const cookies = new MemoryCookieTable();
      cookies.record('oscar', toHex(cookie), { user: 'alice', network: 'aol' });
      const session = oscar().openSession(context(error, cookies));
      session.fromServer(
        flap({ channel: 1, seq: 0, payload: { type: 'signon', version: 1, tlvs: [] } }, 100),
      );
      session.fromClient(
        flap(
          { channel: 1, seq: 0, payload: { type: 'signon', version: 1, tlvs: [{ type: 6, value: cookie }] } },
          7,
        ),
      );
      const online = session.fromClient(
        flap(snacFrame(0x01, 0x02, { type: 'raw', bytes: Uint8Array.of(0, 1, 0, 4) }), 8),
      );
      expect(online.events.map((e) => e.type)).toContain('verified');
      const raw = flap(imFrom('mallory@yahoo'), 101);
      const out = session.fromServer(raw);
      expect(out.toClient).toEqual([raw]);
      expect(out.events).toHaveLength(1);
      expect(out.events[0]).toMatchObject({ type: 'untranslated', direction: 'server' });
      expect(isCrossTalkError((out.events[0] as { error: unknown }).error)).toBe(true);
      expect(session.state).toBe('verified');
      const next = session.fromServer(flap(imFrom('bobby'), 102));
      expect(next.events.map((e) => e.type)).toEqual(['inbound']);
    },
  );
});
