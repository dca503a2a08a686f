import type { Random } from './random.js';

/**
 * Seeded byte mutations of real traffic, in the spirit of AFL's havoc stage: bit flips, byte
 * writes, interesting values, inserts and deletes, repeats, truncation, splices from other
 * sessions, length fields and numbers made wrong, and, for text protocols, the characters and
 * character references that break decoders (`&#x110000;` is the MSN personal-message bug).
 */

/** What the mutators draw on besides the input itself. */
export interface MutationPool {
  /** Other streams of the corpus, to splice from. */
  readonly streams: readonly Uint8Array[];
  /** Words and byte runs seen in the corpus (verbs, keys, tags, separators). */
  readonly tokens: readonly Uint8Array[];
  /** True for line/XML protocols: numbers are decimal text and text edge cases are likelier. */
  readonly text: boolean;
  /** Largest output a mutation may build (repeats stop there). */
  readonly maxSize: number;
}

const enc = new TextEncoder();
const b = (s: string) => enc.encode(s);

/** Values at the edges of signed and unsigned 8-, 16- and 32-bit fields. */
const INTERESTING = [
  0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x1_0000, 0x7fff_ffff, 0x8000_0000,
];
const INTERESTING_U32 = [...INTERESTING, 0xffff_ffff];

/** Decimal numbers that break parsers: signs, overflow, exponent and hex spellings, nothing at all. */
const INTERESTING_DECIMALS = [
  '0',
  '-1',
  '-0',
  '1',
  '65535',
  '65536',
  '2147483647',
  '2147483648',
  '4294967295',
  '4294967296',
  '9007199254740993',
  '99999999999999999999999999999999',
  '1e3',
  '0x10',
  '1.5',
  'NaN',
  'Infinity',
  ' 7',
  '+5',
  '',
].map(b);

/**
 * Characters and spellings that break text decoders: character references beyond Unicode or to
 * surrogates and NUL, overlong and truncated UTF-8, lone continuation bytes, a code point above
 * U+10FFFF, BOMs, XML markup openers, URL escapes (MSNP arguments), separators, and long runs.
 */
const TEXT_EDGES: Uint8Array[] = [
  b('&#x110000;'),
  b('&#1114112;'),
  b('&#x10FFFF;'),
  b('&#xD800;'),
  b('&#xDFFF;'),
  b('&#0;'),
  b('&#x0;'),
  b('&#x;'),
  b('&#;'),
  b('&#99999999999999999999;'),
  b('&#x7FFFFFFF;'),
  b('&#xFFFFFFFFFFFF;'),
  b('&#-1;'),
  b('&amp;'),
  b('&lt;'),
  b('&unknown;'),
  b('&'),
  b('&#'),
  b(']]>'),
  b('<![CDATA['),
  b('<!--'),
  b('-->'),
  b('<?x?>'),
  b('<!DOCTYPE x>'),
  b('<!ENTITY a "b">'),
  b('<'),
  b('>'),
  b('/>'),
  b('</'),
  b("'"),
  b('"'),
  b('xmlns='),
  b('xmlns:a='),
  Uint8Array.of(0xc0, 0x80),
  Uint8Array.of(0xc1, 0xbf),
  Uint8Array.of(0xe0, 0x80, 0x80),
  Uint8Array.of(0xed, 0xa0, 0x80),
  Uint8Array.of(0xed, 0xbf, 0xbf),
  Uint8Array.of(0xf4, 0x90, 0x80, 0x80),
  Uint8Array.of(0xf8, 0x88, 0x80, 0x80, 0x80),
  Uint8Array.of(0x80),
  Uint8Array.of(0xbf),
  Uint8Array.of(0xe2, 0x82),
  Uint8Array.of(0xf0, 0x9f, 0x98),
  Uint8Array.of(0xfe),
  Uint8Array.of(0xff),
  Uint8Array.of(0xef, 0xbb, 0xbf),
  Uint8Array.of(0xfe, 0xff),
  Uint8Array.of(0xff, 0xfe),
  Uint8Array.of(0),
  b('\r'),
  b('\n'),
  b('\r\n'),
  b('\r\n\r\n'),
  b('\t'),
  b(' '),
  b('  '),
  b('%'),
  b('%%'),
  b('%FF'),
  b('%zz'),
  b('%00'),
  b('%E2%82'),
  b('='),
  b(';'),
  b(':'),
  b('@'),
  b('@@'),
  b(','),
  b('/'),
  b('\\'),
  b('\u{1F600}'),
  b('\u202E'),
  b('\u0301'),
  b('\u200D'),
  b('\uFFFD'),
  b('\uFFFF'),
];

