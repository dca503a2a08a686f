import { arbEventOfKind } from '@crosstalk/compliance';
import {
  type CanonicalEvent,
  type Direction,
  eventFromJson,
  eventToJson,
  fromHex,
  toHex,
  validateEvent,
} from '@crosstalk/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { xmpp } from '../src/index.js';
import { captureRuns } from './capture.js';

/**
 * The loops `crosstalk decode` and `crosstalk encode --protocol xmpp` run (packages/cli), written
 * out against the generic codec interface only, so the CLI works on this codec unchanged.
 */
const codec = xmpp();

function decodeLoop(bytes: Uint8Array, direction: Direction, chunk = 1000): string[] {
  const framer = codec.createFramer(direction);
  const translator = codec.createTranslator({ now: () => 0 });
  const lines: string[] = [];
  for (let at = 0; at < bytes.length; at += chunk) {
    for (const raw of framer.push(bytes.subarray(at, at + chunk))) {
      const frame = codec.frames.decode(raw, direction);
      const events = translator.toEvents(frame, direction).map(eventToJson);
      lines.push(JSON.stringify({ frame: codec.frames.toJson(frame), events, bytes: toHex(raw) }));
    }
    if (framer.error) throw framer.error;
  }
  framer.end();
  return lines;
}

function encodeLoop(lines: string[], direction: Direction): string[] {
  const translator = codec.createTranslator({ now: () => 0 });
  const out: string[] = [];
  for (const line of lines) {
    const input = JSON.parse(line) as { event?: unknown; frame?: unknown };
    const frames =
      'event' in input
        ? translator.fromEvent(eventFromJson(input.event), direction)
        : [codec.frames.fromJson(input.frame)];
    for (const f of frames) out.push(toHex(codec.frames.encode(f)));
  }
  return out;
}

describe('the crosstalk decode / encode loops', () => {
  it('decode prints every frame of the capture with its events, and encode turns the frames back into the bytes', () => {
    let events = 0;
    for (const run of captureRuns()) {
      const lines = decodeLoop(run.bytes, run.direction);
      const parsed = lines.map((l) => JSON.parse(l) as { frame: unknown; events: unknown[]; bytes: string });
      events += parsed.reduce((n, p) => n + p.events.length, 0);
      const again = encodeLoop(
        parsed.map((p) => JSON.stringify({ frame: p.frame })),
        run.direction,
      );
      expect(again).toEqual(parsed.map((p) => p.bytes));
    }
    expect(events).toBeGreaterThan(5);
  });

  it('encode writes canonical events as stanzas that decode reads back as the same events', () => {
    // Events the client sends (the sender is the logged-in user, so no `from` is written).
    const self = { user: 'alice', network: 'localhost' };
    const kinds = ['im', 'typing', 'buddy-request', 'buddy-response', 'file-offer', 'call-invite'] as const;
    for (const kind of kinds) {
      fc.assert(
        fc.property(arbEventOfKind[kind] as fc.Arbitrary<CanonicalEvent>, (generated) => {
          const event = validateEvent({ ...generated, from: self, ...(kind === 'im' ? { sentAt: 0 } : {}) });
          if (event.kind === 'im' && event.html !== undefined) delete (event as { html?: string }).html;
          const hex = encodeLoop([JSON.stringify({ event: eventToJson(event) })], 'client');
          const translator = codec.createTranslator({ self, now: () => 0 });
          const decoded = hex.flatMap((h) =>
            translator.toEvents(codec.frames.decode(fromHex(h), 'client'), 'client'),
          );
          expect(decoded).toEqual([event]);
        }),
        { numRuns: 100 },
      );
    }
  });

  it('works standalone on a stream that starts mid-way (no login seen, no --self)', () => {
    const bytes = new TextEncoder().encode(
      "<message to='bob@yahoo' type='chat' id='x'><body>hi</body></message><presence><show>away</show></presence>",
    );
    const lines = decodeLoop(bytes, 'client').map((l) => JSON.parse(l) as { events: unknown[] });
    // Without knowing who is logged in, a client stanza has no sender: frames print, events do not.
    expect(lines.map((l) => l.events)).toEqual([[], []]);
  });
});
