import {
  type Address,
  bytesEqual,
  type Direction,
  fromHex,
  isCrossTalkError,
  MemoryCookieTable,
  type ProxySession,
  type RosterItem,
  type SessionContext,
  type SessionEvent,
} from '@crosstalk/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodePacket,
  encodePacket,
  YmsgKey as K,
  parseList15,
  YmsgService as S,
  YmsgStatus,
  ymsg,
  ymsgPacket,
} from '../src/index.js';
import { OPENYMSG_PACKETS } from './fixtures/openymsg-ymsg16.js';
import { concat, transcript } from './helpers.js';

const bob: Address = { user: 'bob', network: 'aol' };
const dave: Address = { user: 'dave', network: 'yahoo' };

function context(foreign: RosterItem[] = []): SessionContext {
  let id = 0;
  return {
    connectionId: 'c1',
    target: { host: '127.0.0.1', port: 5050 },
    isForeign: (a) => a.network !== 'yahoo',
    foreignRoster: () => foreign,
    cookies: new MemoryCookieTable(),
    endpoints: {
      allocate: () => ({ host: '127.0.0.1', port: 1 }),
      release: () => {},
    },
    now: () => 1_700_000_000_000,
    newId: () => `e${++id}`,
  };
}

interface Run {
  toServer: Uint8Array;
  toClient: Uint8Array;
  events: SessionEvent[];
}

/** Feeds recorded writes through a session, each write cut into chunks of `size` bytes. */
function replay(
  session: ProxySession,
  writes: { direction: Direction; bytes: Uint8Array }[],
  size = Infinity,
): Run {
  const toServer: Uint8Array[] = [];
  const toClient: Uint8Array[] = [];
  const events: SessionEvent[] = [];
  for (const w of writes) {
    for (let at = 0; at < w.bytes.length; at += size) {
      const chunk = w.bytes.slice(at, Math.min(at + size, w.bytes.length));
      const out = w.direction === 'client' ? session.fromClient(chunk) : session.fromServer(chunk);
      chunk.fill(0xee); // the engine may reuse its buffer
      toServer.push(...out.toServer);
      toClient.push(...out.toClient);
      events.push(...out.events);
    }
  }
  return { toServer: concat(toServer), toClient: concat(toClient), events };
}

const daveWrites = () => transcript('ymsg10_escargot').filter((e) => e.conn === 'YMSG/dave');
const streamOf = (direction: Direction) =>
  concat(
    daveWrites()
      .filter((e) => e.direction === direction)
      .map((e) => e.bytes),
  );