/** A copy of `bytes` with `insert` put in place of `bytes[at, at + remove)`. */
function replace(bytes: Uint8Array, at: number, remove: number, insert: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length - remove + insert.length);
  out.set(bytes.subarray(0, at));
  out.set(insert, at);
  out.set(bytes.subarray(at + remove), at + insert.length);
  return out;
}

type Mutator = (rng: Random, bytes: Uint8Array, pool: MutationPool) => Uint8Array;

const flipBits: Mutator = (rng, bytes) => {
  if (bytes.length === 0) return bytes;
  const out = bytes.slice();
  for (let n = rng.between(1, 8); n > 0; n--) out[rng.below(out.length)]! ^= 1 << rng.below(8);
  return out;
};

const setBytes: Mutator = (rng, bytes) => {
  if (bytes.length === 0) return bytes;
  const out = bytes.slice();
  for (let n = rng.between(1, 4); n > 0; n--) out[rng.below(out.length)] = rng.u32() & 0xff;
  return out;
};

/** Writes an interesting value, 1, 2 or 4 bytes wide, big- or little-endian. */
const interestingValue: Mutator = (rng, bytes) => {
  const width = rng.pick([1, 2, 4]);
  if (bytes.length < width) return bytes;
  const at = rng.below(bytes.length - width + 1);
  const value = rng.pick(width === 4 ? INTERESTING_U32 : INTERESTING);
  const out = bytes.slice();
  writeUint(out, at, width, value, rng.chance(0.5));
  return out;
};

function writeUint(out: Uint8Array, at: number, width: number, value: number, little: boolean): void {
  for (let i = 0; i < width; i++) {
    const shift = 8 * (little ? i : width - 1 - i);
    out[at + i] = Math.floor(value / 2 ** shift) & 0xff;
  }
}

function readUint(bytes: Uint8Array, at: number, width: number, little: boolean): number {
  let v = 0;
  for (let i = 0; i < width; i++) v = v * 256 + bytes[at + (little ? width - 1 - i : i)]!;
  return v;
}

/**
 * Finds a field that looks like a length (a 2- or 4-byte value no larger than the bytes that
 * follow it, near the end of them) and makes it wrong: zero, one off, doubled, the maximum.
 */
const corruptLength: Mutator = (rng, bytes, pool) => {
  const candidates: { at: number; width: number; little: boolean; value: number }[] = [];
  const limit = Math.min(bytes.length, 256);
  for (let at = 0; at < limit; at++) {
    for (const width of [2, 4]) {
      if (at + width > bytes.length) continue;
      for (const little of [false, true]) {
        const value = readUint(bytes, at, width, little);
        const rest = bytes.length - at - width;
        if (value > 0 && value <= rest && rest - value < 64) candidates.push({ at, width, little, value });
      }
    }
  }
  if (candidates.length === 0) return interestingValue(rng, bytes, pool);
  const c = rng.pick(candidates);
  const max = c.width === 2 ? 0xffff : 0xffff_ffff;
  const value = rng.pick([0, c.value - 1, c.value + 1, c.value * 2, max, max - 1, rng.below(max + 1)]);
  const out = bytes.slice();
  writeUint(out, c.at, c.width, Math.max(0, Math.min(max, value)), c.little);
  return out;
};

