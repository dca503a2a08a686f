import { bytesEqual, isCrossTalkError, toHex } from '@crosstalk/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Bucp,
  Buddy,
  decodeFlap,
  encodeFlap,
  Family,
  Feedbag,
  Icbm,
  OService,
  parseFlapHeader,
} from '../src/index.js';
import { Locate } from '../src/snac/families.js';

/** Every SNAC this codec structures, plus some it passes raw. */
const SNACS: [number, number][] = [
  [Family.oservice, OService.error],
  [Family.oservice, OService.hostOnline],
  [Family.oservice, OService.serviceResponse],
  [Family.oservice, OService.userInfoUpdate],
  [Family.oservice, OService.idleNotification],
  [Family.oservice, OService.setUserInfoFields],
  [Family.oservice, OService.clientOnline],
  [Family.locate, Locate.setInfo],
  [Family.buddy, Buddy.addBuddies],
  [Family.buddy, Buddy.delBuddies],
  [Family.buddy, Buddy.arrived],
  [Family.buddy, Buddy.departed],
  [Family.icbm, Icbm.error],
  [Family.icbm, Icbm.channelMsgToHost],
  [Family.icbm, Icbm.channelMsgToClient],
  [Family.icbm, Icbm.hostAck],
  [Family.icbm, Icbm.clientEvent],
  [Family.feedbag, Feedbag.query],
  [Family.feedbag, Feedbag.reply],
  [Family.feedbag, Feedbag.use],
  [Family.feedbag, Feedbag.insertItem],
  [Family.feedbag, Feedbag.updateItem],
  [Family.feedbag, Feedbag.deleteItem],
  [Family.feedbag, Feedbag.status],
  [Family.feedbag, Feedbag.startCluster],
  [Family.feedbag, Feedbag.endCluster],
  [Family.feedbag, Feedbag.requestAuthorizeToHost],
  [Family.feedbag, Feedbag.requestAuthorizeToClient],
  [Family.feedbag, Feedbag.respondAuthorizeToHost],
  [Family.feedbag, Feedbag.respondAuthorizeToClient],
  [Family.feedbag, Feedbag.buddyAdded],
  [Family.bucp, Bucp.loginRequest],
  [Family.bucp, Bucp.loginResponse],
  [Family.bucp, Bucp.challengeRequest],
  [Family.bucp, Bucp.challengeResponse],
];

const u16 = (n: number) => [n >>> 8, n & 0xff];

/** Bodies shaped like the real thing, so the structured decoders (not only the raw fallback) run. */
const tlv = fc
  .tuple(fc.integer({ min: 0, max: 0x20 }), fc.uint8Array({ maxLength: 12 }))
  .map(([t, v]) => [...u16(t), ...u16(v.length), ...v]);
const name = fc.stringMatching(/^[a-z0-9@. ]{0,12}$/).map((s) => [s.length, ...Buffer.from(s)]);
const fragment = fc
  .tuple(fc.constantFrom(1, 5), fc.constantFrom(0, 2, 3), fc.uint8Array({ maxLength: 10 }))
  .map(([id, charset, text]) =>
    id === 1
      ? [1, 1, ...u16(text.length + 4), ...u16(charset), 0, 0, ...text]
      : [5, 1, ...u16(text.length), ...text],
  );
const messageTlv = fc.array(fragment, { maxLength: 3 }).map((fs) => {
  const v = fs.flat();
  return [0, 2, ...u16(v.length), ...v];
});
const icqTlv = fc
  .tuple(fc.uint8Array({ minLength: 6, maxLength: 6 }), fc.uint8Array({ maxLength: 8 }), fc.boolean())
  .map(([h, t, nul]) => {
    const text = nul ? [...t, 0] : [...t];
    const v = [...h, text.length & 0xff, text.length >>> 8, ...text];
    return [0, 5, ...u16(v.length), ...v];
  });
const userInfo = fc
  .tuple(name, fc.array(tlv, { maxLength: 4 }))
  .map(([n, ts]) => [...n, 0, 0, ...u16(ts.length), ...ts.flat()]);
