import { createHash, randomBytes } from 'node:crypto';
import { oscar } from '@crosstalk/codec-oscar';
import { xmpp } from '@crosstalk/codec-xmpp';
import { type RunningProsody, startProsody } from '@crosstalk/codec-xmpp/testing';
import { type Address, MemoryDht } from '@crosstalk/core';
import { createGateway, type Gateway, type GatewayEvent, TcpG2gTransport } from '@crosstalk/gateway';
import {
  bytesSource,
  createClient,
  FileChannelTransport,
  gatewayFileFetcher,
  type ShimClient,
} from '@crosstalk/shim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSocksForwarder, type XmppJsElement, xml, xmppJs } from './support/xmpp-js.js';

/**
 * A file offered by a client-API user (alice@aol, a node of her own) to an XMPP user whose real
 * client (@xmpp/client, with an XEP-0047 handler written here) goes through a SOCKS gateway to a
 * real prosody: the gateway delivers the offer (XEP-0447 metadata and a body), fetches the bytes
 * from alice's node over G2G (the file channel: chunks, hashes, credit), and opens an in-band
 * bytestream to the client, a block per iq. The client's refusals each end that one transfer with
 * a typed error; the connection goes on.
 */

const NS_IBB = 'http://jabber.org/protocol/ibb';
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
/** The gateway's wait for a block's answer: short, so that the test of a client that stops answering is quick. */
const STALL_MS = 1500;

type Mode = 'accept' | 'refuse' | 'stop';

/** What the client's IBB handler saw of one bytestream. */
interface Stream {
  from: string;
  blockSize: number;
  seq: number;
  blocks: number[];
  parts: Buffer[];
  closed: boolean;
}

let prosody: RunningProsody;
let dht: MemoryDht;
let gateway: Gateway;
let alice: ShimClient;
let forwarder: Awaited<ReturnType<typeof startSocksForwarder>>;
let bob: ReturnType<typeof xmppJs>;
const events: GatewayEvent[] = [];
const streams = new Map<string, Stream>();
/** How the client answers the next bytestreams. */
const client = { mode: 'accept' as Mode, maxBlock: 2048 };
const bobAddress: Address = { user: 'bob', network: 'localhost' };

const condition = (name: string, type = 'cancel') => xml('error', { type }, xml(name, NS_STANZAS));

beforeAll(async () => {
  prosody = await startProsody({ users: [{ user: 'bob', password: 'bob-pw' }] });
  dht = new MemoryDht();
  let channel: FileChannelTransport | undefined;
  gateway = await createGateway({
    // OSCAR too: a SOCKS session treats only the networks its gateway bridges as foreign (alice's aol).
    codecs: [xmpp(), oscar()],
    dht,
    socks: { port: 0 },
    logger: false,
    transport: (identity) => {
      channel = new FileChannelTransport(
        new TcpG2gTransport({ identity, host: '127.0.0.1', port: 0 }),
        // Nobody fetches files from a gateway.
        (stream) => stream.destroy(),
      );
      return channel;
    },
    files: { fetcher: gatewayFileFetcher(() => channel), stallTimeout: STALL_MS },
  });
  gateway.on((e) => events.push(e));
  alice = await createClient({
    identity: { address: { user: 'alice', network: 'aol' } },
    network: 'aol',
    dht,
  });
  forwarder = await startSocksForwarder(gateway.socks, { host: prosody.host, port: prosody.port });
  bob = xmppJs(forwarder.port, 'bob', 'bob-pw');
  const callee = bob.entity.iqCallee;
  callee.set(NS_IBB, 'open', (ctx: { stanza: XmppJsElement; element: XmppJsElement }) => {
    if (client.mode === 'refuse') return condition('not-acceptable');
    const blockSize = Number(ctx.element.attrs['block-size']);
    // XEP-0047 §2.2: a block size too large for this client.
    if (blockSize > client.maxBlock) return condition('resource-constraint', 'modify');
    streams.set(ctx.element.attrs.sid!, {
      from: ctx.stanza.attrs.from!,
      blockSize,
      seq: 0,
      blocks: [],
      parts: [],
      closed: false,
    });
    return true;
  });
  callee.set(NS_IBB, 'data', (ctx: { element: XmppJsElement & { text(): string } }) => {
    const stream = streams.get(ctx.element.attrs.sid!);
    if (!stream) return condition('item-not-found');
    if (client.mode === 'stop') return new Promise(() => {}); // never answers: a client that stopped reading
    if (Number(ctx.element.attrs.seq) !== stream.seq) return condition('unexpected-request');
    const block = Buffer.from(ctx.element.text(), 'base64');
    stream.seq++;
    stream.blocks.push(block.length);
    stream.parts.push(block);
    return true;
  });
  callee.set(NS_IBB, 'close', (ctx: { element: XmppJsElement }) => {
    const stream = streams.get(ctx.element.attrs.sid!);
    if (!stream) return condition('item-not-found');
    stream.closed = true;
    return true;
  });
  await bob.entity.start();
  const deadline = Date.now() + 15_000;
  while ((await gateway.directory.lookupLocation(bobAddress))?.gateway !== gateway.id) {
    if (Date.now() > deadline) throw new Error('bob@localhost was not published by the gateway');
    await new Promise((r) => setTimeout(r, 20));
  }
}, 60_000);

