import { bytesEqual, fromHex, isCrossTalkError, toHex } from '@crosstalk/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodePacket,
  encodePacket,
  HEADER_SIZE,
  YmsgKey as K,
  packetFromJson,
  packetToJson,
  parseHeader,
  protocolVersion,
  YmsgService as S,
  YmsgPacket,
  ymsg,
  ymsgPacket,
} from '../src/index.js';
import { OPENYMSG_PACKETS } from './fixtures/openymsg-ymsg16.js';
import { enc, transcript } from './helpers.js';

const utf8 = new TextDecoder();

describe('OpenYMSG recorded YMSG16 packets (test/fixtures/openymsg-ymsg16.ts)', () => {
  it('decode to the recorded service, status, session id and pairs, in order', () => {
    for (const p of OPENYMSG_PACKETS) {
      const packet = decodePacket(fromHex(p.hex));
      expect(packet.version, p.source).toBe(16);
      expect([packet.service, packet.status, packet.sessionId], p.source).toEqual([
        p.service,
        p.status,
        p.sessionId,
      ]);
      expect(
        packet.pairs.map(([k, v]) => [k, utf8.decode(v)]),
        p.source,
      ).toEqual(p.pairs);
      expect(toHex(encodePacket(packet)), p.source).toBe(p.hex);
    }
  });

  it('carry recomputed Length fields: the recorded ones were broken by anonymisation', () => {
    const differing = OPENYMSG_PACKETS.filter(
      (p) => p.recordedLength !== fromHex(p.hex).length - HEADER_SIZE,
    );
    expect(OPENYMSG_PACKETS).toHaveLength(69);
    expect(differing.length).toBe(62);
    // With the recorded length the frame would not even line up with its own bytes.
    const broken = fromHex(differing[0]!.hex);
    broken[8] = differing[0]!.recordedLength >> 8;
    broken[9] = differing[0]!.recordedLength & 0xff;
    expect(() => decodePacket(broken)).toThrow(expect.objectContaining({ code: 'ERR_MALFORMED_FRAME' }));
  });
});

