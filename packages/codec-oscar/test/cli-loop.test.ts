import {
  arbAolAddress,
  arbIcqAddress,
  arbMsnAddress,
  arbText,
  arbXmppAddress,
  arbYahooAddress,
} from '@crosstalk/compliance';
import {
  type Address,
  bytesEqual,
  type CanonicalEvent,
  type Direction,
  eventFromJson,
  eventToJson,
  isCrossTalkError,
  toHex,
} from '@crosstalk/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { oscar } from '../src/index.js';
import { pcapGoldens, transcriptGoldens } from './goldens.js';

/**
 * What `crosstalk decode` and `crosstalk encode --protocol oscar` do, generically: createFramer ->
 * frames.decode -> toJson -> JSON text -> fromJson -> encode, and translator.toEvents /
 * fromEvent. If these hold, the CLI works on OSCAR without knowing anything about it.
 */
const codec = oscar();

describe('the generic decode loop over real streams', () => {
  for (const g of [...pcapGoldens(), ...transcriptGoldens()]) {
    it(`${g.name}: frames print as JSON lines that encode back to the same bytes; events are valid JSON`, () => {
      const framer = codec.createFramer(g.direction);
      const translator = codec.createTranslator(
        g.name.startsWith('pcap') ? { self: { user: 'ann', network: 'aol' } } : {},
      );
      let frames = 0;
      for (const raw of framer.push(g.bytes)) {
        const frame = codec.frames.decode(raw, g.direction);
        const events = translator.toEvents(frame, g.direction).map(eventToJson);
        const line = JSON.stringify({ frame: codec.frames.toJson(frame), events, bytes: toHex(raw) });
        const parsed = JSON.parse(line) as { frame: unknown; events: unknown[] };
        expect(bytesEqual(codec.frames.encode(codec.frames.fromJson(parsed.frame)), raw)).toBe(true);
        for (const e of parsed.events) eventFromJson(e);
        frames++;
      }
      framer.end();
      expect(frames).toBeGreaterThan(0);
    });
  }

  it('fromJson rejects malformed frames with a typed error', () => {
    for (const bad of [
      {},
      { channel: 2, seq: 70000, payload: { type: 'raw', bytes: { $hex: '' } } },
      {
        channel: 2,
        seq: 1,
        payload: { type: 'snac', family: 4, subtype: 6, flags: 0, requestId: 0, body: { type: 'nope' } },
      },
      {
        channel: 2,
        seq: 1,
        payload: {
          type: 'snac',
          family: 4,
          subtype: 6,
          flags: 0,
          requestId: 0,
          body: { type: 'icbm-ack', cookie: 'x', channel: 1 },
        },
      },
    ]) {
      let error: unknown;
      try {
        codec.frames.encode(codec.frames.fromJson(bad));
      } catch (e) {
        error = e;
      }
      expect(isCrossTalkError(error, 'ERR_MALFORMED_FRAME'), JSON.stringify(bad)).toBe(true);
    }
  });
});

// Everything that is not AIM or ICQ is foreign here (the gateway's isForeign decides in real life).
const isForeign = (a: Address) => a.network !== 'aol' && a.network !== 'icq';
const oscarUser = fc.oneof(arbAolAddress, arbIcqAddress);
const anyone = fc.oneof(arbAolAddress, arbIcqAddress, arbYahooAddress, arbMsnAddress, arbXmppAddress);

/** fromEvent as `direction` sends it, through bytes, back to events on the other side. */
function roundTrip(event: CanonicalEvent, direction: Direction, self: Address): CanonicalEvent[] {
  const sender = codec.createTranslator({ isForeign, self });
  const receiver = codec.createTranslator({ isForeign, self });
  const out: CanonicalEvent[] = [];
  for (const frame of sender.fromEvent(event, direction)) {
    const bytes = codec.frames.encode(frame);
    const framer = codec.createFramer(direction);
    for (const raw of framer.push(bytes))
      out.push(...receiver.toEvents(codec.frames.decode(raw, direction), direction));
    framer.end();
  }
  return out.map((e) => eventFromJson(JSON.parse(JSON.stringify(eventToJson(e)))));
}