describe('YMSG proxy session on the recorded Escargot session', () => {
  for (const size of [Infinity, 7, 1]) {
    it(`passes same-network traffic byte for byte and verifies dave at his LIST (chunks of ${size})`, () => {
      const run = replay(ymsg().openSession(context()), daveWrites(), size);
      expect(bytesEqual(run.toServer, streamOf('client'))).toBe(true);
      expect(bytesEqual(run.toClient, streamOf('server'))).toBe(true);
      const types = run.events.map((e) => e.type);
      expect(types.slice(0, 3)).toEqual(['identified', 'verified', 'roster']);
      expect(run.events[1]).toEqual({ type: 'verified', address: dave });
      expect(run.events[2]).toMatchObject({ type: 'roster', owner: dave, merged: [] });
      expect(types).not.toContain('outbound');
      const inbound = run.events.flatMap((e) => (e.type === 'inbound' ? [e.event] : []));
      expect(inbound.some((e) => e.kind === 'im' && e.text === 'Hi Dave \u263a')).toBe(true);
    });
  }

  it('tracks the session id the server assigned and injects with it', () => {
    const session = ymsg().openSession(context());
    replay(session, daveWrites().slice(0, 6));
    expect(session.state).toBe('verified');
    const out = session.deliver({
      kind: 'im',
      id: 'x',
      from: bob,
      to: dave,
      text: 'hi',
      sentAt: 1_700_000_000_000,
    });
    const packet = decodePacket(out.toClient[0]!);
    expect([packet.service, packet.status, packet.sessionId, packet.version, packet.vendor]).toEqual([
      S.MESSAGE,
      1,
      0xc84bf0fa,
      0,
      0,
    ]);
    expect(packet.pairs.map(([k]) => k)).toEqual([4, 5, 14, 15, 97]);
  });

  it("reports the user's own status changes as `self` events and still sends them to the server", () => {
    const session = ymsg().openSession(context());
    replay(session, daveWrites().slice(0, 6));
    const send = (service: number, pairs: [number, string][], status = 0) => {
      const bytes = encodePacket(
        ymsgPacket(service, pairs, { version: 0x0a00, status, sessionId: 0xc84bf0fa }),
      );
      const out = session.fromClient(bytes);
      expect(bytesEqual(concat(out.toServer), bytes)).toBe(true);
      return out.events;
    };
    expect(
      send(
        S.ISAWAY,
        [
          [10, '99'],
          [19, 'at lunch'],
          [47, '1'],
        ],
        99,
      ),
    ).toEqual([{ type: 'self', event: { kind: 'presence', from: dave, status: 'away', text: 'at lunch' } }]);
    expect(send(S.ISBACK, [[10, '0']])).toEqual([
      { type: 'self', event: { kind: 'presence', from: dave, status: 'online' } },
    ]);
    expect(send(S.Y6_VISIBLE_TOGGLE, [[13, '2']])).toEqual([
      { type: 'self', event: { kind: 'presence', from: dave, status: 'invisible' } },
    ]);
    // Not a status change: no `self` event.
    expect(send(S.KEEPALIVE, [[0, 'dave']])).toEqual([]);
  });

  it('merges foreign buddies with a LIST packet right after the server list, inside the chunk it came in', () => {
    const session = ymsg().openSession(
      context([{ address: bob, groups: ['Pals'], subscription: 'both', pending: false }]),
    );
    const writes = daveWrites();
    // Everything up to the LIST, then the LIST plus the first 10 bytes of the LOGON after it.
    const listAt = writes.findIndex((w) => w.note.startsWith('LIST'));
    replay(session, writes.slice(0, listAt));
    const list = writes[listAt]!.bytes;
    const logon = writes[listAt + 1]!.bytes;
    const first = session.fromServer(concat([list, logon.subarray(0, 10)]));
    expect(first.events.map((e) => e.type)).toEqual(['verified', 'roster']);
    // The chunk is cut after the LIST: the client reads the merged buddies before the LOGON.
    expect(first.toClient).toHaveLength(3);
    expect(bytesEqual(first.toClient[0]!, list)).toBe(true);
    const merged = decodePacket(first.toClient[1]!);
    expect([merged.service, merged.get(K.BUDDY_LIST), merged.sessionId]).toEqual([
      S.LIST,
      'Pals:bob@aol\n',
      0xc84bf0fa,
    ]);
    expect(bytesEqual(first.toClient[2]!, logon.subarray(0, 10))).toBe(true);
    const second = session.fromServer(logon.subarray(10));
    expect(second.toClient).toHaveLength(1);
    expect(bytesEqual(second.toClient[0]!, logon.subarray(10))).toBe(true);
  });

  it('withholds what is addressed to foreign users and answers the client where it waits', () => {
    const session = ymsg().openSession(context());
    replay(session, daveWrites().slice(0, 6));
    const send = (service: number, pairs: [number, string][], status = 0) =>
      session.fromClient(
        encodePacket(ymsgPacket(service, pairs, { version: 0x0a00, status, sessionId: 0xc84bf0fa })),
      );

    const im = send(
      S.MESSAGE,
      [
        [1, 'dave'],
        [5, 'bob@aol'],
        [14, 'hello'],
        [97, '1'],
      ],
      YmsgStatus.OFFLINE,
    );
    expect(im.toServer).toEqual([]);
    expect(im.events).toEqual([
      {
        type: 'outbound',
        event: { kind: 'im', id: 'e1', from: dave, to: bob, text: 'hello', sentAt: 1_700_000_000_000 },
      },
    ]);
    const typing = send(
      S.NOTIFY,
      [
        [4, 'dave'],
        [5, 'bob@aol'],
        [13, '1'],
        [49, 'TYPING'],
      ],
      YmsgStatus.TYPING,
    );
    expect(typing.toServer).toEqual([]);
    expect(typing.events[0]).toMatchObject({ event: { kind: 'typing', state: 'composing', to: bob } });
    const p2p = send(S.PEERTOPEER, [
      [1, 'dave'],
      [5, 'bob@aol'],
      [49, 'PEERTOPEER'],
    ]);
    expect([p2p.toServer, p2p.toClient, p2p.events]).toEqual([[], [], []]);
    const auth = send(S.AUTH_REQ_15, [
      [1, 'dave'],
      [5, 'bob@aol'],
      [13, '2'],
      [14, 'no'],
    ]);
    expect(auth.events[0]).toMatchObject({
      event: { kind: 'buddy-response', accepted: false, message: 'no', to: bob },
    });
    const rem = send(S.REMBUDDY, [
      [1, 'dave'],
      [7, 'bob@aol'],
      [65, 'Pals'],
    ]);
    expect(rem.toServer).toEqual([]);
    const reply = decodePacket(rem.toClient[0]!);
    expect([reply.service, reply.status, reply.get(K.BUDDY), reply.get(K.RESULT), reply.sessionId]).toEqual([
      S.REMBUDDY,
      1,
      'bob@aol',
      '0',
      0xc84bf0fa,
    ]);
    expect(rem.events[0]).toMatchObject({ event: { kind: 'buddy-response', accepted: false, to: bob } });
    // A Yahoo buddy's message goes on with its own bytes.
    const native = encodePacket(
      ymsgPacket(
        S.MESSAGE,
        [
          [1, 'dave'],
          [5, 'erin'],
          [14, 'hi'],
        ],
        { version: 0x0a00 },
      ),
    );
    const passed = session.fromClient(native);
    expect(passed.toServer).toHaveLength(1);
    expect(bytesEqual(passed.toServer[0]!, native)).toBe(true);
  });

  it('a delivered buddy request answered by adding back (YMSG10) goes out as an acceptance', () => {
    const session = ymsg().openSession(context());
    replay(session, daveWrites().slice(0, 6));
    const notice = decodePacket(
      session.deliver({ kind: 'buddy-request', from: bob, to: dave, message: 'hi' }).toClient[0]!,
    );
    expect([notice.service, notice.status, notice.get(K.USER_ID), notice.get(K.MESSAGE)]).toEqual([
      S.NEWCONTACT,
      3,
      'bob@aol',
      'hi',
    ]);
    const add = encodePacket(
      ymsgPacket(
        S.ADDBUDDY,
        [
          [1, 'dave'],
          [7, 'bob@aol'],
          [65, 'Friends'],
        ],
        { version: 0x0a00 },
      ),
    );
    const out = session.fromClient(add);
    expect(out.toServer).toEqual([]);
    expect(out.events).toEqual([
      { type: 'outbound', event: { kind: 'buddy-response', from: dave, to: bob, accepted: true } },
    ]);
    expect(decodePacket(out.toClient[0]!).get(K.RESULT)).toBe('0');
  });

  it('is a pure relay before verification: withholds and injects nothing', () => {
    const session = ymsg().openSession(context());
    const writes = daveWrites();
    replay(session, writes.slice(0, 2)); // VERIFY both ways
    const toBob = encodePacket(
      ymsgPacket(
        S.MESSAGE,
        [
          [1, 'dave'],
          [5, 'bob@aol'],
          [14, 'early'],
        ],
        { version: 0x0a00 },
      ),
    );
    const out = session.fromClient(toBob);
    expect(out.toServer).toHaveLength(1);
    expect(bytesEqual(out.toServer[0]!, toBob)).toBe(true);
    expect(out.events).toEqual([]);
    expect(() => session.deliver({ kind: 'typing', from: bob, to: dave, state: 'composing' })).toThrow(
      expect.objectContaining({ code: 'ERR_SESSION_STATE' }),
    );
    expect(session.affinity({ kind: 'typing', from: bob, to: dave, state: 'composing' })).toBe(0);
  });

  it('reports a refused login with the server code and never verifies', () => {
    const session = ymsg().openSession(context());
    const auth = encodePacket(ymsgPacket(S.AUTH, [[1, 'dave']], { version: 0x0a00 }));
    const refused = encodePacket(
      ymsgPacket(S.AUTHRESP, [[66, '13']], { version: 0, status: YmsgStatus.LOGIN_ERROR, sessionId: 5 }),
    );
    expect(session.fromClient(auth).events).toEqual([{ type: 'identified', address: dave }]);
    const out = session.fromServer(refused);
    expect(out.events).toEqual([
      { type: 'login-failed', address: dave, code: '13', message: 'Invalid username or password' },
    ]);
    const list = encodePacket(ymsgPacket(S.LIST, [[87, 'Friends:erin\n']], { version: 0 }));
    expect(session.fromServer(list).events).toEqual([]);
    expect(session.state).toBe('identified');
  });
});

