import {
  type Address,
  MemoryCookieTable,
  type SessionContext,
  type SessionOutput,
  toHex,
} from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { textToFragments } from '../src/icbm/message-text.js';
import { encodeFlap, type FlapFrame, oscar, SequenceRewriter, snacFrame } from '../src/index.js';

/** Sans-IO: the session fed bytes directly, no sockets. */
function context(cookies = new MemoryCookieTable()): SessionContext {
  let id = 0;
  return {
    connectionId: 'c1',
    target: { host: '127.0.0.1', port: 5190 },
    isForeign: (a: Address) => a.network !== 'aol' && a.network !== 'icq',
    foreignRoster: () => [],
    cookies,
    endpoints: {
      allocate: () => {
        throw new Error('no virtual endpoints in OSCAR');
      },
      release: () => {},
    },
    now: () => 1_700_000_000_000,
    newId: () => `id${++id}`,
  };
}

const bytes = (frame: FlapFrame, seq: number) => encodeFlap({ ...frame, seq });
const cookie = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
const hello = { channel: 1, seq: 0, payload: { type: 'signon', version: 1, tlvs: [] } } as FlapFrame;
const bosSignon = {
  channel: 1,
  seq: 0,
  payload: { type: 'signon', version: 1, tlvs: [{ type: 6, value: cookie }] },
} as FlapFrame;
const imTo = (screenName: string) =>
  snacFrame(0x04, 0x06, {
    type: 'icbm-to-host',
    cookie: '0102030405060708',
    channel: 1,
    screenName,
    tlvs: [
      { type: 2, fragments: textToFragments('hi') },
      { type: 3, value: new Uint8Array(0) },
    ],
  });
const clientOnline = snacFrame(0x01, 0x02, { type: 'raw', bytes: Uint8Array.of(0, 1, 0, 4) });
const keepAlive = { channel: 5, seq: 0, payload: { type: 'raw', bytes: new Uint8Array(0) } } as FlapFrame;
const seqs = (out: SessionOutput['toServer']) => {
  const all = Buffer.concat(out);
  const found: number[] = [];
  for (let at = 0; at < all.length; at += 6 + all.readUInt16BE(at + 4)) found.push(all.readUInt16BE(at + 2));
  return found;
};

