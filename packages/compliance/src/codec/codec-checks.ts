import assert from 'node:assert/strict';
import {
  type Address,
  bytesEqual,
  type Codec,
  concatBytes,
  type Direction,
  type Framer,
  isCrossTalkError,
  toHex,
} from '@crosstalk/core';
import fc from 'fast-check';
import type { LoginScript, RefusedLogin } from './login-script.js';
import { foreignBuddyOf, sessionChecks } from './session-checks.js';
import {
  type TranslationCheckOptions,
  translationRoundTrip,
  translationSetup,
} from './translation-checks.js';

/** A byte stream one side of a real or reference session wrote, used as a golden. */
export interface CodecGolden {
  /** What the sample is, for failure messages. */
  name: string;
  /** Which side sent the bytes. */
  direction: Direction;
  /** Bytes from a real capture. */
  bytes: Uint8Array;
  /** How many frames the stream holds, when known. */
  frames?: number;
}

/** The first bytes of a real session, for sniff checks. */
export interface SniffSample {
  /** What the sample is, for failure messages. */
  name: string;
  /** Which side sent the bytes. */
  direction: Direction;
  /** The first bytes that side sent. */
  bytes: Uint8Array;
}

/** What `codecSuite` checks a codec against: goldens, sniff samples, hostile inputs. */
export interface CodecSuiteOptions {
  /** The codec under test. */
  codec: Codec;
  /** Real traffic the framer and frame codec must round-trip byte for byte. */
  goldens: readonly CodecGolden[];
  /** First bytes of real sessions: `sniff` must answer `yes` (and `more`, never `no`, on prefixes). */
  sniffYes: readonly SniffSample[];
  /** Other protocols' first bytes: `sniff` must answer `no`. HTTP and TLS are always added. */
  sniffNo?: readonly SniffSample[];
  /**
   * `maxFrameSize` given to the framers of the garbage runs and of the endless-stream check, small
   * so that the oversize paths are reached: frames and buffers must stay within it. Default 4096.
   */
  garbageMaxFrameSize?: number;
  /** fast-check runs for the garbage property. Default 300. */
  garbageRuns?: number;
  /** Streams longer than this are split at sampled offsets rather than every one. Default 2048. */
  exhaustiveSplitLimit?: number;
  /**
   * Real logins that reach `verified` (`LoginScript`): the session checks (identity gate, a login
   * the server never confirms, outbound, `self`, `deliver`) and the login translation check run on
   * them. Without any, those checks are not registered: supply at least one.
   */
  logins?: readonly LoginScript[];
  /** Logins the server refuses: no session may verify, and the gate holds throughout. */
  refusedLogins?: readonly RefusedLogin[];
  /** Which addresses are foreign, for translators and sessions. Default: `defaultIsForeign(codec.networks)`. */
  isForeign?: (a: Address) => boolean;
  /** Tuning of the translation checks (what the protocol cannot carry as generated). */
  translation?: TranslationCheckOptions;
}

/** One named check of a suite. */
export interface Check {
  /** The check's name, as the test is named. */
  name: string;
  /** Runs the check; throws when it fails. */
  run(): void | Promise<void>;
}

function frameAll(framer: Framer, chunks: Iterable<Uint8Array>): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (const chunk of chunks) for (const f of framer.push(chunk)) frames.push(f.slice());
  return frames;
}

function sameFrames(actual: Uint8Array[], expected: Uint8Array[], what: string): void {
  assert.equal(
    actual.length,
    expected.length,
    `${what}: ${actual.length} frames instead of ${expected.length}`,
  );
  for (let i = 0; i < expected.length; i++) {
    if (!bytesEqual(actual[i]!, expected[i]!)) {
      assert.fail(
        `${what}: frame ${i} differs\n  got      ${toHex(actual[i]!)}\n  expected ${toHex(expected[i]!)}`,
      );
    }
  }
}

function splitOffsets(length: number, limit: number): number[] {
  if (length <= limit) return Array.from({ length: length + 1 }, (_, i) => i);
  const step = Math.ceil(length / limit);
  const offsets: number[] = [];
  for (let i = 0; i <= length; i += step) offsets.push(i);
  offsets.push(length - 1, length);
  return offsets;
}

function assertTyped(error: unknown, where: string): void {
  if (!isCrossTalkError(error)) {
    assert.fail(`${where}: threw an untyped error: ${error instanceof Error ? error.stack : String(error)}`);
  }
}

/** At default settings, a framer holding this much of a stream that never completes a frame has no cap. */
const ENDLESS_RUN = 16 * 1024 * 1024;