describe('canonical events through OSCAR frames and back (crosstalk encode, then decode)', () => {
  it('an IM, either direction, keeps its addresses and text; markup-looking text is escaped and comes back', () => {
    fc.assert(
      fc.property(
        oscarUser,
        anyone,
        arbText(),
        fc.constantFrom<Direction>('client', 'server'),
        (me, other, text, direction) => {
          const from = direction === 'client' ? me : other;
          const to = direction === 'client' ? other : me;
          const event: CanonicalEvent = { kind: 'im', id: 'id-1', from, to, text, sentAt: 0 };
          const [back, ...rest] = roundTrip(event, direction, me);
          expect(rest).toEqual([]);
          expect(back).toMatchObject({ kind: 'im', from, to, text: text.replace(/\r\n/g, '\n') });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('an IM with HTML carries the markup and a plain rendering', () => {
    const me = { user: 'alice', network: 'aol' };
    const html = '<HTML><BODY><B>bold</B> &amp; <I>\u263a</I><BR>next</BODY></HTML>';
    const [back] = roundTrip(
      {
        kind: 'im',
        id: 'x',
        from: { user: 'bob', network: 'yahoo' },
        to: me,
        text: 'ignored',
        html,
        sentAt: 0,
      },
      'server',
      me,
    );
    expect(back).toMatchObject({ html, text: 'bold & \u263a\nnext' });
  });

  it('typing, presence, buddy requests and responses keep what OSCAR carries', () => {
    const me = { user: 'alice', network: 'aol' };
    const bob = { user: 'bob', network: 'yahoo' };
    const now = Date.now();
    const cases: [CanonicalEvent, Direction, Partial<CanonicalEvent>][] = [
      [{ kind: 'typing', from: bob, to: me, state: 'composing' }, 'server', { state: 'composing' }],
      [{ kind: 'typing', from: me, to: bob, state: 'paused' }, 'client', { state: 'paused' }],
      [{ kind: 'typing', from: bob, to: me, state: 'active' }, 'server', { state: 'active' }],
      [{ kind: 'presence', from: bob, status: 'away' }, 'server', { status: 'away' }],
      [{ kind: 'presence', from: bob, status: 'busy' }, 'server', { status: 'busy' }],
      [{ kind: 'presence', from: bob, status: 'online' }, 'server', { status: 'online' }],
      [{ kind: 'presence', from: bob, status: 'offline' }, 'server', { status: 'offline' }],
      [
        { kind: 'presence', from: me, status: 'away', text: 'out to lunch' },
        'client',
        { status: 'away', text: 'out to lunch' },
      ],
      [{ kind: 'presence', from: me, status: 'online' }, 'client', { status: 'online' }],
      [
        { kind: 'buddy-request', from: bob, to: me, message: 'add me' },
        'server',
        { from: bob, to: me, message: 'add me' },
      ],
      [
        { kind: 'buddy-request', from: me, to: bob, message: 'caf\u00e9?' },
        'client',
        { from: me, to: bob, message: 'caf\u00e9?' },
      ],
      [
        { kind: 'buddy-response', from: bob, to: me, accepted: true },
        'server',
        { from: bob, to: me, accepted: true },
      ],
      [
        { kind: 'buddy-response', from: me, to: bob, accepted: false, message: 'no' },
        'client',
        { accepted: false, message: 'no' },
      ],
    ];
    for (const [event, direction, expected] of cases) {
      const back = roundTrip(event, direction, me);
      expect(back.length, JSON.stringify(event)).toBeGreaterThan(0);
      expect(back[0], JSON.stringify(event)).toMatchObject({ kind: event.kind, ...expected });
    }
    const idle = roundTrip(
      { kind: 'presence', from: bob, status: 'idle', idleSince: now - 5 * 60_000 },
      'server',
      me,
    )[0];
    expect(idle).toMatchObject({ status: 'idle' });
    expect(Math.abs((idle as { idleSince: number }).idleSince - (now - 5 * 60_000))).toBeLessThan(61_000);
  });

  it('a roster becomes a feedbag reply (server) or an insert inside an edit bracket (client), groups, aliases and pending kept', () => {
    const me = { user: 'alice', network: 'aol' };
    const roster: CanonicalEvent = {
      kind: 'roster',
      owner: me,
      items: [
        {
          address: { user: 'bob', network: 'yahoo' },
          name: 'Bob',
          groups: ['Friends'],
          subscription: 'to',
          pending: false,
        },
        {
          address: { user: '123456', network: 'icq' },
          groups: ['Friends', 'Work'],
          subscription: 'none',
          pending: true,
        },
        {
          address: { user: 'Carol Q', network: 'aol' },
          groups: ['Work'],
          subscription: 'to',
          pending: false,
        },
      ],
    };
    for (const direction of ['server', 'client'] as const) {
      const sender = codec.createTranslator({ isForeign, self: me });
      const frames = sender.fromEvent(roster, direction);
      const subtypes = frames.map((f) => (f.payload.type === 'snac' ? f.payload.subtype : -1));
      expect(subtypes).toEqual(direction === 'server' ? [0x06] : [0x11, 0x08, 0x12]);
      const back = roundTrip(roster, direction, me).filter((e) => e.kind === 'roster');
      expect(back).toHaveLength(1);
      expect(back[0]).toEqual(roster);
    }
  });

  it('files and calls cannot be carried', () => {
    const t = codec.createTranslator();
    const offer: CanonicalEvent = {
      kind: 'file-offer',
      id: 'f',
      from: { user: 'a', network: 'yahoo' },
      to: { user: 'alice', network: 'aol' },
      name: 'x.txt',
      size: 1,
    };
    expect(() => t.fromEvent(offer, 'server')).toThrow(
      expect.objectContaining({ code: 'ERR_UNSUPPORTED_EVENT' }),
    );
  });
});
