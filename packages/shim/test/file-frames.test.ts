import { isCrossTalkError } from '@crosstalk/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  encodeChunkHead,
  encodeFileFrame,
  type FileFrame,
  FileFramer,
  MAX_CHUNK_SIZE,
  MAX_CONTROL_FRAME,
} from '../src/file/frames.js';
import { checkFileOffer } from '../src/file/offer.js';
import { offered } from './file-harness.js';

const EXAMPLES: FileFrame[] = [
  { type: 'open', offerId: 'offer-ü-1', offset: 2 ** 40, chunkSize: 65_536, window: 1 << 20 },
  { type: 'accept', size: Number.MAX_SAFE_INTEGER },
  { type: 'open', offerId: 'o', offset: 0, chunkSize: 1024, window: 1024, dataChannel: true },
  {
    type: 'accept',
    size: 5,
    channel: { port: 65_535, identity: new Uint8Array(16).fill(7), key: new Uint8Array(32).fill(8) },
  },
  // After an ACCEPT, a list of the length the receiver names (`framesOf`: two entries).
  { type: 'hashes', hashes: new Uint8Array(64).fill(9) },
  { type: 'chunk', offset: 3, data: new Uint8Array([1, 2, 3, 4]) },
  { type: 'chunk', offset: 0, data: new Uint8Array(0) },
  { type: 'credit', bytes: 0xffff_ffff },
  { type: 'refetch', offset: 65_536 },
  { type: 'end' },
  { type: 'cancel', reason: 'no room left — désolé' },
  { type: 'cancelled' },
  { type: 'error', code: 'ERR_UNKNOWN_FILE_OFFER', message: 'no such offer' },
];

/** The frames of `bytes` fed in pieces cut at `cuts`. */
function framesOf(bytes: Uint8Array, cuts: number[], maxChunk = 1024) {
  const framer = new FileFramer(maxChunk);
  // A HASHES alone, as after an ACCEPT.
  if (bytes[4] === 10) framer.expectHashes(64);
  const out: FileFrame[] = [];
  let at = 0;
  const take = (frames: FileFrame[]) => {
    for (let more = frames; more.length > 0; more = framer.push(new Uint8Array(0))) {
      out.push(...more);
      // The framer stops after an ACCEPT for the receiver to name the list's length.
      if (more.at(-1)!.type === 'accept') framer.expectHashes(64);
    }
  };
  for (const cut of [...cuts.filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b), bytes.length]) {
    take(framer.push(bytes.subarray(at, cut)));
    at = cut;
  }
  expect(framer.buffered).toBe(0);
  return out;
}

