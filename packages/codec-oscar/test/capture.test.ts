import { bytesEqual, type CanonicalEvent, formatAddress } from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { createFlapFramer, decodeFlap, encodeFlap, OscarTranslator } from '../src/index.js';
import { pcapStreams } from './goldens.js';

/**
 * The 2009 capture (nfpc_evidence01_ann_aim.pcap): plain OSCAR on TCP 443. Stream 2 is the
 * conversation of the local user ("Ann", whose screen name the capture never shows, hence `self`)
 * with Sec558user1; stream 4 is a service connection entered with a cookie.
 */
const streams = pcapStreams();
const SELF = { user: 'ann', network: 'aol' };

function framesOf(bytes: Uint8Array): Uint8Array[] {
  const framer = createFlapFramer();
  const frames = framer.push(bytes).map((f) => f.slice());
  framer.end();
  return frames;
}

describe('the real AIM capture', () => {
  it('every FLAP frame of both plain streams, both directions, decodes, with every in-scope SNAC structured, and re-encodes byte for byte', () => {
    const counts: Record<string, number> = {};
    for (const s of streams) {
      for (const [direction, bytes] of [
        ['client', s.fromClient],
        ['server', s.fromServer],
      ] as const) {
        const frames = framesOf(bytes);
        counts[`${s.stream} ${direction}`] = frames.length;
        for (const raw of frames) {
          const frame = decodeFlap(raw);
          if (frame.payload.type === 'snac' && frame.payload.body.type === 'raw') {
            expect(
              frame.payload.body.error,
              `${frame.payload.family}/${frame.payload.subtype}`,
            ).toBeUndefined();
          }
          expect(bytesEqual(encodeFlap(frame), raw)).toBe(true);
        }
      }
    }
    expect(counts).toEqual({ '2 client': 7, '2 server': 13, '4 client': 6, '4 server': 5 });
  });

  it('chunked as the TCP segments arrived, the framer gives the same frames; one segment completes two', () => {
    const s = streams.find((x) => x.stream === 2)!;
    const framer = createFlapFramer();
    const perSegment = s.segments
      .filter((seg) => seg.direction === 'client')
      .map((seg) => framer.push(seg.bytes).map((f) => decodeFlap(f).seq));
    framer.end();
    // tshark frame 212: the last 100 bytes of the frame with seq 101 and the whole frame with seq 102.
    expect(perSegment).toEqual([[96], [97], [98], [99], [100], [], [101, 102]]);
  });

  it('its IMs and typing notifications come out as canonical events with the right screen names', () => {
    const s = streams.find((x) => x.stream === 2)!;
    const events: { direction: string; event: CanonicalEvent }[] = [];
    for (const [direction, bytes] of [
      ['client', s.fromClient],
      ['server', s.fromServer],
    ] as const) {
      const translator = new OscarTranslator({ self: SELF });
      for (const raw of framesOf(bytes)) {
        for (const event of translator.toEvents(decodeFlap(raw), direction))
          events.push({ direction, event });
      }
    }
    const ims = events
      .filter((e) => e.event.kind === 'im')
      .map(({ direction, event }) => {
        const im = event as Extract<CanonicalEvent, { kind: 'im' }>;
        return [direction, formatAddress(im.from), formatAddress(im.to), im.text];
      });
    expect(ims).toEqual([
      [
        'client',
        'ann@aol',
        'Sec558user1@aol',
        "Here's the secret recipe... I just downloaded it from the file server. Just copy to a thumb drive and you're good to go >:-)",
      ],
      ['client', 'ann@aol', 'Sec558user1@aol', 'see you in hawaii!'],
      ['server', 'Sec558user1@aol', 'ann@aol', 'thanks dude'],
      ['server', 'Sec558user1@aol', 'ann@aol', "can't wait to sell it on ebay"],
    ]);
    const html = events.find((e) => e.event.kind === 'im' && e.event.text === 'thanks dude')!.event;
    expect(html.kind === 'im' && html.html).toBe(
      '<HTML><BODY><FONT FACE="Arial" SIZE=2 COLOR=#000000>thanks dude</FONT></BODY></HTML>',
    );
    const typing = events
      .filter((e) => e.event.kind === 'typing')
      .map(({ event }) => {
        const t = event as Extract<CanonicalEvent, { kind: 'typing' }>;
        return `${formatAddress(t.from)}>${formatAddress(t.to)}:${t.state}`;
      });
    expect(typing).toEqual([
      'ann@aol>Sec558user1@aol:active',
      'ann@aol>Sec558user1@aol:composing',
      'ann@aol>Sec558user1@aol:active',
      'Sec558user1@aol>ann@aol:composing',
      'Sec558user1@aol>ann@aol:composing',
      'Sec558user1@aol>ann@aol:composing',
      'Sec558user1@aol>ann@aol:active',
    ]);
  });
});