const item = fc.tuple(name, fc.array(tlv, { maxLength: 3 })).map(([n, ts]) => {
  const attrs = ts.flat();
  return [0, ...n, 0, 1, 0, 2, 0, 0, ...u16(attrs.length), ...attrs];
});
const body = fc.oneof(
  fc.uint8Array({ maxLength: 40 }).map((b) => [...b]),
  fc.array(tlv, { maxLength: 4 }).map((t) => t.flat()),
  fc
    .tuple(
      fc.uint8Array({ minLength: 10, maxLength: 10 }),
      name,
      fc.array(fc.oneof(tlv, messageTlv, icqTlv), { maxLength: 3 }),
    )
    .map(([h, n, t]) => [...h, ...n, ...t.flat()]),
  fc
    .tuple(
      fc.uint8Array({ minLength: 8, maxLength: 8 }),
      fc.constantFrom(1, 4),
      userInfo,
      fc.array(fc.oneof(tlv, messageTlv, icqTlv), { maxLength: 3 }),
    )
    .map(([c, ch, u, t]) => [...c, 0, ch, ...u, ...t.flat()]),
  fc.array(userInfo, { minLength: 1, maxLength: 2 }).map((u) => u.flat()),
  fc.array(item, { maxLength: 3 }).map((i) => i.flat()),
  fc.array(item, { maxLength: 3 }).map((i) => [0, ...u16(i.length), ...i.flat(), 1, 2, 3, 4]),
  fc
    .tuple(name, fc.uint8Array({ maxLength: 10 }), fc.uint8Array({ maxLength: 3 }))
    .map(([n, r, rest]) => [...n, ...u16(r.length), ...r, ...rest]),
);

function flap(family: number, subtype: number, flags: number, payload: number[]): Uint8Array {
  const snac = [...u16(family), ...u16(subtype), ...u16(flags), 0x80, 0, 0, 7, ...payload];
  return Uint8Array.from([0x2a, 2, 0x12, 0x34, ...u16(snac.length), ...snac]);
}

describe('frame codec', () => {
  it('re-encodes every SNAC it structures byte for byte, whatever the body holds', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...SNACS),
        fc.constantFrom(0, 0x8000),
        fc.array(tlv, { maxLength: 2 }),
        body,
        ([family, subtype], flags, block, payload) => {
          const prefix = flags ? [...u16(block.flat().length), ...block.flat()] : [];
          const raw = flap(family, subtype, flags, [...prefix, ...payload]);
          const frame = decodeFlap(raw);
          const again = encodeFlap(frame);
          if (!bytesEqual(again, raw)) throw new Error(`${toHex(raw)} became ${toHex(again)}`);
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('structures the bodies it knows (the property above is not only raw pass-through)', () => {
    const raw = flap(
      Family.icbm,
      Icbm.clientEvent,
      0,
      [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 0x62, 0x6f, 0x62, 0, 2],
    );
    const frame = decodeFlap(raw);
    expect(frame.payload.type === 'snac' && frame.payload.body).toEqual({
      type: 'icbm-event',
      cookie: '0000000000000000',
      channel: 1,
      screenName: 'bob',
      event: 2,
    });
    const broken = decodeFlap(flap(Family.icbm, Icbm.clientEvent, 0, [0, 0, 0]));
    expect(broken.payload.type === 'snac' && broken.payload.body.type).toBe('raw');
    expect(
      broken.payload.type === 'snac' && broken.payload.body.type === 'raw' && broken.payload.body.error,
    ).toMatch(/cookie/);
  });

  it('the binary-parser header definition reads every header as the hand-written decoder does', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.uint8Array({ maxLength: 30 }),
        (channel, seq, payload) => {
          const raw = Uint8Array.from([0x2a, channel, ...u16(seq), ...u16(payload.length), ...payload]);
          const header = parseFlapHeader(raw);
          const frame = decodeFlap(raw);
          expect([header.channel, header.seq, header.length]).toEqual([
            frame.channel,
            frame.seq,
            payload.length,
          ]);
          if (frame.payload.type === 'snac') {
            expect(header.snac).toEqual({
              family: frame.payload.family,
              subtype: frame.payload.subtype,
              flags: frame.payload.flags,
              requestId: frame.payload.requestId,
            });
          } else {
            expect(header.snac).toBeUndefined();
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('decode of something that is not one FLAP frame is a typed error', () => {
    for (const bad of [
      new Uint8Array(0),
      Uint8Array.of(0x2a, 2, 0, 0, 0, 5, 1),
      Uint8Array.of(0x47, 0x45, 0x54, 0x20, 0, 0),
    ]) {
      let error: unknown;
      try {
        decodeFlap(bad);
      } catch (e) {
        error = e;
      }
      expect(isCrossTalkError(error, 'ERR_MALFORMED_FRAME')).toBe(true);
    }
  });

  it('encode refuses values the wire cannot hold, with typed errors', () => {
    const long = 'x'.repeat(256);
    const frame = decodeFlap(flap(Family.icbm, Icbm.hostAck, 0, [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0x61]));
    if (frame.payload.type !== 'snac' || frame.payload.body.type !== 'icbm-ack')
      throw new Error('not an ack');
    for (const change of [
      { screenName: long },
      { screenName: 'caf\u00e9\u4e16' },
      { screenName: `a long screen name \u4e16 beyond Latin-1` },
      { cookie: 'xyz' },
      { cookie: '01020304050607zz' },
    ]) {
      const copy = { ...frame, payload: { ...frame.payload, body: { ...frame.payload.body, ...change } } };
      expect(() => encodeFlap(copy)).toThrow(expect.objectContaining({ code: 'ERR_MALFORMED_FRAME' }));
    }
  });
});
