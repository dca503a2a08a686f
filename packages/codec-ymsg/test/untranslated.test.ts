import {
  type Address,
  isCrossTalkError,
  MemoryCookieTable,
  type SessionContext,
  type SessionOutput,
} from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { encodePacket, YmsgService as S, ymsg, ymsgPacket } from '../src/index.js';
import { concat, transcript } from './helpers.js';

/**
 * The issue: "a translator failure on a frame from the server about a contact must not close the
 * connection of every user with that contact". Here for real: a buddy's message with more
 * key/value pairs than the codec's `maxPairs` cap (a typed `MalformedFrameError` from the packet
 * decoder); and, simulated where translation asks the gateway about a contact, a bug.
 */
function context(isForeign: (a: Address) => boolean): SessionContext {
  let id = 0;
  return {
    connectionId: 'c1',
    target: { host: '127.0.0.1', port: 5050 },
    isForeign,
    foreignRoster: () => [],
    cookies: new MemoryCookieTable(),
    endpoints: { allocate: () => ({ host: '127.0.0.1', port: 1 }), release: () => {} },
    now: () => 1_700_000_000_000,
    newId: () => `e${++id}`,
  };
}

const header = { version: 0x0a00, status: 1, sessionId: 0xc84bf0fa };
const message = (from: string, extra = 0) =>
  encodePacket(
    ymsgPacket(
      S.MESSAGE,
      [
        [4, from],
        [5, 'dave'],
        [14, 'hi'],
        ...Array.from({ length: extra }, (_, i): [number, string] => [1000 + i, 'x']),
      ],
      header,
    ),
  );

function loggedIn(options: { maxPairs?: number }, isForeign: (a: Address) => boolean) {
  const session = ymsg(options).openSession(context(isForeign));
  for (const w of transcript('ymsg10_escargot')
    .filter((e) => e.conn === 'YMSG/dave')
    .slice(0, 6)) {
    if (w.direction === 'client') session.fromClient(w.bytes);
    else session.fromServer(w.bytes);
  }
  expect(session.state).toBe('verified');
  return session;
}

function expectPassedOn(out: SessionOutput, raw: Uint8Array): void {
  expect(concat(out.toClient)).toEqual(raw);
  expect(out.events).toHaveLength(1);
  expect(out.events[0]).toMatchObject({ type: 'untranslated', direction: 'server' });
  expect(isCrossTalkError((out.events[0] as { error: unknown }).error)).toBe(true);
}

describe('a server frame the YMSG session cannot translate', () => {
  it('goes to the client untouched with an untranslated event: a buddy message over maxPairs', () => {
    const session = loggedIn({ maxPairs: 64 }, (a) => a.network !== 'yahoo');
    const raw = message('erin', 100);
    expectPassedOn(session.fromServer(raw), raw);
    expect(session.state).toBe('verified');
    expect(session.fromServer(message('erin')).events.map((e) => e.type)).toEqual(['inbound']);
  });

  it('goes to the client untouched with an untranslated event: a bug translating it', () => {
    const session = loggedIn({}, (a) => {
      if (a.user === 'mallory') throw new TypeError('a bug');
      return a.network !== 'yahoo';
    });
    const raw = message('mallory@aol');
    expectPassedOn(session.fromServer(raw), raw);
    expect(session.state).toBe('verified');
    expect(session.fromServer(message('erin')).events.map((e) => e.type)).toEqual(['inbound']);
  });
});
