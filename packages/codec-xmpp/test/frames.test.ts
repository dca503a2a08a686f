import { bytesEqual, utf8 } from '@crosstalk/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createFrameCodec,
  createXmlParser,
  element,
  textOf,
  writeElement,
  type XmppFrame,
  xmpp,
} from '../src/index.js';
import { captureRuns } from './capture.js';
import { HANDWRITTEN_CLIENT, HANDWRITTEN_SERVER } from './goldens.js';
import { errorCode } from './helpers.js';
import { xmlElement } from './xml-arbitraries.js';

const codec = xmpp();
const fast = createXmlParser();
const fxp = createXmlParser({ parser: 'fast-xml-parser' });
const frames = codec.frames;

const decode = (s: string) => frames.decode(utf8(s), 'client');
const roundTrip = (s: string) => Buffer.from(frames.encode(decode(s))).toString('utf8');

describe('frame types', () => {
  it('decodes each kind of frame', () => {
    expect(decode("<?xml version='1.0' ?>")).toEqual({ type: 'pi', target: 'xml', data: " version='1.0' " });
    const open = decode("<stream:stream to='cs-xmpp.lan' xmlns='jabber:client' version='1.0'>");
    expect(open.type).toBe('stream-open');
    expect(decode('</stream:stream>')).toEqual({ type: 'stream-close', name: 'stream:stream' });
    expect(decode(' \n')).toEqual({ type: 'whitespace', text: ' \n' });
    expect(decode('<!-- c -->')).toEqual({ type: 'comment', text: ' c ' });
    const message = decode("<message to='bob@localhost'><body>hi</body></message>");
    expect(message.type).toBe('element');
  });

  it('keeps every lexical detail: quotes, spacing, entity spellings, <a/> versus <a></a>, CR', () => {
    const samples = [
      `<message to="a@b" type='chat' ><body xml:lang = "en">I&apos;m &#x27;here&#39; &quot;ok&quot; &gt; &#233;</body ></message  >`,
      "<iq type='result' id='1'><query xmlns='jabber:iq:roster'></query><x/></iq>",
      '<presence><status>a\r\nb\rc</status></presence>',
      "<message title='line\nbreak\ttab' alt='&#10;&#9;'/>",
      '<message><body>007</body></message>',
    ];
    for (const s of samples) expect(roundTrip(s)).toBe(s);
  });

  it('gives values with references resolved and XML whitespace normalised', () => {
    const frame = decode(`<m a='x\ny' b='&#10;'><t>I&apos;m\r\nhere</t><n>007</n></m>`);
    if (frame.type !== 'element') throw new Error('expected an element');
    const m = frame.element;
    expect(m.attrs.map((a) => a.value)).toEqual(['x y', '\n']); // XML 1.0 §3.3.3
    expect(textOf(m.children[0] as never)).toBe("I'm\nhere"); // §2.11
    expect(textOf(m.children[1] as never)).toBe('007'); // a string, never the number 7
  });

  it('encodes frames built by hand with documented defaults', () => {
    const built: XmppFrame = {
      type: 'element',
      element: element('message', { to: "o'brien@x", type: 'chat' }, [
        element('body', {}, ['a < b & "c"\r']),
      ]),
    };
    expect(Buffer.from(frames.encode(built)).toString()).toBe(
      "<message to='o&apos;brien@x' type='chat'><body>a &lt; b &amp; \"c\"&#13;</body></message>",
    );
    expect(Buffer.from(frames.encode({ type: 'stream-close', name: 'stream:stream' })).toString()).toBe(
      '</stream:stream>',
    );
    expect(frames.encode({ type: 'raw', bytes: Uint8Array.of(0x16, 3) })).toEqual(Uint8Array.of(0x16, 3));
  });

  it('reads frames back from JSON and refuses JSON that would smuggle markup', () => {
    const json = JSON.parse(
      JSON.stringify(frames.toJson(decode("<message to='x@y'><body>hi</body></message>"))),
    );
    expect(Buffer.from(frames.encode(frames.fromJson(json))).toString()).toBe(
      "<message to='x@y'><body>hi</body></message>",
    );
    const bad: unknown[] = [
      { type: 'element', element: { type: 'element', name: 'a b', attrs: [], children: [] } },
      {
        type: 'element',
        element: {
          type: 'element',
          name: 'a',
          attrs: [{ name: 'x', value: 'v', raw: "'/><evil/><a x='" }],
          children: [],
        },
      },
      {
        type: 'element',
        element: {
          type: 'element',
          name: 'a',
          attrs: [],
          children: [{ type: 'text', text: 'x', raw: '<evil/>' }],
        },
      },
      {
        type: 'element',
        element: { type: 'element', name: 'a', attrs: [{ name: 'x', value: 'v', space: 'y' }], children: [] },
      },
      { type: 'comment', text: '--><evil/>' },
      { type: 'whitespace', text: 'x' },
      { type: 'nope' },
      { type: 'element', element: { type: 'element', name: 'a', attrs: 'x', children: [] } },
      [],
    ];
    for (const b of bad) {
      expect(errorCode(() => frames.encode(frames.fromJson(b)))).toBe('ERR_MALFORMED_FRAME');
    }
  });

  it('refuses XML that is not well-formed with MalformedFrameError', () => {
    const bad = [
      '<a></b>',
      "<a x='1' x='2'/>",
      '<a x=1/>',
      "<a x='1'y='2'/>",
      '<a>&nbsp;</a>',
      '<a>&#xZZ;</a>',
      '<a>&#x110000;</a>',
      "<a x='<'/>",
      '<a>x</a><b/>',
      '<a><b></a>',
      '<a>text',
      '<a><?xml version="1.0"?></a>',
    ];
    for (const s of bad) {
      expect(
        errorCode(() => fast.parseElement(s)),
        s,
      ).toBe('ERR_MALFORMED_FRAME');
      expect(
        errorCode(() => fxp.parseElement(s)),
        s,
      ).toBe('ERR_MALFORMED_FRAME');
    }
    expect(errorCode(() => frames.decode(Uint8Array.of(0x3c, 0x61, 0xff, 0x2f, 0x3e), 'client'))).toBe(
      'ERR_INVALID_ENCODING',
    );
  });
});

