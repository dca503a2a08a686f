import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Framer, LineFramer, type LineFramerOptions, MalformedFrameError } from '../src/index.js';

const enc = new TextEncoder();
const bytes = (s: string) => enc.encode(s);
const text = (frames: Uint8Array[]) => frames.map((f) => Buffer.from(f).toString('utf8'));

function framer(options: Partial<LineFramerOptions> = {}): LineFramer {
  return new LineFramer({ protocol: 'test', defaultMaxFrameSize: 512, ...options });
}

/** Frames of `chunks` pushed in order, each copied at once (the caller reuses nothing here). */
function frameAll(f: Framer, chunks: Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const c of chunks) for (const frame of f.push(c)) out.push(frame.slice());
  f.end();
  return out;
}

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('did not throw');
}

/** `PAY n` announces n payload bytes after its line (the shape of MSNP's MSG/ADL commands). */
const payloadLength: LineFramerOptions['payloadLength'] = (b, start, end) => {
  const m = /^PAY (\d+)\r?\n$/.exec(Buffer.from(b.subarray(start, end)).toString('latin1'));
  return m ? Number(m[1]) : 0;
};

// Frames of each terminator: multi-byte UTF-8 (2, 3 and 4 bytes), a bare LF inside a CRLF line,
// empty lines, payloads holding terminators, an empty payload.
const CRLF_FRAMES = [
  'NICK caf\u00e9\r\n',
  'PRIVMSG #x :\u2603 snow \ud83d\ude00\r\n',
  'a bare\nLF stays in the line\r\n',
  '\r\n',
  'PAY 7\r\nx\r\ny\r\nz',
  'PAY 0\r\n',
  'QUIT :bye\r\n',
];
const LF_FRAMES = ['VER 1 MSNP8\r\n', 'CHG 2 NLN\n', 'PAY 3\n\n\r\n', '\n', 'BYE \u00fc\r\n'];