describe('YMSG16 through the session', () => {
  const list15 = fromHex(
    OPENYMSG_PACKETS.find((p) => p.source.startsWith('contact/roster/ListOfContacts'))!.hex,
  );

  it('identifies from the token AUTHRESP (277/278/307), verifies at LIST_15 and merges into LIST_15', () => {
    const session = ymsg().openSession(
      context([{ address: bob, groups: [], subscription: 'both', pending: true }]),
    );
    const authresp = ymsgPacket(
      S.AUTHRESP,
      [
        [1, 'testuser'],
        [0, 'testuser'],
        [277, 'v=1&n=...'],
        [278, 'z=...'],
        [307, 'hashhashhashhashhashha--'],
        [244, '4194239'],
        [2, 'testuser'],
        [2, '1'],
        [98, 'us'],
        [135, '9.0.0.2162'],
      ],
      { version: 0x0010, sessionId: 0x47e133 },
    );
    expect(session.fromClient(encodePacket(authresp)).events).toEqual([
      { type: 'identified', address: { user: 'testuser', network: 'yahoo' } },
    ]);
    const out = session.fromServer(list15);
    expect(out.events.map((e) => e.type)).toEqual(['verified', 'roster']);
    const roster = out.events[1] as Extract<SessionEvent, { type: 'roster' }>;
    expect(roster.items).toHaveLength(18);
    expect(roster.merged).toHaveLength(1);
    expect(bytesEqual(out.toClient[0]!, list15)).toBe(true);
    const merged = decodePacket(out.toClient[1]!);
    expect(merged.service).toBe(S.LIST_15);
    expect(parseList15(merged)).toEqual([{ id: 'bob@aol', groups: ['CrossTalk'], pending: true }]);
    // Presence of a foreign buddy goes in as STATUS_15, then Y6_STATUS_UPDATE.
    const online = decodePacket(
      session.deliver({ kind: 'presence', from: bob, status: 'online' }).toClient[0]!,
    );
    const away = decodePacket(
      session.deliver({ kind: 'presence', from: bob, status: 'away', text: 'brb' }).toClient[0]!,
    );
    expect([online.service, online.sessionId, away.service, away.get(K.CUSTOM_STATUS)]).toEqual([
      S.STATUS_15,
      0x47e133,
      S.Y6_STATUS_UPDATE,
      'brb',
    ]);
  });

  it('reports features a delivered event loses, and how well it can deliver', () => {
    const session = ymsg().openSession(context());
    session.fromClient(encodePacket(ymsgPacket(S.AUTH, [[1, 'testuser']])));
    session.fromServer(list15);
    const testuser = { user: 'TestUser', network: 'yahoo' };
    const out = session.deliver({ kind: 'typing', from: bob, to: testuser, state: 'gone' });
    expect(out.events).toEqual([
      {
        type: 'feature-loss',
        event: { kind: 'typing', from: bob, to: testuser, state: 'gone' },
        lost: ['typing.states'],
      },
    ]);
    expect(decodePacket(out.toClient[0]!).get(K.FLAG)).toBe('0');
    expect(session.affinity({ kind: 'im', id: '1', from: bob, to: testuser, text: '', sentAt: 0 })).toBe(1);
    expect(session.affinity({ kind: 'im', id: '1', from: bob, to: dave, text: '', sentAt: 0 })).toBe(0);
    expect(session.affinity({ kind: 'presence', from: bob, status: 'online' })).toBe(1);
    expect(
      session.affinity({ kind: 'file-offer', id: 'f', from: bob, to: testuser, name: 'a', size: 1 }),
    ).toBe(0);
  });

  it('ends with a typed error on garbage and stays closed', () => {
    const session = ymsg().openSession(context());
    session.fromClient(encodePacket(ymsgPacket(S.AUTH, [[1, 'testuser']])));
    session.fromServer(list15);
    const good = encodePacket(ymsgPacket(S.PING, [], { sessionId: 1 }));
    const out = session.fromServer(
      concat([good, new TextEncoder().encode('HTTP/1.1 200 OK\r\nServer: x\r\n\r\n')]),
    );
    expect(out.toClient).toHaveLength(1);
    const closed = out.events.at(-1)!;
    expect(closed).toMatchObject({ type: 'closed', error: { code: 'ERR_MALFORMED_FRAME' } });
    expect(session.state).toBe('closed');
    expect(() => session.fromClient(good)).toThrow(expect.objectContaining({ code: 'ERR_STREAM_CLOSED' }));
  });
});

