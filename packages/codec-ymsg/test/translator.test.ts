import { arbEventOfKind } from '@crosstalk/compliance';
import { type CanonicalEvent, type Direction, eventToJson, fromHex } from '@crosstalk/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodePacket,
  encodePacket,
  htmlToYahooText,
  YmsgKey as K,
  parseYahooText,
  YmsgService as S,
  YmsgTranslator,
  ymsgPacket,
} from '../src/index.js';
import { OPENYMSG_PACKETS } from './fixtures/openymsg-ymsg16.js';
import { transcript } from './helpers.js';

const yahoo = (user: string) => ({ user, network: 'yahoo' });

/** Events of one transcript connection, both directions through one translator (as a proxy sees them). */
function connectionEvents(conn: string): { direction: Direction; event: CanonicalEvent }[] {
  const t = new YmsgTranslator({ now: () => 0 });
  return transcript('ymsg10_escargot')
    .filter((e) => e.conn === conn)
    .flatMap((e) =>
      t.toEvents(decodePacket(e.bytes), e.direction).map((event) => ({ direction: e.direction, event })),
    );
}

describe('YMSG translator on the Escargot YMSG10 transcript', () => {
  it("dave's connection: roster, presence, typing, messages both ways, his add request", () => {
    const events = connectionEvents('YMSG/dave');
    const summary = events.map(({ direction, event: e }) => {
      switch (e.kind) {
        case 'im':
          return `${direction} im ${e.from.user}>${e.to.user} ${e.text}`;
        case 'typing':
          return `${direction} typing ${e.from.user}>${e.to.user} ${e.state}`;
        case 'presence':
          return `${direction} presence ${e.from.user} ${e.status}${e.text ? ` "${e.text}"` : ''}`;
        case 'roster':
          return `${direction} roster ${e.owner.user}: ${e.items.map((i) => `${i.address.user}[${i.groups}]`).join(' ')}`;
        case 'buddy-request':
          return `${direction} request ${e.from.user}>${e.to.user}`;
        default:
          return `${direction} ${e.kind}`;
      }
    });
    expect(summary).toEqual([
      'server roster dave: erin[(No Group)]',
      'server presence erin offline', // LOGON after login lists erin with 13 = 0 (#0011)
      'server presence erin online',
      'server presence erin away "out for lunch"',
      'server presence erin online',
      'client typing dave>erin composing',
      'client im dave>erin Hello Erin, this is Dave over YMSG10!',
      'server im erin>dave Hi Dave \u263a',
      'client request dave>frank',
      'server presence frank online',
      'server presence frank online',
      'server presence frank online',
      'server presence erin online',
      'server roster dave: frank[Friends] erin[(No Group)]',
      'server presence erin online',
      'server presence frank online',
      'client presence dave offline',
    ]);
  });

  it('reads the recorded timestamps, the UTF-8 flag, Escargot add notices and the denial', () => {
    const erin = connectionEvents('YMSG/erin').map((x) => x.event);
    const im = erin.find((e) => e.kind === 'im' && e.from.user === 'dave');
    expect(im).toMatchObject({ text: 'Hello Erin, this is Dave over YMSG10!', sentAt: 0 });
    expect(erin).toContainEqual({
      kind: 'buddy-response',
      from: yahoo('frank'),
      to: yahoo('erin'),
      accepted: false,
      message: 'no thanks',
    });
    const frank = connectionEvents('YMSG/frank').map((x) => x.event);
    expect(frank.filter((e) => e.kind === 'buddy-request')).toEqual([
      { kind: 'buddy-request', from: yahoo('dave'), to: yahoo('frank') },
      { kind: 'buddy-request', from: yahoo('erin'), to: yahoo('frank') },
    ]);
    // frank adds dave back (#0061): the YMSG10 way of accepting.
    expect(frank).toContainEqual({
      kind: 'buddy-response',
      from: yahoo('frank'),
      to: yahoo('dave'),
      accepted: true,
    });
    expect(frank).toContainEqual({
      kind: 'buddy-response',
      from: yahoo('frank'),
      to: yahoo('erin'), // REJECTCONTACT names her erin@yahoo.com: a Yahoo id written as mail
      accepted: false,
      message: 'no thanks',
    });
  });

  it('learns user, session id, dialect and header style from the login', () => {
    const t = new YmsgTranslator();
    for (const e of transcript('ymsg10_escargot')
      .filter((x) => x.conn === 'YMSG/dave')
      .slice(0, 4)) {
      t.toEvents(decodePacket(e.bytes), e.direction);
    }
    expect(t.self).toEqual(yahoo('dave'));
    expect(t.sessionId).toBe(0xc84bf0fa);
    expect(t.dialect).toBe('v10');
    // Packets it builds look like their side's: Escargot's server writes 00 00 00 00.
    const [im] = t.fromEvent(
      { kind: 'im', id: 'x', from: yahoo('erin'), to: yahoo('dave'), text: 'hi', sentAt: 0 },
      'server',
    );
    expect([im!.version, im!.vendor, im!.sessionId]).toEqual([0, 0, 0xc84bf0fa]);
    const [typing] = t.fromEvent(
      { kind: 'typing', from: yahoo('dave'), to: yahoo('erin'), state: 'composing' },
      'client',
    );
    expect(typing!.version).toBe(0x0a00);
  });
});

