import { once } from 'node:events';
import { connect } from 'node:net';
import { isCrossTalkError } from '@crosstalk/core';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeG2g, G2gFramer, G2gType, u32 } from '../src/g2g/wire.js';
import {
  G2G_PRE_AUTH_BYTES,
  G2gNode,
  G2gRefusedError,
  generateIdentity,
  UserOfflineError,
} from '../src/index.js';

const nodes: G2gNode[] = [];
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.close();
});

async function node(onEvent: ConstructorParameters<typeof G2gNode>[0]['onEvent'] = async () => 'test') {
  const identity = generateIdentity();
  const n = new G2gNode({ identity, onEvent });
  nodes.push(n);
  const address = await n.listen();
  return { n, identity, address, peer: { id: identity.id, ...address } };
}

describe('G2G links', () => {
  it('authenticates both ends and acknowledges events with the delivering protocol', async () => {
    const received: { peer: string; payload: string }[] = [];
    const b = await node(async (peer, payload) => {
      received.push({ peer, payload: Buffer.from(payload).toString() });
      return 'ymsg';
    });
    const a = await node();
    expect(await a.n.send(b.peer, Buffer.from('<message/>'))).toBe('ymsg');
    expect(received).toEqual([{ peer: a.identity.id, payload: '<message/>' }]);
  });

  it('refuses a peer that is not the gateway we dialled', async () => {
    const b = await node();
    const a = await node();
    const impostor = { ...b.peer, id: generateIdentity().id };
    try {
      await a.n.send(impostor, Buffer.from('x'));
      expect.unreachable();
    } catch (error) {
      expect(isCrossTalkError(error, 'ERR_G2G_AUTH')).toBe(true);
    }
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
    const b2 = new G2gNode({ identity: b.identity, onEvent: async () => 'again' });
    nodes.push(b2);
    await b2.listen(b.address.host, b.address.port);
    expect(await a.n.send(b.peer, Buffer.from('after restart'))).toBe('again');
  });

  it('garbage on the G2G port ends only that link', async () => {
    const b = await node();
    const a = await node();
    const raw = connect(b.address.port, b.address.host);
    await once(raw, 'connect');
    raw.resume();
    raw.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
    await once(raw, 'close');
    expect(await a.n.send(b.peer, Buffer.from('fine'))).toBe('test');
  });

  it('a large event sent in the same chunk as AUTH is judged by the limit after authentication', async () => {
    const received: number[] = [];
    const b = await node(async (_peer, payload) => {
      received.push(payload.length);
      return 'big';
    });
    // A hand-driven peer: HELLO, then AUTH and a 64 KiB EVENT in one write.
    const me = generateIdentity();
    const nonce = Buffer.alloc(32, 9);
    const raw = connect(b.address.port, b.address.host);
    await once(raw, 'connect');
    raw.write(encodeG2g(G2gType.hello, Buffer.concat([Buffer.from(me.id, 'hex'), nonce])));
    const framer = new G2gFramer();
    const frames: { type: number; body: Uint8Array }[] = [];
    raw.on('data', (chunk: Buffer) => frames.push(...framer.push(chunk)));
    while (!frames.some((f) => f.type === G2gType.hello)) await once(raw, 'data');
    const theirNonce = frames.find((f) => f.type === G2gType.hello)!.body.subarray(32);
    // The transcript the link checks (link.ts): label, signer's nonce, other's nonce, both ids.
    const transcript = Buffer.concat([
      Buffer.from('crosstalk g2g auth v1'),
      nonce,
      theirNonce,
      Buffer.from(me.id, 'hex'),
      Buffer.from(b.identity.id, 'hex'),
    ]);
    const event = Buffer.alloc(64 * 1024, 0x41);
    expect(event.length).toBeGreaterThan(G2G_PRE_AUTH_BYTES);
    raw.write(
      Buffer.concat([
        encodeG2g(G2gType.auth, me.sign(transcript)),
        encodeG2g(G2gType.event, Buffer.concat([u32(1), event])),
      ]),
    );
    while (!frames.some((f) => f.type === G2gType.ack)) await once(raw, 'data');
    expect(received).toEqual([event.length]);
    raw.destroy();
  });

  it('the framer refuses a frame over its limit from the header, before buffering the body', () => {
    const framer = new G2gFramer();
    framer.maxBuffered = 100;
    expect(framer.push(encodeG2g(G2gType.hello, Buffer.alloc(50)))).toHaveLength(1);
    const header = Buffer.alloc(5);
    header.writeUInt32BE(200);
    expect(() => framer.push(header)).toThrow(/outside 1\.\.96/);
  });
});
