import { createHash } from 'node:crypto';
import { isCrossTalkError } from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { TransferRefusedError, UnknownFileOfferError } from '../src/errors/errors.js';
import { encodeFileFrame, FileFramer, MAX_HASH_ENTRIES } from '../src/file/frames.js';
import { digestBytes, hashesForChunks } from '../src/file/hash-list.js';
import { FileReceiver } from '../src/file/receiver.js';
import { FileSender, MAX_REFETCHES_SERVED } from '../src/file/sender.js';
import { offered, run } from './file-harness.js';

const KiB = 1024;
const chunkSize = 4 * KiB;
const small = { chunkSize, window: 4 * chunkSize };
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
/** The list a true sender sends for `data` in chunks of `chunkSize`. */
const hashesOf = (data: Uint8Array) => hashesForChunks(digestBytes(data, KiB), chunkSize)!;

/** A copy of a CHUNK frame with one data byte flipped. */
function corrupt(frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(frame);
  out[out.length - 1]! ^= 0xff;
  return out;
}
const isChunk = (frame: Uint8Array) => frame[4] === 3;
const chunkOffset = (frame: Uint8Array) =>
  Number(new DataView(frame.buffer, frame.byteOffset).getBigUint64(5));
const TYPE = { refetch: 5, cancel: 7 };

