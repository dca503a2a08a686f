import { readFileSync } from 'node:fs';
import type { Direction } from '@crosstalk/core';
import type { CodecGolden } from './codec-checks.js';

/** One TCP write of a recorded session (`../shared/captures/transcripts/*.jsonl`). */
export interface TranscriptEntry {
  /** The write's place in the transcript. */
  seq: number;
  /** Connection label, e.g. `NS/alice`, `BOS/bobby`. */
  conn: string;
  /** Which side wrote it. */
  direction: Direction;
  /** What was written. */
  bytes: Uint8Array;
  /** The transcript's note on the write. */
  note: string;
}

/** Reads a transcript's writes in order (comments and metadata lines skipped). */
export function readTranscript(path: string): TranscriptEntry[] {
  const entries: TranscriptEntry[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const o = JSON.parse(line) as { seq?: number; conn?: string; dir?: string; hex?: string; note?: string };
    if (o.hex === undefined || o.conn === undefined || o.dir === undefined) continue;
    entries.push({
      seq: o.seq ?? entries.length,
      conn: o.conn,
      direction: o.dir === 'C>S' ? 'client' : 'server',
      bytes: Uint8Array.from(Buffer.from(o.hex, 'hex')),
      note: o.note ?? '',
    });
  }
  return entries;
}

/** One golden stream per connection and direction, its writes concatenated in order. */
export function goldensFromTranscript(
  name: string,
  entries: readonly TranscriptEntry[],
  include: (conn: string) => boolean = () => true,
): CodecGolden[] {
  const streams = new Map<string, { direction: Direction; parts: Uint8Array[] }>();
  for (const e of entries) {
    if (!include(e.conn)) continue;
    const key = `${e.conn} ${e.direction}`;
    const s = streams.get(key) ?? { direction: e.direction, parts: [] };
    s.parts.push(e.bytes);
    streams.set(key, s);
  }
  return [...streams].map(([key, s]) => ({
    name: `${name} ${key}`,
    direction: s.direction,
    bytes: Uint8Array.from(Buffer.concat(s.parts)),
  }));
}
