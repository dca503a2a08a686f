import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Address,
  addressKey,
  type FileOfferEvent,
  LIMITS,
  MemoryDht,
  parseAddress,
} from '@crosstalk/core';
import { Directory, generateIdentity, TcpG2gTransport } from '@crosstalk/gateway';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { memorySink } from '../src/file/sink.js';
import { bytesSource } from '../src/file/source.js';
import { type ClientOptions, createClient, type ServedReport, type ShimClient } from '../src/index.js';
import { Heard, TEXT, TEXT_BACK, until } from './support.js';

/**
 * Two (or three) client-API users, each on a node of their own, on one MemoryDht: real G2G links
 * (TCP with Noise) on 127.0.0.1 between the nodes. The paper's walk-through, files, and every
 * refusal the client types.
 */

const alice = parseAddress('alice@aol');
const bob = parseAddress('bob@yahoo');
const carol = parseAddress('carol@jabber.example');

let dht: MemoryDht;
let dir: string;
const clients: ShimClient[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crosstalk-client-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
});

async function client(who: Address, options: Partial<ClientOptions> = {}): Promise<ShimClient> {
  const c = await createClient({ identity: { address: who }, network: who.network, dht, ...options });
  clients.push(c);
  return c;
}
const is = (who: Address) => (e: { from: Address }) => addressKey(e.from) === addressKey(who);