/** A clock the test moves. */
function clock() {
  let t = 1_000_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('a file transfer, sans-IO', () => {
  it.each([0, 1, chunkSize - 1, chunkSize, chunkSize + 1, 10 * chunkSize + 17])(
    'moves a file of %i bytes whole, in order, hash checked',
    (size) => {
      const { data, offer, sha256 } = offered(size);
      const r = run(offer, data, { receiver: small });
      expect(r.receiverStep.error).toBeUndefined();
      expect(r.receiverStep.done).toEqual({ bytes: size, sha256, resumedFrom: 0 });
      expect(Buffer.compare(r.sink, data)).toBe(0);
      expect(r.sent).toBe(size);
    },
  );

  it("moves a file whose offer names no hash, checked against the list's last entry", () => {
    const { data, sha256 } = offered(3 * chunkSize);
    const { offer } = offered(3 * chunkSize, { sha256: undefined });
    const receiver = new FileReceiver({ offer, offset: 0, ...small });
    const sender = new FileSender();
    const req = sender.receive(receiver.start()).request!;
    expect(req).toMatchObject({ offerId: 'offer-1', offset: 0, chunkSize });
    const out = [...sender.accept(digestBytes(data, KiB)).send];
    for (let read = sender.nextRead(); read; read = sender.nextRead())
      out.push(...sender.chunk(read, data.subarray(read.offset, read.offset + read.length)).send);
    const done = receiver.receive(Buffer.concat(out)).done;
    expect(done?.sha256).toBe(sha256);
  });

  it('reports progress as the sink writes, up to the size', () => {
    const { data, offer } = offered(5 * chunkSize + 3);
    const r = run(offer, data, { receiver: small });
    expect(r.progress).toEqual([1, 2, 3, 4, 5, 6].map((n) => Math.min(n * chunkSize, data.length)));
  });

  describe('backpressure', () => {
    it('sends no more than the window ahead of the sink', () => {
      const { data, offer } = offered(40 * chunkSize);
      // The sink writes the first two chunks and then stops: no more credit goes back.
      const r = run(offer, data, { receiver: small, sinkStopsAt: 2 * chunkSize });
      expect(r.sent).toBe(small.window + 2 * chunkSize);
      expect(r.receiverStep.done).toBeUndefined();
    });

    it('a receiver that stops reading: the sender stalls and fails that transfer only', () => {
      const t = clock();
      const { data, offer } = offered(40 * chunkSize);
      const r = run(offer, data, {
        receiver: small,
        sender: { now: t.now, stallTimeout: 5000 },
        sinkStopsAt: 0,
      });
      expect(r.sent).toBe(small.window);
      t.advance(4999);
      expect(r.sender.check().error).toBeUndefined();
      t.advance(1);
      const step = r.sender.check();
      expect(step.error).toMatchObject({ code: 'ERR_TRANSFER_STALLED', waitingFor: 'credit' });
      expect(new FileFramer(chunkSize).push(step.send[0]!)[0]).toMatchObject({
        type: 'error',
        code: 'ERR_TRANSFER_STALLED',
      });
      // Another transfer of the same file, with a reading receiver, is unaffected.
      expect(run(offer, data, { receiver: small }).receiverStep.done?.bytes).toBe(data.length);
    });

    it('a sender that stops sending: the receiver stalls; a slow sink is no stall', () => {
      const t = clock();
      const { data, offer } = offered(40 * chunkSize);
      const slowSink = run(offer, data, {
        receiver: { ...small, now: t.now, stallTimeout: 5000 },
        sinkStopsAt: 0,
      });
      t.advance(60_000);
      // The sender owes nothing: it used its credit and the sink has not written.
      expect(slowSink.receiver.check().error).toBeUndefined();

      const silent = new FileReceiver({ offer, offset: 0, ...small, now: t.now, stallTimeout: 5000 });
      silent.start();
      t.advance(5000);
      expect(silent.check().error).toMatchObject({ code: 'ERR_TRANSFER_STALLED' });
    });

    it('a sender over its credit is refused (CreditExceededError)', () => {
      const { data, offer } = offered(10 * chunkSize);
      const receiver = new FileReceiver({ offer, offset: 0, chunkSize, window: chunkSize });
      receiver.start();
      receiver.receive(encodeFileFrame({ type: 'accept', size: data.length }));
      receiver.receive(encodeFileFrame({ type: 'hashes', hashes: hashesOf(data) }));
      const chunk = (at: number) =>
        encodeFileFrame({ type: 'chunk', offset: at, data: data.subarray(at, at + chunkSize) });
      expect(receiver.receive(chunk(0)).write).toHaveLength(1);
      expect(receiver.receive(chunk(chunkSize)).error).toMatchObject({ code: 'ERR_CREDIT_EXCEEDED' });
    });
  });

  describe('a lying or broken sender: a typed error on that transfer', () => {
    const { data, offer } = offered(6 * chunkSize);

    /** A receiver past ACCEPT and HASHES, fed `frames`; returns the last step. */
    function feed(...frames: Uint8Array[]) {
      const receiver = new FileReceiver({ offer, offset: 0, chunkSize, window: data.length });
      receiver.start();
      receiver.receive(encodeFileFrame({ type: 'accept', size: data.length }));
      let step = receiver.receive(encodeFileFrame({ type: 'hashes', hashes: hashesOf(data) }));
      for (const frame of frames) step = receiver.receive(frame);
      return { step, receiver };
    }
    const chunkAt = (offset: number, bytes = data.subarray(offset, offset + chunkSize)) =>
      encodeFileFrame({ type: 'chunk', offset, data: bytes });

    it('an ACCEPT naming another size (FileSizeMismatchError)', () => {
      const receiver = new FileReceiver({ offer, offset: 0, ...small });
      receiver.start();
      const step = receiver.receive(encodeFileFrame({ type: 'accept', size: data.length + 1 }));
      expect(step.error).toMatchObject({
        code: 'ERR_FILE_SIZE_MISMATCH',
        expected: data.length,
        actual: data.length + 1,
      });
      expect(new FileFramer(0 + 1024).push(step.send[0]!)[0]).toMatchObject({ type: 'error' });
    });

    it('an END before the size was sent (FileSizeMismatchError)', () => {
      const { step } = feed(chunkAt(0), encodeFileFrame({ type: 'end' }));
      expect(step.error).toMatchObject({ code: 'ERR_FILE_SIZE_MISMATCH', actual: chunkSize });
    });

    it('a source shorter than its offer: the sender says so', () => {
      const r = run(offer, data, { source: data.subarray(0, 2 * chunkSize + 5), receiver: small });
      expect(r.senderError).toMatchObject({ code: 'ERR_FILE_SIZE_MISMATCH' });
      expect(r.receiverStep.error).toBeInstanceOf(TransferRefusedError);
      expect(r.receiverStep.error).toMatchObject({ refusal: 'ERR_FILE_SIZE_MISMATCH' });
    });

    it('a chunk longer than its offset allows, within the frame cap (ChunkOutOfBoundsError)', () => {
      const bytes = data.subarray(0, chunkSize - 1);
      const { step } = feed(chunkAt(0, bytes));
      expect(step.error).toMatchObject({
        code: 'ERR_CHUNK_OUT_OF_BOUNDS',
        chunkOffset: 0,
        length: chunkSize - 1,
      });
    });

    it('an oversized chunk: refused from its header (FrameTooLargeError)', () => {
      const big = encodeFileFrame({ type: 'chunk', offset: 0, data: new Uint8Array(chunkSize + 1) });
      const { step, receiver } = feed(big.subarray(0, 5));
      expect(step.error).toMatchObject({ code: 'ERR_FRAME_TOO_LARGE' });
      expect(receiver.finished).toBe(true);
    });

    it('a chunk past the end of the file, or at an offset not asked for (ChunkOutOfBoundsError)', () => {
      expect(feed(chunkAt(6 * chunkSize, new Uint8Array(10))).step.error).toMatchObject({
        code: 'ERR_CHUNK_OUT_OF_BOUNDS',
      });
      expect(feed(chunkAt(chunkSize)).step.error).toMatchObject({ code: 'ERR_CHUNK_OUT_OF_BOUNDS' });
      // The same chunk twice, unasked.
      expect(feed(chunkAt(0), chunkAt(0)).step.error).toMatchObject({ code: 'ERR_CHUNK_OUT_OF_BOUNDS' });
    });

    it("another file than offered, with that file's true list: refused by the list's root (FileHashMismatchError)", () => {
      const other = new Uint8Array(data);
      other[100]! ^= 1;
      const r = run(offer, data, { source: other, digests: digestBytes(other, KiB), receiver: small });
      expect(r.receiverStep.error).toMatchObject({
        code: 'ERR_FILE_HASH_MISMATCH',
        expected: offer.sha256,
        actual: sha(other),
      });
      // Refused at the list: not a chunk was taken.
      expect(r.sink.length).toBe(0);
    });

    it('a list whose other entries lie: the chunk fails its check and is re-fetched, not written', () => {
      const hashes = hashesOf(data);
      hashes[0]! ^= 1;
      const { step } = feed2(hashes, chunkAt(0));
      expect(step.send.map((f) => f[4])).toEqual([5]);
      expect(step.write).toEqual([]);
    });

    it('a HASHES of another length than size / chunk size: refused from its header (MalformedFrameError)', () => {
      for (const hashes of [hashesOf(data).subarray(32), new Uint8Array(hashesOf(data).length + 32)]) {
        const { step, receiver } = feed2(
          undefined,
          encodeFileFrame({ type: 'hashes', hashes }).subarray(0, 5),
        );
        expect(step.error).toMatchObject({ code: 'ERR_MALFORMED_FRAME' });
        expect(step.error?.message).toMatch(/HASHES of/);
        expect(receiver.finished).toBe(true);
      }
    });

    it('a HASHES not after an ACCEPT, or twice, is malformed', () => {
      const receiver = new FileReceiver({ offer, offset: 0, ...small });
      receiver.start();
      expect(
        receiver.receive(encodeFileFrame({ type: 'hashes', hashes: hashesOf(data) })).error,
      ).toMatchObject({ code: 'ERR_MALFORMED_FRAME' });
      expect(feed(encodeFileFrame({ type: 'hashes', hashes: hashesOf(data) })).step.error).toMatchObject({
        code: 'ERR_MALFORMED_FRAME',
      });
    });

    it('a CHUNK before the list is malformed', () => {
      const { step } = feed2(undefined, chunkAt(0));
      expect(step.error).toMatchObject({ code: 'ERR_MALFORMED_FRAME' });
    });

    /** A receiver past ACCEPT, then the list `hashes` (when given), then `frames`. */
    function feed2(hashes: Uint8Array | undefined, ...frames: Uint8Array[]) {
      const receiver = new FileReceiver({ offer, offset: 0, chunkSize, window: data.length });
      receiver.start();
      let step = receiver.receive(encodeFileFrame({ type: 'accept', size: data.length }));
      if (hashes) step = receiver.receive(encodeFileFrame({ type: 'hashes', hashes }));
      for (const frame of frames) step = receiver.receive(frame);
      return { step, receiver };
    }

    it('frames a sender never sends (a CREDIT, an OPEN) are malformed', () => {
      expect(feed(encodeFileFrame({ type: 'credit', bytes: 1 })).step.error).toMatchObject({
        code: 'ERR_MALFORMED_FRAME',
      });
      const receiver = new FileReceiver({ offer, offset: 0, ...small });
      receiver.start();
      expect(receiver.receive(chunkAt(0)).error).toMatchObject({ code: 'ERR_MALFORMED_FRAME' });
    });

    it('the sender refuses: TransferRefusedError with its code', () => {
      const receiver = new FileReceiver({ offer, offset: 0, ...small });
      const sender = new FileSender();
      sender.receive(receiver.start());
      const refusal = sender.refuse(new UnknownFileOfferError(offer.id));
      expect(refusal.error).toMatchObject({ code: 'ERR_UNKNOWN_FILE_OFFER' });
      const step = receiver.receive(refusal.send[0]!);
      expect(step.error).toMatchObject({ code: 'ERR_TRANSFER_REFUSED', refusal: 'ERR_UNKNOWN_FILE_OFFER' });
      expect(step.send).toEqual([]);
    });

    it('a stream that closes mid-transfer (TransferInterruptedError, retryable)', () => {
      const { receiver } = feed(chunkAt(0));
      const error = receiver.closed().error!;
      expect(error).toMatchObject({ code: 'ERR_TRANSFER_INTERRUPTED', isRetryable: true });
      expect(receiver.closed().error).toBeUndefined();
    });
  });

  describe('bad requests and limits', () => {
    const { data, offer } = offered(3 * chunkSize);

    it('refuses a malformed offer before anything is sent', () => {
      expect(() => new FileReceiver({ offer: { ...offer, size: -5 }, offset: 0 })).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_FILE_OFFER' }),
      );
    });

    it('refuses an offer over the size limit (FileTooLargeError)', () => {
      expect(() => new FileReceiver({ offer, offset: 0, maxFileSize: data.length - 1 })).toThrow(
        expect.objectContaining({ code: 'ERR_FILE_TOO_LARGE', size: data.length, limit: data.length - 1 }),
      );
    });

    it('refuses a sink offset outside the file, and held bytes that are not the offset', () => {
      for (const offset of [-1, 1.5, data.length + 1])
        expect(() => new FileReceiver({ offer, offset })).toThrow(
          expect.objectContaining({ code: 'ERR_INVALID_SINK' }),
        );
      const receiver = new FileReceiver({ offer, offset: 10 });
      receiver.hashHeld(data.subarray(0, 4));
      expect(() => receiver.start()).toThrow(expect.objectContaining({ code: 'ERR_INVALID_SINK' }));
      expect(() => receiver.hashHeld(data.subarray(0, 7))).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_SINK' }),
      );
    });

    it('refuses chunk sizes and windows out of bounds, on either side', () => {
      for (const options of [
        { chunkSize: 10 },
        { chunkSize: 8 * 1024 * 1024 },
        { chunkSize, window: chunkSize - 1 },
      ])
        expect(() => new FileReceiver({ offer, offset: 0, ...options })).toThrow(
          expect.objectContaining({ code: 'ERR_INVALID_TRANSFER_REQUEST' }),
        );
      // A receiver asking the sender for more than it sends in one chunk.
      const sender = new FileSender({ maxChunkSize: 2 * KiB });
      sender.receive(
        encodeFileFrame({ type: 'open', offerId: offer.id, offset: 0, chunkSize, window: chunkSize }),
      );
      const step = sender.accept(digestBytes(data, KiB));
      expect(step.error).toMatchObject({ code: 'ERR_INVALID_TRANSFER_REQUEST' });
      // An offset past the end.
      const past = new FileSender();
      past.receive(
        encodeFileFrame({
          type: 'open',
          offerId: offer.id,
          offset: data.length + 1,
          chunkSize,
          window: chunkSize,
        }),
      );
      expect(past.accept(digestBytes(data, KiB)).error).toMatchObject({
        code: 'ERR_INVALID_TRANSFER_REQUEST',
      });
      // A chunk size that is not a multiple of the offer's hash block.
      const coarse = new FileSender();
      coarse.receive(
        encodeFileFrame({ type: 'open', offerId: offer.id, offset: 0, chunkSize, window: chunkSize }),
      );
      expect(coarse.accept(digestBytes(data, 8 * KiB)).error).toMatchObject({
        code: 'ERR_INVALID_TRANSFER_REQUEST',
        message: expect.stringMatching(/hash block/),
      });
    });

    it('refuses a chunk size giving more than MAX_HASH_ENTRIES hashes before anything is sent', () => {
      const huge = { ...offer, size: MAX_HASH_ENTRIES * chunkSize + 1 };
      expect(() => new FileReceiver({ offer: huge, offset: 0, ...small })).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_TRANSFER_REQUEST' }),
      );
      expect(
        () => new FileReceiver({ offer: { ...huge, size: huge.size - 1 }, offset: 0, ...small }),
      ).not.toThrow();
    });

    it('a sender waiting for an OPEN that never comes stalls', () => {
      const t = clock();
      const sender = new FileSender({ now: t.now, stallTimeout: 1000 });
      t.advance(1000);
      expect(sender.check().error).toMatchObject({ code: 'ERR_TRANSFER_STALLED', waitingFor: 'request' });
    });

    it('a receiver asking again and again for one chunk is refused', () => {
      const sender = new FileSender();
      sender.receive(
        encodeFileFrame({ type: 'open', offerId: offer.id, offset: 0, chunkSize, window: 3 * chunkSize }),
      );
      sender.accept(digestBytes(data, KiB));
      const read = sender.nextRead()!;
      sender.chunk(read, data.subarray(0, chunkSize));
      let step = sender.receive(new Uint8Array(0));
      for (let i = 0; i <= MAX_REFETCHES_SERVED && !step.error; i++) {
        step = sender.receive(encodeFileFrame({ type: 'refetch', offset: 0 }));
        const again = sender.nextRead();
        if (again) sender.chunk(again, data.subarray(0, chunkSize));
      }
      expect(step.error).toMatchObject({ code: 'ERR_INVALID_TRANSFER_REQUEST' });
      // A REFETCH of a chunk never sent, or off a chunk boundary, is refused too.
      for (const offset of [2 * chunkSize, 5]) {
        const s = new FileSender();
        s.receive(
          encodeFileFrame({ type: 'open', offerId: offer.id, offset: 0, chunkSize, window: 3 * chunkSize }),
        );
        s.accept(digestBytes(data, KiB));
        s.chunk(s.nextRead()!, data.subarray(0, chunkSize));
        expect(s.receive(encodeFileFrame({ type: 'refetch', offset })).error).toMatchObject({
          code: 'ERR_INVALID_TRANSFER_REQUEST',
        });
      }
    });
  });

  // Each chunk is checked against the list as it joins the running hash, in file order.
  describe('corruption', () => {
    const { data, offer, sha256 } = offered(12 * chunkSize + 99);

    it('a corrupted chunk is detected by its hash and re-fetched; the sink still gets the file in order', () => {
      let corrupted = 0;
      const r = run(offer, data, {
        receiver: small,
        toReceiver: (frame) =>
          isChunk(frame) && chunkOffset(frame) === 5 * chunkSize && !corrupted++ ? corrupt(frame) : frame,
      });
      expect(r.receiverStep.done?.sha256).toBe(sha256);
      expect(Buffer.compare(r.sink, data)).toBe(0);
      expect(r.toSender.filter((t) => t === TYPE.refetch)).toHaveLength(1);
      // One chunk sent twice, no more.
      expect(r.sent).toBe(data.length + chunkSize);
      // The chunks after it waited: progress never went backwards or skipped the gap.
      expect(r.progress).toEqual([...r.progress].sort((a, b) => a - b));
    });

    it('the last, short chunk corrupted: re-fetched too', () => {
      let corrupted = 0;
      const r = run(offer, data, {
        receiver: small,
        toReceiver: (frame) =>
          isChunk(frame) && chunkOffset(frame) === 12 * chunkSize && !corrupted++ ? corrupt(frame) : frame,
      });
      expect(r.receiverStep.done?.sha256).toBe(sha256);
      expect(r.sent).toBe(data.length + 99);
    });

    it('a chunk corrupted on every copy fails the transfer after maxRefetches (ChunkCorruptedError)', () => {
      const r = run(offer, data, {
        receiver: { ...small, maxRefetches: 2 },
        toReceiver: (frame) =>
          isChunk(frame) && chunkOffset(frame) === 3 * chunkSize ? corrupt(frame) : frame,
      });
      expect(r.receiverStep.error).toMatchObject({
        code: 'ERR_CHUNK_CORRUPTED',
        chunkOffset: 3 * chunkSize,
        attempts: 3,
      });
      expect(r.toSender.filter((t) => t === TYPE.refetch)).toHaveLength(2);
      // What the sink holds stops before the bad chunk: a resume picks up there.
      expect(r.sink.length).toBe(3 * chunkSize);
      expect(r.senderError).toMatchObject({ code: 'ERR_TRANSFER_REFUSED', refusal: 'ERR_CHUNK_CORRUPTED' });
    });

    it('several corrupted chunks in one window are each re-fetched once', () => {
      const seen = new Set<number>();
      const r = run(offer, data, {
        receiver: small,
        toReceiver: (frame) => {
          if (!isChunk(frame)) return frame;
          const at = chunkOffset(frame);
          if ([1, 2, 7].includes(at / chunkSize) && !seen.has(at)) {
            seen.add(at);
            return corrupt(frame);
          }
          return frame;
        },
      });
      expect(r.receiverStep.done?.sha256).toBe(sha256);
      expect(r.sent).toBe(data.length + 3 * chunkSize);
    });
  });

  describe('resume and cancel', () => {
    const size = 64 * chunkSize + 1234;
    const { data, offer, sha256 } = offered(size);

    it('cancel at about half: the chunks on their way still land, then the resume sends only the rest', () => {
      const first = run(offer, data, { receiver: small, cancelAt: (held) => held >= size / 2 });
      expect(first.receiverStep.error).toMatchObject({ code: 'ERR_TRANSFER_ABORTED' });
      expect(first.senderCancelled).toBe(true);
      const held = first.sink;
      expect(held.length).toBeGreaterThanOrEqual(size / 2);
      expect(held.length).toBeLessThan(size);
      expect(Buffer.compare(held, data.subarray(0, held.length))).toBe(0);
      // Everything sent was kept: the window in flight was drained into the sink.
      expect(first.sent).toBe(held.length);

      const second = run(offer, data, { receiver: small, held });
      expect(second.receiverStep.done).toEqual({ bytes: size, sha256, resumedFrom: held.length });
      expect(Buffer.compare(second.sink, data)).toBe(0);
      expect(second.sent).toBe(size - held.length);
      // No byte sent twice beyond one chunk (here none at all).
      expect(first.sent + second.sent).toBeLessThanOrEqual(size + chunkSize);
    });

    it('a transfer cut off (the stream lost) resumes too, re-sending at most the window in flight', () => {
      let cut = false;
      const first = run(offer, data, {
        receiver: small,
        toReceiver: (frame) => {
          if (cut) return undefined;
          if (isChunk(frame) && chunkOffset(frame) >= size / 2) cut = true;
          return cut ? undefined : frame;
        },
      });
      expect(first.receiver.closed().error).toMatchObject({ code: 'ERR_TRANSFER_INTERRUPTED' });
      const second = run(offer, data, { receiver: small, held: first.sink });
      expect(second.receiverStep.done?.sha256).toBe(sha256);
      expect(first.sent + second.sent - size).toBeLessThanOrEqual(small.window);
    });

    it('resumes from a sink holding the whole file: nothing sent, the hash still checked', () => {
      const r = run(offer, data, { receiver: small, held: data });
      expect(r.receiverStep.done).toEqual({ bytes: size, sha256, resumedFrom: size });
      expect(r.sent).toBe(0);
    });

    it('a sink whose held bytes are not the file is refused when the list comes (InvalidSinkError)', () => {
      const held = new Uint8Array(data.subarray(0, 10 * chunkSize));
      held[3]! ^= 1;
      const r = run(offer, data, { receiver: small, held });
      expect(r.receiverStep.error).toMatchObject({ code: 'ERR_INVALID_SINK' });
      expect(r.receiverStep.error?.message).toMatch(/before 4096/);
      // Nothing taken: at most the window was on its way.
      expect(r.sent).toBeLessThanOrEqual(small.window);
      expect(r.sink.length).toBe(held.length);
    });

    it('held bytes off the grid, wrong in their last partial chunk: that chunk fails its check (ChunkCorruptedError)', () => {
      const held = new Uint8Array(data.subarray(0, 3 * chunkSize + 5));
      held[3 * chunkSize + 1]! ^= 1;
      const r = run(offer, data, { receiver: small, held });
      expect(r.receiverStep.error).toMatchObject({ code: 'ERR_CHUNK_CORRUPTED', chunkOffset: held.length });
    });

    it('resumes from an offset that is not a chunk boundary', () => {
      const held = data.subarray(0, 3 * chunkSize + 5);
      const r = run(offer, data, { receiver: small, held });
      expect(r.receiverStep.done?.sha256).toBe(sha256);
      expect(r.sent).toBe(size - held.length);
    });

    it('cancel before the sender accepted: aborted at once', () => {
      const receiver = new FileReceiver({ offer, offset: 0, ...small });
      receiver.start();
      const step = receiver.cancel('changed my mind');
      expect(step.error).toMatchObject({ code: 'ERR_TRANSFER_ABORTED', held: 0 });
      expect(new FileFramer(0).push(step.send[0]!)[0]).toEqual({ type: 'cancel', reason: 'changed my mind' });
      expect(receiver.cancel('again').send).toEqual([]);
    });

    it('a sender cancelled while reading drops that chunk and confirms', () => {
      const sender = new FileSender();
      sender.receive(
        encodeFileFrame({ type: 'open', offerId: offer.id, offset: 0, chunkSize, window: 4 * chunkSize }),
      );
      sender.accept(digestBytes(data, KiB));
      const read = sender.nextRead()!;
      expect(sender.receive(encodeFileFrame({ type: 'cancel', reason: '' })).send).toEqual([]);
      const step = sender.chunk(read, data.subarray(0, chunkSize));
      expect(step.cancelled).toBe(true);
      expect(new FileFramer(0 + 1024).push(step.send[0]!)).toEqual([{ type: 'cancelled' }]);
      expect(sender.sentBytes).toBe(0);
      expect(sender.nextRead()).toBeUndefined();
    });

    it('while cancelling, a corrupted chunk is not re-fetched: the sink ends before it', () => {
      let cancelled = false;
      let corruptedAt: number | undefined;
      const r = run(offer, data, {
        receiver: small,
        // Chunks 6 and 7 are on their way when chunk 5 is written (the harness moves credit in rounds).
        cancelAt: (held) => (cancelled = held >= 6 * chunkSize),
        toReceiver: (frame) => {
          // The first chunk on its way when the cancel went out.
          if (cancelled && isChunk(frame) && corruptedAt === undefined) {
            corruptedAt = chunkOffset(frame);
            return corrupt(frame);
          }
          return frame;
        },
      });
      expect(corruptedAt).toBeDefined();
      expect(r.receiverStep.error).toMatchObject({ code: 'ERR_TRANSFER_ABORTED', held: corruptedAt });
      expect(r.sink.length).toBe(corruptedAt);
      expect(r.toSender.filter((t) => t === TYPE.refetch)).toHaveLength(0);
      expect(r.toSender.filter((t) => t === TYPE.cancel)).toHaveLength(1);
    });
  });

  it('errors are typed CrossTalk errors that cross the wire by code', () => {
    const { data, offer } = offered(2 * chunkSize);
    const r = run(offer, data, { receiver: small, source: new Uint8Array(10) });
    expect(isCrossTalkError(r.senderError)).toBe(true);
    expect(isCrossTalkError(r.receiverStep.error, 'ERR_TRANSFER_REFUSED')).toBe(true);
  });
});