/** Replaces a decimal number in text with one that breaks parsers (lengths, ids, versions). */
const corruptDecimal: Mutator = (rng, bytes, pool) => {
  const runs: { at: number; length: number }[] = [];
  for (let i = 0; i < bytes.length && runs.length < 64; i++) {
    if (bytes[i]! < 0x30 || bytes[i]! > 0x39) continue;
    let j = i;
    while (j < bytes.length && bytes[j]! >= 0x30 && bytes[j]! <= 0x39) j++;
    runs.push({ at: i, length: j - i });
    i = j;
  }
  if (runs.length === 0) return corruptLength(rng, bytes, pool);
  const run = rng.pick(runs);
  const current = Number(new TextDecoder().decode(bytes.subarray(run.at, run.at + run.length)));
  const near = [current - 1, current + 1, current * 2, current + 1000].map((n) => b(String(n)));
  return replace(
    bytes,
    run.at,
    run.length,
    rng.chance(0.3) ? rng.pick(near) : rng.pick(INTERESTING_DECIMALS),
  );
};

const insertBytes: Mutator = (rng, bytes) => {
  const n = rng.size(64);
  const insert = rng.chance(0.5) ? rng.bytes(n) : new Uint8Array(n).fill(rng.u32() & 0xff);
  return replace(bytes, rng.below(bytes.length + 1), 0, insert);
};

const deleteBytes: Mutator = (rng, bytes) => {
  if (bytes.length === 0) return bytes;
  const at = rng.below(bytes.length);
  return replace(bytes, at, rng.size(bytes.length - at), new Uint8Array(0));
};

/** Repeats a slice many times: long lines, long values, many frames, buffers near their caps. */
const repeat: Mutator = (rng, bytes, pool) => {
  if (bytes.length === 0) return bytes;
  const at = rng.below(bytes.length);
  const slice = bytes.subarray(at, at + rng.size(Math.min(256, bytes.length - at)));
  const room = Math.max(0, pool.maxSize - bytes.length);
  const times = Math.min(
    rng.size(rng.chance(0.05) ? 4096 : 64),
    Math.floor(room / Math.max(1, slice.length)),
  );
  if (times <= 0) return bytes;
  const insert = new Uint8Array(slice.length * times);
  for (let i = 0; i < times; i++) insert.set(slice, i * slice.length);
  return replace(bytes, at, 0, insert);
};

const truncate: Mutator = (rng, bytes) => {
  if (bytes.length === 0) return bytes;
  const at = rng.below(bytes.length);
  return rng.chance(0.7) ? bytes.slice(0, at) : bytes.slice(at);
};

/** A piece of another real stream in place of a piece of this one. */
const splice: Mutator = (rng, bytes, pool) => {
  if (pool.streams.length === 0) return bytes;
  const other = rng.pick(pool.streams);
  if (other.length === 0) return bytes;
  const from = rng.below(other.length);
  const piece = other.subarray(from, from + rng.size(Math.min(2048, other.length - from)));
  const at = rng.below(bytes.length + 1);
  return replace(bytes, at, rng.chance(0.5) ? rng.size(bytes.length - at) : 0, piece);
};

/** Delimiters of fields and text content: `>` `<` space `=` `:` `;` `"` `'` line breaks, the YMSG separator. */
const DELIMITERS = new Set([0x3e, 0x3c, 0x20, 0x3d, 0x3a, 0x3b, 0x22, 0x27, 0x0a, 0x0d, 0x80]);

/**
 * Where to insert: half the time next to a delimiter, so that what is inserted lands inside text
 * content, a value or an attribute rather than in the middle of a keyword.
 */
