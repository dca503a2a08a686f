import {
  arbAolAddress,
  arbEventOfKind,
  arbIcqAddress,
  arbMsnAddress,
  arbYahooAddress,
} from '@crosstalk/compliance';
import { type Address, type CanonicalEvent, type Direction, UnsupportedEventError } from '@crosstalk/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CommandFramer,
  decodeFrame,
  encodeArg,
  encodeFrame,
  formatImFormat,
  htmlToImFormat,
  imFormatToHtml,
  MsnpTranslator,
  parseImFormat,
} from '../src/index.js';

const alice: Address = { user: 'alice@example.com', network: 'msn' };
const bob: Address = { user: 'bob', network: 'yahoo' };
const enc = new TextEncoder();

/** Frames as bytes through our framer and decoder, then back into events on a fresh translator. */
function roundTrip(
  frames: ReturnType<MsnpTranslator['fromEvent']>,
  direction: Direction,
  reader: MsnpTranslator,
): CanonicalEvent[] {
  const bytes = Buffer.concat(frames.map(encodeFrame));
  const framer = new CommandFramer(direction);
  const events = framer.push(bytes).flatMap((raw) => reader.toEvents(decodeFrame(raw, direction), direction));
  framer.end();
  return events;
}

/** Senders whose native names map back unambiguously (an XMPP domain reads as a passport). */
const arbSender = fc.oneof(arbAolAddress, arbIcqAddress, arbYahooAddress, arbMsnAddress);

describe('translator: frames to events', () => {
  it('reads an SB message with its format, typing, and the participants from CAL/JOI/IRO/BYE', () => {
    const t = new MsnpTranslator({ now: () => 7, newId: () => 'n1' });
    const client = (s: string) => t.toEvents(decodeFrame(enc.encode(s), 'client'), 'client');
    const server = (s: string) => t.toEvents(decodeFrame(enc.encode(s), 'server'), 'server');
    client('USR 1 alice@example.com 535f8aab96989d07d34f\r\n');
    expect(t.self).toEqual(alice);
    client('CAL 2 bob@example.com\r\n');
    server('JOI bob@example.com Bob\r\n');
    const text =
      'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: FN=Comic%20Sans%20MS; EF=BU; CO=ff8000; CS=0; PF=22\r\n\r\nHi & bye';
    expect(client(`MSG 3 A ${enc.encode(text).length}\r\n${text}`)).toEqual([
      {
        kind: 'im',
        id: 'n1',
        from: alice,
        to: { user: 'bob@example.com', network: 'msn' },
        text: 'Hi & bye',
        html: '<span style="font-family:Comic Sans MS;color:#0080ff"><b><u>Hi &amp; bye</u></b></span>',
        sentAt: 7,
      },
    ]);
    const typing =
      'MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\nTypingUser: bob@example.com\r\n\r\n\r\n';
    expect(server(`MSG bob@example.com Bob ${typing.length}\r\n${typing}`)).toEqual([
      { kind: 'typing', from: { user: 'bob@example.com', network: 'msn' }, to: alice, state: 'composing' },
    ]);
    server('BYE bob@example.com\r\n');
    expect(t.participants.size).toBe(0);
    // Other content types (datacast nudges, P2P) carry no canonical event.
    const nudge = 'MIME-Version: 1.0\r\nContent-Type: text/x-msnmsgr-datacast\r\n\r\nID: 1\r\n\r\n';
    expect(server(`MSG bob@example.com Bob ${nudge.length}\r\n${nudge}`)).toEqual([]);
  });

  it('reads presence lines of every generation and the personal message', () => {
    const t = new MsnpTranslator({ self: alice });
    const server = (s: string) => t.toEvents(decodeFrame(enc.encode(s), 'server'), 'server');
    const carol = { user: 'carol@example.com', network: 'msn' };
    expect(server('NLN NLN carol@example.com Carol\r\n')).toEqual([
      { kind: 'presence', from: carol, status: 'online' },
    ]);
    expect(server('ILN 6 BRB carol@example.com Carol 0\r\n')).toEqual([
      { kind: 'presence', from: carol, status: 'away' },
    ]);
    expect(server('NLN PHN carol@example.com Carol 268435456 %3Cmsnobj%2F%3E\r\n')).toEqual([
      { kind: 'presence', from: carol, status: 'busy' },
    ]);
    const psm = '<Data><PSM>tea &amp; biscuits</PSM><CurrentMedia></CurrentMedia></Data>';
    expect(server(`UBX carol@example.com ${psm.length}\r\n${psm}`)).toEqual([
      { kind: 'presence', from: carol, status: 'busy', text: 'tea & biscuits' },
    ]);
    expect(server('FLN carol@example.com\r\n')).toEqual([
      { kind: 'presence', from: carol, status: 'offline' },
    ]);
    expect(server('NLN XYZ carol@example.com Carol\r\n')).toEqual([]);
  });

  it('reads both forms of "added you" (with and without the serial Escargot omits)', () => {
    for (const line of [
      'ADD 0 RL 12 bob@yahoo Bob%20Y',
      'ADD 0 RL bob@yahoo Bob%20Y',
      'ADC 0 RL N=bob@yahoo F=Bob%20Y',
    ]) {
      const t = new MsnpTranslator({ self: alice });
      expect(t.toEvents(decodeFrame(enc.encode(`${line}\r\n`), 'server'), 'server')).toEqual([
        { kind: 'buddy-request', from: bob, to: alice, name: 'Bob Y' },
      ]);
    }
  });

  it('reads client list edits as requests and answers', () => {
    const t = new MsnpTranslator({ self: alice });
    const client = (s: string) => t.toEvents(decodeFrame(enc.encode(s), 'client'), 'client');
    expect(client('ADD 7 FL bob@yahoo bob@yahoo 0\r\n')).toEqual([
      { kind: 'buddy-request', from: alice, to: bob },
    ]);
    expect(client('ADC 8 AL N=bob@yahoo\r\n')).toEqual([
      { kind: 'buddy-response', from: alice, to: bob, accepted: true },
    ]);
    expect(client('ADD 9 BL bob@yahoo bob@yahoo\r\n')).toEqual([
      { kind: 'buddy-response', from: alice, to: bob, accepted: false },
    ]);
  });
});

