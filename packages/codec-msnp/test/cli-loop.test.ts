import {
  bytesEqual,
  type CanonicalEvent,
  type Direction,
  eventFromJson,
  eventToJson,
  isCrossTalkError,
  parseAddress,
  toHex,
} from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { msnp } from '../src/index.js';
import { referenceGoldens } from './fixtures/reference-goldens.js';
import { TRANSCRIPTS, transcriptGoldens } from './transcripts.js';

/**
 * What `crosstalk decode|encode --protocol msnp` does with a codec, generically (packages/cli):
 * createFramer -> frames.decode -> toJson -> JSON text -> fromJson -> encode, and
 * createTranslator().toEvents on the way; `encode` turns canonical events into frames with
 * fromEvent. Run here over every golden stream so the CLI works with this codec.
 */
const codec = msnp();

function decodeLoop(bytes: Uint8Array, direction: Direction, self?: string) {
  const framer = codec.createFramer(direction);
  const translator = codec.createTranslator(self ? { self: parseAddress(self) } : {});
  const lines: string[] = [];
  for (const raw of framer.push(bytes)) {
    const frame = codec.frames.decode(raw, direction);
    const events = translator.toEvents(frame, direction).map(eventToJson);
    lines.push(JSON.stringify({ frame: codec.frames.toJson(frame), events, bytes: toHex(raw) }));
  }
  framer.end();
  return lines.map((l) => JSON.parse(l) as { frame: unknown; events: unknown[]; bytes: string });
}

describe('the crosstalk decode/encode loop', () => {
  it('decodes every golden stream to JSON lines that encode back to the same bytes', () => {
    const kinds = new Set<string>();
    for (const g of [...TRANSCRIPTS.flatMap(transcriptGoldens), ...referenceGoldens()]) {
      const lines = decodeLoop(g.bytes, g.direction);
      const again = lines.map((l) => codec.frames.encode(codec.frames.fromJson(l.frame)));
      expect(bytesEqual(Buffer.concat(again), g.bytes), g.name).toBe(true);
      for (const l of lines) for (const e of l.events) kinds.add(eventFromJson(e).kind);
    }
    // The transcripts carry every kind MSNP maps.
    expect([...kinds].sort()).toEqual([
      'buddy-request',
      'buddy-response',
      'im',
      'presence',
      'roster',
      'typing',
    ]);
  });

  it('reads the MSNP8 list download of the transcript as one roster event', () => {
    const ns = transcriptGoldens('msnp8').find((g) => g.name.endsWith('NS/alice server'))!;
    const events = decodeLoop(ns.bytes, 'server').flatMap((l) => l.events);
    expect(events).toContainEqual({
      kind: 'roster',
      owner: 'alice@example.com@msn',
      items: [
        {
          address: 'bob@example.com@msn',
          name: 'Bob',
          groups: ['Other Contacts'],
          subscription: 'both',
          pending: false,
        },
      ],
    });
  });

  it('reads the switchboard streams as messages with both ends named', () => {
    // An answerer's server stream never names the user (Escargot even sends a JOI for it): --self does.
    const sb = transcriptGoldens('msnp12').find((g) => g.name.endsWith('SB/bob server'))!;
    const ims = decodeLoop(sb.bytes, 'server', 'bob@example.com@msn')
      .flatMap((l) => l.events)
      .filter((e) => (e as { kind: string }).kind === 'im');
    expect(ims).toEqual([
      {
        kind: 'im',
        id: expect.any(String),
        from: 'alice@example.com@msn',
        to: 'bob@example.com@msn',
        text: 'Hello Bob, this is Alice over MSNP12!',
        html: '<span style="font-family:Arial;color:#000000">Hello Bob, this is Alice over MSNP12!</span>',
        sentAt: expect.any(Number),
      },
    ]);
  });

  it('encodes canonical events from JSON in both directions, standalone', () => {
    const events = [
      { kind: 'im', id: '1', from: 'bob@yahoo', to: 'alice@example.com@msn', text: 'hi', sentAt: 0 },
      { kind: 'typing', from: 'bob@yahoo', to: 'alice@example.com@msn', state: 'composing' },
      { kind: 'presence', from: 'bob@yahoo', status: 'away', text: 'lunch' },
      { kind: 'buddy-request', from: 'bob@yahoo', to: 'alice@example.com@msn', name: 'Bob' },
      { kind: 'buddy-response', from: 'alice@example.com@msn', to: 'bob@yahoo', accepted: true },
      {
        kind: 'roster',
        owner: 'alice@example.com@msn',
        items: [{ address: 'bob@yahoo', name: 'Bob', groups: [], subscription: 'both', pending: false }],
      },
    ];
    const out: Record<Direction, string[]> = { client: [], server: [] };
    for (const direction of ['server', 'client'] as const) {
      const translator = codec.createTranslator({ self: parseAddress('alice@example.com@msn') });
      for (const json of events) {
        let frames: ReturnType<typeof translator.fromEvent>;
        try {
          frames = translator.fromEvent(eventFromJson(json) as CanonicalEvent, direction);
        } catch (error) {
          expect(isCrossTalkError(error, 'ERR_UNSUPPORTED_EVENT'), `${json.kind} ${direction}`).toBe(true);
          out[direction].push(`unsupported ${json.kind}`);
          continue;
        }
        for (const f of frames)
          out[direction].push(new TextDecoder().decode(codec.frames.encode(f)).split('\r\n')[0]!);
      }
    }
    expect(out.server.slice(0, 6)).toEqual([
      'MSG bob@yahoo bob@yahoo 64',
      'MSG bob@yahoo bob@yahoo 82',
      'NLN AWY bob@yahoo bob@yahoo 0',
      'UBX bob@yahoo 58',
      'ADC 0 RL N=bob@yahoo F=Bob',
      'unsupported buddy-response',
    ]);
    expect(out.server[6]).toMatch(/^LST N=bob@yahoo F=Bob C=[0-9a-f-]{36} 11 1 $/);
    expect(out.client).toEqual([
      'MSG 1 N 64',
      'MSG 2 U 82',
      'CHG 3 AWY 0',
      'UUX 4 58',
      'ADC 5 FL N=alice@example.com F=alice@example.com',
      'ADC 6 AL N=bob@yahoo',
      'unsupported roster',
    ]);
  });
});