function insertionPoint(rng: Random, bytes: Uint8Array): number {
  if (bytes.length === 0 || rng.chance(0.5)) return rng.below(bytes.length + 1);
  for (let tries = 0; tries < 8; tries++) {
    const at = rng.below(bytes.length);
    if (DELIMITERS.has(bytes[at]!)) return at + 1;
  }
  return rng.below(bytes.length + 1);
}

/**
 * After `delta` bytes were inserted at `at`, makes the lengths that cover `at` agree again, so the
 * insertion reaches the payload parser instead of the framer's length check. Text: the last decimal
 * number before `at` on a header line (MSNP `UBX passport 53`). Binary: every 2- or 4-byte
 * big-endian field before `at` whose span reached `at` and ended inside the bytes (FLAP, SNAC TLVs,
 * the YMSG header).
 */
function fixLengths(bytes: Uint8Array, at: number, delta: number, text: boolean): Uint8Array {
  if (delta === 0) return bytes;
  if (text) {
    let end = at - 1;
    const floor = Math.max(0, at - 512);
    while (end >= floor && !(bytes[end]! >= 0x30 && bytes[end]! <= 0x39)) end--;
    if (end < floor) return bytes;
    let begin = end;
    while (begin > 0 && bytes[begin - 1]! >= 0x30 && bytes[begin - 1]! <= 0x39) begin--;
    const digits = new TextDecoder().decode(bytes.subarray(begin, end + 1));
    return replace(bytes, begin, end + 1 - begin, b(String(Number(digits) + delta)));
  }
  const out = bytes.slice();
  for (let i = Math.max(0, at - 64); i < at; i++) {
    for (const width of [2, 4]) {
      if (i + width > at) continue;
      const value = readUint(out, i, width, false);
      const spanEnd = i + width + value;
      if (value === 0 || spanEnd < at || spanEnd > bytes.length) continue;
      const fixed = value + delta;
      if (fixed >= 0 && fixed < 2 ** (8 * width)) writeUint(out, i, width, fixed, false);
    }
  }
  return out;
}

function insertPiece(rng: Random, bytes: Uint8Array, pool: MutationPool, piece: Uint8Array): Uint8Array {
  const at = insertionPoint(rng, bytes);
  const remove = rng.chance(0.3) ? Math.min(bytes.length - at, rng.size(8)) : 0;
  const out = replace(bytes, at, remove, piece);
  return rng.chance(0.6) ? fixLengths(out, at, piece.length - remove, pool.text) : out;
}

const textEdge: Mutator = (rng, bytes, pool) => {
  const edge = rng.pick(TEXT_EDGES);
  if (!rng.chance(0.1)) return insertPiece(rng, bytes, pool, edge);
  // A long run of one edge: deep nesting, many references, long separators.
  const times = rng.size(512);
  const run = new Uint8Array(edge.length * times);
  for (let i = 0; i < times; i++) run.set(edge, i * edge.length);
  return insertPiece(rng, bytes, pool, run);
};

const token: Mutator = (rng, bytes, pool) => {
  if (pool.tokens.length === 0) return bytes;
  return insertPiece(rng, bytes, pool, rng.pick(pool.tokens));
};

/** Swaps two lines (text) or two slices (binary): frames out of order, headers after bodies. */
const swap: Mutator = (rng, bytes) => {
  if (bytes.length < 4) return bytes;
  const a = rng.below(bytes.length);
  const b2 = rng.below(bytes.length);
  const [lo, hi] = a < b2 ? [a, b2] : [b2, a];
  const n = Math.min(rng.size(64), hi - lo, bytes.length - hi);
  if (n <= 0) return bytes;
  const out = bytes.slice();
  out.set(bytes.subarray(hi, hi + n), lo);
  out.set(bytes.subarray(lo, lo + n), hi);
  return out;
};

/** Flips the case of letters: `MSG` becomes `mSG`, `<PSM>` becomes `<psm>`. */
const flipCase: Mutator = (rng, bytes) => {
  const out = bytes.slice();
  for (let n = rng.between(1, 8); n > 0 && out.length; n--) {
    const at = rng.below(out.length);
    const c = out[at]!;
    if ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) out[at] = c ^ 0x20;
  }
  return out;
};

