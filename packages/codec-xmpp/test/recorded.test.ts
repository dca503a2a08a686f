import { readTranscript } from '@crosstalk/compliance';
import { bytesEqual, eventToJson } from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { xmpp } from '../src/index.js';

// A session recorded against prosody 0.12 with @xmpp/client 0.14 (alice) and our scripted client
// (carol): test/fixtures/record-session.ts. Real server spellings: `&quot;` in text, `xml:lang`
// everywhere, attributes in any order; xmpp.js writes double quotes.
const entries = readTranscript(new URL('./fixtures/prosody-xmppjs.jsonl', import.meta.url).pathname);
const codec = xmpp();

function replay(conn: string) {
  const translator = codec.createTranslator({ now: () => 0, newId: () => 'gen' });
  const framers = { client: codec.createFramer('client'), server: codec.createFramer('server') };
  const events: { direction: string; event: unknown }[] = [];
  let frames = 0;
  for (const e of entries.filter((x) => x.conn === conn)) {
    for (const raw of framers[e.direction].push(e.bytes)) {
      const frame = codec.frames.decode(raw, e.direction);
      expect(bytesEqual(codec.frames.encode(frame), raw), Buffer.from(raw).toString()).toBe(true);
      frames++;
      for (const ev of translator.toEvents(frame, e.direction))
        events.push({ direction: e.direction, event: eventToJson(ev) });
    }
  }
  framers.client.end();
  framers.server.end();
  return { events, frames, translator };
}

describe('a session recorded against prosody and @xmpp/client', () => {
  it("alice's stream: every frame byte-identical, and the canonical events", () => {
    const { events, frames, translator } = replay('alice');
    expect(frames).toBeGreaterThan(30);
    expect(translator.selfJid).toBe('alice@localhost/desk');
    const kinds = events.map((e) => `${e.direction} ${(e.event as { kind: string }).kind}`);
    expect(kinds).toContain('client buddy-request');
    expect(kinds).toContain('client buddy-response');
    expect(events).toContainEqual({
      direction: 'client',
      event: {
        kind: 'im',
        id: 'c2',
        from: 'alice@localhost',
        to: 'carol@localhost',
        text: 'h\u00e9llo \u2603 & <3 \u{1F600}',
        html: '<p>h\u00e9llo <strong>\u2603</strong></p>',
        sentAt: 0,
      },
    });
    expect(events).toContainEqual({
      direction: 'server',
      event: {
        kind: 'im',
        id: 'sc3',
        from: 'carol@localhost',
        to: 'alice@localhost',
        text: 'hi alice, "quotes" & \u00fcml\u00e4uts',
        sentAt: 0,
      },
    });
    expect(events).toContainEqual({
      direction: 'server',
      event: { kind: 'typing', from: 'carol@localhost', to: 'alice@localhost', state: 'composing' },
    });
    expect(events).toContainEqual({
      direction: 'server',
      event: {
        kind: 'roster',
        owner: 'alice@localhost',
        items: [
          {
            address: 'carol@localhost',
            name: 'Carol',
            groups: ['Friends'],
            subscription: 'both',
            pending: false,
          },
        ],
      },
    });
    expect(events).toContainEqual({
      direction: 'client',
      event: { kind: 'presence', from: 'alice@localhost', status: 'online', text: 'at my desk \u2603' },
    });
  });

  it("carol's stream: roster pushes with ask, the request and the answer", () => {
    const { events } = replay('carol');
    expect(events).toContainEqual({
      direction: 'server',
      event: {
        kind: 'roster',
        owner: 'carol@localhost',
        items: [{ address: 'alice@localhost', groups: [], subscription: 'from', pending: true }],
      },
    });
    expect(events).toContainEqual({
      direction: 'server',
      event: { kind: 'buddy-response', from: 'alice@localhost', to: 'carol@localhost', accepted: true },
    });
    expect(events).toContainEqual({
      direction: 'server',
      event: { kind: 'buddy-request', from: 'alice@localhost', to: 'carol@localhost' },
    });
  });
});