afterAll(async () => {
  await bob?.entity.stop().catch(() => {});
  await forwarder?.close();
  await alice?.close();
  await gateway?.close();
  await prosody?.stop();
});

/** The gateway's report of the transfer of `offerId`, once it ended. */
async function pushed(offerId: string): Promise<Extract<GatewayEvent, { type: 'file-pushed' }>> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const found = events.find((e) => e.type === 'file-pushed' && e.offerId === offerId);
    if (found?.type === 'file-pushed') return found;
    if (Date.now() > deadline) throw new Error(`no end of the transfer of ${offerId}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** An IM from alice still reaches bob: the connection outlived whatever happened to a transfer. */
async function stillConnected(text: string): Promise<void> {
  await alice.sendIM(bobAddress, text);
  await bob.receive((el) => el.name === 'message' && el.getChildText('body') === text, `the IM "${text}"`);
}

async function offer(name: string, size: number) {
  const data = randomBytes(size);
  const sha256 = createHash('sha256').update(data).digest('hex');
  const sent = await alice.sendFile(bobAddress, bytesSource(name, data));
  return { data, sha256, sent };
}

describe('a file from a client-API user to an XMPP user behind a SOCKS gateway, over XEP-0047', () => {
  it('arrives whole through an in-band bytestream, in blocks of the size the client accepted', async () => {
    client.mode = 'accept';
    client.maxBlock = 2048;
    const { data, sha256, sent } = await offer('holiday.jpg', 300_000);
    // The offer itself: a body for any client, and XEP-0447 metadata with the size and hash.
    const message = await bob.receive(
      (el) => el.name === 'message' && el.attrs.id === sent.id,
      'the file offer',
    );
    expect(message.getChildText('body')).toContain('holiday.jpg');
    const end = await pushed(sent.id);
    expect(end).toMatchObject({ outcome: 'done', bytes: data.length });
    const stream = [...streams.values()].find((s) => s.parts.length > 0 && s.closed)!;
    expect(stream.from.startsWith('alice@aol')).toBe(true);
    // The gateway offered 4096, the client refused it as too large, 2048 was taken (XEP-0047 §2.2).
    expect(stream.blockSize).toBe(2048);
    expect(Math.max(...stream.blocks)).toBeLessThanOrEqual(2048);
    const received = Buffer.concat(stream.parts);
    expect(received.length).toBe(data.length);
    expect(createHash('sha256').update(received).digest('hex')).toBe(sha256);
    streams.clear();
  }, 60_000);

  it('a client that refuses the bytestream ends that transfer only (IbbRefusedError)', async () => {
    client.mode = 'refuse';
    const { sent } = await offer('refused.bin', 10_000);
    expect(await pushed(sent.id)).toMatchObject({ outcome: 'ERR_IBB_REFUSED', bytes: 0 });
    await stillConnected('still here after a refusal ✓');
    streams.clear();
  }, 60_000);

  it('a client that wants blocks below the smallest the gateway sends: IbbBlockSizeError', async () => {
    client.mode = 'accept';
    client.maxBlock = 100;
    const { sent } = await offer('tiny-blocks.bin', 10_000);
    expect(await pushed(sent.id)).toMatchObject({ outcome: 'ERR_IBB_BLOCK_SIZE' });
    await stillConnected('still here after a block size nobody sends');
    client.maxBlock = 2048;
    streams.clear();
  }, 60_000);

  it('a close for an unknown sid is refused (item-not-found); a data block from the client ends the transfer (IbbProtocolError)', async () => {
    client.mode = 'stop';
    const { sent } = await offer('wrong-sid.bin', 50_000);
    // The client holds the first block unanswered: the stream is open.
    const deadline = Date.now() + 15_000;
    while (streams.size === 0) {
      if (Date.now() > deadline) throw new Error('no bytestream opened');
      await new Promise((r) => setTimeout(r, 20));
    }
    const [sid, stream] = [...streams.entries()][0]!;
    const ask = (child: ReturnType<typeof xml>) =>
      bob.entity.iqCaller.request(xml('iq', { type: 'set', to: stream.from }, child));
    await expect(ask(xml('close', { xmlns: NS_IBB, sid: 'no-such-stream' }))).rejects.toMatchObject({
      condition: 'item-not-found',
    });
    // Only the initiator sends data (XEP-0047 §2.3): the client sending some on the gateway's stream.
    await expect(ask(xml('data', { xmlns: NS_IBB, sid, seq: '0' }, 'AAAA'))).rejects.toMatchObject({
      condition: 'bad-request',
    });
    expect(await pushed(sent.id)).toMatchObject({ outcome: 'ERR_IBB_PROTOCOL' });
    await stillConnected('still here after a malformed bytestream');
    streams.clear();
  }, 60_000);

  it('a client that closes the stream early ends that transfer (IbbClosedError)', async () => {
    client.mode = 'stop';
    const { sent } = await offer('closed-early.bin', 50_000);
    const deadline = Date.now() + 15_000;
    while (streams.size === 0) {
      if (Date.now() > deadline) throw new Error('no bytestream opened');
      await new Promise((r) => setTimeout(r, 20));
    }
    const [sid, stream] = [...streams.entries()][0]!;
    await bob.entity.iqCaller.request(
      xml('iq', { type: 'set', to: stream.from }, xml('close', { xmlns: NS_IBB, sid })),
    );
    expect(await pushed(sent.id)).toMatchObject({ outcome: 'ERR_IBB_CLOSED' });
    await stillConnected('still here after closing a stream');
    streams.clear();
  }, 60_000);

  it('a client that stops answering blocks: FilePushStalledError after the stall timeout, and a close', async () => {
    client.mode = 'stop';
    const { sent } = await offer('stalled.bin', 50_000);
    expect(await pushed(sent.id)).toMatchObject({ outcome: 'ERR_FILE_PUSH_STALLED', bytes: 0 });
    // The gateway told the client the stream is over (XEP-0047 §2.4).
    await bob.receive(
      (el) => el.name === 'iq' && el.getChild('close')?.attrs.xmlns === NS_IBB,
      'the close of the stalled stream',
    );
    client.mode = 'accept';
    await stillConnected('still here after a stalled transfer');
    // And a file after it arrives whole.
    streams.clear();
    const { data, sent: next } = await offer('after.bin', 20_000);
    expect(await pushed(next.id)).toMatchObject({ outcome: 'done', bytes: data.length });
  }, 60_000);
});
