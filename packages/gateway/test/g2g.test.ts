import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { toyCodec } from '@crosstalk/compliance';
import { isCrossTalkError } from '@crosstalk/core';
import NoiseSecretStream from '@hyperswarm/secret-stream';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeLocated, encodeG2g, G2gFramer, G2gType, locatedParts, u32 } from '../src/g2g/wire.js';
import {
  createGateway,
  G2G_DIAL_HOLD_DOWN,
  G2G_DIAL_HOLD_DOWN_MAX,
  G2G_PRE_AUTH_BYTES,
  G2G_SLOW_ACK_ROUNDS,
  G2gNode,
  G2gRefusedError,
  type GatewayIdentity,
  generateIdentity,
  identityKeyPair,
  TcpG2gTransport,
  UserOfflineError,
} from '../src/index.js';

const nodes: G2gNode[] = [];
const servers: Server[] = [];
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.close();
  for (const s of servers.splice(0)) s.close();
});

async function node(
  onEvent: ConstructorParameters<typeof G2gNode>[0]['onEvent'] = async () => 'test',
  identity: GatewayIdentity = generateIdentity(),
  port = 0,
) {
  const n = new G2gNode({ transport: new TcpG2gTransport({ identity, port }), onEvent });
  nodes.push(n);
  const contact = await n.listen();
  return { n, identity, contact, peer: { id: identity.id, contact } };
}

/**
 * A TCP transport of a fresh identity that counts its dials (`counted.dials`); each dial first
 * waits for `before`, when given (a dial that hangs).
 */
function dialCounting(before?: () => Promise<void>) {
  const transport = new TcpG2gTransport({ identity: generateIdentity() });
  const connect = transport.connect.bind(transport);
  const counted = { dials: 0 };
  transport.connect = async (...args) => {
    counted.dials++;
    await before?.();
    return connect(...args);
  };
  return { transport, counted };
}

/** A TCP relay to `to` that records every byte in both directions (what a wire tap sees). */
async function tap(to: { host: string; port: number }) {
  const seen: Buffer[] = [];
  const server = createServer((inbound) => {
    const outbound = connect(to.port, to.host);
    for (const [from, into] of [
      [inbound, outbound],
      [outbound, inbound],
    ] as const) {
      from.on('data', (chunk: Buffer) => {
        seen.push(chunk);
        into.write(chunk);
      });
      from.on('close', () => into.destroy());
      from.on('error', () => {});
    }
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as { port: number }).port, seen: () => Buffer.concat(seen) };
}

