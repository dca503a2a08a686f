import {
  type Address,
  bytesEqual,
  type CanonicalEvent,
  type Direction,
  type FramerOptions,
  isCrossTalkError,
  type ProxySession,
  type RosterItem,
  type SessionOutput,
  toHex,
  validateEvent,
} from '@crosstalk/core';
import fc from 'fast-check';
import { arbEvent, arbRosterItem } from '../arbitraries/events.js';
import { chooseChunking, chunk, scribble } from './chunking.js';
import type { FailureKind } from './failures.js';
import { untypedError } from './failures.js';
import { FuzzGateway } from './gateway-double.js';
import { mutate } from './mutate.js';
import type { Prepared, PreparedSession } from './prepare.js';
import type { Random } from './random.js';

/** Thrown inside a drive to end the input at the first failure it shows. */
export class Found extends Error {
  constructor(
    readonly kind: FailureKind,
    readonly where: string,
    readonly error: unknown,
  ) {
    super(`${kind} at ${where}`);
  }
}

/** One call the input made, for the crash file (recorded only when an input is replayed). */
export interface TraceStep {
  /** The codec call made (`framer.push`, `translator.toEvents`, `session.deliver`, ...). */
  call: string;
  /** The connection label, for session calls. */
  conn?: string;
  /** Which way the bytes or event went, for framer and translator calls. */
  direction?: Direction;
  /** The bytes given to the call, as hex. */
  hex?: string;
  /** The canonical event given to the call. */
  event?: unknown;
  /** The call's other argument: a framer's caps, `virtual` for a virtual endpoint's session. */
  options?: unknown;
}

/** What one input saw, summed over the run. */
export interface InputStats {
  /** Largest `buffered` any framer showed. */
  maxBuffered: number;
  /** Typed errors: connections and framers closed on bad input, as they should be. */
  typed: number;
  /** Server frames a session passed on untranslated (the `untranslated` session event). */
  untranslated: number;
  /** Connections that reached `verified` in this input. */
  verified: number;
  /** Frames that decoded but re-encoded to other bytes (mutated input; reported, not a failure). */
  roundTripDiffers: number;
  /** Events delivered into sessions. */
  delivered: number;
}

export function emptyStats(): InputStats {
  return { maxBuffered: 0, typed: 0, untranslated: 0, verified: 0, roundTripDiffers: 0, delivered: 0 };
}

export interface DriveEnv {
  prepared: Prepared;
  rng: Random;
  stats: InputStats;
  trace: TraceStep[] | undefined;
  /** Client bytes for a connection to a virtual endpoint the sessions allocated (codec-specific). */
  virtualClient: ((data: unknown) => Uint8Array[]) | undefined;
}

/**
 * What an input exercises: `framer` (windows of a real stream, mutated and chunked), `frames` (one
 * real frame, mutated, decoded and translated), `translator` (a session's frames through one
 * translator, and events both ways) or `session` (a whole recorded session through proxy sessions).
 */
export type DriveName = 'framer' | 'frames' | 'translator' | 'session';

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Runs one codec call: an untyped throw ends the input as a failure; a typed one is counted. */
function guard<T>(env: DriveEnv, where: string, fn: () => T): Outcome<T> {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    if (error instanceof Found) throw error;
    if (untypedError(error) !== undefined) throw new Found('untyped', where, error);
    env.stats.typed++;
    return { ok: false, error };
  }
}

function record(env: DriveEnv, step: TraceStep): void {
  env.trace?.push(step);
}

const other = (d: Direction): Direction => (d === 'client' ? 'server' : 'client');

// ------------------------------------------------------------------ framer and frames

/** Caps small enough that the oversize and overflow paths are reached; sometimes the defaults. */
function chooseCaps(rng: Random): FramerOptions | undefined {
  switch (rng.below(4)) {
    case 0:
      return undefined;
    case 1:
      return { maxFrameSize: rng.pick([16, 64, 512, 4096]) };
    case 2:
      return { maxFrameSize: 4096, maxBuffered: rng.pick([8, 256, 2048, 8192]) };
    default:
      return { maxFrameSize: rng.pick([1024, 16_384, 65_536]) };
  }
}