describe('a data channel named in the ACCEPT', () => {
  const channel = { port: 4000, identity: new Uint8Array(16).fill(1), key: new Uint8Array(32).fill(2) };

  it('the receiver that offered one is told it; one that did not refuses the ACCEPT', () => {
    const { data, offer } = offered(10 * KiB);
    const accept = encodeFileFrame({ type: 'accept', size: data.length, channel });
    const offering = new FileReceiver({ offer, offset: 0, ...small, dataChannel: true });
    const open = new FileFramer(0).push(offering.start())[0];
    expect(open).toMatchObject({ type: 'open', dataChannel: true });
    expect(offering.receive(accept)).toMatchObject({ channel, send: [] });
    const plain = new FileReceiver({ offer, offset: 0, ...small });
    expect(new FileFramer(0).push(plain.start())[0]).not.toHaveProperty('dataChannel');
    expect(plain.receive(accept).error).toMatchObject({ code: 'ERR_MALFORMED_FRAME' });
  });

  it('the sender names one only when the OPEN offered to take it', () => {
    const { data, offer } = offered(10 * KiB);
    const file = digestBytes(data, KiB);
    const offering = new FileSender();
    const request = offering.receive(
      new FileReceiver({ offer, offset: 0, ...small, dataChannel: true }).start(),
    ).request;
    expect(request).toMatchObject({ dataChannel: true });
    const [accept] = offering.accept(file, channel).send;
    expect(new FileFramer(KiB).push(accept!)).toEqual([{ type: 'accept', size: data.length, channel }]);
    const plain = new FileSender();
    expect(plain.receive(new FileReceiver({ offer, offset: 0, ...small }).start()).request).toMatchObject({
      dataChannel: false,
    });
    expect(plain.accept(file, channel).error).toMatchObject({ code: 'ERR_INVALID_TRANSFER_REQUEST' });
  });
});