const MUTATORS: { name: string; binary: number; text: number; run: Mutator }[] = [
  { name: 'flip-bits', binary: 10, text: 4, run: flipBits },
  { name: 'set-bytes', binary: 10, text: 4, run: setBytes },
  { name: 'interesting-value', binary: 10, text: 2, run: interestingValue },
  { name: 'length-field', binary: 12, text: 3, run: corruptLength },
  { name: 'decimal', binary: 1, text: 12, run: corruptDecimal },
  { name: 'insert', binary: 6, text: 4, run: insertBytes },
  { name: 'delete', binary: 6, text: 6, run: deleteBytes },
  { name: 'repeat', binary: 4, text: 5, run: repeat },
  { name: 'truncate', binary: 4, text: 4, run: truncate },
  { name: 'splice', binary: 6, text: 6, run: splice },
  { name: 'text-edge', binary: 5, text: 16, run: textEdge },
  { name: 'token', binary: 5, text: 12, run: token },
  { name: 'swap', binary: 3, text: 3, run: swap },
  { name: 'flip-case', binary: 1, text: 5, run: flipCase },
];

const BINARY_WEIGHTS = MUTATORS.map((m) => m.binary);
const TEXT_WEIGHTS = MUTATORS.map((m) => m.text);

/** One to a few stacked mutations of `bytes` (never the same array: the caller may keep the input). */
export function mutate(rng: Random, bytes: Uint8Array, pool: MutationPool, rounds?: number): Uint8Array {
  let out = bytes;
  const weights = pool.text ? TEXT_WEIGHTS : BINARY_WEIGHTS;
  for (let n = rounds ?? rng.size(8); n > 0; n--) {
    out = MUTATORS[rng.weighted(weights)]!.run(rng, out, pool);
    if (out.length > pool.maxSize) out = out.subarray(0, pool.maxSize);
  }
  return out === bytes ? bytes.slice() : out;
}

/** True when most of the bytes are printable ASCII or line breaks (a text protocol). */
export function looksTextual(streams: readonly Uint8Array[]): boolean {
  let printable = 0;
  let total = 0;
  for (const s of streams) {
    for (let i = 0; i < s.length; i++) {
      const c = s[i]!;
      if ((c >= 0x20 && c < 0x7f) || c === 0x0a || c === 0x0d || c === 0x09) printable++;
    }
    total += s.length;
  }
  return total > 0 && printable / total > 0.9;
}

/**
 * Tokens of the corpus: for text, words between separators (verbs, keys, tags, attribute names);
 * for binary, short runs starting at random offsets. Capped in number and length.
 */
export function harvestTokens(rng: Random, streams: readonly Uint8Array[], text: boolean): Uint8Array[] {
  const seen = new Set<string>();
  const tokens: Uint8Array[] = [];
  const add = (t: Uint8Array) => {
    if (t.length === 0 || t.length > 64 || tokens.length >= 2000) return;
    const key = Buffer.from(t).toString('latin1');
    if (seen.has(key)) return;
    seen.add(key);
    tokens.push(t.slice());
  };
  for (const s of streams) {
    if (text) {
      let start = 0;
      for (let i = 0; i <= s.length; i++) {
        const c = i < s.length ? s[i]! : 0x20;
        const separator = c === 0x20 || c === 0x0d || c === 0x0a || c === 0x3c || c === 0x3e || c === 0x3d;
        if (!separator) continue;
        add(s.subarray(start, i));
        if (i < s.length) add(s.subarray(i, i + 1));
        start = i + 1;
      }
    } else {
      for (let n = 0; n < 64 && s.length > 0; n++) {
        const at = rng.below(s.length);
        add(s.subarray(at, at + rng.between(1, 8)));
      }
    }
  }
  return tokens;
}
