import { arbEventOfKind } from '@crosstalk/compliance';
import {
  bytesEqual,
  type CanonicalEvent,
  type Direction,
  eventFromJson,
  eventToJson,
  toHex,
} from '@crosstalk/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ymsg } from '../src/index.js';
import { concat, openYmsgFrames, transcript } from './helpers.js';

/**
 * What `crosstalk decode|encode --protocol ymsg` does with any codec, written out here so the CLI
 * (owned elsewhere) works with this codec: bytes -> framer -> decode -> toJson -> JSON text ->
 * fromJson -> encode, translator.toEvents per frame; and JSON events -> fromEvent -> encode.
 */
function decodeLoop(stream: Uint8Array, direction: Direction, chunk = 1000) {
  const codec = ymsg();
  const framer = codec.createFramer(direction);
  const translator = codec.createTranslator();
  const lines: string[] = [];
  for (let at = 0; at < stream.length; at += chunk) {
    for (const raw of framer.push(stream.subarray(at, at + chunk))) {
      const frame = codec.frames.decode(raw, direction);
      const events = translator.toEvents(frame, direction).map(eventToJson);
      lines.push(JSON.stringify({ frame: codec.frames.toJson(frame), events, bytes: toHex(raw) }));
    }
    expect(framer.error).toBeUndefined();
  }
  framer.end();
  return lines;
}

function encodeLoop(lines: string[]): Uint8Array {
  const codec = ymsg();
  return concat(
    lines.map((line) =>
      codec.frames.encode(codec.frames.fromJson((JSON.parse(line) as { frame: unknown }).frame)),
    ),
  );
}

describe('the crosstalk decode/encode loop over YMSG', () => {
  const streams: { name: string; direction: Direction; bytes: Uint8Array }[] = [
    ...(['client', 'server'] as const).flatMap((direction) =>
      ['YMSG/dave', 'YMSG/erin', 'YMSG/frank'].map((conn) => ({
        name: `${conn} ${direction}`,
        direction,
        bytes: concat(
          transcript('ymsg10_escargot')
            .filter((e) => e.conn === conn && e.direction === direction)
            .map((e) => e.bytes),
        ),
      })),
    ),
    { name: 'OpenYMSG YMSG16', direction: 'server', bytes: concat(openYmsgFrames()) },
  ];

  for (const s of streams) {
    it(`decodes ${s.name} to JSON lines and encodes them back to the same bytes`, () => {
      const lines = decodeLoop(s.bytes, s.direction);
      expect(lines.length).toBeGreaterThan(0);
      expect(bytesEqual(encodeLoop(lines), s.bytes)).toBe(true);
      for (const line of lines) {
        const { events } = JSON.parse(line) as { events: unknown[] };
        for (const e of events) expect(eventToJson(eventFromJson(e))).toEqual(e);
      }
    });
  }

  it('prints readable frames and events for a recorded message', () => {
    const lines = decodeLoop(streams.find((s) => s.name === 'YMSG/dave server')!.bytes, 'server');
    const message = lines.map((l) => JSON.parse(l)).find((l) => l.frame.name === 'MESSAGE');
    expect(message.frame.pairs).toContainEqual([14, 'Hi Dave \u263a']);
    expect(message.events).toEqual([
      expect.objectContaining({ kind: 'im', from: 'erin@yahoo', to: 'dave@yahoo', text: 'Hi Dave \u263a' }),
    ]);
  });

  it('encodes canonical events from JSON in both directions, standalone (no gateway, default isForeign)', () => {
    const kinds = ['im', 'typing', 'presence', 'buddy-request', 'buddy-response', 'roster'] as const;
    for (const direction of ['client', 'server'] as const) {
      fc.assert(
        fc.property(fc.oneof(...kinds.map((k) => arbEventOfKind[k])), (event: CanonicalEvent) => {
          fc.pre(!(event.kind === 'roster' && direction === 'client'));
          const codec = ymsg();
          const translator = codec.createTranslator();
          const json = JSON.parse(JSON.stringify({ event: eventToJson(event) })) as { event: unknown };
          for (const frame of translator.fromEvent(eventFromJson(json.event), direction)) {
            const bytes = codec.frames.encode(frame);
            const again = codec.frames.decode(bytes, direction);
            expect(bytesEqual(codec.frames.encode(again), bytes)).toBe(true);
            const events = codec.createTranslator().toEvents(again, direction);
            for (const e of events) expect(() => eventToJson(e)).not.toThrow();
          }
        }),
        { numRuns: 200 },
      );
    }
    // A client cannot send a whole roster, and YMSG carries no files: typed errors.
    const codec = ymsg();
    expect(() =>
      codec
        .createTranslator()
        .fromEvent({ kind: 'roster', owner: { user: 'a', network: 'yahoo' }, items: [] }, 'client'),
    ).toThrow(expect.objectContaining({ code: 'ERR_UNSUPPORTED_EVENT' }));
  });
});