describe('YMSG proxy session under arbitrary input', () => {
  it('any chunking of the recorded session gives the same bytes and the same events', () => {
    const reference = replay(ymsg().openSession(context()), daveWrites());
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 30 }), (sizes) => {
        const session = ymsg().openSession(context());
        let i = 0;
        const writes = daveWrites().flatMap((w) => {
          const parts: { direction: Direction; bytes: Uint8Array }[] = [];
          for (let at = 0; at < w.bytes.length; ) {
            const size = sizes[i++ % sizes.length]!;
            parts.push({ direction: w.direction, bytes: w.bytes.subarray(at, at + size) });
            at += size;
          }
          return parts;
        });
        const run = replay(session, writes);
        expect(bytesEqual(run.toServer, reference.toServer)).toBe(true);
        expect(bytesEqual(run.toClient, reference.toClient)).toBe(true);
        expect(run.events.map((e) => e.type)).toEqual(reference.events.map((e) => e.type));
      }),
      { numRuns: 60 },
    );
  });

  it('garbage after a verified login gives only typed errors', () => {
    const prefix = daveWrites().slice(0, 6);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.boolean(), (noise, fromServer) => {
        const session = ymsg().openSession(context());
        replay(session, prefix);
        const head = Uint8Array.from([0x59, 0x4d, 0x53, 0x47, ...noise]);
        for (const bytes of [noise, head]) {
          try {
            const out = fromServer ? session.fromServer(bytes) : session.fromClient(bytes);
            for (const e of out.events) if (e.type === 'closed') expect(isCrossTalkError(e.error)).toBe(true);
          } catch (error) {
            expect(isCrossTalkError(error), String(error)).toBe(true);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