describe('identity gate', () => {
  it('before "client online" a message to a foreign user passes unchanged and deliver is refused', () => {
    const cookies = new MemoryCookieTable();
    cookies.record('oscar', toHex(cookie), { user: 'alice', network: 'aol' });
    const session = oscar().openSession(context(cookies));
    session.fromServer(bytes(hello, 100));
    const signon = session.fromClient(bytes(bosSignon, 0x2000));
    expect(signon.events).toEqual([{ type: 'identified', address: { user: 'alice', network: 'aol' } }]);
    const raw = bytes(imTo('bob@yahoo'), 0x2001);
    const out = session.fromClient(raw);
    expect(out.toServer).toEqual([raw]);
    expect(out.toClient).toEqual([]);
    expect(out.events).toEqual([]);
    const im = {
      kind: 'im',
      id: '1',
      from: { user: 'bob', network: 'yahoo' },
      to: { user: 'alice', network: 'aol' },
      text: 'x',
      sentAt: 0,
    } as const;
    expect(() => session.deliver(im)).toThrow(expect.objectContaining({ code: 'ERR_SESSION_STATE' }));
    expect(session.affinity(im)).toBe(0);

    // After "client online" the same message is withheld and acknowledged locally.
    const online = session.fromClient(bytes(clientOnline, 0x2002));
    expect(online.events).toEqual([{ type: 'verified', address: { user: 'alice', network: 'aol' } }]);
    expect(cookies.lookup('oscar', toHex(cookie))).toBeUndefined();
    const withheld = session.fromClient(bytes(imTo('bob@yahoo'), 0x2003));
    expect(withheld.toServer).toEqual([]);
    expect(withheld.toClient).toHaveLength(1);
    expect(withheld.events.map((e) => e.type)).toEqual(['outbound']);
    // The next client frame is renumbered to fill the gap; a native IM keeps its other bytes.
    const next = session.fromClient(bytes(imTo('bobby'), 0x2004));
    expect(seqs(next.toServer)).toEqual([0x2003]);
    const original = bytes(imTo('bobby'), 0x2004);
    expect(Buffer.from(next.toServer[0]!).subarray(4).equals(Buffer.from(original).subarray(4))).toBe(true);
  });

  it("the client's own status: set during sign-on it is reported at verified, later changes as they pass", () => {
    const cookies = new MemoryCookieTable();
    const me = { user: '123456789', network: 'icq' };
    cookies.record('oscar', toHex(cookie), me);
    const session = oscar().openSession(context(cookies));
    session.fromServer(bytes(hello, 100));
    session.fromClient(bytes(bosSignon, 0x2000));
    // ICQ status 0x01/0x1E TLV 6: away (0x0001), before "client online": passed on, not yet reported.
    const status = (value: number) =>
      snacFrame(0x01, 0x1e, { type: 'tlvs', tlvs: [{ type: 6, value: Uint8Array.of(0, 0, 0, value) }] });
    const early = bytes(status(0x01), 0x2001);
    const before = session.fromClient(early);
    expect(before.toServer).toEqual([early]);
    expect(before.events).toEqual([]);
    const online = session.fromClient(bytes(clientOnline, 0x2002));
    expect(online.events).toEqual([
      { type: 'verified', address: me },
      { type: 'self', event: { kind: 'presence', from: me, status: 'away' } },
    ]);
    const back = bytes(status(0x00), 0x2003);
    const later = session.fromClient(back);
    expect(later.toServer).toEqual([back]);
    expect(later.events).toEqual([{ type: 'self', event: { kind: 'presence', from: me, status: 'online' } }]);
    // Idle 0x01/0x11: idle since the given number of seconds ago.
    const idle = session.fromClient(bytes(snacFrame(0x01, 0x11, { type: 'idle', seconds: 120 }), 0x2004));
    expect(idle.events).toEqual([
      {
        type: 'self',
        event: { kind: 'presence', from: me, status: 'idle', idleSince: 1_700_000_000_000 - 120_000 },
      },
    ]);
  });

  it('same-network traffic keeps its exact bytes while nothing was withheld or injected', () => {
    const session = oscar().openSession(context());
    const frames = [bytes(hello, 7), bytes(imTo('bobby'), 8), bytes(keepAlive, 9)];
    const out = session.fromClient(Buffer.concat(frames));
    expect(Buffer.concat(out.toServer).equals(Buffer.concat(frames))).toBe(true);
  });

  it('bad bytes after good frames: the good frames go out and the session closes with the error', () => {
    const session = oscar().openSession(context());
    const good = bytes(hello, 1);
    const out = session.fromClient(Uint8Array.from([...good, 0x2a, 0x09, 0, 0, 0, 0]));
    expect(out.toServer).toEqual([good]);
    expect(out.events.at(-1)).toMatchObject({ type: 'closed', error: { code: 'ERR_MALFORMED_FRAME' } });
    expect(session.state).toBe('closed');
    expect(() => session.fromClient(good)).toThrow(expect.objectContaining({ code: 'ERR_STREAM_CLOSED' }));
    const other = oscar().openSession(context());
    expect(() => other.fromServer(Uint8Array.of(0x47, 0x45, 0x54, 0x20, 0x2f, 0x20))).toThrow(
      expect.objectContaining({ code: 'ERR_MALFORMED_FRAME' }),
    );
    expect(other.state).toBe('closed');
  });

  it('close() ends the session with a closed event', () => {
    const session = oscar().openSession(context());
    expect(session.close('bye').events).toEqual([{ type: 'closed', reason: 'bye' }]);
    expect(session.state).toBe('closed');
  });
});

describe('sequence rewriter', () => {
  const frame = (seq: number) => Uint8Array.of(0x2a, 5, seq >>> 8, seq & 0xff, 0, 0);
  const seqOf = (b: Uint8Array) => (b[2]! << 8) | b[3]!;

  it('passes frames untouched until a frame is withheld or injected', () => {
    const r = new SequenceRewriter();
    const f = frame(10);
    expect(r.forward(f)).toBe(f);
    expect(r.shifted).toBe(false);
    expect(r.next).toBe(11);
  });

  it('withholding shifts later numbers down, injecting shifts them up, across the 16-bit wrap', () => {
    const r = new SequenceRewriter();
    const seen = [seqOf(r.forward(frame(0xfffd)))];
    r.withhold(); // 0xfffe is kept from the receiver
    seen.push(seqOf(r.forward(frame(0xffff))));
    seen.push(r.inject());
    seen.push(r.inject());
    seen.push(seqOf(r.forward(frame(0x0000))));
    seen.push(seqOf(r.forward(frame(0x0001))));
    expect(seen).toEqual([0xfffd, 0xfffe, 0xffff, 0x0000, 0x0001, 0x0002]);
    expect(r.shifted).toBe(true);
  });
});
