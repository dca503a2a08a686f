import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FileOfferEvent, FileSink, G2gStream } from '@crosstalk/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDataChannel, DataChannelListener } from '../src/channel/data-channel.js';
import { UnknownFileOfferError } from '../src/errors/errors.js';
import { encodeFileFrame, FileFramer } from '../src/file/frames.js';
import { digestBytes } from '../src/file/hash-list.js';
import { fileSink, memorySink } from '../src/file/sink.js';
import { bytesSource, fileSource, hashSource } from '../src/file/source.js';
import { type FetchFileOptions, fetchFile, type ServeFileOptions, serveFile } from '../src/file/transfer.js';

/** Two ends of a real TCP connection on loopback. */
async function socketPair(): Promise<[Socket, Socket]> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  const { port } = server.address() as { port: number };
  const client = connect(port, '127.0.0.1');
  await new Promise((resolve) => client.once('connect', resolve));
  const other = await accepted;
  server.close();
  return [client, other];
}
const asStream = (s: Socket) => s as unknown as G2gStream;

const KiB = 1024;
const chunkSize = 16 * KiB;

function offerOf(data: Uint8Array, id = 'offer-1'): FileOfferEvent {
  return {
    kind: 'file-offer',
    id,
    from: { user: 'bob', network: 'yahoo' },
    to: { user: 'alice', network: 'aol' },
    name: 'data.bin',
    size: data.length,
    sha256: createHash('sha256').update(data).digest('hex'),
  };
}

/**
 * Serves `data` for `offer` on a fresh socket pair (with a data channel from `listener`, when
 * given); returns the receiver's end and the serve promise.
 */
async function servingWith(
  listener: DataChannelListener | undefined,
  data: Uint8Array,
  offer: FileOfferEvent,
  options: Partial<ServeFileOptions> = {},
) {
  const [receiverEnd, senderEnd] = await socketPair();
  const served = serveFile(asStream(senderEnd), {
    ...(listener ? { dataChannel: () => listener.issue() } : {}),
    lookup: (request) => {
      if (request.offerId !== offer.id) throw new UnknownFileOfferError(request.offerId);
      return { file: digestBytes(data), source: bytesSource('data.bin', data) };
    },
    ...options,
  });
  // Awaited by the test later: an early rejection is not an unhandled one.
  served.catch(() => {});
  return { stream: asStream(receiverEnd), served };
}