describe('G2G links', () => {
  it('authenticates both ends and acknowledges events with the delivering protocol', async () => {
    const received: { peer: string; payload: string }[] = [];
    const b = await node(async (peer, payload) => {
      received.push({ peer, payload: Buffer.from(payload).toString() });
      return 'ymsg';
    });
    const a = await node();
    expect(a.contact).toEqual({ transport: 'tcp', host: '127.0.0.1', port: expect.any(Number) });
    expect(await a.n.send(b.peer, Buffer.from('<message/>'))).toBe('ymsg');
    expect(received).toEqual([{ peer: a.identity.id, payload: '<message/>' }]);
  });

  it('encrypts what it carries: a tap on the TCP connection sees no event text', async () => {
    const b = await node();
    const a = await node();
    const wire = await tap({ host: '127.0.0.1', port: Number(b.contact.port) });
    const secret = 'the heron flies at midnight';
    const via = { id: b.identity.id, contact: { ...b.contact, port: wire.port } };
    expect(await a.n.send(via, Buffer.from(`<message><body>${secret}</body></message>`))).toBe('test');
    expect(wire.seen().length).toBeGreaterThan(0);
    expect(wire.seen().includes(Buffer.from('heron'))).toBe(false);
    expect(wire.seen().includes(Buffer.from('message'))).toBe(false);
  });

  it('refuses a peer that is not the gateway we dialled, and sends it nothing', async () => {
    const received: Uint8Array[] = [];
    const b = await node(async (_peer, payload) => {
      received.push(payload);
      return 'test';
    });
    const a = await node();
    const impostor = { ...b.peer, id: generateIdentity().id };
    const error = await a.n.send(impostor, Buffer.from('for someone else')).catch((e) => e);
    expect(isCrossTalkError(error, 'ERR_G2G_AUTH')).toBe(true);
    expect(error.message).toMatch(/but .* answered/);
    // b still works, and never saw the event meant for someone else.
    expect(await a.n.send(b.peer, Buffer.from('for b'))).toBe('test');
    expect(received.map((p) => Buffer.from(p).toString())).toEqual(['for b']);
  });

  it('refuses a contact of another transport, and a link to itself', async () => {
    const a = await node();
    const other = await a.n
      .send({ id: generateIdentity().id, contact: { transport: 'hyperdht' } }, Buffer.from('x'))
      .catch((e) => e);
    expect(isCrossTalkError(other, 'ERR_G2G_CONTACT')).toBe(true);
    const self = await a.n.send(a.peer, Buffer.from('x')).catch((e) => e);
    expect(isCrossTalkError(self, 'ERR_G2G_AUTH')).toBe(true);
  });

  it('an incoming link from its own key is refused', async () => {
    const refused: string[] = [];
    const identity = generateIdentity();
    const b = new G2gNode({
      transport: new TcpG2gTransport({ identity }),
      onEvent: async () => 'test',
      onRefused: ({ error }) => refused.push(error.code),
    });
    nodes.push(b);
    const contact = await b.listen();
    // Another node holding the same key dials it.
    const twin = new TcpG2gTransport({ identity });
    const stream = await twin.connect(identity.id, contact).catch((e) => e);
    await new Promise<void>((resolve) => {
      if (stream instanceof Error || stream.destroyed) return resolve();
      stream.on('close', () => resolve());
      stream.on('error', () => {});
    });
    expect(refused).toEqual(['ERR_G2G_AUTH']);
    await twin.close();
  });

  it('passes the receiver refusal code back to the sender', async () => {
    const b = await node(async () => {
      throw new UserOfflineError('bob@yahoo is offline');
    });
    const a = await node();
    const error = await a.n.send(b.peer, Buffer.from('x')).catch((e) => e);
    expect(error).toBeInstanceOf(G2gRefusedError);
    expect(error.refusal).toBe('ERR_USER_OFFLINE');
  });

  it('reuses one link for many events, and redials after the peer restarts', async () => {
    const b = await node();
    const a = await node();
    await Promise.all(Array.from({ length: 50 }, (_, i) => a.n.send(b.peer, Buffer.from(String(i)))));
    expect(a.n.linkCount.dialled).toBe(1);
    expect(b.n.linkCount.accepted).toBe(1);
    await b.n.close();
    nodes.splice(nodes.indexOf(b.n), 1);
    await node(async () => 'again', b.identity, Number(b.contact.port));
    expect(await a.n.send(b.peer, Buffer.from('after restart'))).toBe('again');
  });

  it('drops a link whose peer does not acknowledge in time, and sends again on a new one', async () => {
    let calls = 0;
    // The first event is never answered (a peer process that died without closing its stream).
    const b = await node(() => (++calls === 1 ? new Promise<string>(() => {}) : Promise.resolve('fresh')));
    const a = new G2gNode({
      transport: new TcpG2gTransport({ identity: generateIdentity() }),
      onEvent: async () => 'a',
      ackTimeout: 200,
    });
    nodes.push(a);
    await a.listen();
    expect(await a.send(b.peer, Buffer.from('x'))).toBe('fresh');
    expect(a.linkCount.dialled).toBe(1);
  });

  describe('an event the peer is slow to answer while it answers others (a sender check waiting on the DHT)', () => {
    /** a, dialling b with a 200 ms ACK timeout, counting its dials; `chatter` keeps b answering others. */
    async function slowPeer(answer: (text: string) => Promise<string>) {
      const b = await node(async (_peer, payload) => answer(Buffer.from(payload).toString()));
      const dialling = dialCounting();
      const { transport } = dialling;
      const counted = Object.assign(dialling.counted, { late: [] as string[] });
      const a = new G2gNode({
        transport,
        onEvent: async () => 'a',
        ackTimeout: 200,
        onLateAck: (outcome) => counted.late.push(outcome),
      });
      nodes.push(a);
      await a.listen();
      let chatting = true;
      const chatter = (async () => {
        while (chatting) {
          await a.send(b.peer, Buffer.from('other'));
          await new Promise((r) => setTimeout(r, 40));
        }
      })();
      const stop = async () => {
        chatting = false;
        await chatter;
      };
      return { a, b, counted, stop };
    }

    it('waits on past the ACK timeout: handled once, on the same link', async () => {
      let slowCalls = 0;
      const { a, b, counted, stop } = await slowPeer(async (text) => {
        if (text !== 'slow') return 'b';
        slowCalls++;
        await new Promise((r) => setTimeout(r, 450));
        return 'b, slowly';
      });
      await a.send(b.peer, Buffer.from('first'));
      expect(await a.send(b.peer, Buffer.from('slow'))).toBe('b, slowly');
      await stop();
      expect(slowCalls).toBe(1);
      expect(counted).toEqual({ dials: 1, late: ['answered'] });
    });

    it(`one never answered fails alone after ${G2G_SLOW_ACK_ROUNDS} ACK timeouts; the link stays up`, async () => {
      const { a, b, counted, stop } = await slowPeer((text) =>
        text === 'stuck' ? new Promise<string>(() => {}) : Promise.resolve('b'),
      );
      await a.send(b.peer, Buffer.from('first'));
      const error = await a.send(b.peer, Buffer.from('stuck')).catch((e) => e);
      expect(error).toMatchObject({
        code: 'ERR_DELIVERY_FAILED',
        message: expect.stringContaining('600 ms'),
      });
      await stop();
      expect(await a.send(b.peer, Buffer.from('after'))).toBe('b');
      expect(counted).toEqual({ dials: 1, late: ['failed'] });
    });
  });

  it('the sends a dropped link leaves unanswered all go again on one new link, not a dial each', async () => {
    let unanswered = 50;
    // The first 50 events are never answered; the link is given up with all of them in flight.
    const b = await node(() => (unanswered-- > 0 ? new Promise<string>(() => {}) : Promise.resolve('fresh')));
    const { transport, counted } = dialCounting();
    // Long enough that the resent events' own acknowledgements are not missed on a loaded machine.
    const a = new G2gNode({ transport, onEvent: async () => 'a', ackTimeout: 1000 });
    nodes.push(a);
    await a.listen();
    const sent = await Promise.all(
      Array.from({ length: 50 }, (_, i) => a.send(b.peer, Buffer.from(String(i)))),
    );
    expect(sent.every((p) => p === 'fresh')).toBe(true);
    expect(counted.dials).toBe(2);
    expect(b.n.linkCount.accepted).toBeLessThanOrEqual(2);
  });

  it('sends over the newest link with the peer, one the peer dialled included (a restart it did not close)', async () => {
    const identity = generateIdentity();
    const old = await node(async () => 'old', identity);
    const a = await node();
    expect(await a.n.send(old.peer, Buffer.from('1'))).toBe('old');
    // The same gateway again (the old process's link still looks open), and it speaks first.
    const again = await node(async () => 'again', identity);
    await again.n.send(a.peer, Buffer.from('hello'));
    expect(await a.n.send(old.peer, Buffer.from('2'))).toBe('again');
    expect(a.n.linkCount.dialled).toBe(1);
  });

  it('sends waiting on a slow dial take the link the peer opens meanwhile (a peer back up after a restart)', async () => {
    const b = await node(async () => 'b');
    // a's dial hangs (on hyperdht: a lookup meeting the restarted peer's stale announcement first).
    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    const { transport, counted } = dialCounting(() => released);
    const a = new G2gNode({ transport, onEvent: async () => 'a' });
    nodes.push(a);
    const aPeer = { id: a.id, contact: await a.listen() };
    const waiting = Array.from({ length: 5 }, (_, i) => a.send(b.peer, Buffer.from(String(i))));
    // b speaks first (its users' presence after its restart): a accepts b's link.
    expect(await b.n.send(aPeer, Buffer.from('hello'))).toBe('a');
    expect(await Promise.all(waiting)).toEqual(['b', 'b', 'b', 'b', 'b']);
    // A send that starts while the dial still hangs takes b's link too.
    expect(await a.send(b.peer, Buffer.from('later'))).toBe('b');
    expect(counted.dials).toBe(1);
    release();
  });

  describe('a peer whose dial failed is held down', () => {
    /** A node that counts its dials, on a clock the test moves. */
    async function dialler(dialHoldDown?: number) {
      const clock = { now: 1_000_000 };
      const { transport, counted } = dialCounting();
      const n = new G2gNode({
        transport,
        onEvent: async () => 'a',
        now: () => clock.now,
        ...(dialHoldDown === undefined ? {} : { dialHoldDown }),
      });
      nodes.push(n);
      const contact = await n.listen();
      return { n, clock, counted, peer: { id: n.id, contact } };
    }

    /** A gateway that was listening and is gone: its port refuses connections until it restarts there. */
    async function gone() {
      const b = await node(async () => 'b');
      await b.n.close();
      nodes.splice(nodes.indexOf(b.n), 1);
      return { ...b, restart: () => node(async () => 'back', b.identity, Number(b.contact.port)) };
    }

    it('sends fail at once until the hold-down passes, then it is dialled again, and again after twice as long', async () => {
      const a = await dialler();
      const b = await gone();
      const first = await a.n.send(b.peer, Buffer.from('1')).catch((e) => e);
      expect(isCrossTalkError(first)).toBe(true);
      expect(a.counted.dials).toBe(1);
      const held = await a.n.send(b.peer, Buffer.from('2')).catch((e) => e);
      expect(isCrossTalkError(held, 'ERR_G2G_PEER_UNREACHABLE')).toBe(true);
      expect(held).toMatchObject({ peer: b.identity.id, retryIn: G2G_DIAL_HOLD_DOWN, cause: first });
      expect(held.isRetryable).toBe(true);
      expect(a.counted.dials).toBe(1);
      // Past the hold-down: dialled again; it fails again, so the next hold-down is twice as long.
      a.clock.now += G2G_DIAL_HOLD_DOWN;
      await a.n.send(b.peer, Buffer.from('3')).catch(() => {});
      expect(a.counted.dials).toBe(2);
      a.clock.now += G2G_DIAL_HOLD_DOWN;
      expect(await a.n.send(b.peer, Buffer.from('4')).catch((e) => e.code)).toBe('ERR_G2G_PEER_UNREACHABLE');
      expect(a.counted.dials).toBe(2);
      // Back up, and past the hold-down: the dial goes through, and a later failure starts at 1 s again.
      await b.restart();
      a.clock.now += G2G_DIAL_HOLD_DOWN;
      expect(await a.n.send(b.peer, Buffer.from('5'))).toBe('back');
      expect(a.counted.dials).toBe(3);
    });

    it('the hold-down doubles to at most G2G_DIAL_HOLD_DOWN_MAX', async () => {
      const a = await dialler();
      const b = await gone();
      const waits: number[] = [];
      for (let i = 0; i < 8; i++) {
        await a.n.send(b.peer, Buffer.from('x')).catch(() => {});
        const held = await a.n.send(b.peer, Buffer.from('y')).catch((e) => e);
        waits.push(held.retryIn);
        a.clock.now += held.retryIn;
      }
      expect(waits).toEqual([1000, 2000, 4000, 8000, 15000, 15000, 15000, 15000]);
      expect(G2G_DIAL_HOLD_DOWN_MAX).toBe(15_000);
      // A failure long after the last hold-down ended is not one in a row: it starts at 1 s again.
      a.clock.now += G2G_DIAL_HOLD_DOWN_MAX + 1;
      await a.n.send(b.peer, Buffer.from('x')).catch(() => {});
      expect((await a.n.send(b.peer, Buffer.from('y')).catch((e) => e)).retryIn).toBe(G2G_DIAL_HOLD_DOWN);
    });

    it('a link the peer opens ends the hold-down: the next send takes it at once', async () => {
      const a = await dialler();
      const b = await gone();
      await a.n.send(b.peer, Buffer.from('1')).catch(() => {});
      const back = await b.restart();
      // b speaks first (its users' presence after a restart): a accepts b's link.
      expect(await back.n.send(a.peer, Buffer.from('hello'))).toBe('a');
      expect(await a.n.send(b.peer, Buffer.from('2'))).toBe('back');
      expect(a.counted.dials).toBe(1);
    });

    it('a record the peer signed since the failed dial lifts the hold-down once (a node restarted with the same key)', async () => {
      const a = await dialler();
      const b = await gone();
      const failedAt = a.clock.now;
      await a.n.send({ ...b.peer, signedAt: failedAt - 5_000 }, Buffer.from('1')).catch(() => {});
      // The record the failed dial went by, or one as old: still held down.
      const old = { ...b.peer, signedAt: failedAt - 5_000 };
      expect(await a.n.send(old, Buffer.from('2')).catch((e) => e.code)).toBe('ERR_G2G_PEER_UNREACHABLE');
      expect(a.counted.dials).toBe(1);
      // A record signed since, but the peer is still gone: one dial, then held down through the next
      // hold-down whatever the records say (a peer whose clock runs ahead signs "newer" ones forever).
      const newer = { ...b.peer, signedAt: failedAt + 100 };
      await a.n.send(newer, Buffer.from('3')).catch(() => {});
      expect(a.counted.dials).toBe(2);
      expect(await a.n.send(newer, Buffer.from('4')).catch((e) => e.code)).toBe('ERR_G2G_PEER_UNREACHABLE');
      a.clock.now += G2G_DIAL_HOLD_DOWN;
      const newest = { ...b.peer, signedAt: a.clock.now + 100 };
      expect(await a.n.send(newest, Buffer.from('5')).catch((e) => e.code)).toBe('ERR_G2G_PEER_UNREACHABLE');
      expect(a.counted.dials).toBe(2);
      // That hold-down ran its course and its dial failed: a record signed since lifts the next one.
      a.clock.now += 2 * G2G_DIAL_HOLD_DOWN;
      await a.n.send(b.peer, Buffer.from('6')).catch(() => {});
      expect(a.counted.dials).toBe(3);
      await b.restart();
      expect(await a.n.send({ ...b.peer, signedAt: a.clock.now + 1 }, Buffer.from('7'))).toBe('back');
      expect(a.counted.dials).toBe(4);
    });

    it('a hold-down is per contact: a failing contact named for a gateway does not hold down its real one', async () => {
      const a = await dialler();
      const b = await node(async () => 'b');
      const dead = await gone();
      // A record naming b's id with a contact nobody answers at (stale, or planted).
      const bogus = { id: b.identity.id, contact: dead.contact };
      await a.n.send(bogus, Buffer.from('1')).catch(() => {});
      expect(await a.n.send(bogus, Buffer.from('2')).catch((e) => e.code)).toBe('ERR_G2G_PEER_UNREACHABLE');
      expect(await a.n.send(b.peer, Buffer.from('3'))).toBe('b');
    });

    it('dialHoldDown 0 dials for every send', async () => {
      const a = await dialler(0);
      const b = await gone();
      for (let i = 0; i < 3; i++) {
        const error = await a.n.send(b.peer, Buffer.from('x')).catch((e) => e);
        expect(isCrossTalkError(error, 'ERR_G2G_PEER_UNREACHABLE')).toBe(false);
      }
      expect(a.counted.dials).toBe(3);
    });
  });

  it('garbage on the G2G port ends only that connection', async () => {
    const b = await node();
    const a = await node();
    const raw = connect(Number(b.contact.port), '127.0.0.1');
    await once(raw, 'connect');
    raw.resume();
    raw.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
    await once(raw, 'close');
    expect(await a.n.send(b.peer, Buffer.from('fine'))).toBe('test');
  });

  it('a large event written before the handshake completes is judged by the limit after it', async () => {
    const received: number[] = [];
    const b = await node(async (_peer, payload) => {
      received.push(payload.length);
      return 'big';
    });
    // A hand-driven peer: its 64 KiB EVENT is queued before the handshake, so it leaves right
    // behind the last handshake message and the stream header, likely in the same TCP segment.
    const me = generateIdentity();
    const raw: Socket = connect(Number(b.contact.port), '127.0.0.1');
    await once(raw, 'connect');
    const stream = new NoiseSecretStream(true, raw, { keyPair: identityKeyPair(me) });
    const event = Buffer.alloc(64 * 1024, 0x41);
    expect(event.length).toBeGreaterThan(G2G_PRE_AUTH_BYTES);
    stream.write(encodeG2g(G2gType.event, Buffer.concat([u32(1), event])));
    const framer = new G2gFramer();
    const frames: { type: number; body: Uint8Array }[] = [];
    stream.on('data', (chunk: Buffer) => frames.push(...framer.push(chunk)));
    while (!frames.some((f) => f.type === G2gType.ack)) await once(stream, 'data');
    expect(received).toEqual([event.length]);
    stream.destroy();
  });

  it('a peer that stops reading has its link closed at the backlog cap, not buffered without end', async () => {
    // A hand-driven peer that completes the handshake and then never reads.
    const me = generateIdentity();
    const server = createServer((socket) => {
      socket.on('error', () => {});
      new NoiseSecretStream(false, socket, { keyPair: identityKeyPair(me) }).on('error', () => {});
    });
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const peer = {
      id: me.id,
      contact: { transport: 'tcp', host: '127.0.0.1', port: (server.address() as { port: number }).port },
    };
    const a = await node();
    const event = Buffer.alloc(512 * 1024, 0x42);
    let refused = false;
    let refuse!: (e: unknown) => void;
    const refusal = new Promise<unknown>((resolve) => {
      refuse = resolve;
    });
    // 128 MiB: far more than the cap plus what the kernel's socket buffers take on loopback.
    for (let i = 0; i < 256 && !refused; i++) {
      a.n.send(peer, event).catch((e) => {
        refused = true;
        refuse(e);
      });
      await new Promise((r) => setImmediate(r));
    }
    expect(isCrossTalkError(await refusal, 'ERR_SLOW_CONSUMER')).toBe(true);
  });

  it('the framer refuses a frame over its limit from the header, before buffering the body', () => {
    const framer = new G2gFramer();
    framer.maxBuffered = 100;
    expect(framer.push(encodeG2g(G2gType.event, Buffer.alloc(50)))).toHaveLength(1);
    const header = Buffer.alloc(5);
    header.writeUInt32BE(200);
    expect(() => framer.push(header)).toThrow(/outside 1\.\.96/);
  });
});