/**
 * Pushes `chunks` through a fresh framer and hands each frame to `onFrame`. Checks the framer
 * contract: typed errors, `buffered` within `maxBuffered`, frames within `maxFrameSize`, and a
 * terminal state after an error.
 */
function frameChunks(
  env: DriveEnv,
  direction: Direction,
  chunks: readonly Uint8Array[],
  caps: FramerOptions | undefined,
  onFrame: (raw: Uint8Array) => void,
): void {
  const { codec } = env.prepared;
  record(env, { call: 'createFramer', direction, options: caps });
  const made = guard(env, 'createFramer', () => codec.createFramer(direction, caps));
  if (!made.ok) return;
  const framer = made.value;
  const maxFrame = caps?.maxFrameSize;
  const maxBuffered = caps?.maxBuffered ?? caps?.maxFrameSize;
  let failed = false;
  for (const c of chunks) {
    record(env, { call: 'framer.push', direction, hex: env.trace ? toHex(c) : undefined });
    const pushed = guard(env, 'framer.push', () => framer.push(c));
    if (pushed.ok) {
      for (const raw of pushed.value) {
        if (maxFrame !== undefined && raw.length > maxFrame) {
          throw new Found(
            'over-cap',
            'framer.push',
            new RangeError(`a ${raw.length}-byte frame passed a ${maxFrame} cap`),
          );
        }
        onFrame(raw);
      }
    }
    const buffered = framer.buffered;
    if (buffered > env.stats.maxBuffered) env.stats.maxBuffered = buffered;
    if (maxBuffered !== undefined && buffered > maxBuffered) {
      throw new Found(
        'over-cap',
        'framer.buffered',
        new RangeError(`${buffered} bytes held, cap ${maxBuffered}`),
      );
    }
    scribble(c);
    if (!pushed.ok || framer.error) {
      if (framer.error && untypedError(framer.error) !== undefined)
        throw new Found('untyped', 'framer.error', framer.error);
      failed = true;
      break;
    }
  }
  if (failed) {
    const again = guard(env, 'framer.push after an error', () => framer.push(Uint8Array.of(0x2a)));
    if (again.ok) throw new Found('not-terminal', 'framer.push after an error', new Error('accepted bytes'));
    return;
  }
  guard(env, 'framer.end', () => framer.end());
}

/** Decodes a frame, re-encodes it, and round-trips its JSON form; returns the decoded frame. */
function decodeFrame(env: DriveEnv, raw: Uint8Array, direction: Direction): Outcome<unknown> {
  const { frames } = env.prepared.codec;
  const decoded = guard(env, 'frames.decode', () => frames.decode(raw, direction));
  if (!decoded.ok) return decoded;
  const encoded = guard(env, 'frames.encode', () => frames.encode(decoded.value));
  if (encoded.ok && !bytesEqual(encoded.value, raw)) env.stats.roundTripDiffers++;
  const json = guard(env, 'frames.toJson', () => JSON.parse(JSON.stringify(frames.toJson(decoded.value))));
  if (json.ok) guard(env, 'frames.fromJson', () => frames.encode(frames.fromJson(json.value)));
  return decoded;
}

/** A window of whole frames of a real stream (or another stream's, in the other direction), mutated. */
export function driveFramer(env: DriveEnv): void {
  const { prepared, rng } = env;
  const s = rng.pick(prepared.streams);
  const direction = rng.chance(0.9) ? s.direction : other(s.direction);
  const first = rng.chance(0.3) ? 0 : rng.below(s.bounds.length - 1);
  const last = Math.min(s.bounds.length - 1, first + rng.size(32));
  let bytes = s.bytes.subarray(s.bounds[first]!, s.bounds[last]!);
  if (rng.chance(0.1)) {
    // Two streams spliced end to end: a frame of one protocol state after another's.
    const t = rng.pick(prepared.streams);
    const at = rng.below(t.bounds.length);
    bytes = Uint8Array.from([
      ...bytes,
      ...t.bytes.subarray(t.bounds[at]!, t.bounds[Math.min(t.bounds.length - 1, at + 4)]!),
    ]);
  }
  const mutated = rng.chance(0.95) ? mutate(rng, bytes, prepared.pool) : bytes.slice();
  const chunks = chunk(rng, mutated, chooseChunking(rng));
  const decodeAll = rng.chance(0.5);
  frameChunks(env, direction, chunks, chooseCaps(rng), (raw) => {
    if (decodeAll) decodeFrame(env, raw, direction);
  });
}