describe('two client-API users on two nodes', () => {
  beforeAll(() => {
    dht = new MemoryDht();
  });

  it('the walk-through: add, request, accept, IMs both ways, typing, presence; a request to an offline user delivered at login', async () => {
    const a = await client(alice);
    const b = await client(bob);
    expect(a.node.id).not.toBe(b.node.id);
    const heardA = new Heard(a);
    const heardB = new Heard(b);

    // Alice asks Bob; Bob sees the request and accepts.
    expect(await a.addBuddy(bob, 'may I add you? ✓')).toBe('delivered');
    expect(a.roster()).toMatchObject([{ address: bob, pending: true }]);
    const request = await heardB.next('buddy-request', is(alice), "alice's request");
    expect(request.message).toBe('may I add you? ✓');
    expect(b.buddyRequests()).toHaveLength(1);
    expect(await b.answerBuddy(alice, true)).toBe('delivered');
    expect(b.buddyRequests()).toHaveLength(0);
    const answer = await heardA.next('buddy-response', is(bob), "bob's answer");
    expect(answer).toMatchObject({ accepted: true, id: request.id });
    expect(a.roster()).toMatchObject([{ address: bob, subscription: 'both', pending: false }]);
    expect(b.roster()).toMatchObject([{ address: alice, subscription: 'both', pending: false }]);
    // Newly mutual: each sees the other online.
    await heardA.next('presence', (e) => is(bob)(e) && e.status === 'online', 'bob online');
    await heardB.next('presence', (e) => is(alice)(e) && e.status === 'online', 'alice online');

    // IMs both ways, non-ASCII.
    const sent = await a.sendIM(bob, TEXT, { html: `<b>${TEXT}</b>` });
    const im = await heardB.next('im', is(alice), "alice's IM");
    expect(im).toMatchObject({ id: sent.id, text: TEXT, html: `<b>${TEXT}</b>`, to: bob });
    await b.sendIM(alice, TEXT_BACK);
    expect((await heardA.next('im', is(bob), "bob's IM")).text).toBe(TEXT_BACK);

    // Typing both ways.
    await a.sendTyping(bob, 'composing');
    expect((await heardB.next('typing', is(alice))).state).toBe('composing');
    await b.sendTyping(alice, 'paused');
    expect((await heardA.next('typing', is(bob))).state).toBe('paused');

    // Presence both ways.
    await a.setPresence('away', 'out to lunch 🍜');
    expect(await heardB.next('presence', (e) => is(alice)(e) && e.status === 'away')).toMatchObject({
      text: 'out to lunch 🍜',
    });
    await b.setPresence('busy');
    await heardA.next('presence', (e) => is(bob)(e) && e.status === 'busy', 'bob busy');

    // Carol has never logged in: Alice's request is held for her, and delivered when she does.
    expect(await a.addBuddy(carol, 'hello carol')).toBe('held');
    const c = await client(carol);
    const heardC = new Heard(c);
    const held = await heardC.next('buddy-request', is(alice), "alice's held request");
    expect(held.message).toBe('hello carol');
    expect(c.buddyRequests().map((r) => addressKey(r.from))).toEqual(['alice@aol']);
    // Carol denies.
    expect(await c.answerBuddy(alice, false)).toBe('delivered');
    expect(await heardA.next('buddy-response', is(carol))).toMatchObject({ accepted: false });
    expect(a.roster().find((i) => addressKey(i.address) === addressKey(carol))).toMatchObject({
      subscription: 'none',
      pending: false,
    });

    // Bob logs out: Alice sees him offline.
    await b.close();
    await heardA.next('presence', (e) => is(bob)(e) && e.status === 'offline', 'bob offline');
  });

  it('an answer to a user who went offline is held for their next login', async () => {
    const state = join(dir, 'dave.json');
    const dave = parseAddress('dave@hotmail.com@msn');
    const d = await client(dave, { stateFile: state });
    const e = await client(parseAddress('erin@aol'));
    const heardE = new Heard(e);
    await d.addBuddy(e.identity.address);
    await heardE.next('buddy-request');
    await d.close();
    expect(await e.answerBuddy(dave, true)).toBe('held');
    // Dave again, same key and roster (the state file), hears the answer at login.
    const d2 = await client(dave, { stateFile: state });
    expect(d2.node.id).toBe(d.node.id);
    const heardD = new Heard(d2);
    expect(await heardD.next('buddy-response')).toMatchObject({ accepted: true });
    await until(
      () => d2.roster().some((i) => i.subscription === 'both'),
      "erin a mutual buddy in dave's roster",
    );
  });

  describe('files between the two nodes', () => {
    it('sendFile offers name, size and sha256; getFile fetches it peer to peer, with progress', async () => {
      const served: ServedReport[] = [];
      const a = await client(alice, { files: { onServed: (report) => served.push(report) } });
      const b = await client(bob);
      const heardB = new Heard(b);
      const data = new Uint8Array(randomBytes(3 * 1024 * 1024 + 5));
      const offer = await a.sendFile(bob, bytesSource('holiday photos.zip', data, 'application/zip'));
      expect(offer).toMatchObject({
        kind: 'file-offer',
        name: 'holiday photos.zip',
        size: data.length,
        mediaType: 'application/zip',
        sha256: createHash('sha256').update(data).digest('hex'),
      });
      const arrived = await heardB.next('file-offer', is(alice));
      expect(arrived).toEqual(offer);
      const sink = memorySink();
      const progress: number[] = [];
      const result = await b.getFile(arrived, sink, { onProgress: (received) => progress.push(received) });
      expect(result).toEqual({ bytes: data.length, sha256: offer.sha256, resumedFrom: 0 });
      expect(Buffer.compare(sink.bytes(), data)).toBe(0);
      expect(progress.at(-1)).toBe(data.length);
      // The sending side hears how it went.
      await until(() => served.length === 1, 'the sender to report the transfer');
      expect(served[0]).toEqual({
        offerId: offer.id,
        peer: b.node.id,
        outcome: 'completed',
        sent: data.length,
      });
    });

    it('the bytes travel on a data channel (TLS-PSK) beside the file stream, when both nodes have it', async () => {
      const a = await client(alice);
      const b = await client(bob);
      const heardB = new Heard(b);
      const data = new Uint8Array(randomBytes(1024 * 1024 + 3));
      await a.sendFile(bob, bytesSource('channel.bin', data));
      const sink = memorySink();
      await b.getFile(await heardB.next('file-offer', is(alice)), sink);
      expect(Buffer.compare(sink.bytes(), data)).toBe(0);
      expect(a.dataChannelStats).toEqual({ opened: 1, refused: new Map(), fallbacks: 0 });
      expect(b.dataChannelStats.fallbacks).toBe(0);
    });

    it('a sender without the data channel (or a receiver): the file goes on the stream, nothing refused', async () => {
      const a = await client(alice, { files: { dataChannel: false } });
      const b = await client(bob);
      const heardB = new Heard(b);
      const data = new Uint8Array(randomBytes(300 * 1024));
      await a.sendFile(bob, bytesSource('old.bin', data));
      const sink = memorySink();
      await b.getFile(await heardB.next('file-offer', is(alice)), sink);
      expect(Buffer.compare(sink.bytes(), data)).toBe(0);
      expect(a.dataChannelStats.opened).toBe(0);
      expect(b.dataChannelStats.fallbacks).toBe(0);
      // The other way round: the receiver does not offer to take one.
      const c = await client(carol, { files: { dataChannel: false } });
      const heardC = new Heard(c);
      await b.sendFile(carol, bytesSource('new.bin', data));
      const sink2 = memorySink();
      await c.getFile(await heardC.next('file-offer', is(bob)), sink2);
      expect(Buffer.compare(sink2.bytes(), data)).toBe(0);
      expect(b.dataChannelStats.opened).toBe(0);
    });

    it('a data channel the receiver cannot reach: the fetch falls back to the file stream', async () => {
      // Alice's node listens for G2G on 127.0.0.1 but says it is bound on 127.0.0.3, so her data
      // channel listens there while bob dials the port on 127.0.0.1, where nobody answers.
      const a = await client(alice, {
        transport: (identity) => {
          const inner = new TcpG2gTransport({ identity, host: '127.0.0.1', port: 0 });
          return {
            get name() {
              return inner.name;
            },
            get localId() {
              return inner.localId;
            },
            listen: (options) => inner.listen(options),
            connect: (peerId, contact) => inner.connect(peerId, contact),
            close: () => inner.close(),
            boundAddress: () => ({ address: '127.0.0.3', port: 0 }),
          };
        },
      });
      const b = await client(bob);
      const heardB = new Heard(b);
      const data = new Uint8Array(randomBytes(300 * 1024));
      await a.sendFile(bob, bytesSource('fallback.bin', data));
      const sink = memorySink();
      const result = await b.getFile(await heardB.next('file-offer', is(alice)), sink);
      expect(result.resumedFrom).toBe(0);
      expect(Buffer.compare(sink.bytes(), data)).toBe(0);
      expect(b.dataChannelStats.fallbacks).toBe(1);
      expect(a.dataChannelStats.opened).toBe(0);
    });

    it('with sha256 given, the chunk-hash list is computed at the first request and must end in it', async () => {
      const a = await client(alice);
      const b = await client(bob);
      const heardB = new Heard(b);
      const data = new Uint8Array(randomBytes(300 * 1024));
      const sha256 = createHash('sha256').update(data).digest('hex');
      const offer = await a.sendFile(bob, bytesSource('given.bin', data), { sha256 });
      const result = await b.getFile(await heardB.next('file-offer', is(alice)), memorySink());
      expect(result).toEqual({ bytes: data.length, sha256, resumedFrom: 0 });
      expect(offer.sha256).toBe(sha256);
      // A hash that is not the file's: the sender refuses rather than send a list ending elsewhere.
      const wrong = 'ab'.repeat(32);
      await a.sendFile(bob, bytesSource('wrong.bin', data), { sha256: wrong });
      await expect(b.getFile(await heardB.next('file-offer', is(alice)), memorySink())).rejects.toMatchObject(
        {
          code: 'ERR_TRANSFER_REFUSED',
          refusal: 'ERR_SOURCE_FAILED',
        },
      );
    });

    it('refuses what it must: not offered to this user, forged for another node, unknown, too large', async () => {
      const a = await client(alice);
      const b = await client(bob);
      const c = await client(carol);
      const heardB = new Heard(b);
      const offer = await a.sendFile(bob, bytesSource('a.txt', new Uint8Array(100)));
      await heardB.next('file-offer');
      // Carol is handed Bob's offer: not hers.
      await expect(c.getFile(offer, memorySink())).rejects.toMatchObject({ code: 'ERR_INVALID_FILE_OFFER' });
      // Carol forges it as hers: Alice's node refuses, Carol's node is not Bob's.
      const forged: FileOfferEvent = { ...offer, to: carol };
      await expect(c.getFile(forged, memorySink())).rejects.toMatchObject({
        code: 'ERR_TRANSFER_REFUSED',
        refusal: 'ERR_UNKNOWN_FILE_OFFER',
      });
      // An offer id Alice never made.
      await expect(b.getFile({ ...offer, id: 'made-up' }, memorySink())).rejects.toMatchObject({
        refusal: 'ERR_UNKNOWN_FILE_OFFER',
      });
      // Withdrawn: gone.
      expect(await a.withdrawFile(offer.id)).toBe(true);
      await expect(b.getFile(offer, memorySink())).rejects.toMatchObject({
        refusal: 'ERR_UNKNOWN_FILE_OFFER',
      });
      // A malformed offer, before anything is dialled.
      await expect(b.getFile({ ...offer, size: -1 }, memorySink())).rejects.toMatchObject({
        code: 'ERR_INVALID_FILE_OFFER',
      });
    });

    it('size limits both ways (FileTooLargeError), and a sender whose file changed size (a lying size)', async () => {
      const a = await client(alice, { files: { maxFileSize: 1000 } });
      const b = await client(bob, { files: { maxFileSize: 500 } });
      const heardB = new Heard(b);
      await expect(a.sendFile(bob, bytesSource('big', new Uint8Array(1001)))).rejects.toMatchObject({
        code: 'ERR_FILE_TOO_LARGE',
        limit: 1000,
      });
      const offer = await a.sendFile(bob, bytesSource('mid', new Uint8Array(800)));
      await heardB.next('file-offer');
      await expect(b.getFile(offer, memorySink())).rejects.toMatchObject({
        code: 'ERR_FILE_TOO_LARGE',
        limit: 500,
      });

      // The source shrinks after the offer: the receiver is told, typed, and nothing else breaks.
      const b2 = await client(parseAddress('bob2@yahoo'));
      const heardB2 = new Heard(b2);
      let size = 900;
      const shrinking = {
        name: 'shrinking.bin',
        get size() {
          return 900;
        },
        read: async (offset: number, length: number) =>
          new Uint8Array(Math.max(0, Math.min(length, size - offset))),
      };
      const lying = await a.sendFile(b2.identity.address, shrinking);
      await heardB2.next('file-offer');
      size = 300;
      await expect(b2.getFile(lying, memorySink())).rejects.toMatchObject({
        code: 'ERR_TRANSFER_REFUSED',
        refusal: 'ERR_FILE_SIZE_MISMATCH',
      });
      // The same two still talk.
      await a.sendIM(b2.identity.address, 'still here');
      expect((await heardB2.next('im')).text).toBe('still here');
    });

    it('close() aborts a fetch under way; the sink keeps what arrived', async () => {
      const a = await client(alice, { files: { rate: 2 * 1024 * 1024 } });
      const b = await client(bob);
      const heardB = new Heard(b);
      const data = new Uint8Array(randomBytes(8 * 1024 * 1024));
      const offer = await a.sendFile(bob, bytesSource('slow.bin', data));
      await heardB.next('file-offer');
      const sink = memorySink();
      let closing: Promise<void> | undefined;
      const fetching = b.getFile(offer, sink, {
        onProgress: (received) => {
          if (received >= 1024 * 1024) closing ??= b.close();
        },
      });
      await expect(fetching).rejects.toMatchObject({ code: 'ERR_TRANSFER_ABORTED' });
      await closing;
      expect(sink.offset).toBeGreaterThanOrEqual(1024 * 1024);
      expect(Buffer.compare(sink.bytes(), data.subarray(0, sink.offset))).toBe(0);
    });
  });

  describe('typed refusals', () => {
    it('unknown user, offline user, no route', async () => {
      const a = await client(alice);
      await expect(a.sendIM(parseAddress('nobody@aol'), 'hi')).rejects.toMatchObject({
        code: 'ERR_UNKNOWN_USER',
        user: 'nobody@aol',
      });
      // Frank was online once (his home record stays): offline, and an IM is not queued.
      const frank = parseAddress('frank@yahoo');
      const f = await client(frank);
      await f.close();
      await expect(a.sendIM(frank, 'hi')).rejects.toMatchObject({ code: 'ERR_USER_OFFLINE' });
      // A location whose node does not answer: no route.
      const ghost = parseAddress('ghost@aol');
      const directory = new Directory({ dht, identity: generateIdentity() });
      await directory.publishLocation(ghost, { transport: 'tcp', host: '127.0.0.1', port: 1 });
      await expect(a.sendIM(ghost, 'hi')).rejects.toMatchObject({ code: 'ERR_NO_ROUTE', isRetryable: true });
    });

    it('bad input: addresses, text over the limit, statuses, typing states, offers', async () => {
      const a = await client(alice);
      await expect(a.sendIM({ user: 'x', network: 'NOT VALID' } as Address, 'hi')).rejects.toMatchObject({
        code: 'ERR_INVALID_ADDRESS',
      });
      await expect(a.sendIM('bob@yahoo' as unknown as Address, 'hi')).rejects.toMatchObject({
        code: 'ERR_INVALID_EVENT',
      });
      await expect(a.sendIM(bob, 'x'.repeat(LIMITS.text + 1))).rejects.toMatchObject({
        code: 'ERR_MESSAGE_TOO_LARGE',
        limit: LIMITS.text,
      });
      await expect(a.setPresence('sleeping' as 'away')).rejects.toMatchObject({ code: 'ERR_INVALID_EVENT' });
      await expect(a.sendTyping(bob, 'yelling' as 'active')).rejects.toMatchObject({
        code: 'ERR_INVALID_EVENT',
      });
      await expect(a.sendFile(bob, bytesSource('../etc/passwd', new Uint8Array(1)))).rejects.toMatchObject({
        code: 'ERR_INVALID_FILE_OFFER',
      });
      await expect(
        a.sendFile(bob, { name: 'x', size: -1, read: async () => new Uint8Array() }),
      ).rejects.toMatchObject({ code: 'ERR_INVALID_FILE_OFFER' });
      await expect(a.sendIM(bob, 'hi', { signal: AbortSignal.abort() })).rejects.toMatchObject({
        code: 'ERR_ABORTED',
      });
    });

    it('dialCall: a user offline (known to the directory from earlier tests), an offer that is not SDP', async () => {
      const a = await client(alice);
      await expect(a.dialCall(bob, { sdp: 'v=0' })).rejects.toMatchObject({ code: 'ERR_USER_OFFLINE' });
      await expect(a.dialCall(bob, { sdp: '' })).rejects.toMatchObject({ code: 'ERR_INVALID_EVENT' });
      expect(a.activeCalls).toBe(0);
    });

    it('after close(): ClientClosedError for everything; close is idempotent', async () => {
      const a = await client(alice);
      await a.close();
      await a.close();
      expect(a.closed).toBe(true);
      for (const attempt of [
        () => a.sendIM(bob, 'hi'),
        () => a.setPresence('away'),
        () => a.addBuddy(bob),
        () => a.answerBuddy(bob, true),
        () => a.sendTyping(bob, 'active'),
        () => a.sendFile(bob, bytesSource('x', new Uint8Array(1))),
        () => a.dialCall(bob, { sdp: '' }),
        async () => a.roster(),
      ])
        await expect(attempt()).rejects.toMatchObject({ code: 'ERR_CLIENT_CLOSED' });
    });

    it('options: an identity on another network, or hyperdht with a dht', async () => {
      await expect(
        createClient({ identity: { address: alice }, network: 'yahoo', dht }),
      ).rejects.toMatchObject({
        code: 'ERR_INVALID_CLIENT_OPTIONS',
      });
      await expect(
        createClient({ identity: { address: { user: 'a b', network: 'yahoo' } }, network: 'yahoo', dht }),
      ).rejects.toMatchObject({ code: 'ERR_INVALID_ADDRESS' });
      await expect(
        createClient({
          identity: { address: alice },
          network: 'aol',
          dht,
          hyperdht: { bootstrap: [{ host: '127.0.0.1', port: 1 }] },
        }),
      ).rejects.toMatchObject({ code: 'ERR_INVALID_CLIENT_OPTIONS' });
    });
  });
});
