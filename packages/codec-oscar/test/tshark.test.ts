import { tsharkAvailable } from '@crosstalk/compliance';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Charset,
  encodeFlap,
  type FlapFrame,
  type IcbmTlv,
  type MessageFragment,
  type Snac,
  snacFrame,
  type Tlv,
  type UserInfo,
} from '../src/index.js';
import { tsharkAim } from './tshark.js';

/**
 * Wireshark's AIM dissector as an independent decoder: for 1,200 frames generated with fast-check
 * it must read the same channel, sequence number, SNAC header, screen name, charset and text as
 * we encoded, and flag none as malformed.
 */

const screenName = fc.stringMatching(/^[A-Za-z][A-Za-z0-9 ]{0,15}[A-Za-z0-9]$/);
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const cookie = fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => Buffer.from(b).toString('hex'));
const flags = fc.constantFrom(0x0000, 0x0001, 0x8000, 0x8001);

const printable = (min: number, max: number) =>
  fc
    .array(fc.integer({ min, max }), { minLength: 1, maxLength: 120 })
    .map((cs) => String.fromCharCode(...cs));
const message = fc.oneof(
  fc.record({ charset: fc.constant(Charset.ascii), text: printable(0x20, 0x7e) }),
  fc.record({
    charset: fc.constant(Charset.latin1),
    text: printable(0x20, 0xff).filter((t) => !/[\u007f-\u009f]/.test(t)),
  }),
  fc.record({ charset: fc.constant(Charset.ucs2be), text: printable(0x100, 0xd7ff) }),
);

const userInfo = fc
  .record({ screenName, idle: fc.option(u16, { nil: undefined }), status: u32 })
  .map(({ screenName, idle, status }): UserInfo => {
    const tlvs: Tlv[] = [
      { type: 0x01, value: Uint8Array.of(0x00, 0x10) },
      { type: 0x03, value: Uint8Array.of(0x4a, 0x8d, 0x0f, 0x00) },
      {
        type: 0x06,
        value: Uint8Array.of(status >>> 24, (status >>> 16) & 255, (status >>> 8) & 255, status & 255),
      },
    ];
    if (idle !== undefined) tlvs.push({ type: 0x04, value: Uint8Array.of(idle >>> 8, idle & 255) });
    return { screenName, warning: 0, tlvs };
  });

const textTlv = (m: { charset: number; text: string }): IcbmTlv => {
  const fragments: MessageFragment[] = [
    { id: 5, version: 1, data: Uint8Array.of(1) },
    { id: 1, version: 1, charset: m.charset, subset: 0, text: m.text },
  ];
  return { type: 2, fragments };
};

interface Generated {
  frame: FlapFrame;
  screenName?: string;
  message?: { charset: number; text: string };
}

const header = fc.record({ seq: u16, requestId: u32, flags });

function withBlock(frame: FlapFrame & { payload: Snac }): FlapFrame {
  // Flag 0x8000: a TLV block (family version, TLV 1) precedes the body (packet-aim.c).
  if (frame.payload.flags & 0x8000)
    frame.payload.tlvBlock = [{ type: 0x0001, value: Uint8Array.of(0x00, 0x04) }];
  return frame;
}