/** One real frame, mutated, framed, decoded, re-encoded and translated. */
export function driveFrames(env: DriveEnv): void {
  const { prepared, rng } = env;
  const f = rng.pick(prepared.frames);
  const mutated = mutate(rng, f.raw, prepared.pool);
  const translator = env.prepared.codec.createTranslator(translatorOptions(env));
  frameChunks(
    env,
    f.direction,
    chunk(rng, mutated, rng.chance(0.7) ? 'whole' : 'random'),
    undefined,
    (raw) => {
      const decoded = decodeFrame(env, raw, f.direction);
      if (decoded.ok)
        guard(env, 'translator.toEvents', () => translator.toEvents(decoded.value, f.direction));
    },
  );
}

// ------------------------------------------------------------------ translator

function translatorOptions(env: DriveEnv) {
  const gateway = new FuzzGateway(env.prepared.codec, env.rng, []);
  let ids = 0;
  return {
    isForeign: (a: Address) => gateway.isForeign(a),
    now: () => 1_700_000_000_000,
    newId: () => `t${++ids}`,
  };
}

function pickSession(env: DriveEnv, preferVerified: boolean): PreparedSession | undefined {
  const { sessions } = env.prepared;
  if (sessions.length === 0) return undefined;
  const verified = sessions.filter((s) => s.verifiedAt.size > 0);
  return env.rng.pick(preferVerified && verified.length > 0 && env.rng.chance(0.8) ? verified : sessions);
}

/**
 * A session's frames, in order, through one translator (it learns who is logged in as it goes),
 * the later ones mutated; then canonical events turned into frames both ways and read back.
 */
export function driveTranslator(env: DriveEnv): void {
  const { prepared, rng } = env;
  const ps = pickSession(env, true);
  if (!ps || ps.frames.length === 0) {
    driveFrames(env);
    return;
  }
  const { codec } = prepared;
  const conn = rng.pick(ps.frames).conn;
  const frames = ps.frames.filter((f) => f.conn === conn || rng.chance(0.05));
  const translator = codec.createTranslator(translatorOptions(env));
  const start = rng.below(frames.length);
  const end = Math.min(frames.length, start + rng.size(64));
  for (let i = 0; i < end; i++) {
    const f = frames[i]!;
    const mutated = i >= start && rng.chance(0.4);
    const raws = mutated ? reframe(env, f.direction, mutate(rng, f.raw, prepared.pool)) : [f.raw];
    for (const raw of raws) {
      record(env, {
        call: 'translator.toEvents',
        direction: f.direction,
        hex: env.trace ? toHex(raw) : undefined,
      });
      const decoded = mutated
        ? decodeFrame(env, raw, f.direction)
        : guard(env, 'frames.decode', () => codec.frames.decode(raw, f.direction));
      if (decoded.ok)
        guard(env, 'translator.toEvents', () => translator.toEvents(decoded.value, f.direction));
    }
  }
  const self = translator.self;
  for (let n = rng.below(4); n > 0; n--) {
    const event = generateEvent(env, self, []);
    const direction: Direction = rng.chance(0.5) ? 'server' : 'client';
    record(env, { call: 'translator.fromEvent', direction, event });
    const built = guard(env, 'translator.fromEvent', () => translator.fromEvent(event, direction));
    if (!built.ok) continue;
    for (const frame of built.value) {
      const bytes = guard(env, 'frames.encode (fromEvent)', () => codec.frames.encode(frame));
      if (bytes.ok)
        guard(env, 'frames.decode (fromEvent)', () => codec.frames.decode(bytes.value, direction));
    }
  }
}

