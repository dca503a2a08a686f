import { FixedHeaderFramer, type Framer, MalformedFrameError } from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { type CodecGolden, codecChecks, codecSuite, toyCodec, toyFrame, toyFramer } from '../src/index.js';

const stream = Uint8Array.from([
  ...toyFrame('T:hello'),
  ...toyFrame(Uint8Array.of(1, 2, 3)),
  ...toyFrame('T:gr\u00fc\u00dfe \u2603'),
  ...toyFrame(''),
  ...toyFrame(''),
  ...toyFrame('T:' + 'x'.repeat(300)),
]);
const goldens: CodecGolden[] = [
  { name: 'toy stream', direction: 'client', bytes: stream, frames: 6 },
  // A header-only frame last: it must come out when its header completes, not on the next push.
  {
    name: 'ends with an empty frame',
    direction: 'server',
    bytes: Uint8Array.from([...toyFrame('T:x'), ...toyFrame('')]),
    frames: 2,
  },
];
const sniffYes = [{ name: 'toy hello', direction: 'client' as const, bytes: toyFrame('T:hi') }];

// The suite on a correct codec passes...
codecSuite({ codec: toyCodec(), goldens, sniffYes, garbageRuns: 100 });

// ...and each deliberately broken codec fails the check that guards against its flaw.
function failing(codec: ReturnType<typeof toyCodec>): string[] {
  const failed: string[] = [];
  for (const check of codecChecks({ codec, goldens, sniffYes, garbageRuns: 100 })) {
    try {
      check.run();
    } catch {
      failed.push(check.name);
    }
  }
  return failed;
}

/** Loses the first byte of every chunk after the first. */
function droppingFramer(max?: number): Framer {
  const inner = toyFramer(max);
  let first = true;
  return {
    push(chunk) {
      const c = first ? chunk : chunk.subarray(1);
      first = false;
      return inner.push(c);
    },
    end: () => inner.end(),
    get buffered() {
      return inner.buffered;
    },
    get offset() {
      return inner.offset;
    },
    get error() {
      return inner.error;
    },
  };
}

/** Ignores maxFrameSize and buffers whatever the length field says. */
function uncappedFramer(): Framer {
  return new FixedHeaderFramer({
    protocol: 'toy',
    headerSize: 3,
    defaultMaxFrameSize: 1 << 30,
    maxFrameSize: 1 << 30,
    frameLength: (b, at) => 3 + ((b[at + 1]! << 8) | b[at + 2]!),
  });
}

/** Throws plain TypeErrors instead of typed protocol errors. */
function untypedFramer(max?: number): Framer {
  const inner = toyFramer(max);
  return {
    push(chunk) {
      try {
        return inner.push(chunk);
      } catch (error) {
        throw new TypeError(String(error));
      }
    },
    end: () => inner.end(),
    get buffered() {
      return inner.buffered;
    },
    get offset() {
      return inner.offset;
    },
    get error() {
      return inner.error;
    },
  };
}

/** Keeps a view of the caller's chunk instead of copying the tail it waits on. */
function aliasingFramer(): Framer {
  let held: Uint8Array = new Uint8Array(0);
  const frames = (bytes: Uint8Array) => {
    const out: Uint8Array[] = [];
    let at = 0;
    while (bytes.length - at >= 3) {
      const len = 3 + ((bytes[at + 1]! << 8) | bytes[at + 2]!);
      if (bytes.length - at < len) break;
      out.push(bytes.subarray(at, at + len));
      at += len;
    }
    return { out, rest: bytes.subarray(at) };
  };
  return {
    push(chunk) {
      const joined = held.length ? Uint8Array.from([...held, ...chunk]) : chunk;
      const { out, rest } = frames(joined);
      held = rest;
      return out;
    },
    end() {},
    get buffered() {
      return held.length;
    },
    offset: 0,
    error: undefined,
  };
}

describe('the codec suite catches broken codecs', () => {
  it('a correct codec fails nothing', () => {
    expect(failing(toyCodec())).toEqual([]);
  });

  it('a framer that drops bytes at chunk boundaries', () => {
    const failed = failing(toyCodec({ framer: droppingFramer }));
    expect(failed).toContain('byte-at-a-time gives the same frames');
    expect(failed).toContain('a split at every offset gives the same frames');
  });

  it('a framer without a size cap', () => {
    expect(failing(toyCodec({ framer: uncappedFramer }))).toEqual(
      expect.arrayContaining([
        'random garbage gives only typed errors, bounded buffers and a terminal framer',
      ]),
    );
  });

  it('a framer that throws untyped errors', () => {
    expect(failing(toyCodec({ framer: untypedFramer }))).toContain(
      'random garbage gives only typed errors, bounded buffers and a terminal framer',
    );
  });

  it('a framer that keeps views of the caller buffer', () => {
    expect(failing(toyCodec({ framer: aliasingFramer }))).toContain(
      'random chunkings give the same frames, and the caller may reuse its chunk buffer',
    );
  });

  it('a frame codec that does not round-trip', () => {
    const lossy = toyCodec({ decode: () => ({ type: 'text', text: 'same' }) });
    expect(failing(lossy)).toContain('encode(decode(frame)) is byte-identical for every golden frame');
  });

  it('a decoder that throws untyped errors on garbage', () => {
    const throwing = toyCodec({
      decode: (raw) => {
        if (raw.subarray(3).some((b) => b >= 0xf0)) throw new RangeError('boom');
        if (raw[3] === 0xfe) throw new MalformedFrameError('toy', 'typed is fine');
        return { type: 'raw', payload: raw.slice(3) };
      },
    });
    expect(failing(throwing).some((name) => name.includes('only typed errors'))).toBe(true);
  });
});
