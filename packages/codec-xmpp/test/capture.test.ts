import {
  bytesEqual,
  type CanonicalEvent,
  concatBytes,
  type Direction,
  eventToJson,
  MemoryCookieTable,
  type SessionContext,
  type SessionEvent,
} from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { xmpp } from '../src/index.js';
import { captureRuns, jabberStreams, segmentsOf } from './capture.js';

const NOW = 1_500_000_000_000;
const codec = xmpp();

/** Every frame of one stream, both directions in capture order; a fresh framer after each hole. */
function eventsOf(stream: number): { direction: Direction; event: unknown }[] {
  const s = jabberStreams().find((x) => x.stream === stream)!;
  let n = 0;
  const translator = codec.createTranslator({ now: () => NOW, newId: () => `gen${++n}` });
  const framers = { client: codec.createFramer('client'), server: codec.createFramer('server') };
  const out: { direction: Direction; event: unknown }[] = [];
  for (const seg of segmentsOf(s)) {
    if (seg.hole) {
      framers[seg.direction] = codec.createFramer(seg.direction);
      continue;
    }
    for (const raw of framers[seg.direction].push(seg.bytes)) {
      const frame = codec.frames.decode(raw, seg.direction);
      for (const e of translator.toEvents(frame, seg.direction))
        out.push({ direction: seg.direction, event: eventToJson(e) });
    }
  }
  return out;
}