describe('YMSG packets', () => {
  it('reads Escargot version bytes 0a 00 and 00 0a as recorded, and knows both mean YMSG10', () => {
    const [verify] = transcript('ymsg10_escargot');
    const bever = transcript('ymsg10_escargot_bever')[0]!;
    expect(decodePacket(verify!.bytes).version).toBe(0x0a00);
    expect(decodePacket(bever.bytes).version).toBe(0x000a);
    expect(protocolVersion(0x0a00)).toBe(10);
    expect(protocolVersion(0x000a)).toBe(10);
    expect(protocolVersion(0x0010)).toBe(16);
    expect(protocolVersion(0x1234)).toBe(0x1234); // unknown versions are kept, not rejected
  });

  it('keeps repeated keys in order (three key 59 cookies in LIST)', () => {
    const list = transcript('ymsg10_escargot').find(
      (e) => e.note.startsWith('LIST') && e.direction === 'server',
    )!;
    const packet = decodePacket(list.bytes);
    expect(packet.pairs.map(([k]) => k)).toEqual([87, 88, 89, 59, 59, 59, 3, 90, 100, 101, 102, 93]);
    expect(packet.getAll(K.COOKIE).map((c) => c[0])).toEqual(['Y', 'T', 'C']);
    expect(packet.get(88)).toBe('');
  });

  it('keeps payloads that are not clean key/value runs raw, byte for byte', () => {
    const cases = [
      '31c08064617665', // no closing separator
      '31c0806461c08076', // trailing bytes after the last pair
      'c08064617665c080', // empty key
      '3031c08078c080', // key with a leading zero would not re-encode the same
      '2d31c08078c080', // a signed key
      '31c080646176650000', // libpurple's "junk after a NUL" chat packets
    ];
    for (const hex of cases) {
      const payload = fromHex(hex);
      const frame = encodePacket(new YmsgPacket({ service: S.CHATJOIN, raw: payload }));
      const packet = decodePacket(frame);
      expect(packet.raw, hex).toBeDefined();
      expect(packet.pairs).toEqual([]);
      expect(bytesEqual(encodePacket(packet), frame)).toBe(true);
    }
  });

  it('round-trips arbitrary values (non-UTF-8 bytes included) through decode, encode and JSON', () => {
    const value = fc.uint8Array({ maxLength: 40 }).filter((v) => !toHex(v).match(/^(..)*c080/));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 99999 }), value), { maxLength: 12 }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (pairs, version, sessionId) => {
          const packet = ymsgPacket(S.MESSAGE, pairs, { version, sessionId, status: 0x5a55aa56 });
          const frame = encodePacket(packet);
          const decoded = decodePacket(frame);
          // A value may end in C0 right before the separator: the first C0 80 still ends it.
          expect(decoded.raw).toBeUndefined();
          expect(decoded.pairs.map(([k, v]) => [k, toHex(v)])).toEqual(pairs.map(([k, v]) => [k, toHex(v)]));
          const json = JSON.parse(JSON.stringify(packetToJson(decoded)));
          expect(toHex(encodePacket(packetFromJson(json)))).toBe(toHex(frame));
        },
      ),
    );
  });

  it('writes UTF-8 values as JSON strings and other bytes as $hex', () => {
    const packet = ymsgPacket(S.MESSAGE, [
      [14, 'Hi Dave \u263a'],
      [15, Uint8Array.of(0xff, 0xfe)],
    ]);
    const json = packetToJson(packet);
    expect(json.name).toBe('MESSAGE');
    expect(json.pairs).toEqual([
      [14, 'Hi Dave \u263a'],
      [15, { $hex: 'fffe' }],
    ]);
  });

  it('caps the number of pairs and the value length with typed errors', () => {
    const many = encodePacket(
      ymsgPacket(
        S.LIST,
        Array.from({ length: 20 }, (_, i) => [7, `b${i}`] as [number, string]),
      ),
    );
    expect(() => decodePacket(many, { maxPairs: 10 })).toThrow(
      expect.objectContaining({ code: 'ERR_MALFORMED_FRAME' }),
    );
    const long = encodePacket(ymsgPacket(S.MESSAGE, [[14, 'x'.repeat(300)]]));
    expect(() => decodePacket(long, { maxValueLength: 200 })).toThrow(
      expect.objectContaining({ code: 'ERR_FRAME_TOO_LARGE' }),
    );
    const codec = ymsg({ maxPairs: 10 });
    expect(() => codec.frames.decode(many, 'server')).toThrow(
      expect.objectContaining({ code: 'ERR_MALFORMED_FRAME' }),
    );
    expect(decodePacket(many).pairCount).toBe(20);
  });

  it('refuses to build what cannot be encoded, with typed errors', () => {
    const bad = [
      () => encodePacket(ymsgPacket(S.MESSAGE, [[14, Uint8Array.of(0x61, 0xc0, 0x80)]])),
      () => encodePacket(ymsgPacket(S.MESSAGE, [[-1, 'x']])),
      () => encodePacket(ymsgPacket(S.MESSAGE, [[14, 'x'.repeat(70_000)]])),
      () => packetFromJson({ service: 'six' }),
      () => packetFromJson({ service: 6, pairs: [[14, { $hex: 'zz' }]] }),
      () => decodePacket(enc.encode('YMSG')),
      () => decodePacket(enc.encode('XMSG0000000000000000')),
    ];
    for (const f of bad) {
      let error: unknown;
      try {
        f();
      } catch (e) {
        error = e;
      }
      expect(isCrossTalkError(error), String(error)).toBe(true);
    }
  });

  it('binary-parser and the hand-written reader agree on every header', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (rest) => {
        const frame = Uint8Array.from([0x59, 0x4d, 0x53, 0x47, ...rest]);
        frame[8] = 0;
        frame[9] = 0;
        const byParser = parseHeader(frame);
        const packet = decodePacket(frame);
        expect(byParser).toEqual({
          version: packet.version,
          vendor: packet.vendor,
          length: 0,
          service: packet.service,
          status: packet.status,
          sessionId: packet.sessionId,
        });
      }),
    );
    expect(() => parseHeader(enc.encode('XMSG0000000000000000'))).toThrow(
      expect.objectContaining({ code: 'ERR_MALFORMED_FRAME' }),
    );
  });

  it('decoded values are views of the frame; with() builds a new packet and leaves the old one', () => {
    const frame = encodePacket(
      ymsgPacket(
        S.MESSAGE,
        [
          [1, 'dave'],
          [5, 'erin'],
          [14, 'hi'],
        ],
        { sessionId: 7 },
      ),
    );
    const packet = decodePacket(frame);
    const changed = packet.with({ sessionId: 9, pairs: [...packet.pairs, [97, '1']] });
    expect(changed.sessionId).toBe(9);
    expect(changed.get(97)).toBe('1');
    expect(bytesEqual(encodePacket(packet), frame)).toBe(true);
    expect(Object.isFrozen(packet.pairs)).toBe(true);
  });
});