const HTTP = new TextEncoder().encode('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
const TLS = Uint8Array.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);

/**
 * The checks every codec must pass, as plain functions (node:assert) so that the suite itself can
 * be tested against deliberately broken codecs. `codecSuite` wraps them in vitest.
 */
export function codecChecks(options: CodecSuiteOptions): Check[] {
  const { codec, goldens } = options;
  const splitLimit = options.exhaustiveSplitLimit ?? 2048;
  const garbageMax = options.garbageMaxFrameSize ?? 4096;
  const framer = (direction: Direction) => codec.createFramer(direction);
  const reference = new Map<CodecGolden, Uint8Array[]>();
  const referenceOf = (g: CodecGolden) => {
    let frames = reference.get(g);
    if (!frames) {
      const f = framer(g.direction);
      frames = frameAll(f, [g.bytes]);
      f.end();
      reference.set(g, frames);
    }
    return frames;
  };
  const checks: Check[] = [];

  checks.push({
    name: 'goldens frame losslessly in one chunk (many frames per chunk)',
    run() {
      assert.ok(goldens.length > 0, 'no goldens given');
      for (const g of goldens) {
        const frames = referenceOf(g);
        assert.ok(frames.length > 0, `${g.name}: no frames`);
        if (g.frames !== undefined) assert.equal(frames.length, g.frames, `${g.name}: frame count`);
        assert.ok(bytesEqual(concatBytes(frames), g.bytes), `${g.name}: frames do not add up to the stream`);
      }
    },
  });

  checks.push({
    name: 'byte-at-a-time gives the same frames',
    run() {
      for (const g of goldens) {
        const f = framer(g.direction);
        const bytes = Array.from({ length: g.bytes.length }, (_, i) => g.bytes.subarray(i, i + 1));
        const frames = frameAll(f, bytes);
        f.end();
        sameFrames(frames, referenceOf(g), `${g.name} byte-at-a-time`);
      }
    },
  });

  checks.push({
    name: 'a split at every offset gives the same frames',
    run() {
      for (const g of goldens) {
        for (const at of splitOffsets(g.bytes.length, splitLimit)) {
          const f = framer(g.direction);
          const frames = frameAll(f, [g.bytes.subarray(0, at), g.bytes.subarray(at)]);
          f.end();
          sameFrames(frames, referenceOf(g), `${g.name} split at ${at}`);
        }
      }
    },
  });

  checks.push({
    name: 'random chunkings give the same frames, and the caller may reuse its chunk buffer',
    run() {
      for (const g of goldens) {
        const expected = referenceOf(g);
        fc.assert(
          fc.property(fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 200 }), (sizes) => {
            const f = framer(g.direction);
            const frames: Uint8Array[] = [];
            let at = 0;
            let i = 0;
            while (at < g.bytes.length) {
              const size = sizes.length ? sizes[i++ % sizes.length]! : g.bytes.length;
              const scratch = g.bytes.slice(at, at + size);
              for (const frame of f.push(scratch)) frames.push(frame.slice());
              scratch.fill(0xee); // a caller reusing its buffer must not corrupt frames still held
              at += size;
            }
            f.end();
            sameFrames(frames, expected, `${g.name} random chunking`);
          }),
          { numRuns: 50 },
        );
      }
    },
  });

  checks.push({
    name: 'encode(decode(frame)) is byte-identical for every golden frame',
    run() {
      for (const g of goldens) {
        referenceOf(g).forEach((raw, i) => {
          let frame: unknown;
          try {
            frame = codec.frames.decode(raw, g.direction);
          } catch (error) {
            assert.fail(`${g.name} frame ${i}: decode threw ${String(error)}\n  ${toHex(raw)}`);
          }
          const again = codec.frames.encode(frame);
          if (!bytesEqual(again, raw)) {
            assert.fail(
              `${g.name} frame ${i} re-encodes differently\n  got      ${toHex(again)}\n  expected ${toHex(raw)}`,
            );
          }
        });
      }
    },
  });

  checks.push({
    name: 'the JSON form of every golden frame reads back to the same bytes',
    run() {
      for (const g of goldens) {
        referenceOf(g).forEach((raw, i) => {
          const json = JSON.parse(JSON.stringify(codec.frames.toJson(codec.frames.decode(raw, g.direction))));
          const again = codec.frames.encode(codec.frames.fromJson(json));
          assert.ok(bytesEqual(again, raw), `${g.name} frame ${i}: JSON round trip differs`);
        });
      }
    },
  });

  checks.push({
    name: 'a stream that ends inside a frame is reported as truncated',
    run() {
      for (const g of goldens) {
        const frames = referenceOf(g);
        let start = 0;
        let longest = { start: 0, length: 0 };
        for (const f of frames) {
          if (f.length > longest.length) longest = { start, length: f.length };
          start += f.length;
        }
        if (longest.length < 2) continue;
        const cut = g.bytes.subarray(0, longest.start + longest.length - 1);
        const f = framer(g.direction);
        try {
          frameAll(f, [cut]);
          f.end();
        } catch (error) {
          assertTyped(error, `${g.name} truncated`);
          continue;
        }
        assert.fail(`${g.name}: end() inside a frame did not throw`);
      }
    },
  });

  const garbageProperty = (
    makeInput: fc.Arbitrary<{ bytes: Uint8Array; sizes: number[]; direction: Direction }>,
  ) =>
    fc.property(makeInput, ({ bytes, sizes, direction }) => {
      const f = codec.createFramer(direction, { maxFrameSize: garbageMax });
      let failed: unknown;
      let at = 0;
      let i = 0;
      while (at < bytes.length) {
        const size = sizes[i++ % sizes.length]!;
        const chunk = bytes.subarray(at, at + size);
        at += size;
        try {
          for (const frame of f.push(chunk)) {
            assert.ok(
              frame.length <= garbageMax,
              `frame of ${frame.length} bytes passed a ${garbageMax} cap`,
            );
            try {
              codec.frames.decode(frame, direction);
            } catch (error) {
              assertTyped(error, 'decode of a garbage frame');
            }
          }
          if (f.error) {
            // Good frames came before the bad bytes: delivered, and the framer is now terminal.
            assertTyped(f.error, 'framer.error after garbage');
            failed = f.error;
            break;
          }
        } catch (error) {
          if (error instanceof assert.AssertionError) throw error;
          assertTyped(error, 'push of garbage');
          failed = error;
          break;
        }
        assert.ok(f.buffered <= garbageMax, `framer holds ${f.buffered} bytes beyond a ${garbageMax} cap`);
      }
      if (failed !== undefined) {
        // Terminal after an error: the same error again, never a resumed parse.
        let again: unknown;
        try {
          f.push(Uint8Array.of(0x2a));
        } catch (error) {
          again = error;
        }
        assert.ok(again !== undefined, 'framer accepted bytes after an error');
        assertTyped(again, 'push after an error');
        assert.ok(f.error !== undefined, 'framer.error unset after an error');
      }
    });

  const direction = fc.constantFrom<Direction>('client', 'server');
  const sizes = fc.array(fc.integer({ min: 1, max: 2 * garbageMax }), { minLength: 1, maxLength: 20 });

  checks.push({
    name: 'random garbage gives only typed errors, bounded buffers and a terminal framer',
    run() {
      // Pure noise, short and long, and noise behind a real first frame's opening bytes (so the
      // header checks pass and the length and body paths are reached).
      const heads = [...options.sniffYes.map((s) => s.bytes), ...goldens.map((g) => g.bytes)];
      const bytes = fc.oneof(
        fc.uint8Array({ maxLength: 64 }),
        fc.uint8Array({ maxLength: 3 * garbageMax, size: 'max' }),
        fc
          .tuple(
            fc.constantFrom(...heads),
            fc.integer({ min: 1, max: 24 }),
            fc.uint8Array({ maxLength: 3 * garbageMax, size: 'max' }),
          )
          .map(([head, n, noise]) => Uint8Array.from([...head.subarray(0, n), ...noise])),
      );
      fc.assert(garbageProperty(fc.record({ bytes, sizes, direction })), {
        numRuns: options.garbageRuns ?? 300,
        endOnFailure: true, // shrinking kilobytes of noise takes minutes and says little more
      });
    },
  });

  checks.push({
    name: 'mutated goldens give only typed errors and bounded buffers',
    run() {
      const mutated = fc
        .record({
          golden: fc.constantFrom(...goldens),
          flips: fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), {
            minLength: 1,
            maxLength: 8,
          }),
          sizes,
        })
        .map(({ golden, flips, sizes }) => {
          const bytes = golden.bytes.slice();
          for (const { at, value } of flips) if (bytes.length) bytes[at % bytes.length] = value;
          return { bytes, sizes, direction: golden.direction };
        });
      fc.assert(garbageProperty(mutated), { numRuns: options.garbageRuns ?? 300, endOnFailure: true });
    },
  });

  checks.push({
    name: 'a stream that never completes a frame is refused before its buffer passes the cap (set, and by default)',
    run() {
      // Real first bytes (so the header checks pass), then one byte repeated: a line that never
      // ends, a length-prefixed body that never completes, text that never closes an element.
      const starts: { direction: Direction; head: Uint8Array }[] = [
        { direction: 'client', head: new Uint8Array(0) },
        { direction: 'server', head: new Uint8Array(0) },
        ...options.sniffYes.map((s) => ({ direction: s.direction, head: s.bytes })),
      ];
      for (const { direction, head } of starts) {
        for (const filler of [0x41, 0x00]) {
          for (const capped of [true, false]) {
            const cap = capped ? garbageMax : ENDLESS_RUN / 2;
            const f = capped
              ? codec.createFramer(direction, { maxFrameSize: garbageMax })
              : framer(direction);
            const chunk = new Uint8Array(capped ? 512 : 64 * 1024).fill(filler);
            const where = `${direction} stream of 0x${filler.toString(16)} after ${head.length} real bytes${capped ? `, maxFrameSize ${garbageMax}` : ', default settings'}`;
            let failed: unknown;
            let pushed = 0;
            try {
              for (const frame of f.push(head))
                assert.ok(frame.length <= cap, `${where}: a frame of ${frame.length} bytes`);
              while (pushed < (capped ? 4 * garbageMax : ENDLESS_RUN) && !f.error) {
                for (const frame of f.push(chunk)) {
                  assert.ok(frame.length <= cap, `${where}: a frame of ${frame.length} bytes`);
                }
                pushed += chunk.length;
                assert.ok(
                  f.buffered <= cap,
                  capped
                    ? `${where}: the framer holds ${f.buffered} bytes beyond its ${garbageMax} cap`
                    : `${where}: the framer holds ${f.buffered} bytes: nothing caps it at default settings`,
                );
              }
            } catch (error) {
              if (error instanceof assert.AssertionError) throw error;
              assertTyped(error, where);
              failed = error;
            }
            failed ??= f.error;
            if (failed === undefined) continue; // the filler made whole frames, each within the cap
            assertTyped(failed, where);
            let again: unknown;
            try {
              f.push(Uint8Array.of(filler));
            } catch (error) {
              again = error;
            }
            assert.ok(
              again !== undefined,
              `${where}: the framer accepted bytes after its error (not terminal)`,
            );
            assertTyped(again, `${where}, push after the error`);
            assert.ok(f.error !== undefined, `${where}: framer.error unset after an error`);
          }
        }
      }
    },
  });

  checks.push({
    name: 'sniff recognises the first bytes and never says no to a prefix',
    run() {
      assert.ok(options.sniffYes.length > 0, 'no sniff samples given');
      assert.notEqual(codec.sniff(new Uint8Array(0), 'client'), 'yes', 'sniff said yes to nothing');
      for (const s of options.sniffYes) {
        assert.equal(codec.sniff(s.bytes, s.direction), 'yes', `${s.name}: sniff did not say yes`);
        for (let n = 0; n < s.bytes.length; n++) {
          const answer = codec.sniff(s.bytes.subarray(0, n), s.direction);
          assert.notEqual(answer, 'no', `${s.name}: sniff said no to the first ${n} bytes`);
        }
      }
      const no = [
        { name: 'HTTP request', direction: 'client' as const, bytes: HTTP },
        { name: 'TLS ClientHello', direction: 'client' as const, bytes: TLS },
        ...(options.sniffNo ?? []),
      ];
      for (const s of no)
        assert.equal(codec.sniff(s.bytes, s.direction), 'no', `${s.name}: sniff did not say no`);
    },
  });

  const setup = translationSetup(codec, options);
  checks.push({
    name: 'translator: generated events come back through fromEvent, encode, framer, decode and toEvents with their kind, from, to and text',
    run: translationRoundTrip(setup, options.translation?.runs ?? 50),
  });
  if (options.logins?.length) {
    const sessionSetup = { ...setup, foreignBuddy: foreignBuddyOf(setup.isForeign) };
    checks.push(...sessionChecks(sessionSetup, options.logins, options.refusedLogins ?? []));
  }

  return checks;
}

/** One failed check of `checkCodec`. */
export interface CheckFailure {
  /** The check that failed. */
  check: string;
  /** What it threw. */
  error: unknown;
}

/**
 * Runs every check of the codec suite and returns the failures (empty when the codec passes):
 * the suite without vitest, for tests of the suite itself and for tools.
 */
export async function checkCodec(options: CodecSuiteOptions): Promise<CheckFailure[]> {
  const failures: CheckFailure[] = [];
  for (const check of codecChecks(options)) {
    try {
      await check.run();
    } catch (error) {
      failures.push({ check: check.name, error });
    }
  }
  return failures;
}