describe('YMSG translator on OpenYMSG YMSG16 packets', () => {
  const byName = (source: string) =>
    decodePacket(fromHex(OPENYMSG_PACKETS.find((p) => p.source.startsWith(source))!.hex));

  it('LIST_15 becomes a roster with groups and pending buddies (key 223)', () => {
    const t = new YmsgTranslator({ self: yahoo('testuser') });
    const [roster] = t.toEvents(
      byName('contact/roster/ListOfContactsResponseTest.java#testSimple'),
      'server',
    );
    expect(roster?.kind).toBe('roster');
    if (roster?.kind !== 'roster') return;
    expect(roster.items).toHaveLength(18);
    expect(roster.items.filter((i) => i.pending).map((i) => i.address.user)).toEqual([
      'dog11',
      'lady402',
      'lady405',
      'lady78a',
      'lady80a',
      'lady83',
    ]);
    expect(roster.items.find((i) => i.address.user === 'lady10')?.groups).toEqual(['BuddiesTH2']);
  });

  it('STATUS_15 and Y6_STATUS_UPDATE become presence; a typing NOTIFY typing; AUTH_REQ_15 requests', () => {
    const t = new YmsgTranslator({ self: yahoo('testuser'), now: () => 1000 });
    expect(
      t.toEvents(byName('contact/status/SingleStatusResponseTest.java#testAwayProtocol'), 'server'),
    ).toEqual([{ kind: 'presence', from: { user: 'testuser@live.com', network: 'msn' }, status: 'away' }]);
    expect(
      t.toEvents(byName('contact/status/SingleStatusResponseTest.java#testCustomIdleProtocol'), 'server'),
    ).toEqual([
      { kind: 'presence', from: yahoo('testuser'), status: 'idle', text: 'Custom Message', idleSince: 1000 },
    ]);
    expect(
      t.toEvents(byName('contact/status/SingleStatusResponseTest.java#testInvisibleProtocol'), 'server'),
    ).toEqual([{ kind: 'presence', from: { user: 'testuser@live.com', network: 'msn' }, status: 'offline' }]);
    expect(t.toEvents(byName('message/TypingNotificationResponseTest.java#testYahooDone'), 'server')).toEqual(
      [{ kind: 'typing', from: yahoo('testbuddy'), to: yahoo('testuser'), state: 'paused' }],
    );
    const messages = t.toEvents(
      byName('message/MessageResponseTest.java#testOfflineMultipleFromSameContact'),
      'server',
    );
    expect(messages.map((m) => (m.kind === 'im' ? m.text : ''))).toEqual([
      'sending number one',
      'sending number two',
      'and number three',
    ]);
  });
});