describe('our fast path and fast-xml-parser agree', () => {
  const everyGoldenFrame = () => {
    const out: string[] = [];
    const streams = [
      ...captureRuns().map((r) => r.bytes),
      utf8(HANDWRITTEN_CLIENT),
      utf8(HANDWRITTEN_SERVER),
    ];
    for (const bytes of streams) {
      for (const raw of codec.createFramer('client').push(bytes)) {
        const f = frames.decode(raw, 'client');
        if (f.type === 'element') out.push(Buffer.from(raw).toString('utf8'));
      }
    }
    return out;
  };

  it('on every element frame of the goldens', () => {
    const all = everyGoldenFrame();
    expect(all.length).toBeGreaterThan(100);
    for (const s of all) expect(fast.parseElement(s)).toEqual(fxp.parseElement(s));
  });

  it('on random stanzas without comments, CDATA or PIs (the fast path itself)', () => {
    fc.assert(
      fc.property(xmlElement(false), (s) => {
        const a = fast.parseElement(s);
        expect(a).toEqual(fxp.parseElement(s));
        expect(writeElement(a)).toBe(s);
      }),
      { numRuns: 1500 },
    );
  });

  it('on random stanzas with comments, CDATA and PIs (fast-xml-parser through the auto path)', () => {
    fc.assert(
      fc.property(xmlElement(true), (s) => {
        const a = fast.parseElement(s);
        expect(a).toEqual(fxp.parseElement(s));
        expect(writeElement(a)).toBe(s);
      }),
      { numRuns: 1500 },
    );
  });

  it('and both re-encode byte-identically through the frame codec', () => {
    const viaFxp = createFrameCodec({ parser: 'fast-xml-parser' });
    for (const s of everyGoldenFrame()) {
      expect(bytesEqual(viaFxp.encode(viaFxp.decode(utf8(s), 'server')), utf8(s))).toBe(true);
    }
  });
});