describe('translator: events to frames and back', () => {
  it('im, server direction: any sender, any text', () => {
    fc.assert(
      fc.property(arbEventOfKind.im, arbSender, fc.constantFrom(8, 12), (event, from, dialect) => {
        const writer = new MsnpTranslator({ dialect });
        const reader = new MsnpTranslator({ dialect, self: alice });
        const [back] = roundTrip(writer.fromEvent({ ...event, from, to: alice }, 'server'), 'server', reader);
        expect(back).toMatchObject({ kind: 'im', from, to: alice, text: event.text });
        expect(back && 'html' in back).toBe(event.html !== undefined);
      }),
    );
  });

  it('im and typing, client direction, in a conversation with the recipient', () => {
    fc.assert(
      fc.property(arbEventOfKind.im, arbEventOfKind.typing, arbSender, (im, typing, to) => {
        const writer = new MsnpTranslator({ self: alice });
        const reader = new MsnpTranslator();
        // The reader learns the conversation as a switchboard client states it: USR, then CAL.
        for (const line of ['USR 1 alice@example.com 1\r\n', `CAL 2 ${encodeArg(writer.passport(to))}\r\n`]) {
          reader.toEvents(decodeFrame(enc.encode(line), 'client'), 'client');
        }
        const events = roundTrip(
          [
            ...writer.fromEvent({ ...im, from: alice, to }, 'client'),
            ...writer.fromEvent({ ...typing, from: alice, to }, 'client'),
          ],
          'client',
          reader,
        );
        expect(events[0]).toMatchObject({ kind: 'im', from: alice, to, text: im.text });
        expect(events.slice(1)).toEqual(
          typing.state === 'composing' ? [{ kind: 'typing', from: alice, to, state: 'composing' }] : [],
        );
      }),
    );
  });

  it('presence, server direction: status mapped, text on MSNP11+ only', () => {
    const expected = {
      online: 'online',
      away: 'away',
      busy: 'busy',
      idle: 'idle',
      invisible: 'offline',
      offline: 'offline',
    } as const;
    fc.assert(
      fc.property(arbEventOfKind.presence, arbSender, fc.constantFrom(8, 11, 12), (event, from, dialect) => {
        const reader = new MsnpTranslator({ dialect, self: alice });
        const events = roundTrip(
          new MsnpTranslator({ dialect }).fromEvent({ ...event, from }, 'server'),
          'server',
          reader,
        );
        const status = expected[event.status];
        expect(events[0]).toEqual({ kind: 'presence', from, status });
        const withText = status !== 'offline' && dialect >= 11 && event.text !== undefined;
        expect(events.slice(1)).toEqual(
          withText ? [{ kind: 'presence', from, status, text: event.text }] : [],
        );
      }),
    );
  });

  it('buddy requests and answers, both directions', () => {
    fc.assert(
      fc.property(
        arbEventOfKind['buddy-request'],
        arbEventOfKind['buddy-response'],
        arbSender,
        fc.constantFrom(8, 12),
        (req, res, other, dialect) => {
          const toClient = roundTrip(
            new MsnpTranslator({ dialect }).fromEvent({ ...req, from: other, to: alice }, 'server'),
            'server',
            new MsnpTranslator({ dialect, self: alice }),
          );
          expect(toClient).toEqual([
            {
              kind: 'buddy-request',
              from: other,
              to: alice,
              name: req.name ?? new MsnpTranslator().passport(other),
            },
          ]);
          const writer = new MsnpTranslator({ dialect, self: alice });
          const reader = new MsnpTranslator({ dialect, self: alice });
          expect(
            roundTrip(writer.fromEvent({ ...req, from: alice, to: other }, 'client'), 'client', reader),
          ).toEqual([{ kind: 'buddy-request', from: alice, to: other }]);
          expect(
            roundTrip(writer.fromEvent({ ...res, from: alice, to: other }, 'client'), 'client', reader),
          ).toEqual([{ kind: 'buddy-response', from: alice, to: other, accepted: res.accepted }]);
        },
      ),
    );
  });

  it('says what it cannot carry with a typed error', () => {
    const t = new MsnpTranslator();
    for (const kind of ['file-offer', 'call-invite'] as const) {
      const event = fc.sample(arbEventOfKind[kind] as fc.Arbitrary<CanonicalEvent>, 1)[0]!;
      expect(() => t.fromEvent(event, 'server')).toThrow(UnsupportedEventError);
      expect(() => t.fromEvent(event, 'client')).toThrow(UnsupportedEventError);
    }
    expect(() => t.fromEvent({ kind: 'roster', owner: alice, items: [] }, 'client')).toThrow(
      UnsupportedEventError,
    );
    expect(() =>
      t.fromEvent({ kind: 'buddy-response', from: bob, to: alice, accepted: true }, 'server'),
    ).toThrow(UnsupportedEventError);
  });
});

describe('X-MMS-IM-Format and markup', () => {
  it('maps font, effects and the BGR colour both ways', () => {
    const format = parseImFormat('FN=Microsoft%20Sans%20Serif; EF=IS; CO=ff0000; CS=1; PF=0');
    expect(format).toEqual({
      font: 'Microsoft Sans Serif',
      italic: true,
      strike: true,
      color: '#0000ff',
      charset: '1',
      pitchFamily: '0',
    });
    expect(formatImFormat(format)).toBe('FN=Microsoft%20Sans%20Serif; EF=IS; CO=ff0000; CS=1; PF=0');
    const html = imFormatToHtml(format, 'x < y');
    expect(html).toBe(
      '<span style="font-family:Microsoft Sans Serif;color:#0000ff"><i><s>x &lt; y</s></i></span>',
    );
    expect(htmlToImFormat(html)).toEqual({
      font: 'Microsoft Sans Serif',
      italic: true,
      strike: true,
      color: '#0000ff',
    });
  });
});