describe('Yahoo formatting <-> html', () => {
  it('turns escapes and font tags into markup and a plain text', () => {
    expect(parseYahooText('plain <3 & more')).toEqual({ text: 'plain <3 & more' });
    expect(parseYahooText('\u001b[1mbold\u001b[x1m and \u001b[#ff0000mred')).toEqual({
      text: 'bold and red',
      html: '<b>bold</b> and <span style="color: #ff0000">red</span>',
    });
    expect(parseYahooText('<font face="Arial" size="10">hi</font> \u001b[2m<i>x')).toEqual({
      text: 'hi x',
      html: '<span style="font-family: Arial; font-size: 10pt">hi</span> <i><i>x</i></i>',
    });
  });

  it('turns markup back into escapes', () => {
    expect(htmlToYahooText('<b>hi</b> <span style="color: #F00">there</span><br/>&lt;3')).toBe(
      '\u001b[1mhi\u001b[x1m \u001b[#ff0000mthere\n<3',
    );
    expect(parseYahooText(htmlToYahooText('<b>bold</b> <i>it</i> <u>u</u>'))).toEqual({
      text: 'bold it u',
      html: '<b>bold</b> <i>it</i> <u>u</u>',
    });
  });
});

describe('text decoding', () => {
  it('decodes key 14 as UTF-8 only with key 97 = 1, fatally', () => {
    const t = new YmsgTranslator({ self: yahoo('dave') });
    const latin = ymsgPacket(
      S.MESSAGE,
      [
        [K.SENDER, 'erin'],
        [K.TARGET, 'dave'],
        [K.MESSAGE, Uint8Array.of(0x63, 0x61, 0x66, 0xe9)],
      ],
      { status: 1 },
    );
    expect(t.toEvents(latin, 'server')[0]).toMatchObject({ text: 'caf\u00e9' });
    const broken = ymsgPacket(
      S.MESSAGE,
      [
        [K.SENDER, 'erin'],
        [K.MESSAGE, Uint8Array.of(0x63, 0xe9)],
        [K.UTF8, '1'],
      ],
      { status: 1 },
    );
    expect(() => t.toEvents(broken, 'server')).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ENCODING' }),
    );
  });
});

