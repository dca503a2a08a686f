import {
  type CanonicalEvent,
  type Direction,
  type Framer,
  FrameTooLargeError,
  type ProtocolError,
  type TranslatorOptions,
  TruncatedStreamError,
} from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { checkCodec } from '../src/index.js';
import {
  createIrcFramer,
  decodeIrc,
  encodeIrc,
  type IrcFrame,
  IrcTranslator,
  MAX_LINE,
  PROTOCOL,
  type ToyIrcParts,
  toyIrc,
} from './fixtures/toy-irc.js';
import { toyIrcSuite } from './fixtures/toy-irc-setup.js';

// Planted bugs, one per variant of the toy IRC codec: the suite must fail each, in the check that
// guards against it. (The same bugs a trial planted in a third-party IRC codec, which the suite
// of framing checks alone missed.)

const CHECK = {
  login: 'session: a real login verifies as its user, once, and only after the server confirmed it',
  gate: 'session: before verified it is a plain relay (identity gate), byte at a time and in random chunks',
  unconfirmed:
    'session: a login the server never confirms stays a relay, even when the client addresses foreign users',
  learns: 'translator: following a real login, it learns the user and finds canonical events',
  outbound:
    "session: after verified, messages to foreign users are withheld as outbound events with the user's address and the addressed buddy",
  self: "session: after verified, the user's own status change is passed to the server and reported as self",
  deliver: 'session: deliver() after verified writes client bytes the codec reads back with from and to kept',
  roundTrip:
    'translator: generated events come back through fromEvent, encode, framer, decode and toEvents with their kind, from, to and text',
  byteAtATime: 'byte-at-a-time gives the same frames',
  split: 'a split at every offset gives the same frames',
  endless:
    'a stream that never completes a frame is refused before its buffer passes the cap (set, and by default)',
  garbage: 'random garbage gives only typed errors, bounded buffers and a terminal framer',
  sniff: 'sniff recognises the first bytes and never says no to a prefix',
  encode: 'encode(decode(frame)) is byte-identical for every golden frame',
} as const;

/** A framer wrapper forwarding everything to `inner()` (which the mutant may swap). */
function wrap(inner: () => Framer, push: (chunk: Uint8Array) => Uint8Array[]): Framer {
  return {
    push,
    end: () => inner().end(),
    get buffered() {
      return inner().buffered;
    },
    get offset() {
      return inner().offset;
    },
    get error() {
      return inner().error;
    },
  };
}

/** Loses the first byte of every chunk after the first. */
function droppingFramer(direction: Direction, o?: { maxFrameSize?: number }): Framer {
  const inner = createIrcFramer(direction, o);
  let first = true;
  return wrap(
    () => inner,
    (chunk) => {
      const c = first ? chunk : chunk.subarray(1);
      first = false;
      return inner.push(c);
    },
  );
}

/** After an error, starts over with a fresh framer instead of staying terminal. */
function forgivingFramer(direction: Direction, o?: { maxFrameSize?: number }): Framer {
  let inner = createIrcFramer(direction, o);
  return wrap(
    () => inner,
    (chunk) => {
      try {
        const frames = inner.push(chunk);
        if (inner.error) inner = createIrcFramer(direction, o);
        return frames;
      } catch (error) {
        inner = createIrcFramer(direction, o);
        throw error;
      }
    },
  );
}

/** Holds everything until a LF comes and checks the cap only then: an endless line is held whole. */
function unboundedFramer(_direction: Direction, o?: { maxFrameSize?: number }): Framer {
  const max = o?.maxFrameSize ?? MAX_LINE;
  let held = new Uint8Array(0);
  let offset = 0;
  let error: ProtocolError | undefined;
  return {
    push(chunk) {
      if (error) throw error;
      const all = new Uint8Array(held.length + chunk.length);
      all.set(held);
      all.set(chunk, held.length);
      const frames: Uint8Array[] = [];
      let at = 0;
      for (let lf = all.indexOf(0x0a, at); lf >= 0; lf = all.indexOf(0x0a, at)) {
        if (lf + 1 - at > max) {
          error = new FrameTooLargeError(PROTOCOL, lf + 1 - at, max, { offset });
          held = new Uint8Array(0);
          if (frames.length > 0) return frames;
          throw error;
        }
        frames.push(all.slice(at, lf + 1));
        offset += lf + 1 - at;
        at = lf + 1;
      }
      held = all.slice(at);
      return frames;
    },
    end() {
      if (error) throw error;
      if (held.length > 0) throw new TruncatedStreamError(PROTOCOL, held.length, { offset });
    },
    get buffered() {
      return held.length;
    },
    get offset() {
      return offset;
    },
    get error() {
      return error;
    },
  };
}

