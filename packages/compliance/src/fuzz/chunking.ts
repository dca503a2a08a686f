import type { Random } from './random.js';

/**
 * How a byte stream reaches a framer or a session: whole, a byte at a time, cut at random
 * offsets, or in fixed-size pieces. Every way must give the same frames (the framer contract).
 */
export type Chunking = 'whole' | 'bytes' | 'random' | 'fixed';

/**
 * Byte-at-a-time only up to this length; longer streams are cut in small pieces, never more than
 * this many (each call has a fixed cost: an input must stay far below the time limit when every
 * call is linear in its bytes).
 */
const MAX_PIECES = 2048;

export function chooseChunking(rng: Random): Chunking {
  return (['whole', 'bytes', 'random', 'fixed'] as const)[rng.weighted([3, 2, 4, 2])]!;
}

/**
 * `bytes` cut as `how` says. Each piece is a copy, so that a session or framer that keeps a view
 * of a chunk past the call is caught when the caller scribbles over its buffer (see `scribble`).
 */
export function chunk(rng: Random, bytes: Uint8Array, how: Chunking): Uint8Array[] {
  if (bytes.length === 0) return [bytes.slice()];
  switch (how) {
    case 'whole':
      return [bytes.slice()];
    case 'bytes':
      if (bytes.length <= MAX_PIECES) return Array.from(bytes, (_, i) => bytes.slice(i, i + 1));
      return fixed(bytes, rng.between(1, 16));
    case 'fixed':
      return fixed(bytes, rng.size(256));
    case 'random': {
      const cuts = new Set<number>();
      for (let n = rng.size(16); n > 0; n--) cuts.add(rng.below(bytes.length));
      const sorted = [...cuts].sort((a, b) => a - b);
      const out: Uint8Array[] = [];
      let from = 0;
      for (const at of sorted) {
        if (at > from) out.push(bytes.slice(from, at));
        from = Math.max(from, at);
      }
      out.push(bytes.slice(from));
      return out;
    }
  }
}

function fixed(bytes: Uint8Array, wanted: number): Uint8Array[] {
  const size = Math.max(wanted, Math.ceil(bytes.length / MAX_PIECES));
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += size) out.push(bytes.slice(at, at + size));
  return out;
}

/** Overwrites a chunk after use, as a caller reusing its read buffer does. */
export function scribble(chunk: Uint8Array): void {
  chunk.fill(0xee);
}
