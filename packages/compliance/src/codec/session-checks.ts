import assert from 'node:assert/strict';
import {
  type Address,
  addressEquals,
  type CanonicalEvent,
  EVENT_KINDS,
  type Framer,
  formatAddress,
  isCrossTalkError,
  MemoryCookieTable,
  type ProxySession,
  type RosterItem,
  type SessionContext,
  type SessionEvent,
  type SessionOutput,
  type Translator,
  toHex,
} from '@crosstalk/core';
import fc from 'fast-check';
import { arbEventOfKind } from '../arbitraries/events.js';
import { connOf, type LoginScript, type LoginWrite, type RefusedLogin } from './login-script.js';
import { ADDRESSED_KINDS, partiesProblem, type TranslationSetup } from './translation-checks.js';

const show = (a: Address) => formatAddress(a);

/** Session events that mean something was intercepted, mirrored or merged: none before `verified`. */
const GATED = new Set<SessionEvent['type']>(['outbound', 'self', 'roster']);

/** A growing byte buffer with random access (the bytes fed to and written by one session side). */
class ByteLog {
  #bytes = new Uint8Array(256);
  #length = 0;
  get length(): number {
    return this.#length;
  }
  append(part: Uint8Array): void {
    if (this.#length + part.length > this.#bytes.length) {
      const grown = new Uint8Array(Math.max(this.#bytes.length * 2, this.#length + part.length));
      grown.set(this.#bytes.subarray(0, this.#length));
      this.#bytes = grown;
    }
    this.#bytes.set(part, this.#length);
    this.#length += part.length;
  }
  at(i: number): number | undefined {
    return i < this.#length ? this.#bytes[i] : undefined;
  }
  view(start: number, end: number): Uint8Array {
    return this.#bytes.subarray(start, Math.min(end, this.#length));
  }
}

/** One connection of a replayed login: its session, and what went in and out on each side. */
interface Connection {
  conn: string;
  session: ProxySession;
  verified: Address[];
  /** Index of the script write during which the session reported `verified`. */
  verifiedAtWrite: number | undefined;
  closed: boolean;
  fromClient: ByteLog;
  fromServer: ByteLog;
  toServer: ByteLog;
  toClient: ByteLog;
  /** How many of the fed bytes of each side were checked against what the session wrote. */
  checkedToServer: number;
  checkedToClient: number;
  /** The codec's own framers on the fed bytes: the bytes of complete frames must have left. */
  reference: { client: Framer; server: Framer };
  complete: { client: number; server: number };
  /** A translator that watches what the session writes to each side, as an observer would. */
  observer: Translator<unknown>;
  observerFramers: { client: Framer; server: Framer };
  observed: CanonicalEvent[];
}

export interface SessionSetup extends TranslationSetup {
  /** A foreign buddy of the logged-in user: on the foreign roster, and the party of generated traffic. */
  foreignBuddy: Address;
}

/** Foreign buddies to use, in order: the first the codec's `isForeign` accepts. */
const FOREIGN_CANDIDATES: readonly Address[] = [
  { user: 'bob', network: 'yahoo' },
  { user: 'carol.x@hotmail.com', network: 'msn' },
  { user: 'dave smith', network: 'aol' },
  { user: '31337', network: 'icq' },
];

export function foreignBuddyOf(isForeign: (a: Address) => boolean): Address {
  const found = FOREIGN_CANDIDATES.find(isForeign);
  assert.ok(found, 'isForeign accepts none of the built-in networks');
  return found;
}

type Chunking = (bytes: Uint8Array) => Uint8Array[];

const asWritten: Chunking = (b) => [b];
const byteAtATime: Chunking = (b) => Array.from({ length: b.length }, (_, i) => b.subarray(i, i + 1));
const cyclic =
  (sizes: readonly number[]): Chunking =>
  (b) => {
    const out: Uint8Array[] = [];
    for (let at = 0, i = 0; at < b.length; i++) {
      const size = sizes[i % sizes.length]!;
      out.push(b.subarray(at, at + size));
      at += size;
    }
    return out;
  };

/**
 * Replays writes through one session per connection label, checking the identity gate on every
 * call: until a session reports `verified`, what it writes to each side is exactly a prefix of
 * what the other side fed it, covering every complete frame (nothing withheld, nothing injected,
 * nothing answered locally); it reports no `outbound`, `self` or `roster`; `deliver()` throws
 * `SessionStateError` and `affinity()` is 0.
 */
class Replay {
  readonly #setup: SessionSetup;
  readonly #name: string;
  readonly #user: Address | undefined;
  /** A real login's bytes must not close its session; a refused or cut one's may. */
  readonly #strict: boolean;
  readonly cookies = new MemoryCookieTable({ now: () => 1_700_000_000_000 });
  readonly connections = new Map<string, Connection>();
  #ids = 0;
  #ports = 40_000;

  constructor(setup: SessionSetup, name: string, user: Address | undefined, strict: boolean) {
    this.#setup = setup;
    this.#name = name;
    this.#user = user;
    this.#strict = strict;
  }

  #context(conn: string): SessionContext {
    const s = this.#setup;
    const roster: RosterItem[] = [
      {
        address: s.foreignBuddy,
        name: 'Foreign Buddy',
        groups: ['Buddies'],
        subscription: 'both',
        pending: false,
      },
    ];
    return {
      connectionId: `${this.#name}/${conn}`,
      target: { host: '127.0.0.1', port: s.codec.defaultPorts[0] ?? 1 },
      isForeign: s.isForeign,
      foreignRoster: () => roster,
      cookies: this.cookies,
      endpoints: {
        allocate: () => ({ host: '127.0.0.1', port: ++this.#ports }),
        release() {},
      },
      now: () => 1_700_000_000_000,
      newId: () => `replay-${++this.#ids}`,
    };
  }

  connection(conn: string): Connection {
    let c = this.connections.get(conn);
    if (!c) {
      const codec = this.#setup.codec;
      c = {
        conn,
        session: codec.openSession(this.#context(conn)),
        verified: [],
        verifiedAtWrite: undefined,
        closed: false,
        fromClient: new ByteLog(),
        fromServer: new ByteLog(),
        toServer: new ByteLog(),
        toClient: new ByteLog(),
        checkedToServer: 0,
        checkedToClient: 0,
        reference: { client: codec.createFramer('client'), server: codec.createFramer('server') },
        complete: { client: 0, server: 0 },
        observer: codec.createTranslator(this.#setup.translatorOptions()),
        observerFramers: { client: codec.createFramer('client'), server: codec.createFramer('server') },
        observed: [],
      };
      this.connections.set(conn, c);
    }
    return c;
  }

  #where(c: Connection, what: string): string {
    return `${this.#name}${c.conn ? ` [${c.conn}]` : ''}: ${what}`;
  }

  /** The gate before `verified`: `deliver()` refuses, `affinity()` says it cannot. */
  #probeGate(c: Connection, what: string): void {
    const to = c.session.user ?? this.#user ?? this.#setup.foreignBuddy;
    const probe: CanonicalEvent = {
      kind: 'im',
      id: 'gate-probe',
      from: this.#setup.foreignBuddy,
      to,
      text: 'gate probe',
      sentAt: 0,
    };
    const affinity = c.session.affinity(probe);
    assert.equal(affinity, 0, this.#where(c, `affinity() is ${affinity} before verified (${what})`));
    let error: unknown;
    try {
      c.session.deliver(probe);
    } catch (e) {
      error = e;
    }
    assert.ok(error !== undefined, this.#where(c, `deliver() before verified did not throw (${what})`));
    assert.ok(
      isCrossTalkError(error, 'ERR_SESSION_STATE'),
      this.#where(c, `deliver() before verified threw ${String(error)}, not a SessionStateError (${what})`),
    );
  }

  /** Feeds one chunk; returns the session's output (undefined once the connection is closed). */
  feed(conn: string, direction: 'client' | 'server', bytes: Uint8Array, what: string, write = -1) {
    const c = this.connection(conn);
    if (c.closed) return undefined;
    const relaying = c.verified.length === 0;
    if (relaying) this.#probeGate(c, what);
    let out: SessionOutput;
    try {
      out = direction === 'client' ? c.session.fromClient(bytes) : c.session.fromServer(bytes);
    } catch (error) {
      if (!isCrossTalkError(error)) {
        assert.fail(this.#where(c, `the session threw an untyped error (${what}): ${describe(error)}`));
      }
      assert.ok(
        !this.#strict,
        this.#where(c, `the session refused a real login's bytes (${what}): ${describe(error)}`),
      );
      c.closed = true;
      return undefined;
    }
    (direction === 'client' ? c.fromClient : c.fromServer).append(bytes);
    try {
      for (const f of c.reference[direction].push(bytes)) c.complete[direction] += f.length;
    } catch {
      // The codec's own framer refused these bytes: the session must have closed (checked below).
    }
    let verifiedNow = false;
    for (const e of out.events) {
      if (e.type === 'verified') {
        c.verified.push(e.address);
        c.verifiedAtWrite ??= write;
        verifiedNow = true;
      } else if (e.type === 'identified' && this.#user && !addressEquals(e.address, this.#user)) {
        assert.fail(
          this.#where(c, `identified as ${show(e.address)}, but the login is ${show(this.#user)} (${what})`),
        );
      } else if (relaying && !verifiedNow && GATED.has(e.type)) {
        assert.fail(this.#where(c, `a ${e.type} event before verified (${what}): ${JSON.stringify(e)}`));
      }
      if (e.type === 'closed') {
        assert.ok(
          !this.#strict,
          this.#where(c, `the session closed during a real login (${what}): ${e.reason}`),
        );
        c.closed = true;
      }
    }
    this.absorb(c, out);
    if (relaying && !verifiedNow) this.#checkRelay(c, what);
    return out;
  }

  /** Records what the session wrote, and lets the observer translator read it. Returns its events. */
  absorb(c: Connection, out: SessionOutput): { client: CanonicalEvent[]; server: CanonicalEvent[] } {
    const seen = { client: [] as CanonicalEvent[], server: [] as CanonicalEvent[] };
    for (const [bytes, log, direction] of [
      [out.toServer, c.toServer, 'client'],
      [out.toClient, c.toClient, 'server'],
    ] as const) {
      for (const b of bytes) {
        log.append(b);
        const codec = this.#setup.codec;
        const framer = c.observerFramers[direction];
        if (framer.error) continue;
        let frames: Uint8Array[];
        try {
          frames = framer.push(b);
        } catch {
          continue; // the session wrote bytes its own framer refuses: the relay check reports it
        }
        for (const raw of frames) {
          const events = c.observer.toEvents(codec.frames.decode(raw, direction), direction);
          seen[direction].push(...events);
          c.observed.push(...events);
        }
      }
    }
    return seen;
  }

  /** Before `verified`: written bytes are a prefix of the fed bytes and cover every complete frame. */
  #checkRelay(c: Connection, what: string): void {
    for (const side of ['toServer', 'toClient'] as const) {
      const [sent, fed, checked, complete, from] =
        side === 'toServer'
          ? [c.toServer, c.fromClient, c.checkedToServer, c.complete.client, 'client']
          : [c.toClient, c.fromServer, c.checkedToClient, c.complete.server, 'server'];
      for (let i = checked; i < sent.length; i++) {
        if (sent.at(i) !== fed.at(i)) {
          const injected = i >= fed.length;
          assert.fail(
            this.#where(
              c,
              `before verified the session ${injected ? 'injected' : 'altered'} bytes ${side} at offset ${i} (${what})\n` +
                `  wrote ${toHex(sent.view(i, i + 32))}\n  fed   ${toHex(fed.view(i, i + 32))}`,
            ),
          );
        }
      }
      if (side === 'toServer') c.checkedToServer = sent.length;
      else c.checkedToClient = sent.length;
      assert.ok(
        sent.length >= complete,
        this.#where(
          c,
          `before verified the session withheld ${complete - sent.length} bytes of complete ${from} frames ${side} (${what})\n` +
            `  held  ${toHex(fed.view(sent.length, Math.min(complete, sent.length + 32)))}`,
        ),
      );
    }
  }

  /** Replays `writes`, each cut by `chunking`. */
  run(writes: readonly LoginWrite[], chunking: Chunking, how: string): this {
    writes.forEach((w, i) => {
      for (const chunk of chunking(w.bytes)) {
        this.feed(connOf(w), w.direction, chunk, `write ${i}, ${w.direction} bytes, ${how}`, i);
      }
    });
    return this;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

/** A login that must verify: checks when and as whom, besides the gate on every call. */
function replayLogin(setup: SessionSetup, script: LoginScript, chunking: Chunking, how: string): Replay {
  const replay = new Replay(setup, script.name, script.user, true).run(script.writes, chunking, how);
  const conn = script.conn ?? connOf(script.writes[script.writes.length - 1]!);
  for (const c of replay.connections.values()) {
    for (const a of c.verified) {
      assert.ok(
        addressEquals(a, script.user),
        `${script.name} [${c.conn}]: verified as ${show(a)}, but the login is ${show(script.user)} (${how})`,
      );
    }
    assert.ok(
      c.verified.length <= 1,
      `${script.name} [${c.conn}]: verified ${c.verified.length} times (${how})`,
    );
    if (c.verifiedAtWrite !== undefined) {
      assert.ok(
        c.verifiedAtWrite >= script.confirmedAt,
        `${script.name} [${c.conn}]: verified at write ${c.verifiedAtWrite}, before the server confirmed the login at write ${script.confirmedAt} (${how})`,
      );
    }
  }
  const c = replay.connections.get(conn);
  assert.ok(c, `${script.name}: no connection "${conn}" in the script`);
  assert.ok(
    c.verified.length === 1 && c.session.state === 'verified',
    `${script.name} [${conn}]: the login never verified (state ${c.session.state}) (${how})`,
  );
  return replay;
}

/** A login that must never verify: the gate holds throughout, a typed error may close a connection. */
function replayUnverified(
  setup: SessionSetup,
  name: string,
  writes: readonly LoginWrite[],
  how: string,
): Replay {
  const replay = new Replay(setup, name, undefined, false).run(writes, asWritten, how);
  for (const c of replay.connections.values()) {
    assert.equal(
      c.verified.length,
      0,
      `${name} [${c.conn}]: verified as ${c.verified.map(show).join(', ')} (${how})`,
    );
    assert.notEqual(c.session.state, 'verified', `${name} [${c.conn}]: state is verified (${how})`);
  }
  return replay;
}

function sample<T>(arb: fc.Arbitrary<T>, n: number): T[] {
  return fc.sample(arb, { seed: 42, numRuns: n });
}

/** `base` sent by `from` to `to` (a roster is `to`'s). */
function eventFor(base: CanonicalEvent, from: Address, to: Address): CanonicalEvent {
  return base.kind === 'roster' ? { ...base, owner: to } : { ...base, from, to };
}

/**
 * A verified connection of a replayed login (`conn`, or the script's), with the translator to write
 * its client frames with; the foreign buddy is made addressable there first (`script.address`).
 */
function verifiedConnection(setup: SessionSetup, script: LoginScript, replay: Replay, which?: string) {
  const conn = which ?? script.conn ?? connOf(script.writes[script.writes.length - 1]!);
  const c = replay.connection(conn);
  assert.equal(c.session.state, 'verified', `${script.name} [${conn}]: not verified after the login`);
  const writer =
    c.observer.self && addressEquals(c.observer.self, script.user)
      ? c.observer
      : setup.codec.createTranslator(setup.translatorOptions(script.user));
  if (which === undefined) {
    for (const bytes of script.address?.(setup.foreignBuddy) ?? []) {
      replay.feed(conn, 'client', bytes, 'addressing the foreign buddy');
    }
  }
  return { c, conn, writer };
}

export interface SessionCheck {
  name: string;
  run(): void;
}

export function sessionChecks(
  setup: SessionSetup,
  logins: readonly LoginScript[],
  refused: readonly RefusedLogin[],
): SessionCheck[] {
  const checks: SessionCheck[] = [];
  const kinds = EVENT_KINDS.filter((k) => setup.codec.features.has(k));

  checks.push({
    name: 'session: a real login verifies as its user, once, and only after the server confirmed it',
    run() {
      for (const script of logins) {
        assert.ok(
          script.confirmedAt >= 0 && script.writes[script.confirmedAt]?.direction === 'server',
          `${script.name}: confirmedAt must be the index of a server write`,
        );
        replayLogin(setup, script, asWritten, 'as written');
      }
    },
  });

  checks.push({
    name: 'session: before verified it is a plain relay (identity gate), byte at a time and in random chunks',
    run() {
      for (const script of logins) {
        replayLogin(setup, script, byteAtATime, 'byte at a time');
        fc.assert(
          fc.property(fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 12 }), (sizes) => {
            replayLogin(setup, script, cyclic(sizes), `chunks of ${sizes.join(',')}`);
          }),
          { numRuns: 10, endOnFailure: true },
        );
      }
    },
  });

  checks.push({
    name: 'session: a login the server never confirms stays a relay, even when the client addresses foreign users',
    run() {
      for (const script of logins) {
        // Every client write, and the server's only up to the confirmation: a server that never answers.
        const writes = script.writes.filter((w, i) => i < script.confirmedAt || w.direction === 'client');
        const replay = replayUnverified(setup, `${script.name} (unconfirmed)`, writes, 'server silent');
        // Then the client presses on: addresses a foreign buddy, messages it, sets its status.
        const conn = script.conn ?? connOf(script.writes[script.writes.length - 1]!);
        const writer = setup.codec.createTranslator(setup.translatorOptions(script.user));
        const pressing: Uint8Array[] = [...(script.address?.(setup.foreignBuddy) ?? [])];
        for (const kind of kinds) {
          for (const base of sample(arbEventOfKind[kind] as fc.Arbitrary<CanonicalEvent>, 2)) {
            const to = kind === 'roster' ? script.user : setup.foreignBuddy;
            const event = setup.prepare(eventFor(base, script.user, to), 'client');
            if (!event) continue;
            try {
              pressing.push(setup.encode(writer.fromEvent(event, 'client')));
            } catch (error) {
              if (!isCrossTalkError(error)) throw error;
            }
          }
        }
        assert.ok(pressing.length > 0, `${script.name}: the translator wrote nothing for any declared kind`);
        for (const bytes of pressing)
          replay.feed(conn, 'client', bytes, 'client traffic before confirmation');
        for (const c of replay.connections.values()) {
          assert.equal(
            c.verified.length,
            0,
            `${script.name} [${c.conn}]: verified on the client's word alone`,
          );
        }
      }
      for (const r of refused) replayUnverified(setup, r.name, r.writes, 'refused');
    },
  });

  checks.push({
    name: 'translator: following a real login, it learns the user and finds canonical events',
    run() {
      for (const script of logins) {
        const replay = replayLogin(setup, script, asWritten, 'as written');
        const learned = [...replay.connections.values()]
          .map((c) => c.observer.self)
          .filter((s) => s !== undefined);
        for (const self of learned) {
          assert.ok(
            addressEquals(self, script.user),
            `${script.name}: a translator learned ${show(self)} as its user, not ${show(script.user)}`,
          );
        }
        assert.ok(
          learned.length > 0,
          `${script.name}: no translator learned who logged in (does decode find the login frames?)`,
        );
        const found = [...replay.connections.values()].reduce((n, c) => n + c.observed.length, 0);
        assert.ok(found > 0, `${script.name}: the translator found no canonical event in the whole login`);
      }
    },
  });

  checks.push({
    name: "session: after verified, messages to foreign users are withheld as outbound events with the user's address and the addressed buddy",
    run() {
      for (const script of logins) {
        const replay = replayLogin(setup, script, asWritten, 'as written');
        const { c, conn, writer } = verifiedConnection(setup, script, replay);
        const addressedKinds = kinds.filter((k) => ADDRESSED_KINDS.includes(k));
        let ims = 0;
        for (const kind of addressedKinds) {
          for (const base of sample(arbEventOfKind[kind] as fc.Arbitrary<CanonicalEvent>, 3)) {
            const event = setup.prepare(eventFor(base, script.user, setup.foreignBuddy), 'client');
            if (!event) continue;
            let frames: unknown[];
            try {
              frames = writer.fromEvent(event, 'client');
            } catch (error) {
              if (kind === 'im' || !isCrossTalkError(error)) throw error;
              continue;
            }
            const sentBefore = c.toServer.length;
            const out = replay.feed(
              conn,
              'client',
              setup.encode(frames),
              `a ${kind} to ${show(setup.foreignBuddy)}`,
            );
            assert.ok(out, `${script.name} [${conn}]: the session closed on a ${kind} to a foreign buddy`);
            const outbound = out.events.flatMap((e) => (e.type === 'outbound' ? [e.event] : []));
            for (const o of outbound) {
              if (o.kind !== event.kind) continue;
              const problem = partiesProblem(event, o);
              assert.ok(problem === undefined, `${script.name} [${conn}]: outbound ${kind}: ${problem}`);
            }
            if (kind === 'im') {
              ims++;
              assert.ok(
                outbound.some((o) => o.kind === 'im'),
                `${script.name} [${conn}]: an IM to the foreign buddy ${show(setup.foreignBuddy)} was not reported as outbound`,
              );
              assert.equal(
                c.toServer.length,
                sentBefore,
                `${script.name} [${conn}]: an IM to the foreign buddy reached the server`,
              );
            }
          }
        }
        if (kinds.includes('im'))
          assert.ok(ims > 0, `${script.name}: every generated IM was skipped by prepare`);
      }
    },
  });

  if (kinds.includes('presence')) {
    checks.push({
      name: "session: after verified, the user's own status change is passed to the server and reported as self",
      run() {
        for (const script of logins) {
          const replay = replayLogin(setup, script, asWritten, 'as written');
          const { c, conn, writer } = verifiedConnection(
            setup,
            script,
            replay,
            script.statusConn ?? script.conn,
          );
          const event = setup.prepare(
            { kind: 'presence', from: script.user, status: 'away', text: 'out for lunch' },
            'client',
          );
          assert.ok(event, `${script.name}: prepare skipped the away status`);
          const sentBefore = c.toServer.length;
          const out = replay.feed(
            conn,
            'client',
            setup.encode(writer.fromEvent(event, 'client')),
            'away status',
          );
          assert.ok(out, `${script.name} [${conn}]: the session closed on the user's away status`);
          const self = out.events.flatMap((e) => (e.type === 'self' ? [e.event] : []));
          assert.ok(
            self.some((e) => e.kind === 'presence' && addressEquals(e.from, script.user)),
            `${script.name} [${conn}]: the user's away status was not reported as a self event from ${show(script.user)} (got ${JSON.stringify(self)})`,
          );
          assert.ok(
            c.toServer.length > sentBefore,
            `${script.name} [${conn}]: the away status did not reach the server`,
          );
        }
      },
    });
  }

  checks.push({
    name: 'session: deliver() after verified writes client bytes the codec reads back with from and to kept',
    run() {
      for (const script of logins) {
        const replay = replayLogin(setup, script, asWritten, 'as written');
        const { c, conn } = verifiedConnection(setup, script, replay);
        let ims = 0;
        for (const kind of kinds.filter((k) => k !== 'roster')) {
          for (const base of sample(arbEventOfKind[kind] as fc.Arbitrary<CanonicalEvent>, 3)) {
            const event = setup.prepare(eventFor(base, setup.foreignBuddy, script.user), 'server');
            if (!event) continue;
            const affinity = c.session.affinity(event);
            if (affinity === 0) {
              assert.notEqual(
                kind,
                'im',
                `${script.name} [${conn}]: the verified session cannot deliver an IM (affinity 0)`,
              );
              continue;
            }
            let out: SessionOutput;
            try {
              out = c.session.deliver(event);
            } catch (error) {
              if (kind !== 'im' && isCrossTalkError(error, 'ERR_UNSUPPORTED_EVENT')) continue;
              assert.fail(`${script.name} [${conn}]: deliver(${kind}) threw ${describe(error)}`);
            }
            const back = replay.absorb(c, out).server;
            for (const b of back) {
              if (b.kind !== event.kind) continue;
              const problem = partiesProblem(event, b);
              assert.ok(problem === undefined, `${script.name} [${conn}]: delivered ${kind}: ${problem}`);
            }
            if (kind === 'im') {
              ims++;
              assert.ok(
                back.some((b) => b.kind === 'im'),
                `${script.name} [${conn}]: a delivered IM did not read back as an IM (got ${back.map((b) => b.kind).join(', ') || 'nothing'})`,
              );
            }
          }
        }
        if (kinds.includes('im'))
          assert.ok(ims > 0, `${script.name}: every generated IM was skipped by prepare`);
      }
    },
  });

  return checks;
}