// Each test runs twice: the file on the stream itself, and on a data channel (TLS-PSK) beside it.
describe.each([
  { name: 'on the stream', channel: false },
  { name: 'on a data channel', channel: true },
])('file transfers over real sockets ($name)', ({ channel }) => {
  let dir: string;
  const listener = new DataChannelListener({ host: '127.0.0.1' });
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'crosstalk-shim-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
    await listener.close();
  });
  const serving = (data: Uint8Array, offer: FileOfferEvent, options: Partial<ServeFileOptions> = {}) =>
    servingWith(channel ? listener : undefined, data, offer, options);
  const withChannel = <T extends object>(options: T): T =>
    channel ? { ...options, dataChannel: () => listener.issue() } : options;
  const fetch = (stream: G2gStream, offer: FileOfferEvent, sink: FileSink, options: FetchFileOptions = {}) =>
    fetchFile(
      stream,
      offer,
      sink,
      channel ? { ...options, dataChannel: (grant) => connectDataChannel('127.0.0.1', grant) } : options,
    );
  /** The data channels opened since `before`: one per transfer in this mode, none on the stream. */
  const opened = (before: number) => listener.opened - before;
  const perTransfer = channel ? 1 : 0;

  it('fetches a file into a memory sink, with progress up to the size', async () => {
    const data = new Uint8Array(randomBytes(2 * 1024 * KiB + 77));
    const offer = offerOf(data);
    const before = listener.opened;
    const { stream, served } = await serving(data, offer);
    const sink = memorySink();
    const progress: [number, number][] = [];
    const result = await fetch(stream, offer, sink, {
      chunkSize,
      onProgress: (received, total) => progress.push([received, total]),
    });
    expect(result).toEqual({ bytes: data.length, sha256: offer.sha256, resumedFrom: 0 });
    expect(Buffer.compare(sink.bytes(), data)).toBe(0);
    expect(progress.at(-1)).toEqual([data.length, data.length]);
    expect(progress.map(([r]) => r)).toEqual([...progress.map(([r]) => r)].sort((a, b) => a - b));
    expect(progress.every(([, total]) => total === data.length)).toBe(true);
    await expect(served).resolves.toMatchObject({
      outcome: 'completed',
      sent: data.length,
      offerId: 'offer-1',
    });
    expect(opened(before)).toBe(perTransfer);
  });

  it('a corrupted chunk is detected against the hash list and fetched again', async () => {
    const data = new Uint8Array(randomBytes(256 * KiB));
    const offer = offerOf(data);
    const before = listener.opened;
    const [receiverEnd, senderEnd] = await socketPair();
    let corrupted = 0;
    const served = serveFile(
      asStream(senderEnd),
      withChannel({
        lookup: () => ({
          file: digestBytes(data),
          source: {
            name: 'x',
            size: data.length,
            // The third chunk comes back with one bit flipped, the first time it is read.
            read: async (offset: number, length: number) => {
              const bytes = new Uint8Array(data.subarray(offset, offset + length));
              if (offset === 2 * chunkSize && corrupted++ === 0) bytes[5]! ^= 1;
              return bytes;
            },
          },
        }),
      }),
    );
    const sink = memorySink();
    const result = await fetch(asStream(receiverEnd), offer, sink, { chunkSize });
    expect(result.sha256).toBe(offer.sha256);
    expect(Buffer.compare(sink.bytes(), data)).toBe(0);
    expect(corrupted).toBe(2);
    await expect(served).resolves.toMatchObject({ outcome: 'completed', sent: data.length + chunkSize });
    expect(opened(before)).toBe(perTransfer);
  });

  it('aborted at about half with an AbortSignal, then resumed into the same file on disk: no byte sent twice', async () => {
    const data = new Uint8Array(randomBytes(4 * 1024 * KiB));
    const offer = offerOf(data);
    const path = join(dir, 'resumed.bin');
    const before = listener.opened;
    const first = await serving(data, offer);
    const controller = new AbortController();
    const sink1 = await fileSink(path);
    const aborted = fetch(first.stream, offer, sink1, {
      chunkSize,
      onProgress: (received) => {
        if (received >= data.length / 2) controller.abort(new Error('user pressed stop'));
      },
      signal: controller.signal,
    });
    await expect(aborted).rejects.toMatchObject({ code: 'ERR_TRANSFER_ABORTED' });
    const firstServed = await first.served;
    expect(firstServed.outcome).toBe('cancelled');
    await sink1.close();
    const held = await readFile(path);
    expect(held.length).toBeGreaterThanOrEqual(data.length / 2);
    expect(held.length).toBeLessThan(data.length);
    // The sender stopped on the cancel; what it had sent in the meantime still landed.
    expect(firstServed.sent).toBe(held.length);

    const second = await serving(data, offer);
    const sink2 = await fileSink(path);
    expect(sink2.offset).toBe(held.length);
    const result = await fetch(second.stream, offer, sink2, { chunkSize });
    await sink2.close();
    expect(result).toEqual({ bytes: data.length, sha256: offer.sha256, resumedFrom: held.length });
    const secondServed = await second.served;
    expect(firstServed.sent + secondServed.sent).toBeLessThanOrEqual(data.length + chunkSize);
    expect(
      createHash('sha256')
        .update(await readFile(path))
        .digest('hex'),
    ).toBe(offer.sha256);
    expect(opened(before)).toBe(2 * perTransfer);
  });

  it('an AbortSignal already aborted: refused before a byte is sent', async () => {
    const data = new Uint8Array(100);
    const { stream, served } = await serving(data, offerOf(data), { stallTimeout: 200 });
    await expect(
      fetch(stream, offerOf(data), memorySink(), { signal: AbortSignal.abort() }),
    ).rejects.toMatchObject({ code: 'ERR_TRANSFER_ABORTED', held: 0 });
    // The sender's side saw the stream close with no request.
    await expect(served).rejects.toMatchObject({ code: 'ERR_TRANSFER_INTERRUPTED' });
  });

  it('a resume from a sink that cannot read what it holds is refused before a byte is sent', async () => {
    const data = new Uint8Array(100);
    const { stream } = await serving(data, offerOf(data));
    const sink = { offset: 10, write: async () => {} };
    await expect(fetch(stream, offerOf(data), sink)).rejects.toMatchObject({ code: 'ERR_INVALID_SINK' });
  });

  it('a peer that stops reading: the sender fails that transfer (TransferStalledError); another goes on', async () => {
    const data = new Uint8Array(randomBytes(1024 * KiB));
    const offer = offerOf(data);
    const [receiverEnd, senderEnd] = await socketPair();
    const stalled = serveFile(
      asStream(senderEnd),
      withChannel({
        lookup: () => ({ file: digestBytes(data), source: bytesSource('x', data) }),
        // Short, so the test does not wait 30 s; the check is on the outcome, not on the time.
        stallTimeout: 300,
      }),
    );
    stalled.catch(() => {});
    // A receiver that asks for the file and then neither reads nor grants credit (on the data
    // channel when it offered to take one and the sender granted it).
    const before = listener.opened;
    receiverEnd.write(
      encodeFileFrame({
        type: 'open',
        offerId: offer.id,
        offset: 0,
        chunkSize,
        window: 4 * chunkSize,
        ...(channel ? { dataChannel: true } : {}),
      }),
    );
    let dataChannel: Socket | undefined;
    if (channel) {
      const [accept] = new FileFramer(chunkSize).push(await once(receiverEnd, 'data').then(([d]) => d));
      if (accept?.type !== 'accept' || !accept.channel) throw new Error('no data channel granted');
      dataChannel = await connectDataChannel('127.0.0.1', accept.channel);
      dataChannel.pause();
    }
    receiverEnd.pause();

    const other = await serving(data, offer);
    const result = await fetch(other.stream, offer, memorySink(), { chunkSize });
    expect(result.sha256).toBe(offer.sha256);

    await expect(stalled).rejects.toMatchObject({ code: 'ERR_TRANSFER_STALLED', waitingFor: 'credit' });
    expect(opened(before)).toBe(2 * perTransfer);
    receiverEnd.destroy();
    dataChannel?.destroy();
  });

  it('a sender that stops sending: the receiver fails that transfer (TransferStalledError)', async () => {
    const data = new Uint8Array(100_000);
    const offer = offerOf(data);
    const [receiverEnd, senderEnd] = await socketPair();
    // Accepts, sends nothing more.
    senderEnd.once('data', () => senderEnd.write(encodeFileFrame({ type: 'accept', size: data.length })));
    await expect(
      fetch(asStream(receiverEnd), offer, memorySink(), { stallTimeout: 300 }),
    ).rejects.toMatchObject({ code: 'ERR_TRANSFER_STALLED' });
    senderEnd.destroy();
  });

  it("an unknown offer: TransferRefusedError with the sender's code", async () => {
    const data = new Uint8Array(10);
    const { stream, served } = await serving(data, offerOf(data));
    await expect(fetch(stream, offerOf(data, 'no-such-offer'), memorySink())).rejects.toMatchObject({
      code: 'ERR_TRANSFER_REFUSED',
      refusal: 'ERR_UNKNOWN_FILE_OFFER',
    });
    await expect(served).rejects.toMatchObject({ code: 'ERR_UNKNOWN_FILE_OFFER' });
  });

  it('a sink that fails: SinkFailedError here, the sender told', async () => {
    const data = new Uint8Array(randomBytes(200 * KiB));
    const offer = offerOf(data);
    const { stream, served } = await serving(data, offer);
    let writes = 0;
    const sink = {
      offset: 0,
      write: async () => {
        if (++writes === 3) throw new Error('disk full');
      },
    };
    await expect(fetch(stream, offer, sink, { chunkSize })).rejects.toMatchObject({
      code: 'ERR_SINK_FAILED',
    });
    await expect(served).rejects.toMatchObject({ code: 'ERR_TRANSFER_REFUSED', refusal: 'ERR_SINK_FAILED' });
  });

  it('a source that fails: SourceFailedError there, TransferRefusedError here', async () => {
    const data = new Uint8Array(randomBytes(200 * KiB));
    const offer = offerOf(data);
    const [receiverEnd, senderEnd] = await socketPair();
    const served = serveFile(
      asStream(senderEnd),
      withChannel({
        lookup: () => ({
          file: digestBytes(data),
          source: { name: 'x', size: data.length, read: async () => Promise.reject(new Error('EIO')) },
        }),
      }),
    );
    served.catch(() => {});
    await expect(fetch(asStream(receiverEnd), offer, memorySink(), { chunkSize })).rejects.toMatchObject({
      code: 'ERR_TRANSFER_REFUSED',
      refusal: 'ERR_SOURCE_FAILED',
    });
    await expect(served).rejects.toMatchObject({ code: 'ERR_SOURCE_FAILED' });
  });

  it('a rate limit slows the sender down', async () => {
    const data = new Uint8Array(randomBytes(64 * KiB));
    const offer = offerOf(data);
    const before = listener.opened;
    const { stream, served } = await serving(data, offer, { rate: 256 * KiB });
    const started = performance.now();
    await fetch(stream, offer, memorySink(), { chunkSize });
    await served;
    // 64 KiB at 256 KiB/s: the last of four chunks leaves 187 ms after the first. A lower bound
    // only (the issue asks for a configurable rate; an upper bound would be a timed assertion).
    expect(performance.now() - started).toBeGreaterThanOrEqual(180);
    expect(opened(before)).toBe(perTransfer);
  });

  it('reads files from disk and hashes them as sources', async () => {
    const data = new Uint8Array(randomBytes(300 * KiB + 3));
    const path = join(dir, 'source.bin');
    await writeFile(path, data);
    const source = await fileSource(path);
    expect(source).toMatchObject({ name: 'source.bin', size: data.length });
    expect(await hashSource(source, 64 * KiB)).toBe(createHash('sha256').update(data).digest('hex'));
    expect(Buffer.compare(await source.read(data.length - 2, 10), data.subarray(data.length - 2))).toBe(0);
    await source.close!();
  });
});
