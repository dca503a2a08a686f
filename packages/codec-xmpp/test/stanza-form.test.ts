import { arbEvent, arbEventOfKind } from '@crosstalk/compliance';
import {
  type CanonicalEvent,
  EVENT_KINDS,
  eventFromJson,
  isCrossTalkError,
  utf8,
  validateEvent,
} from '@crosstalk/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stanza, stanzaForm } from '../src/index.js';
import { errorCode } from './helpers.js';

const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');

describe('canonical stanza form', () => {
  it('writes each event kind as a standard stanza', () => {
    const im = eventFromJson({
      kind: 'im',
      id: 'm1',
      from: 'bob@yahoo',
      to: 'a@hotmail.com@msn',
      text: 'hi <3',
      html: '<b>hi</b> &lt;3',
      sentAt: 1_700_000_000_123,
    });
    expect(text(stanza.encode(im))).toBe(
      "<message xmlns='jabber:client' from='bob@yahoo' to='a\\40hotmail.com@msn' type='chat' id='m1'>" +
        '<body>hi &lt;3</body>' +
        "<html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'><b>hi</b> &lt;3</body></html>" +
        "<delay xmlns='urn:xmpp:delay' stamp='2023-11-14T22:13:20.123Z'/></message>",
    );
    const typing = eventFromJson({ kind: 'typing', from: 'bob@yahoo', to: 'alice@aol', state: 'composing' });
    expect(text(stanza.encode(typing))).toBe(
      "<message xmlns='jabber:client' from='bob@yahoo' to='alice@aol' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>",
    );
    const request = eventFromJson({
      kind: 'buddy-request',
      from: 'bob@yahoo',
      to: 'alice@aol',
      name: 'Bob',
      message: 'add me',
    });
    expect(text(stanza.encode(request))).toBe(
      "<presence xmlns='jabber:client' from='bob@yahoo' to='alice@aol' type='subscribe'><status>add me</status><nick xmlns='http://jabber.org/protocol/nick'>Bob</nick></presence>",
    );
    const invisible = eventFromJson({ kind: 'presence', from: 'bob@yahoo', status: 'invisible' });
    expect(text(stanza.encode(invisible))).toBe(
      "<presence xmlns='jabber:client' from='bob@yahoo' type='unavailable'><invisible xmlns='urn:crosstalk:0'/></presence>",
    );
  });

  it('carries markup that is not well-formed XML without losing it', () => {
    for (const html of ['a < b', '<b>unclosed', '&nbsp;', 'x]]>y', '']) {
      const im = eventFromJson({
        kind: 'im',
        id: 'm',
        from: 'b@yahoo',
        to: 'a@aol',
        text: 't',
        html,
        sentAt: 0,
      });
      expect(stanza.decode(stanza.encode(im))).toEqual(im);
    }
  });

  it('carries characters XML 1.0 cannot (controls, U+FFFE, lone surrogates) as character references', () => {
    const weird = 'nul\u0000 bell\u0007 cr\r lone\ud800 fffe\ufffe \u{1F600}';
    const im = eventFromJson({ kind: 'im', id: 'm', from: 'b@yahoo', to: 'a@aol', text: weird, sentAt: 1 });
    const bytes = stanza.encode(im);
    expect(text(bytes)).not.toMatch(/[\u0000\u0007\r]/);
    expect(stanza.decode(bytes)).toEqual(im);
  });

  for (const kind of EVENT_KINDS) {
    it(`decode(encode(event)) equals the event for every valid ${kind}`, () => {
      fc.assert(
        fc.property(arbEventOfKind[kind] as fc.Arbitrary<CanonicalEvent>, (event) => {
          expect(stanza.decode(stanza.encode(event))).toEqual(event);
        }),
        { numRuns: 300 },
      );
    });
  }

  it('decode(encode(event)) round-trips any event with the fast-xml-parser path too', () => {
    const viaFxp = stanzaForm({ parser: 'fast-xml-parser' });
    fc.assert(
      fc.property(arbEvent, (event) => {
        expect(viaFxp.decode(stanza.encode(event))).toEqual(event);
      }),
      { numRuns: 300 },
    );
  });

  it('is a trust boundary: caps, parses and validates, with typed errors only', () => {
    expect(
      errorCode(() => stanzaForm({ maxSize: 64 }).decode(utf8(`<message>${'x'.repeat(100)}</message>`))),
    ).toBe('ERR_FRAME_TOO_LARGE');
    expect(errorCode(() => stanza.decode(Uint8Array.of(0xff)))).toBe('ERR_INVALID_ENCODING');
    expect(errorCode(() => stanza.decode(utf8('<message><body>x</message>')))).toBe('ERR_MALFORMED_FRAME');
    expect(errorCode(() => stanza.decode(utf8("<iq xmlns='jabber:client' type='get'/>")))).toBe(
      'ERR_MALFORMED_FRAME',
    );
    // Well-formed but not a valid event: no sender, a bad address, no timestamp, text over the cap.
    const invalid = [
      "<message xmlns='jabber:client' to='a@aol' type='chat' id='1'><body>x</body><delay xmlns='urn:xmpp:delay' stamp='2024-01-01T00:00:00Z'/></message>",
      "<message xmlns='jabber:client' from='notanumber@icq' to='a@aol' type='chat' id='1'><body>x</body><delay xmlns='urn:xmpp:delay' stamp='2024-01-01T00:00:00Z'/></message>",
      "<message xmlns='jabber:client' from='b@yahoo' to='a@aol' type='chat' id='1'><body>x</body></message>",
      `<message xmlns='jabber:client' from='b@yahoo' to='a@aol' type='chat' id='1'><body>${'x'.repeat(70_000)}</body><delay xmlns='urn:xmpp:delay' stamp='2024-01-01T00:00:00Z'/></message>`,
      "<message xmlns='jabber:client' from='b@yahoo' to='a@aol' id='1'><file-sharing xmlns='urn:xmpp:sfs:0'><file xmlns='urn:xmpp:file:metadata:0'><name>x</name><size>-1</size></file></file-sharing></message>",
      "<presence xmlns='jabber:client' from='b@yahoo'><idle xmlns='urn:xmpp:idle:1' since='yesterday'/></presence>",
    ];
    for (const s of invalid)
      expect(
        errorCode(() => stanza.decode(utf8(s))),
        s.slice(0, 60),
      ).toBe('ERR_INVALID_EVENT');
  });

  it('fuzzed stanzas give a valid event or a typed error, never anything else', () => {
    const seeds = fc.sample(arbEvent, 50).map((e) => stanza.encode(e));
    fc.assert(
      fc.property(
        fc.constantFrom(...seeds),
        fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), {
          minLength: 1,
          maxLength: 4,
        }),
        (seed, flips) => {
          const bytes = seed.slice();
          for (const { at, value } of flips) bytes[at % bytes.length] = value;
          try {
            const event = stanza.decode(bytes);
            expect(validateEvent(event)).toEqual(event);
          } catch (error) {
            expect(isCrossTalkError(error)).toBe(true);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