/** Frames of mutated bytes of one frame (a mutation may split, merge or break it). */
function reframe(env: DriveEnv, direction: Direction, bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  const made = guard(env, 'createFramer', () => env.prepared.codec.createFramer(direction));
  if (!made.ok) return out;
  const pushed = guard(env, 'framer.push', () => made.value.push(bytes));
  if (pushed.ok) for (const raw of pushed.value) out.push(raw.slice());
  if (made.value.error && untypedError(made.value.error) !== undefined)
    throw new Found('untyped', 'framer.error', made.value.error);
  return out;
}

// ------------------------------------------------------------------ events

/**
 * Text a gateway may hand a session from another network: lone surrogates, NUL and other control
 * characters, a protocol's own delimiters and escapes, markup, very long runs.
 */
const EDGE_TEXTS = [
  '\uD800',
  'a\uDC00b',
  '\u0000',
  '\u0001\u001f\u007f',
  '\r\n',
  '\r\n.\r\n',
  'MSG 1 N 5\r\nhello',
  '%',
  '%zz%E2%82',
  '&#x110000;',
  '&amp;&lt;&',
  '<b>',
  ']]><!--',
  `'"`,
  '\uFFFE\uFFFF',
  '\u202E\u200D',
  '\u00C0\u0080',
  ' ',
  '',
];

function edgeText(rng: Random): string {
  const t = rng.pick(EDGE_TEXTS);
  return rng.chance(0.1) ? t.repeat(rng.size(4096)) : t;
}

/** A valid canonical event for `to` (from a foreign buddy on the roster, often), its text at the edges sometimes. */
function generateEvent(
  env: DriveEnv,
  to: Address | undefined,
  roster: readonly RosterItem[],
): CanonicalEvent {
  const [event] = fc.sample(arbEvent, { seed: env.rng.u32() | 0, numRuns: 1 });
  const e = { ...event! } as CanonicalEvent & { from?: Address; to?: Address };
  if (roster.length > 0 && 'from' in e && env.rng.chance(0.6)) e.from = env.rng.pick(roster).address;
  if (to) {
    if (e.kind === 'roster') (e as { owner: Address }).owner = to;
    else if (e.kind !== 'presence' || env.rng.chance(0.7)) e.to = to;
  }
  if (env.rng.chance(0.3)) {
    const edged = { ...e } as Record<string, unknown>;
    for (const field of ['text', 'html', 'name', 'message']) {
      if (typeof edged[field] === 'string' && env.rng.chance(0.7)) edged[field] = edgeText(env.rng);
    }
    // Only what the gateway could hand over: events its schemas accept.
    try {
      return validateEvent(edged);
    } catch {
      return e;
    }
  }
  return e;
}

/**
 * Traffic the recorded sessions never hold because their users only talk to each other: what the
 * client writes to a foreign buddy (an IM to `bob@yahoo`, adding one to the list), and what the
 * server writes about one. Built by the codec's own translator from a generated event, then fed
 * to the session, mutated sometimes.
 */
function synthesize(env: DriveEnv, c: Connection, roster: readonly RosterItem[], gateway: FuzzGateway): void {
  const { codec, pool } = env.prepared;
  const rng = env.rng;
  const user = c.session.user!;
  const direction: Direction = rng.chance(0.6) ? 'client' : 'server';
  const foreign = roster.length > 0 && rng.chance(0.7) ? rng.pick(roster).address : undefined;
  const event = generateEvent(env, direction === 'server' ? user : foreign, roster) as CanonicalEvent & {
    from?: Address;
  };
  if (direction === 'client' && 'from' in event) event.from = user;
  let ids = 0;
  const translator = codec.createTranslator({
    self: user,
    isForeign: (a) => gateway.isForeign(a),
    now: () => 1_700_000_000_000,
    newId: () => `s${++ids}`,
  });
  const built = guard(env, 'translator.fromEvent (synthesized traffic)', () =>
    translator.fromEvent(event, direction),
  );
  if (!built.ok) return;
  for (const frame of built.value) {
    const encoded = guard(env, 'frames.encode (synthesized traffic)', () => codec.frames.encode(frame));
    if (!encoded.ok || c.closed) continue;
    const bytes = rng.chance(0.3) ? mutate(rng, encoded.value, pool) : encoded.value;
    for (const piece of chunk(rng, bytes, rng.chance(0.7) ? 'whole' : 'random'))
      if (!c.closed) feed(env, c, direction, piece);
  }
}