describe('LineFramer', () => {
  for (const [name, terminator, expected] of [
    ['CRLF', '\r\n', CRLF_FRAMES],
    ['LF', '\n', LF_FRAMES],
  ] as const) {
    const stream = bytes(expected.join(''));
    const make = () => framer({ terminator, payloadLength });

    it(`${name}: one chunk gives every line (payloads attached), losslessly`, () => {
      const frames = frameAll(make(), [stream]);
      expect(text(frames)).toEqual(expected);
      expect(Buffer.concat(frames).equals(Buffer.from(stream))).toBe(true);
    });

    it(`${name}: a split at every offset and byte-at-a-time give the same frames (UTF-8 split anywhere)`, () => {
      for (let at = 0; at <= stream.length; at++) {
        expect(text(frameAll(make(), [stream.subarray(0, at), stream.subarray(at)]))).toEqual(expected);
      }
      const single = Array.from({ length: stream.length }, (_, i) => stream.subarray(i, i + 1));
      expect(text(frameAll(make(), single))).toEqual(expected);
    });

    it(`${name}: random chunkings give the same frames, and the caller may reuse its buffer`, () => {
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 30 }), (sizes) => {
          const f = make();
          const frames: Uint8Array[] = [];
          let at = 0;
          for (let i = 0; at < stream.length; i++) {
            const scratch = stream.slice(at, at + sizes[i % sizes.length]!);
            for (const frame of f.push(scratch)) frames.push(frame.slice());
            scratch.fill(0xee);
            at += scratch.length;
          }
          f.end();
          expect(text(frames)).toEqual(expected);
        }),
      );
    });
  }

  it('CRLF: a terminator split across chunks ends the line; a CR alone does not', () => {
    const f = framer();
    expect(f.push(bytes('PING :a\r'))).toEqual([]);
    expect(f.buffered).toBe(8);
    expect(text(f.push(bytes('\nPING :b\r')))).toEqual(['PING :a\r\n']);
    expect(text(f.push(bytes('x\r\n')))).toEqual(['PING :b\rx\r\n']);
    expect(f.offset).toBe(20);
  });

  it('a longer terminator may straddle any number of chunks', () => {
    const stream = bytes('GET / HTTP/1.0\r\n\r\nHEAD\r\n\r\n');
    for (let a = 0; a <= stream.length; a++) {
      for (let b = a; b <= stream.length; b++) {
        const f = framer({ terminator: '\r\n\r\n' });
        const frames = frameAll(f, [stream.subarray(0, a), stream.subarray(a, b), stream.subarray(b)]);
        expect(text(frames)).toEqual(['GET / HTTP/1.0\r\n\r\n', 'HEAD\r\n\r\n']);
      }
    }
  });

  it('a line of exactly maxLineLength passes; one byte more fails before it is buffered', () => {
    expect(text(frameAll(framer({ maxLineLength: 8 }), [bytes('123456\r\n')]))).toEqual(['123456\r\n']);
    const whole = framer({ maxLineLength: 8 });
    expect(caught(() => whole.push(bytes('1234567\r\n')))).toMatchObject({
      code: 'ERR_FRAME_TOO_LARGE',
      size: 9,
      limit: 8,
      offset: 0,
    });
    // Incomplete, it is refused as soon as it can no longer fit: 7 bytes may still end in 8...
    const split = framer({ maxLineLength: 8 });
    expect(split.push(bytes('1234567'))).toEqual([]);
    expect(split.buffered).toBe(7);
    // ...8 without a terminator cannot, whatever comes next.
    expect(caught(() => split.push(bytes('8')))).toMatchObject({ code: 'ERR_FRAME_TOO_LARGE' });
    expect(split.buffered).toBe(0);
  });

  it('an endless line is refused without buffering it, in one chunk or many (the default cap applies)', () => {
    const big = framer();
    expect(caught(() => big.push(new Uint8Array(1 << 20).fill(0x41)))).toMatchObject({
      code: 'ERR_FRAME_TOO_LARGE',
      limit: 512,
    });
    const drip = framer();
    let error: unknown;
    for (let i = 0; i < 10_000 && !error; i++) {
      try {
        drip.push(bytes('AAAAAAAAAAAAAAAA'));
      } catch (e) {
        error = e;
      }
      expect(drip.buffered).toBeLessThan(512);
    }
    expect(error).toMatchObject({ code: 'ERR_FRAME_TOO_LARGE' });
  });

  it('maxBuffered below maxFrameSize reports the buffer as the cap that was hit', () => {
    const f = framer({ maxFrameSize: 100, maxBuffered: 10 });
    expect(caught(() => f.push(bytes('0123456789')))).toMatchObject({
      code: 'ERR_BUFFER_OVERFLOW',
      limit: 10,
    });
    const p = framer({ maxFrameSize: 100, maxBuffered: 20, payloadLength });
    expect(caught(() => p.push(bytes('PAY 15\r\n')))).toMatchObject({
      code: 'ERR_BUFFER_OVERFLOW',
      size: 23,
    });
  });

  it('a payload length is checked against maxFrameSize before anything is allocated', () => {
    const f = framer({ maxFrameSize: 64, payloadLength });
    expect(text(f.push(bytes('PAY 1\r\nx')))).toEqual(['PAY 1\r\nx']);
    const error = caught(() => f.push(bytes('PAY 999999999\r\n')));
    expect(error).toMatchObject({ code: 'ERR_FRAME_TOO_LARGE', size: 999999999 + 15, offset: 8 });
    expect(f.buffered).toBe(0);
  });

  it('a bad payload length and an untyped throw from the hook become typed errors', () => {
    const negative = framer({ payloadLength: () => -1 });
    expect(caught(() => negative.push(bytes('x\r\n')))).toBeInstanceOf(MalformedFrameError);
    const throwing = framer({
      payloadLength: () => {
        throw new RangeError('boom');
      },
    });
    expect(caught(() => throwing.push(bytes('x\r\n')))).toMatchObject({
      code: 'ERR_MALFORMED_FRAME',
      protocol: 'test',
    });
  });

  it('good frames before bad bytes are returned with error set; then it is terminal', () => {
    const f = framer({ maxLineLength: 8 });
    const good = f.push(bytes('ok\r\nfine\r\nthis line is far too long\r\n'));
    expect(text(good)).toEqual(['ok\r\n', 'fine\r\n']);
    expect(f.error).toMatchObject({ code: 'ERR_FRAME_TOO_LARGE', offset: 10 });
    const first = caught(() => f.push(bytes('a\r\n')));
    expect(first).toBe(f.error);
    expect(caught(() => f.push(bytes('b\r\n')))).toBe(first);
    expect(caught(() => f.end())).toBe(first);
  });

  it('end() inside a line or a payload throws TruncatedStreamError; push after end is refused', () => {
    const line = framer();
    line.push(bytes('ok\r\nhalf'));
    expect(caught(() => line.end())).toMatchObject({ code: 'ERR_TRUNCATED_STREAM', pending: 4, offset: 4 });
    const payload = framer({ payloadLength });
    payload.push(bytes('PAY 5\r\nab'));
    expect(caught(() => payload.end())).toMatchObject({ code: 'ERR_TRUNCATED_STREAM', pending: 9 });
    const done = framer();
    done.push(bytes('x\r\n'));
    done.end();
    expect(caught(() => done.push(bytes('y\r\n')))).toMatchObject({ code: 'ERR_STREAM_CLOSED' });
  });

  it('frames within one chunk are views of it; frames split across chunks are copies', () => {
    const chunk = bytes('a\r\nb\r\nc');
    const f = framer();
    const [a, b] = f.push(chunk);
    expect(a!.buffer).toBe(chunk.buffer);
    expect(b!.buffer).toBe(chunk.buffer);
    const rest = bytes('\r\n');
    const [c] = f.push(rest);
    expect(c!.buffer).not.toBe(chunk.buffer);
    chunk.fill(0);
    expect(text([c!])).toEqual(['c\r\n']);
  });

  it('refuses options that leave no room for a line', () => {
    expect(() => framer({ terminator: '' })).toThrow(TypeError);
    expect(() => framer({ terminator: '\r\n', maxLineLength: 1 })).toThrow(TypeError);
  });
});