describe('fromEvent', () => {
  const kinds = ['im', 'typing', 'presence', 'buddy-request', 'buddy-response'] as const;

  it('every canonical event it accepts comes back from its own packets (both directions, both dialects)', () => {
    const safe = (s: string | undefined) => s === undefined || !/[<\u001b&\r]/.test(s);
    for (const dialect of ['v10', 'v16'] as const) {
      for (const direction of ['client', 'server'] as const) {
        fc.assert(
          fc.property(fc.oneof(...kinds.map((k) => arbEventOfKind[k])), (event) => {
            if (event.kind === 'im') fc.pre(safe(event.text) && event.html === undefined);
            if (event.kind === 'presence')
              fc.pre(safe(event.text) && event.text !== '' && event.status !== 'idle');
            if ('message' in event) fc.pre(safe(event.message) && event.message !== '');
            if (event.kind === 'buddy-request') fc.pre(event.name === undefined);
            // Every non-Yahoo network is foreign here (core's default knows only the built-in ones).
            const isForeign = (a: { network: string }) => a.network !== 'yahoo';
            const writer = new YmsgTranslator({ dialect, isForeign, now: () => 5000 });
            const self = event.kind === 'presence' ? event.from : event.to;
            const reader = new YmsgTranslator({ dialect, isForeign, now: () => 5000, self });
            if (event.kind === 'buddy-response' && direction === 'client') {
              // The answerer's client saw the request first (YMSG10 accepts by adding back).
              const asked = new YmsgTranslator({ dialect, isForeign }).fromEvent(
                { kind: 'buddy-request', from: event.to, to: event.from },
                'server',
              );
              for (const p of asked) reader.toEvents(p, 'server');
            }
            const packets = writer.fromEvent(event, direction);
            const back = packets.flatMap((p) => reader.toEvents(decodePacket(encodePacket(p)), direction));
            // YMSG10 has no "accepted" notice toward the client.
            if (
              event.kind === 'buddy-response' &&
              event.accepted &&
              direction === 'server' &&
              dialect === 'v10'
            ) {
              expect(packets).toEqual([]);
              return;
            }
            expect(back).toHaveLength(1);
            const got = back[0]!;
            for (const e of [event, got]) expect(() => eventToJson(e)).not.toThrow();
            switch (event.kind) {
              case 'im':
                expect(got).toMatchObject({ kind: 'im', from: event.from, to: event.to, text: event.text });
                if (direction === 'server')
                  expect(got).toMatchObject({ sentAt: Math.floor(event.sentAt / 1000) * 1000 });
                break;
              case 'presence': {
                // A custom message with 47 = 1 reads as away (libpurple); busy with a message becomes it.
                const status =
                  event.status === 'invisible' && direction === 'server'
                    ? 'offline'
                    : event.status === 'busy' && event.text
                      ? 'away'
                      : event.status;
                expect(got).toMatchObject({ kind: 'presence', status });
                if (event.text !== undefined && status !== 'offline' && status !== 'invisible')
                  expect(got).toMatchObject({ text: event.text });
                break;
              }
              case 'buddy-response':
                expect(got).toMatchObject({
                  kind: 'buddy-response',
                  from: event.from,
                  to: event.to,
                  accepted: event.accepted,
                });
                break;
              case 'typing':
                expect(got).toMatchObject({
                  kind: 'typing',
                  from: event.from,
                  to: event.to,
                  state: event.state === 'composing' ? 'composing' : 'paused',
                });
                break;
              default:
                expect(got).toMatchObject({ kind: event.kind, from: event.from, to: event.to });
            }
          }),
          { numRuns: 150 },
        );
      }
    }
  });

  it('writes packets the way the references do', () => {
    const t = new YmsgTranslator({ dialect: 'v16' });
    const [im] = t.fromEvent(
      {
        kind: 'im',
        id: '1',
        from: yahoo('dave'),
        to: { user: 'bob', network: 'aol' },
        text: 'yo',
        sentAt: 0,
      },
      'client',
    );
    expect([im!.status, im!.pairs.map(([k]) => k)]).toEqual([0x5a55aa56, [1, 5, 97, 14, 63, 64, 1002, 206]]);
    expect(im!.get(K.TARGET)).toBe('bob@aol');
    const [req] = t.fromEvent(
      { kind: 'buddy-request', from: { user: 'bob', network: 'aol' }, to: yahoo('dave'), message: 'hi' },
      'server',
    );
    expect([req!.service, req!.status, req!.get(K.SENDER), req!.get(K.MESSAGE)]).toEqual([
      S.AUTH_REQ_15,
      3,
      'bob@aol',
      'hi',
    ]);
    const v10 = new YmsgTranslator({ dialect: 'v10' });
    const [notice] = v10.fromEvent(
      { kind: 'buddy-request', from: { user: 'bob', network: 'aol' }, to: yahoo('dave') },
      'server',
    );
    expect([notice!.service, notice!.status, notice!.get(K.USER_ID), notice!.get(K.CURRENT_ID)]).toEqual([
      S.NEWCONTACT,
      3,
      'bob@aol',
      'dave',
    ]);
    expect(() =>
      t.fromEvent(
        { kind: 'file-offer', id: 'f', from: yahoo('a'), to: yahoo('b'), name: 'x', size: 1 },
        'client',
      ),
    ).toThrow(expect.objectContaining({ code: 'ERR_UNSUPPORTED_EVENT' }));
  });
});