function generateRoster(env: DriveEnv, gateway: FuzzGateway): RosterItem[] {
  const n = env.rng.below(5);
  if (n === 0) return [];
  return fc
    .sample(arbRosterItem, { seed: env.rng.u32() | 0, numRuns: n })
    .filter((i) => gateway.isForeign(i.address));
}

// ------------------------------------------------------------------ proxy sessions

interface Connection {
  conn: string;
  session: ProxySession;
  closed: boolean;
  verified: boolean;
}

/** Checks what a session returned: errors it reports must be typed too. */
function inspect(env: DriveEnv, c: Connection, out: SessionOutput, where: string): void {
  for (const e of out.events) {
    switch (e.type) {
      case 'closed':
        if (e.error && untypedError(e.error) !== undefined)
          throw new Found('untyped', `${where} (closed event)`, e.error);
        if (e.error) env.stats.typed++;
        c.closed = true;
        break;
      case 'verified':
        if (!c.verified) env.stats.verified++;
        c.verified = true;
        break;
      default:
        if ((e as { type: string }).type === 'untranslated') {
          const error = (e as { error?: unknown }).error;
          if (untypedError(error) !== undefined)
            throw new Found('untyped', `${where} (untranslated event)`, error);
          env.stats.untranslated++;
        }
    }
  }
}

function feed(env: DriveEnv, c: Connection, direction: Direction, bytes: Uint8Array): void {
  const where = direction === 'client' ? 'session.fromClient' : 'session.fromServer';
  record(env, { call: where, conn: c.conn, hex: env.trace ? toHex(bytes) : undefined });
  const r = guard(env, where, () =>
    direction === 'client' ? c.session.fromClient(bytes) : c.session.fromServer(bytes),
  );
  scribble(bytes);
  if (!r.ok) {
    c.closed = true;
    return;
  }
  inspect(env, c, r.value, where);
}

function deliverTo(env: DriveEnv, c: Connection, roster: readonly RosterItem[]): void {
  const event = generateEvent(env, c.session.user, roster);
  record(env, { call: 'session.deliver', conn: c.conn, event });
  env.stats.delivered++;
  const r = guard(env, 'session.deliver', () => c.session.deliver(event));
  if (r.ok) inspect(env, c, r.value, 'session.deliver');
}

/** After a session closed, it must refuse more bytes with a typed error. */
function checkTerminal(env: DriveEnv, c: Connection, direction: Direction): void {
  const r = guard(env, 'session after close', () =>
    direction === 'client'
      ? c.session.fromClient(Uint8Array.of(0x2a))
      : c.session.fromServer(Uint8Array.of(0x2a)),
  );
  if (r.ok)
    throw new Found('not-terminal', 'session after close', new Error('a closed session accepted bytes'));
}

/** Session calls one input makes in small pieces before it falls back to whole writes. */
const CALL_BUDGET = 4096;

/**
 * A whole recorded session through proxy sessions (one per connection, one cookie table): the
 * real login first, unmutated, until a connection is verified; then mutated traffic both ways in
 * random chunkings, dropped, repeated and foreign writes, deliveries of generated events, and
 * connections to the virtual endpoints the sessions allocated.
 */
