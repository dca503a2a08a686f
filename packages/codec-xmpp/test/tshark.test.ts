import { arbAddress, arbText, tsharkFields } from '@crosstalk/compliance';
import type { CanonicalEvent } from '@crosstalk/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addressToJid, element, type XmppFrame, xmpp } from '../src/index.js';

// tshark (Wireshark's XMPP dissector) as an independent decoder of our encoder's bytes. It shows
// attribute values and character data as written, so the test resolves references with its own
// small decoder (not ours) before comparing.
function resolveReferences(raw: string): string {
  return raw
    .replace(/&#x([0-9a-fA-F]+);/g, (_m, h: string) => String.fromCodePoint(Number.parseInt(h, 16)))
    .replace(/&#([0-9]+);/g, (_m, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&(lt|gt|apos|quot);/g, (_m, n: string) => ({ lt: '<', gt: '>', apos: "'", quot: '"' })[n]!)
    .replace(/&amp;/g, '&');
}

interface Sample {
  from?: string;
  to: string;
  type: string;
  id: string;
  body: string;
}

const codec = xmpp();
const text = fc.oneof(
  arbText(150),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 }),
  fc.constantFrom(
    'caf\u00e9',
    '\u65e5\u672c\u8a9e',
    '\u{1F600}\u{1F389}',
    '\u0645\u0631\u062d\u0628\u0627',
    'a & b < c > d "e" \'f\'',
  ),
);
const id = fc.string({
  unit: fc.constantFrom(...'abc019-_&<>"\' \u00e9'.split('')),
  minLength: 1,
  maxLength: 16,
});

/** A random message: half as the translator writes an im event, half built with other types and quotes. */
const sample: fc.Arbitrary<{ frame: XmppFrame; expected: Sample }> = fc.oneof(
  fc.record({ from: arbAddress, to: arbAddress, text, id }).map(({ from, to, text: body, id: mid }) => {
    const event: CanonicalEvent = { kind: 'im', id: mid, from, to, text: body, sentAt: 0 };
    const [frame] = codec.createTranslator({ now: () => 0 }).fromEvent(event, 'server');
    return {
      frame: frame!,
      expected: { from: addressToJid(from), to: addressToJid(to), type: 'chat', id: mid, body },
    };
  }),
  fc
    .record({
      to: arbAddress,
      text,
      id,
      type: fc.constantFrom('chat', 'normal', 'headline'),
      quote: fc.constantFrom("'" as const, '"' as const),
    })
    .map(({ to, text: body, id: mid, type, quote }) => {
      const el = element('message', { to: addressToJid(to), type, id: mid }, [element('body', {}, [body])]);
      for (const a of el.attrs) a.quote = quote;
      return {
        frame: { type: 'element', element: el } as XmppFrame,
        expected: { to: addressToJid(to), type, id: mid, body },
      };
    }),
);

describe('tshark agrees with our encoder', () => {
  it('on from, to, type, id and body of 1,000 random message stanzas, non-ASCII text included', async () => {
    const samples = fc.sample(sample, { numRuns: 1000, seed: 6120 });
    const packets = samples.map((s) => codec.frames.encode(s.frame));
    const rows = await tsharkFields({
      packets,
      srcPort: 40000,
      dstPort: 5222,
      fields: ['xmpp.from', 'xmpp.to', 'xmpp.type', 'xmpp.id', 'xmpp.message', 'xml.cdata', '_ws.malformed'],
    });
    expect(rows.length).toBe(1000);
    let nonAscii = 0;
    rows.forEach((row, i) => {
      const want = samples[i]!.expected;
      if (/[^\u0000-\u007f]/.test(want.body)) nonAscii++;
      const one = (field: string) => {
        const v = row[field];
        return v === undefined ? undefined : resolveReferences(v[0]!);
      };
      const got: Sample = {
        ...(row['xmpp.from'] ? { from: one('xmpp.from')! } : {}),
        to: one('xmpp.to')!,
        type: one('xmpp.type')!,
        id: one('xmpp.id')!,
        body: one('xml.cdata') ?? '',
      };
      expect(row['xmpp.message'], `packet ${i} is a message`).toBeDefined();
      expect(row['_ws.malformed'], `packet ${i} is well-formed to tshark`).toBeUndefined();
      // Wireshark's XML tokenizer skips whitespace before character data; the rest is compared as is.
      const expected = { ...want, body: want.body.replace(/^[ \t\r\n]+/, '') };
      expect(got, `packet ${i}: ${Buffer.from(packets[i]!).toString('utf8')}`).toEqual(expected);
    });
    expect(nonAscii).toBeGreaterThan(200);
  });
});