describe('the real capture nDPI_jabber.pcap', () => {
  it('has the streams the issue describes, two of them with holes', () => {
    const streams = jabberStreams();
    expect(streams.length).toBe(7);
    const withHoles = streams.filter((s) => segmentsOf(s).some((g) => g.hole)).map((s) => s.stream);
    expect(withHoles).toEqual([3, 5]);
  });

  it('decodes both directions of every stream with no error, and re-encodes every frame byte-identically', () => {
    let frames = 0;
    for (const run of captureRuns()) {
      const framer = codec.createFramer(run.direction);
      const raws = framer.push(run.bytes);
      expect(framer.error).toBeUndefined();
      framer.end();
      expect(bytesEqual(concatBytes(raws), run.bytes)).toBe(true);
      for (const raw of raws) {
        const again = codec.frames.encode(codec.frames.decode(raw, run.direction));
        expect(Buffer.from(again).toString()).toBe(Buffer.from(raw).toString());
        frames++;
      }
    }
    expect(frames).toBe(143);
  });

  it('stream 5: roster items, subscription presences, chat states and chat messages as canonical events', () => {
    expect(eventsOf(5)).toEqual([
      // Pidgin adds chatback to its roster (RFC 6121 §2.3) ...
      {
        direction: 'client',
        event: {
          kind: 'roster',
          owner: 'tom@cs-xmpp.lan',
          items: [
            { address: 'chatback@cs-xmpp.lan', groups: ['cs-xmpp'], subscription: 'none', pending: false },
          ],
        },
      },
      {
        direction: 'server',
        event: {
          kind: 'roster',
          owner: 'tom@cs-xmpp.lan',
          items: [
            { address: 'chatback@cs-xmpp.lan', groups: ['cs-xmpp'], subscription: 'none', pending: false },
          ],
        },
      },
      // ... asks for a subscription (§3.1) ...
      {
        direction: 'client',
        event: { kind: 'buddy-request', from: 'tom@cs-xmpp.lan', to: 'chatback@cs-xmpp.lan' },
      },
      {
        direction: 'server',
        event: {
          kind: 'roster',
          owner: 'tom@cs-xmpp.lan',
          items: [
            { address: 'chatback@cs-xmpp.lan', groups: ['cs-xmpp'], subscription: 'none', pending: true },
          ],
        },
      },
      {
        direction: 'server',
        event: {
          kind: 'roster',
          owner: 'tom@cs-xmpp.lan',
          items: [
            { address: 'chatback@cs-xmpp.lan', groups: ['cs-xmpp'], subscription: 'to', pending: false },
          ],
        },
      },
      // ... is approved, sees chatback online ...
      {
        direction: 'server',
        event: {
          kind: 'buddy-response',
          from: 'chatback@cs-xmpp.lan',
          to: 'tom@cs-xmpp.lan',
          accepted: true,
        },
      },
      { direction: 'server', event: { kind: 'presence', from: 'chatback@cs-xmpp.lan', status: 'online' } },
      // ... and chats, with XEP-0085 chat states.
      {
        direction: 'client',
        event: { kind: 'typing', from: 'tom@cs-xmpp.lan', to: 'chatback@cs-xmpp.lan', state: 'composing' },
      },
      {
        direction: 'client',
        event: {
          kind: 'im',
          id: 'purplebea68aeb',
          from: 'tom@cs-xmpp.lan',
          to: 'chatback@cs-xmpp.lan',
          text: 'hey',
          sentAt: NOW,
        },
      },
      {
        direction: 'client',
        event: { kind: 'typing', from: 'tom@cs-xmpp.lan', to: 'chatback@cs-xmpp.lan', state: 'active' },
      },
      {
        direction: 'server',
        event: {
          kind: 'im',
          id: 'purplebea68aeb',
          from: 'chatback@cs-xmpp.lan',
          to: 'tom@cs-xmpp.lan',
          text: 'hey',
          sentAt: NOW,
        },
      },
    ]);
  });

  it('stream 0: the roster result and the own presence echo; MUC traffic in stream 5 gives nothing', () => {
    expect(eventsOf(0)).toEqual([
      { direction: 'server', event: { kind: 'roster', owner: 'tom@cs-xmpp.lan', items: [] } },
      { direction: 'client', event: { kind: 'presence', from: 'tom@cs-xmpp.lan', status: 'online' } },
      { direction: 'server', event: { kind: 'presence', from: 'tom@cs-xmpp.lan', status: 'online' } },
    ]);
  });

  describe('through a proxy session', () => {
    const context = (): SessionContext => ({
      connectionId: 'c1',
      target: { host: '127.0.0.1', port: 5222 },
      isForeign: (a) => ['aol', 'icq', 'msn', 'yahoo'].includes(a.network),
      foreignRoster: () => [],
      cookies: new MemoryCookieTable(),
      endpoints: {
        allocate: () => {
          throw new Error('no virtual endpoints here');
        },
        release: () => {},
      },
      now: () => NOW,
      newId: () => 'id',
    });

    function replay(stream: number) {
      const session = codec.openSession(context());
      const events: SessionEvent[] = [];
      const sent = { client: [] as Uint8Array[], server: [] as Uint8Array[] };
      const received = { client: [] as Uint8Array[], server: [] as Uint8Array[] };
      for (const seg of segmentsOf(jabberStreams().find((s) => s.stream === stream)!)) {
        const out =
          seg.direction === 'client' ? session.fromClient(seg.bytes) : session.fromServer(seg.bytes);
        sent[seg.direction].push(seg.bytes);
        received.server.push(...out.toServer);
        received.client.push(...out.toClient);
        events.push(...out.events);
      }
      return { session, events, sent, received };
    }

    it('stream 0 (DIGEST-MD5, bind): identified, then verified as tom; every byte relayed unchanged', () => {
      const { session, events, sent, received } = replay(0);
      const types = events.map((e) => e.type);
      expect(types.slice(0, 2)).toEqual(['identified', 'verified']);
      expect(events[0]).toEqual({ type: 'identified', address: { user: 'tom', network: 'cs-xmpp.lan' } });
      expect(events[1]).toEqual({ type: 'verified', address: { user: 'tom', network: 'cs-xmpp.lan' } });
      expect(events.filter((e) => e.type === 'roster')).toEqual([
        { type: 'roster', owner: { user: 'tom', network: 'cs-xmpp.lan' }, items: [], merged: [] },
      ]);
      const self = events.filter((e) => e.type === 'self').map((e) => (e as { event: CanonicalEvent }).event);
      expect(self).toEqual([
        { kind: 'presence', from: { user: 'tom', network: 'cs-xmpp.lan' }, status: 'online' },
      ]);
      expect(session.state).toBe('verified');
      expect(bytesEqual(concatBytes(received.server), concatBytes(sent.client))).toBe(true);
      expect(bytesEqual(concatBytes(received.client), concatBytes(sent.server))).toBe(true);
    });

    it('stream 4: the SASL failure is login-failed, and the session never verifies', () => {
      const { session, events } = replay(4);
      expect(events).toEqual([
        { type: 'identified', address: { user: 'tom', network: 'cs-xmpp.lan' } },
        {
          type: 'login-failed',
          address: { user: 'tom', network: 'cs-xmpp.lan' },
          code: 'not-authorized',
          message: 'Invalid username or password',
        },
      ]);
      expect(session.state).toBe('identified');
    });
  });
});
