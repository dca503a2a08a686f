import { concatBytes, type Framer, isCrossTalkError, type ProtocolError, utf8 } from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { StanzaFramer } from '../src/index.js';

const text = (frames: Uint8Array[]) => frames.map((f) => Buffer.from(f).toString('utf8'));

function frameAll(framer: Framer, chunks: Uint8Array[]): string[] {
  const out: Uint8Array[] = [];
  for (const c of chunks) for (const f of framer.push(c)) out.push(f.slice());
  return text(out);
}

function errorOf(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (error) {
    expect(isCrossTalkError(error)).toBe(true);
    return error as ProtocolError;
  }
  throw new Error('expected a typed error');
}

const HEADER =
  "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>";

describe('StanzaFramer', () => {
  it('keeps a character split across TCP chunks whole', () => {
    const bytes = utf8('<message><body>caf\u00e9 \u{1F600}</body></message>');
    const e = bytes.indexOf(0xc3); // first byte of "é"
    const emoji = bytes.indexOf(0xf0);
    const framer = new StanzaFramer();
    const frames = frameAll(framer, [
      bytes.subarray(0, e + 1),
      bytes.subarray(e + 1, emoji + 2),
      bytes.subarray(emoji + 2),
    ]);
    expect(frames).toEqual(['<message><body>caf\u00e9 \u{1F600}</body></message>']);
  });

  it('reports invalid UTF-8 as InvalidEncodingError and stays terminal', () => {
    const framer = new StanzaFramer();
    const bad = concatBytes([utf8('<message><body>'), Uint8Array.of(0xc3, 0x28), utf8('</body></message>')]);
    const error = errorOf(() => framer.push(bad));
    expect(error.code).toBe('ERR_INVALID_ENCODING');
    expect(framer.error).toBe(error);
    expect(errorOf(() => framer.push(utf8('<a/>')))).toBe(error);
  });

  it('skips quoted attribute values holding ">" and "/", CDATA holding "<", comments and PIs', () => {
    const stanzas = [
      `<message title='a > b' x="/>" y='</message>'><body>x</body></message>`,
      '<message><body><![CDATA[<body> </message> ]]]]></body></message>',
      '<message><!-- </message> -- > --><body/></message>',
      '<message><?pi a > b </message> ?><body/></message>',
      "<a><a><a x='1'/></a></a>",
    ];
    for (const s of stanzas) {
      const bytes = utf8(s + s);
      expect(frameAll(new StanzaFramer(), [bytes])).toEqual([s, s]);
      const oneByOne = Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
      expect(frameAll(new StanzaFramer(), oneByOne)).toEqual([s, s]);
    }
  });

  it('frames the declaration, each stream header (a restart after SASL too) and the close', () => {
    const stream = [
      "<?xml version='1.0' ?>",
      HEADER,
      "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGEAYg==</auth>",
      HEADER,
      "<iq type='set' id='1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>",
      '</stream:stream>',
    ];
    expect(frameAll(new StanzaFramer(), [utf8(stream.join(''))])).toEqual(stream);
  });

  it('makes whitespace between frames a frame of its own, and flush() hands over a pending run', () => {
    const framer = new StanzaFramer();
    expect(frameAll(framer, [utf8(`${HEADER}  \n<presence/>\t`)])).toEqual([HEADER, '  \n', '<presence/>']);
    expect(text(framer.flush())).toEqual(['\t']);
    expect(framer.flush()).toEqual([]);
    expect(frameAll(framer, [utf8(' '), utf8(' <presence/>')])).toEqual(['  ', '<presence/>']);
    framer.push(utf8(' '));
    expect(() => framer.end()).not.toThrow(); // trailing whitespace is not a truncated frame
  });

  it('refuses text at stream level and DTDs (RFC 6120 §11.1)', () => {
    const framer = new StanzaFramer();
    expect(text(framer.push(utf8(`${HEADER}hello`)))).toEqual([HEADER]);
    expect(framer.error?.code).toBe('ERR_MALFORMED_FRAME');
    expect(errorOf(() => new StanzaFramer().push(utf8('hello'))).code).toBe('ERR_MALFORMED_FRAME');
    expect(errorOf(() => new StanzaFramer().push(utf8('<!DOCTYPE x [<!ENTITY a "b">]>'))).code).toBe(
      'ERR_MALFORMED_FRAME',
    );
    expect(errorOf(() => new StanzaFramer().push(utf8('<![CDATA[x]]>'))).code).toBe('ERR_MALFORMED_FRAME');
  });

  it('delivers the good frames before bad bytes in one chunk, then is terminal', () => {
    const framer = new StanzaFramer();
    const frames = framer.push(utf8('<presence/><message/>junk'));
    expect(text(frames)).toEqual(['<presence/>', '<message/>']);
    expect(framer.error?.code).toBe('ERR_MALFORMED_FRAME');
    expect(errorOf(() => framer.push(utf8('<a/>'))).code).toBe('ERR_MALFORMED_FRAME');
  });

  it('caps a stanza before buffering it: FrameTooLargeError, bounded memory', () => {
    const framer = new StanzaFramer({ maxFrameSize: 1024 });
    framer.push(utf8('<message><body>'));
    const filler = utf8('x'.repeat(100));
    let error: ProtocolError | undefined;
    for (let i = 0; i < 20 && !error; i++) {
      try {
        framer.push(filler);
        expect(framer.buffered).toBeLessThanOrEqual(1024);
      } catch (e) {
        error = e as ProtocolError;
      }
    }
    expect(error?.code).toBe('ERR_FRAME_TOO_LARGE');
    // A whole oversize stanza inside one chunk is refused too.
    const big = utf8(`<message><body>${'y'.repeat(2000)}</body></message>`);
    expect(errorOf(() => new StanzaFramer({ maxFrameSize: 1024 }).push(big)).code).toBe(
      'ERR_FRAME_TOO_LARGE',
    );
    // The default cap is 256 KiB.
    const huge = utf8(`<message><body>${'z'.repeat(256 * 1024)}</body></message>`);
    expect(errorOf(() => new StanzaFramer().push(huge)).code).toBe('ERR_FRAME_TOO_LARGE');
  });

  it('caps nesting depth, an empty element counting as deep as any other', () => {
    const deep = `${'<a>'.repeat(200)}${'</a>'.repeat(200)}`;
    expect(errorOf(() => new StanzaFramer({ maxDepth: 128 }).push(utf8(deep))).code).toBe(
      'ERR_NESTING_TOO_DEEP',
    );
    expect(frameAll(new StanzaFramer({ maxDepth: 256 }), [utf8(deep)])).toEqual([deep]);
    const at = `${'<a>'.repeat(3)}<b/>${'</a>'.repeat(3)}`;
    expect(frameAll(new StanzaFramer({ maxDepth: 4 }), [utf8(at)])).toEqual([at]);
    expect(errorOf(() => new StanzaFramer({ maxDepth: 3 }).push(utf8(at))).code).toBe('ERR_NESTING_TOO_DEEP');
  });

  it('stops after a frame when asked, keeping the rest for a raw relay (STARTTLS)', () => {
    const framer = new StanzaFramer();
    const tls = Uint8Array.of(0x16, 0x03, 0x01, 0x00, 0x05);
    const chunk = concatBytes([utf8("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"), tls]);
    const frames = framer.pushUntil(chunk, (f) => Buffer.from(f).toString().startsWith('<proceed'));
    expect(text(frames)).toEqual(["<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"]);
    expect(framer.takeRest()).toEqual(tls);
    expect(errorOf(() => framer.push(tls)).code).toBe('ERR_STREAM_CLOSED');
  });

  it('reports a stream cut inside a stanza as truncated, with offsets from the stream start', () => {
    const framer = new StanzaFramer();
    framer.push(utf8('<presence/><message><body>'));
    expect(framer.offset).toBe(11);
    expect(framer.buffered).toBe(15);
    expect(errorOf(() => framer.end()).code).toBe('ERR_TRUNCATED_STREAM');
  });

  it('treats a self-closing stream header as an ordinary element', () => {
    expect(frameAll(new StanzaFramer(), [utf8('<stream:stream/><a/>')])).toEqual([
      '<stream:stream/>',
      '<a/>',
    ]);
  });
});