/** Reads an IM's sender as its addressee and the other way round. */
class SwappingTranslator extends IrcTranslator {
  override toEvents(frame: IrcFrame, direction: Direction): CanonicalEvent[] {
    return super
      .toEvents(frame, direction)
      .map((e) => (e.kind === 'im' ? { ...e, from: e.to, to: e.from } : e));
  }
}

/** The checks the suite had before it checked translators, sessions and endless streams. */
const FRAMING_ONLY = [
  'goldens frame losslessly in one chunk (many frames per chunk)',
  CHECK.byteAtATime,
  CHECK.split,
  'random chunkings give the same frames, and the caller may reuse its chunk buffer',
  CHECK.encode,
  'the JSON form of every golden frame reads back to the same bytes',
  'a stream that ends inside a frame is reported as truncated',
  CHECK.garbage,
  'mutated goldens give only typed errors and bounded buffers',
  CHECK.sniff,
];

/** `missedBefore`: a bug the framing-only suite let through (the trial's misses): only new checks catch it. */
const mutants: { name: string; parts: ToyIrcParts; caughtBy: string[]; missedBefore?: true }[] = [
  {
    name: 'a session that never verifies',
    parts: { faults: { neverVerifies: true } },
    caughtBy: [CHECK.login],
    missedBefore: true,
  },
  {
    name: 'a session that verifies on the client NICK (early)',
    parts: { faults: { verifiesEarly: true } },
    caughtBy: [CHECK.login, CHECK.unconfirmed],
  },
  {
    name: 'a broken identity gate: withholds messages to foreign users before verified',
    parts: { faults: { withholdsEarly: true } },
    caughtBy: [CHECK.unconfirmed],
    missedBefore: true,
  },
  {
    name: 'a session that injects before verified',
    parts: { faults: { injectsEarly: true } },
    caughtBy: [CHECK.login, CHECK.gate],
  },
  {
    name: 'a session whose deliver() works before verified',
    parts: { faults: { deliversEarly: true } },
    caughtBy: [CHECK.login, CHECK.gate, CHECK.unconfirmed],
  },
  {
    name: "a session that never reports the user's own status (self)",
    parts: { faults: { noSelf: true } },
    caughtBy: [CHECK.self],
  },
  {
    name: 'a translator that swaps from and to',
    parts: { createTranslator: (o?: TranslatorOptions) => new SwappingTranslator(o) },
    caughtBy: [CHECK.roundTrip, CHECK.deliver],
    missedBefore: true,
  },
  {
    name: 'a decode that returns raw for everything',
    parts: { decode: (raw) => ({ type: 'raw', bytes: raw.slice() }) },
    caughtBy: [CHECK.roundTrip, CHECK.learns, CHECK.deliver],
    missedBefore: true,
  },
  {
    name: 'unbounded line buffering (the cap checked only once a line ends)',
    parts: { createFramer: unboundedFramer },
    caughtBy: [CHECK.endless],
    missedBefore: true,
  },
  {
    name: 'a framer that drops bytes (not lossless)',
    parts: { createFramer: droppingFramer },
    caughtBy: [CHECK.byteAtATime, CHECK.split],
  },
  {
    name: 'a framer that is not terminal after an error',
    parts: { createFramer: forgivingFramer },
    caughtBy: [CHECK.endless],
    missedBefore: true,
  },
  { name: 'a sniff that says yes to everything', parts: { sniff: () => 'yes' }, caughtBy: [CHECK.sniff] },
  {
    name: 'an encode that is not byte-exact (always writes CR LF)',
    parts: { encode: (f) => encodeIrc(f.type === 'message' ? { ...f, eol: '\r\n' } : f) },
    caughtBy: [CHECK.encode],
  },
  {
    name: 'an untyped error on bad input (a decode that lets TextDecoder throw)',
    parts: {
      decode: (raw) => {
        new TextDecoder('utf-8', { fatal: true }).decode(raw);
        return decodeIrc(raw);
      },
    },
    caughtBy: [CHECK.garbage],
  },
];

describe('the codec suite catches planted bugs in the toy IRC codec', () => {
  it('the unbroken codec fails nothing', async () => {
    const failures = await checkCodec(toyIrcSuite(toyIrc()));
    expect(failures.map((f) => `${f.check}: ${String(f.error)}`)).toEqual([]);
  });

  for (const m of mutants) {
    it(m.name, async () => {
      const failed = (await checkCodec(toyIrcSuite(toyIrc(m.parts)))).map((f) => f.check);
      expect(failed).toEqual(expect.arrayContaining(m.caughtBy));
      if (m.missedBefore) expect(failed.filter((name) => FRAMING_ONLY.includes(name))).toEqual([]);
    });
  }

  it('every check name the mutants expect exists', async () => {
    const { codecChecks } = await import('../src/index.js');
    const names = codecChecks(toyIrcSuite(toyIrc())).map((c) => c.name);
    for (const name of [...Object.values(CHECK), ...FRAMING_ONLY]) expect(names).toContain(name);
  });
});
