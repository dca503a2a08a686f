import type { Codec, Direction } from '@crosstalk/core';
import type { CodecGolden } from '../codec/codec-checks.js';
import { type FuzzCorpus, type FuzzSession, streamsOfSession } from './corpus.js';
import { FuzzGateway } from './gateway-double.js';
import { harvestTokens, looksTextual, type MutationPool } from './mutate.js';
import { Random } from './random.js';

/** A stream with the offsets where its frames start (so inputs can be windows of whole frames). */
export interface PreparedStream {
  name: string;
  direction: Direction;
  bytes: Uint8Array;
  /** Frame start offsets, and the stream length last. */
  bounds: number[];
}

export interface SessionFrame {
  conn: string;
  direction: Direction;
  raw: Uint8Array;
}

export interface PreparedSession {
  session: FuzzSession;
  /** Index of the write after which each connection was verified, unmutated. */
  verifiedAt: Map<string, number>;
  /** The session's frames in the order they were completed. */
  frames: SessionFrame[];
}

/** The corpus made ready once per run: streams with frame bounds, frames, tokens, baselines. */
export interface Prepared {
  codec: Codec;
  streams: PreparedStream[];
  frames: { direction: Direction; raw: Uint8Array }[];
  sessions: PreparedSession[];
  pool: MutationPool;
  /** Problems of the unmutated corpus (an untyped error there is a failure before any mutation). */
  baseline: { session: string; conn: string; error: unknown }[];
}

const MAX_POOL_FRAMES = 20_000;

function frameStream(codec: Codec, s: CodecGolden): PreparedStream {
  const bounds = [0];
  try {
    const framer = codec.createFramer(s.direction);
    let at = 0;
    for (const f of framer.push(s.bytes)) {
      at += f.length;
      bounds.push(at);
    }
  } catch {
    // A stream the framer refuses somewhere is still a stream: its frames up to there count.
  }
  if (bounds[bounds.length - 1] !== s.bytes.length) bounds.push(s.bytes.length);
  return { name: s.name, direction: s.direction, bytes: s.bytes, bounds };
}

function sessionFrames(codec: Codec, session: FuzzSession): SessionFrame[] {
  const framers = new Map<string, ReturnType<Codec['createFramer']> | undefined>();
  const frames: SessionFrame[] = [];
  for (const w of session.writes) {
    const key = `${w.conn} ${w.direction}`;
    if (!framers.has(key)) framers.set(key, codec.createFramer(w.direction));
    const framer = framers.get(key);
    if (!framer) continue;
    try {
      for (const raw of framer.push(w.bytes))
        frames.push({ conn: w.conn, direction: w.direction, raw: raw.slice() });
      if (framer.error) framers.set(key, undefined);
    } catch {
      framers.set(key, undefined);
    }
  }
  return frames;
}

/** Replays a session unmutated, one proxy session per connection, and notes where each is verified. */
function baseline(codec: Codec, session: FuzzSession, problems: Prepared['baseline']): Map<string, number> {
  const gateway = new FuzzGateway(codec, new Random(1), []);
  const open = new Map<string, ReturnType<Codec['openSession']> | undefined>();
  const verifiedAt = new Map<string, number>();
  session.writes.forEach((w, i) => {
    if (!open.has(w.conn)) open.set(w.conn, codec.openSession(gateway.context(w.conn)));
    const s = open.get(w.conn);
    if (!s) return;
    try {
      const out = w.direction === 'client' ? s.fromClient(w.bytes) : s.fromServer(w.bytes);
      for (const e of out.events) {
        if (e.type === 'verified' && !verifiedAt.has(w.conn)) verifiedAt.set(w.conn, i);
        if (e.type === 'closed') {
          if (e.error) problems.push({ session: session.name, conn: w.conn, error: e.error });
          open.set(w.conn, undefined);
        }
      }
    } catch (error) {
      problems.push({ session: session.name, conn: w.conn, error });
      open.set(w.conn, undefined);
    }
  });
  return verifiedAt;
}

export function prepare(
  codec: Codec,
  corpus: FuzzCorpus,
  options: { text?: boolean; maxSize?: number } = {},
): Prepared {
  const goldens = [...corpus.sessions.flatMap(streamsOfSession), ...(corpus.streams ?? [])];
  if (goldens.length === 0) throw new RangeError(`fuzz: no sessions or streams given for ${codec.protocol}`);
  const streams = goldens.filter((g) => g.bytes.length > 0).map((g) => frameStream(codec, g));
  const frames: Prepared['frames'] = [];
  for (const s of streams) {
    for (let i = 0; i + 1 < s.bounds.length && frames.length < MAX_POOL_FRAMES; i++) {
      frames.push({ direction: s.direction, raw: s.bytes.slice(s.bounds[i]!, s.bounds[i + 1]!) });
    }
  }
  const problems: Prepared['baseline'] = [];
  const sessions = corpus.sessions.map((session) => ({
    session,
    verifiedAt: baseline(codec, session, problems),
    frames: sessionFrames(codec, session),
  }));
  const raw = streams.map((s) => s.bytes);
  const text = options.text ?? looksTextual(raw);
  return {
    codec,
    streams,
    frames,
    sessions,
    pool: {
      streams: raw,
      tokens: harvestTokens(new Random(0x70c3), raw, text),
      text,
      maxSize: options.maxSize ?? 64 * 1024,
    },
    baseline: problems,
  };
}