describe('LOCATED frames: an event with its sender’s location record (G2G version 2)', () => {
  const record = Buffer.from('{"kind":"location","subject":"alice@aol"}');

  it('carry the record beside the event: the handler gets both, and a plain EVENT none', async () => {
    const received: { payload: string; located: string | undefined }[] = [];
    const b = await node(async (_peer, payload, located) => {
      received.push({
        payload: Buffer.from(payload).toString(),
        located: located && Buffer.from(located).toString(),
      });
      return 'xmpp';
    });
    const a = await node();
    expect(await a.n.send(b.peer, Buffer.from('<message/>'), G2gType.event, record)).toBe('xmpp');
    expect(await a.n.send(b.peer, Buffer.from('<presence/>'))).toBe('xmpp');
    expect(received).toEqual([
      { payload: '<message/>', located: record.toString() },
      { payload: '<presence/>', located: undefined },
    ]);
  });

  it('a node of version 1 closes the link on one, as a gateway from before it does; plain events still go', async () => {
    const identity = generateIdentity();
    const old = new G2gNode({
      transport: new TcpG2gTransport({ identity }),
      onEvent: async () => 'old',
      version: 1,
    });
    nodes.push(old);
    const peer = { id: identity.id, contact: await old.listen() };
    const a = await node();
    const refused = await a.n.send(peer, Buffer.from('x'), G2gType.event, record).catch((e) => e);
    expect(isCrossTalkError(refused, 'ERR_DELIVERY_FAILED')).toBe(true);
    expect(refused).not.toBeInstanceOf(G2gRefusedError);
    expect(await a.n.send(peer, Buffer.from('x'))).toBe('old');
  });

  it('only an EVENT carries a record', async () => {
    const b = await node();
    const a = await node();
    const refused = await a.n.send(b.peer, Buffer.from('x'), G2gType.routed, record).catch((e) => e);
    expect(isCrossTalkError(refused, 'ERR_G2G_PROTOCOL')).toBe(true);
  });

  it('a record length past the frame’s end closes that link only', async () => {
    const received: string[] = [];
    const b = await node(async (_peer, payload) => {
      received.push(Buffer.from(payload).toString());
      return 'test';
    });
    const raw: Socket = connect(Number(b.contact.port), '127.0.0.1');
    await once(raw, 'connect');
    const stream = new NoiseSecretStream(true, raw, { keyPair: identityKeyPair(generateIdentity()) });
    stream.on('error', () => {});
    stream.resume();
    stream.write(
      encodeG2g(G2gType.located, Buffer.concat([u32(1), Buffer.from([0xff, 0xff]), Buffer.from('abc')])),
    );
    await once(stream, 'close');
    expect(received).toEqual([]);
    const a = await node();
    expect(await a.n.send(b.peer, Buffer.from('fine'), G2gType.event, record)).toBe('test');
    expect(received).toEqual(['fine']);
  });

  it('the record’s length is checked both ways', () => {
    const body = Buffer.concat(locatedParts(record, Buffer.from('event')));
    const { record: back, payload } = decodeLocated(body);
    expect(Buffer.from(back).equals(record)).toBe(true);
    expect(Buffer.from(payload).toString()).toBe('event');
    expect(() => locatedParts(Buffer.alloc(0x10000), Buffer.from('e'))).toThrow(RangeError);
    expect(() => decodeLocated(Buffer.from([0, 0, 1]))).toThrow(/record length 0/);
    expect(() => decodeLocated(Buffer.from([0]))).toThrow(/too short/);
  });
});