const generated: fc.Arbitrary<Generated> = fc.oneof(
  fc
    .record({ h: header, c: cookie, to: screenName, m: message, ack: fc.boolean() })
    .map(({ h, c, to, m, ack }) => {
      const tlvs: IcbmTlv[] = [textTlv(m)];
      if (ack) tlvs.push({ type: 3, value: new Uint8Array(0) });
      const frame = snacFrame(
        0x0004,
        0x0006,
        { type: 'icbm-to-host', cookie: c, channel: 1, screenName: to, tlvs },
        h,
      );
      return { frame: withBlock(frame), screenName: to, message: m };
    }),
  fc.record({ h: header, c: cookie, from: userInfo, m: message }).map(({ h, c, from, m }) => {
    const frame = snacFrame(
      0x0004,
      0x0007,
      { type: 'icbm-to-client', cookie: c, channel: 1, sender: from, tlvs: [textTlv(m)] },
      h,
    );
    return { frame: withBlock(frame), screenName: from.screenName, message: m };
  }),
  fc
    .record({ h: header, c: cookie, to: screenName, event: fc.constantFrom(0, 1, 2) })
    .map(({ h, c, to, event }) => ({
      frame: withBlock(
        snacFrame(0x0004, 0x0014, { type: 'icbm-event', cookie: c, channel: 1, screenName: to, event }, h),
      ),
      screenName: to,
    })),
  fc.record({ h: header, c: cookie, to: screenName }).map(({ h, c, to }) => ({
    frame: withBlock(
      snacFrame(0x0004, 0x000c, { type: 'icbm-ack', cookie: c, channel: 1, screenName: to }, h),
    ),
    screenName: to,
  })),
  fc.record({ h: header, who: userInfo }).map(({ h, who }) => ({
    frame: withBlock(snacFrame(0x0003, 0x000b, { type: 'user-info', users: [who] }, h)),
    screenName: who.screenName,
  })),
  fc.record({ seq: u16, channel: fc.constantFrom(1, 4, 5) }).map(
    ({ seq, channel }): Generated => ({
      frame: {
        channel,
        seq,
        payload:
          channel === 1
            ? { type: 'signon', version: 1, tlvs: [] }
            : channel === 4
              ? { type: 'signoff', tlvs: [] }
              : { type: 'raw', bytes: new Uint8Array(0) },
      },
    }),
  ),
);

/** How tshark 4.0 shows a message block: its bytes as a NUL-terminated ASCII string, other bytes as U+FFFD. */
function asTsharkShowsIt(m: { charset: number; text: string }): string {
  const bytes: number[] = [];
  for (const ch of m.text) {
    const c = ch.charCodeAt(0);
    if (m.charset === Charset.ucs2be) bytes.push(c >>> 8, c & 0xff);
    else bytes.push(c);
  }
  let out = '';
  for (const b of bytes) {
    if (b === 0) break;
    out += b < 0x80 ? String.fromCharCode(b) : '\ufffd';
  }
  return out;
}

const hex = (n: number, digits: number) => `0x${n.toString(16).padStart(digits, '0')}`;

describe.skipIf(!tsharkAvailable())('tshark agrees with our encoder', () => {
  it('on 1,200 generated frames: channel, seq, SNAC header, screen name, charset, text; none malformed', async () => {
    const cases = fc.sample(generated, { numRuns: 1200, seed: 0x05ca4 });
    const rows = await tsharkAim(
      cases.map((c) => encodeFlap(c.frame)),
      [
        'aim.channel',
        'aim.seqno',
        'aim.fnac.family',
        'aim.fnac.subtype',
        'aim.fnac.flags',
        'aim.fnac.id',
        'aim.buddyname',
        'aim.messageblock.charset',
        'aim.messageblock.length',
        'aim.messageblock.message',
        '_ws.malformed',
      ],
    );
    expect(rows).toHaveLength(cases.length);
    const kinds = new Set<string>();
    cases.forEach((c, i) => {
      const row = rows[i]!;
      const f = c.frame;
      const where = `frame ${i} (${JSON.stringify(row)})`;
      expect(row['_ws.malformed'], where).toBeUndefined();
      expect(row['aim.channel'], where).toEqual([hex(f.channel, 2)]);
      expect(row['aim.seqno'], where).toEqual([String(f.seq)]);
      const p = f.payload;
      if (p.type === 'snac') {
        kinds.add(`${p.family}/${p.subtype}`);
        expect(row['aim.fnac.family'], where).toEqual([hex(p.family, 4)]);
        expect(row['aim.fnac.subtype'], where).toEqual([hex(p.subtype, 4)]);
        expect(row['aim.fnac.flags'], where).toEqual([hex(p.flags, 4)]);
        expect(row['aim.fnac.id'], where).toEqual([hex(p.requestId, 8)]);
      } else {
        kinds.add(`channel ${f.channel}`);
      }
      if (c.screenName !== undefined) expect(row['aim.buddyname'], where).toEqual([c.screenName]);
      if (c.message) {
        const bytes =
          c.message.charset === Charset.ucs2be ? 2 * c.message.text.length : c.message.text.length;
        expect(row['aim.messageblock.charset'], where).toEqual([hex(c.message.charset, 4)]);
        expect(row['aim.messageblock.length'], where).toEqual([String(4 + bytes)]);
        const shown = asTsharkShowsIt(c.message);
        expect(row['aim.messageblock.message'] ?? [''], where).toEqual([shown]);
      }
    });
    expect(kinds.size).toBe(8);
  });
});