function errorOf(fn: () => unknown): Error & { code?: string; offset?: number } {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

describe('file frames', () => {
  it('round-trips every frame type', () => {
    for (const frame of EXAMPLES) expect(framesOf(encodeFileFrame(frame), [])).toEqual([frame]);
  });

  it('a CHUNK written as its head and its data (encodeChunkHead) frames as one, the data not copied', () => {
    const data = new Uint8Array(5000).fill(3);
    const next = encodeFileFrame({ type: 'end' });
    const framer = new FileFramer(8192);
    expect(framer.push(encodeChunkHead(4096, data.length))).toEqual([]);
    const [chunk, end] = framer.push(Buffer.concat([data, next]));
    expect(chunk).toEqual({ type: 'chunk', offset: 4096, data });
    expect(end).toEqual({ type: 'end' });
    // The same bytes as one piece frame the same way.
    const whole = Buffer.concat([encodeChunkHead(4096, data.length), data]);
    expect(whole).toEqual(Buffer.from(encodeFileFrame({ type: 'chunk', offset: 4096, data })));
    // A head announcing more data than the cap is refused before the data comes.
    expect(() => new FileFramer(1024).push(encodeChunkHead(0, 1025))).toThrow(/1034|too large|over/i);
  });

  it('a HASHES is taken only at the length the receiver named, refused by its header otherwise', () => {
    const list = encodeFileFrame({ type: 'hashes', hashes: new Uint8Array(96) });
    // Not expected at all (the sending side, or before an ACCEPT).
    expect(errorOf(() => new FileFramer(1024).push(list.subarray(0, 5)))).toMatchObject({
      code: 'ERR_MALFORMED_FRAME',
      message: expect.stringMatching(/not expected/),
    });
    // One entry more or fewer than named: refused with 5 bytes in, nothing buffered for the rest.
    for (const named of [64, 128]) {
      const framer = new FileFramer(1024);
      framer.expectHashes(named);
      expect(errorOf(() => framer.push(list.subarray(0, 5)))).toMatchObject({
        code: 'ERR_MALFORMED_FRAME',
        message: expect.stringMatching(/HASHES of 96 bytes/),
      });
    }
    // Taken once: a second list is refused.
    const framer = new FileFramer(1024);
    framer.expectHashes(96);
    expect(framer.push(list)).toEqual([{ type: 'hashes', hashes: new Uint8Array(96) }]);
    expect(errorOf(() => framer.push(list))).toMatchObject({ code: 'ERR_MALFORMED_FRAME' });
  });

  it('frames a stream of every frame type cut at every offset, and byte by byte', () => {
    const stream = Buffer.concat(EXAMPLES.map(encodeFileFrame));
    for (let cut = 0; cut <= stream.length; cut++) expect(framesOf(stream, [cut])).toEqual(EXAMPLES);
    expect(
      framesOf(
        stream,
        Array.from({ length: stream.length }, (_, i) => i),
      ),
    ).toEqual(EXAMPLES);
  });

  it('frames any chunking of a stream the same way (property)', () => {
    const stream = Buffer.concat(EXAMPLES.map(encodeFileFrame));
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: stream.length })), (cuts) => {
        expect(framesOf(stream, cuts)).toEqual(EXAMPLES);
      }),
    );
  });

  it('refuses a CHUNK over the cap from its header alone, before buffering its body', () => {
    const framer = new FileFramer(1024);
    const big = encodeFileFrame({ type: 'chunk', offset: 0, data: new Uint8Array(1025) });
    const error = errorOf(() => framer.push(big.subarray(0, 5)));
    expect(error.code).toBe('ERR_FRAME_TOO_LARGE');
    expect(error).toMatchObject({ size: 1 + 8 + 1025, limit: 1 + 8 + 1024, offset: 0 });
    // Terminal: the same error again, whatever follows.
    expect(errorOf(() => framer.push(new Uint8Array([0])))).toBe(error);
  });

  it('refuses a header announcing 4 GiB without allocating it', () => {
    const header = new Uint8Array([0xff, 0xff, 0xff, 0xff, 3]);
    expect(errorOf(() => new FileFramer(MAX_CHUNK_SIZE).push(header)).code).toBe('ERR_FRAME_TOO_LARGE');
  });

  it('caps control frames, whatever the chunk cap', () => {
    const framer = new FileFramer(MAX_CHUNK_SIZE);
    const header = new Uint8Array(5);
    new DataView(header.buffer).setUint32(0, 2 + MAX_CONTROL_FRAME);
    header[4] = 7; // CANCEL
    expect(errorOf(() => framer.push(header)).code).toBe('ERR_FRAME_TOO_LARGE');
  });

  it('refuses a zero length, an unknown type, a short body and trailing bytes, with the offset', () => {
    const ok = encodeFileFrame({ type: 'cancelled' });
    const cases: [Uint8Array, string][] = [
      [new Uint8Array([0, 0, 0, 0, 0]), 'ERR_FRAME_TOO_LARGE'],
      [new Uint8Array([0, 0, 0, 1, 99]), 'ERR_MALFORMED_FRAME'],
      [new Uint8Array([0, 0, 0, 3, 4, 0, 0]), 'ERR_MALFORMED_FRAME'], // CREDIT needs 4 bytes
      [new Uint8Array([0, 0, 0, 6, 4, 0, 0, 0, 1, 9]), 'ERR_MALFORMED_FRAME'], // one byte too many
      [new Uint8Array([0, 0, 0, 5, 9, 4, 0x45, 0x52, 0x52]), 'ERR_MALFORMED_FRAME'], // code longer than the body
    ];
    for (const [bytes, code] of cases) {
      const error = errorOf(() => new FileFramer(1024).push(Buffer.concat([ok, bytes])));
      expect(error.code).toBe(code);
      expect(error.offset).toBe(ok.length);
    }
  });

  it('refuses an offset over 2^53 - 1 and text that is not UTF-8', () => {
    const accept = encodeFileFrame({ type: 'accept', size: 1 });
    accept.fill(0xff, 5);
    expect(errorOf(() => new FileFramer(0).push(accept)).code).toBe('ERR_MALFORMED_FRAME');
    const cancel = encodeFileFrame({ type: 'cancel', reason: 'ab' });
    cancel[5] = 0xc3; // a lead byte without its continuation
    expect(errorOf(() => new FileFramer(0).push(cancel)).code).toBe('ERR_INVALID_ENCODING');
  });

  it('refuses an empty offer id and one over the id limit', () => {
    const open = (id: string) =>
      encodeFileFrame({ type: 'open', offerId: id, offset: 0, chunkSize: 1024, window: 1024 });
    expect(errorOf(() => new FileFramer(0).push(open(''))).code).toBe('ERR_MALFORMED_FRAME');
    expect(errorOf(() => new FileFramer(0).push(open('x'.repeat(257)))).code).toBe('ERR_MALFORMED_FRAME');
    expect(new FileFramer(0).push(open('x'.repeat(256)))).toHaveLength(1);
  });

  it('refuses a CHUNK on the sending side (which takes none)', () => {
    const chunk = encodeFileFrame({ type: 'chunk', offset: 0, data: new Uint8Array(1) });
    expect(errorOf(() => new FileFramer(0).push(chunk.subarray(0, 5))).code).toBe('ERR_MALFORMED_FRAME');
  });

  it('cuts long reasons and codes at a character boundary instead of growing the frame', () => {
    const [frame] = framesOf(encodeFileFrame({ type: 'cancel', reason: 'é'.repeat(1000) }), []);
    expect(frame).toEqual({ type: 'cancel', reason: 'é'.repeat(256) });
  });

  it('says when the stream ends inside a frame', () => {
    const framer = new FileFramer(1024);
    framer.push(encodeFileFrame({ type: 'accept', size: 5 }).subarray(0, 7));
    expect(errorOf(() => framer.end()).code).toBe('ERR_MALFORMED_FRAME');
    const clean = new FileFramer(1024);
    clean.end();
    expect(errorOf(() => clean.push(new Uint8Array(1))).code).toBe('ERR_STREAM_CLOSED');
  });
});