export function driveSession(env: DriveEnv): void {
  const { prepared, rng } = env;
  const ps = pickSession(env, true);
  if (!ps || ps.session.writes.length === 0) {
    driveFramer(env);
    return;
  }
  const { codec } = prepared;
  const writes = ps.session.writes;
  const probe = new FuzzGateway(codec, rng, []);
  const roster = generateRoster(env, probe);
  const gateway = new FuzzGateway(codec, rng, roster);
  let target: string;
  let start: number;
  const verified = [...ps.verifiedAt];
  if (verified.length > 0 && rng.chance(0.8)) {
    const [conn, at] = rng.pick(verified);
    target = conn;
    start = Math.min(writes.length - 1, at + 1 + (rng.chance(0.5) ? 0 : rng.below(16)));
  } else {
    target = rng.pick(writes).conn;
    start = rng.below(writes.length);
  }
  const end = Math.min(writes.length, start + rng.size(48));
  const connections = new Map<string, Connection>();
  const open = (conn: string, virtual?: { data: unknown }): Connection | undefined => {
    record(env, { call: 'openSession', conn, ...(virtual ? { options: 'virtual' } : {}) });
    const r = guard(env, 'openSession', () => codec.openSession(gateway.context(conn, virtual)));
    if (!r.ok) return undefined;
    const c = { conn, session: r.value, closed: false, verified: false };
    connections.set(conn, c);
    return c;
  };
  let virtuals = 0;
  let calls = 0;
  for (let i = 0; i < end; i++) {
    const w = writes[i]!;
    const c = connections.get(w.conn) ?? open(w.conn);
    if (!c || c.closed) continue;
    const live = i >= start;
    let bytes = w.bytes;
    if (live) {
      if (rng.chance(0.04)) continue; // a write lost
      if (rng.chance(w.conn === target ? 0.6 : 0.1)) bytes = mutate(rng, bytes, prepared.pool);
      if (rng.chance(0.04)) {
        // A write of another recorded session (another dialect, another state) slipped in.
        const stranger = rng.pick(rng.pick(prepared.sessions).session.writes);
        if (stranger.direction === w.direction) bytes = Uint8Array.from([...stranger.bytes, ...bytes]);
      }
    }
    const times = live && rng.chance(0.03) ? 2 : 1;
    for (let t = 0; t < times && !c.closed; t++) {
      // Small pieces until the input's budget of calls is spent, then whole writes.
      const how = live && calls < CALL_BUDGET ? chooseChunking(rng) : rng.chance(0.8) ? 'whole' : 'random';
      for (const piece of chunk(rng, bytes, how)) {
        if (c.closed) break;
        calls++;
        feed(env, c, w.direction, piece);
      }
    }
    if (live && c.verified && !c.closed && rng.chance(0.2)) {
      for (let n = rng.between(1, 3); n > 0 && !c.closed; n--) deliverTo(env, c, roster);
    }
    if (live && c.session.user && !c.closed && rng.chance(0.2)) {
      for (let n = rng.between(1, 3); n > 0 && !c.closed; n--) synthesize(env, c, roster, gateway);
    }
    // Connections to the virtual endpoints the sessions allocated (an MSNP switchboard the gateway plays).
    while (live && virtuals < gateway.allocations.length && rng.chance(0.7)) {
      const allocation = gateway.allocations[virtuals++]!;
      const v = open(`virtual ${virtuals}`, { data: allocation.data });
      if (!v) continue;
      const script = env.virtualClient?.(allocation.data) ?? [];
      for (const line of script) {
        if (v.closed) break;
        const bytes = rng.chance(0.3) ? mutate(rng, line, prepared.pool) : line.slice();
        for (const piece of chunk(rng, bytes, chooseChunking(rng)))
          if (!v.closed) feed(env, v, 'client', piece);
      }
      for (let n = rng.between(0, 3); n > 0 && !v.closed; n--) if (v.verified) deliverTo(env, v, roster);
    }
  }
  for (const c of connections.values()) {
    if (c.closed) {
      if (rng.chance(0.2)) checkTerminal(env, c, rng.chance(0.5) ? 'client' : 'server');
      continue;
    }
    record(env, { call: 'session.close', conn: c.conn });
    const r = guard(env, 'session.close', () => c.session.close('fuzz input over'));
    if (r.ok) inspect(env, c, r.value, 'session.close');
  }
}

export const DRIVES: Record<DriveName, (env: DriveEnv) => void> = {
  framer: driveFramer,
  frames: driveFrames,
  translator: driveTranslator,
  session: driveSession,
};

/** True when `error` is a typed CrossTalk error (exported for the gateway-front fuzzer). */
export function isTyped(error: unknown): boolean {
  return isCrossTalkError(error) && untypedError(error) === undefined;
}