describe('createGateway({ transport })', () => {
  const typing = Buffer.from(
    JSON.stringify({ kind: 'typing', from: 'a@aol', to: 'b@yahoo', state: 'paused' }),
  );

  it('listens on the transport it is given, publishes its contact, and closes it', async () => {
    let made: TcpG2gTransport | undefined;
    const g = await createGateway({
      codecs: [toyCodec()],
      socks: { port: 0 },
      logger: false,
      transport: (identity) => {
        made = new TcpG2gTransport({ identity, host: '127.0.0.1', port: 0 });
        return made;
      },
    });
    try {
      expect(g.contact).toEqual(made?.contact);
      expect(g.g2g).toEqual({ host: '127.0.0.1', port: made?.contact?.port });
      const peer = await node();
      // The gateway answers (a refusal is an answer: nobody is online there).
      const error = await peer.n.send({ id: g.id, contact: g.contact }, typing).catch((e) => e);
      expect(error).toBeInstanceOf(G2gRefusedError);
    } finally {
      await g.close();
    }
    const after = await new TcpG2gTransport({ identity: generateIdentity() })
      .connect(g.id, g.contact)
      .catch((e) => e);
    expect(isCrossTalkError(after, 'ERR_DELIVERY_FAILED')).toBe(true);
  });

  it('refuses a transport whose key is not the gateway’s', async () => {
    const error = await createGateway({
      codecs: [toyCodec()],
      socks: { port: 0 },
      logger: false,
      identity: generateIdentity(),
      transport: new TcpG2gTransport({ identity: generateIdentity() }),
    }).catch((e) => e);
    expect(isCrossTalkError(error, 'ERR_INVALID_CONFIG')).toBe(true);
  });
});