describe('checkFileOffer', () => {
  const { offer } = offered(10);
  it('takes a well-formed offer', () => {
    expect(checkFileOffer(offer)).toBe(offer);
    expect(checkFileOffer({ ...offer, sha256: undefined })).toBeTruthy();
  });

  it.each([
    ['not an object', null],
    ['another kind', { ...offer, kind: 'im' }],
    ['an empty id', { ...offer, id: '' }],
    ['an id over the limit', { ...offer, id: 'x'.repeat(257) }],
    ['a sender that is not an address', { ...offer, from: 'bob@yahoo' }],
    ['no recipient', { ...offer, to: undefined }],
    ['a name over the limit', { ...offer, name: 'n'.repeat(1025) }],
    ['a negative size', { ...offer, size: -1 }],
    ['a fractional size', { ...offer, size: 1.5 }],
    ['a size over 2^53', { ...offer, size: 2 ** 53 }],
    ['a size as a string', { ...offer, size: '10' }],
    ['an upper-case hash', { ...offer, sha256: offer.sha256!.toUpperCase() }],
    ['a short hash', { ...offer, sha256: 'abc' }],
    ['a media type over the limit', { ...offer, mediaType: 'm'.repeat(1025) }],
  ])('refuses %s with InvalidFileOfferError', (_, bad) => {
    const error = errorOf(() => checkFileOffer(bad));
    expect(isCrossTalkError(error, 'ERR_INVALID_FILE_OFFER')).toBe(true);
  });
});

describe('the data channel in OPEN and ACCEPT', () => {
  const open = { type: 'open', offerId: 'o', offset: 0, chunkSize: 1024, window: 1024 } as const;

  it('an OPEN without the flag is the older frame byte for byte; with it, one byte longer', () => {
    const plain = encodeFileFrame(open);
    const flagged = encodeFileFrame({ ...open, dataChannel: true });
    expect(flagged.length).toBe(plain.length + 1);
    expect(Buffer.compare(flagged.subarray(5, plain.length), plain.subarray(5))).toBe(0);
    expect(new FileFramer(0).push(plain)).toEqual([open]);
  });

  it('refuses unknown OPEN flags, an ACCEPT cut inside its channel, and a channel on port 0', () => {
    const flagged = encodeFileFrame({ ...open, dataChannel: true });
    const badFlags = new Uint8Array(flagged);
    badFlags[badFlags.length - 1] = 3;
    expect(errorOf(() => new FileFramer(0).push(badFlags)).code).toBe('ERR_MALFORMED_FRAME');
    const channel = { port: 4000, identity: new Uint8Array(16), key: new Uint8Array(32) };
    const accept = encodeFileFrame({ type: 'accept', size: 5, channel });
    // Ten bytes short: the length says so, and the body is cut.
    const cut = new Uint8Array(accept.subarray(0, accept.length - 10));
    new DataView(cut.buffer).setUint32(0, cut.length - 4);
    expect(errorOf(() => new FileFramer(1024).push(cut)).code).toBe('ERR_MALFORMED_FRAME');
    const port0 = encodeFileFrame({ type: 'accept', size: 5, channel: { ...channel, port: 0 } });
    expect(errorOf(() => new FileFramer(1024).push(port0)).code).toBe('ERR_MALFORMED_FRAME');
  });
});
