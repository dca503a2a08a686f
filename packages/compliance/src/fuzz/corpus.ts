import type { Direction } from '@crosstalk/core';
import type { CapturedStream } from '../capture/tcp-streams.js';
import type { CodecGolden } from '../codec/codec-checks.js';
import type { TranscriptEntry } from '../codec/transcripts.js';

/** One TCP write of a recorded session, as the fuzzer replays it. */
export interface FuzzWrite {
  /** Connection label; writes of one label go to one proxy session. */
  conn: string;
  /** Who wrote it: `client` or `server`. */
  direction: Direction;
  /** The bytes of the write, as one chunk. */
  bytes: Uint8Array;
}

/**
 * A real session: the writes of one or more connections in the order they happened (a login
 * connection before the connections its cookies open, as the gateway sees them).
 */
export interface FuzzSession {
  /** What the session is (a transcript's or capture's name), for reports. */
  name: string;
  /** Its writes in the order they happened. */
  writes: FuzzWrite[];
}

/** What a codec is fuzzed with. */
export interface FuzzCorpus {
  /** Whole sessions, replayed through translators and proxy sessions (and split into streams). */
  sessions: readonly FuzzSession[];
  /** Extra byte streams for the framer and frame codec only (e.g. streams with capture holes). */
  streams?: readonly CodecGolden[];
}

/** A recorded transcript (`readTranscript`) as one session; `include` picks the connections. */
export function sessionFromTranscript(
  name: string,
  entries: readonly TranscriptEntry[],
  include: (conn: string) => boolean = () => true,
): FuzzSession {
  return {
    name,
    writes: entries
      .filter((e) => include(e.conn))
      .map((e) => ({ conn: e.conn, direction: e.direction, bytes: e.bytes })),
  };
}

/**
 * A TCP stream of a capture (`tcpStreamsFromPcap`) as one session, its segments in capture order.
 * Segments the capture missed are left out, so the replay may run into a gap: whatever the
 * session then says must still be typed.
 */
export function sessionFromCapture(name: string, stream: CapturedStream): FuzzSession {
  return {
    name,
    writes: stream.segments
      .filter((s) => s.missing === undefined)
      .map((s) => ({ conn: `stream ${stream.stream}`, direction: s.direction, bytes: s.bytes })),
  };
}

/** One stream per connection and direction of a session, its writes concatenated. */
export function streamsOfSession(session: FuzzSession): CodecGolden[] {
  const streams = new Map<string, { direction: Direction; parts: Uint8Array[] }>();
  for (const w of session.writes) {
    const key = `${w.conn} ${w.direction}`;
    const s = streams.get(key) ?? { direction: w.direction, parts: [] };
    s.parts.push(w.bytes);
    streams.set(key, s);
  }
  return [...streams].map(([key, s]) => ({
    name: `${session.name} ${key}`,
    direction: s.direction,
    bytes: Uint8Array.from(Buffer.concat(s.parts)),
  }));
}
