import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { stanza } from '@crosstalk/codec-xmpp';
import {
  arbEvent,
  type FuzzFailure,
  type FuzzSession,
  harvestTokens,
  inputSeed,
  type MutationPool,
  mutate,
  Random,
  untypedError,
} from '@crosstalk/compliance/fuzz';
import type { Codec, G2gStream, ProxySession, SessionOutput } from '@crosstalk/core';
import {
  type CanonicalForm,
  createGateway,
  type Gateway,
  generateIdentity,
  jsonForm,
  socks4ConnectRequest,
  TcpG2gTransport,
} from '@crosstalk/gateway';
import { socksConnect, startEchoServer } from '@crosstalk/gateway/testing';
import fc from 'fast-check';
import pino from 'pino';
import { builtInCodecs } from '../../src/codecs.js';

/**
 * Fuzzes a running gateway's two listeners over real loopback sockets: the SOCKS4/4a front
 * (mutated requests, then mutated client traffic of real sessions, against an upstream that plays
 * the server side of the same session) and the G2G listener (bytes that are no Noise handshake,
 * then, on links this fuzzer's own key has proved, mutated frames and canonical events in the
 * stanza and the JSON form). Checks that the gateway
 * stays up and keeps serving a connection opened before the run, that nothing untyped is thrown
 * by a session, logged as an error, or answered as `ERR_INTERNAL`, that every session closes, and
 * that the heap stays bounded. Socket timing makes a replay approximate: a failure names the seed
 * and index of its input.
 */
export interface FrontsOptions {
  /** Real sessions of any protocol: their client writes go through the SOCKS front. */
  sessions: readonly FuzzSession[];
  inputs: number;
  seed: number;
  /** Index of the first input. Default 0. */
  first?: number;
  seconds?: number;
  /** Inputs in flight at once. Default 16. */
  concurrency?: number;
  /** Share of inputs that go to the G2G listener. Default 0.3. */
  g2gShare?: number;
  heapBoundMb?: number;
  onProgress?: (report: FrontsReport) => void;
  progressMs?: number;
  /** Unused here (failures are in the report); accepted so callers pass one option set. */
  crashDir?: string;
}

export interface FrontsReport {
  kind: 'gateway-fronts';
  seed: number;
  inputs: number;
  socks: number;
  g2g: number;
  untyped: number;
  failures: FuzzFailure[];
  /** Connections the gateway refused or closed on bad input (typed), and frames it passed on untranslated. */
  refused: number;
  untranslated: number;
  /** Events sent over authenticated G2G links, and the refusal codes they got. */
  g2gEvents: number;
  nackCodes: Record<string, number>;
  /** Sessions still open after every input's sockets closed (should be 0). */
  leftOpen: number;
  heapBaseMb: number;
  heapMaxMb: number;
  rssMaxMb: number;
  elapsedMs: number;
}

const MB = 1024 * 1024;
const IDLE_MS = 40;
const INPUT_TIMEOUT_MS = 3000;

/** A codec whose sessions report any untyped error they throw or return (the gateway would only log it). */
interface OpenSession {
  protocol: string;
  input: number;
  calls: string[];
  session: ProxySession;
}

function watched(
  codec: Codec,
  report: (where: string, error: unknown) => void,
  open: Map<ProxySession, OpenSession>,
  input: () => number,
): Codec {
  const check = (where: string, out: SessionOutput) => {
    for (const e of out.events) {
      if (
        (e.type === 'closed' || e.type === 'untranslated') &&
        e.error &&
        untypedError(e.error) !== undefined
      )
        report(`${codec.protocol} ${where} (${e.type} event)`, e.error);
    }
    return out;
  };
  const guard = (where: string, fn: () => SessionOutput): SessionOutput => {
    try {
      return check(where, fn());
    } catch (error) {
      if (untypedError(error) !== undefined) report(`${codec.protocol} ${where}`, error);
      throw error;
    }
  };
  return {
    ...codec,
    openSession(ctx) {
      const s = codec.openSession(ctx);
      const info: OpenSession = { protocol: codec.protocol, input: input(), calls: [], session: s };
      open.set(s, info);
      const note = (call: string) => {
        if (info.calls.length < 40) info.calls.push(call);
      };
      const wrapped: ProxySession = {
        get protocol() {
          return s.protocol;
        },
        get state() {
          return s.state;
        },
        get user() {
          return s.user;
        },
        fromClient: (chunk) => {
          note(`client ${chunk.length}`);
          return guard('session.fromClient', () => s.fromClient(chunk));
        },
        fromServer: (chunk) => {
          note(`server ${chunk.length}`);
          return guard('session.fromServer', () => s.fromServer(chunk));
        },
        deliver: (event) => guard('session.deliver', () => s.deliver(event)),
        affinity: (event) => s.affinity(event),
        close: (reason) => {
          open.delete(s);
          return guard('session.close', () => s.close(reason));
        },
      };
      return wrapped;
    },
  } as Codec;
}

/** An upstream that plays the server side of one session per connection (one listener per slot). */
class Upstream {
  readonly server: Server;
  port = 0;
  script: { first: boolean; writes: Uint8Array[] } = { first: false, writes: [] };
  readonly sockets = new Set<Socket>();

  constructor() {
    this.server = createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => {});
      const writes = [...this.script.writes];
      const next = () => {
        const w = writes.shift();
        if (w && !socket.destroyed) socket.write(w);
        else if (!w) socket.end();
      };
      if (this.script.first) next();
      socket.on('data', () => next());
    });
  }

  async listen(): Promise<void> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as { port: number }).port;
  }

  close(): void {
    for (const s of this.sockets) s.destroy();
    this.server.close();
  }
}

/** Frames the gateway sends on a G2G link: `u32 length | u8 type | body`. */
function g2gFrames(buffer: { pending: Buffer }, chunk: Buffer): { type: number; body: Buffer }[] {
  buffer.pending = Buffer.concat([buffer.pending, chunk]);
  const frames: { type: number; body: Buffer }[] = [];
  while (buffer.pending.length >= 4) {
    const length = buffer.pending.readUInt32BE(0);
    if (buffer.pending.length < 4 + length) break;
    frames.push({ type: buffer.pending[4]!, body: buffer.pending.subarray(5, 4 + length) });
    buffer.pending = buffer.pending.subarray(4 + length);
  }
  return frames;
}

function g2gFrame(type: number, body: Uint8Array): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(1 + body.length, 0);
  head[4] = type;
  return Buffer.concat([head, body]);
}

/** G2G frame types (gateway g2g/wire.ts). */
const G2G = { event: 16, ack: 17, nack: 18, ping: 32 } as const;

/** Resolves once the socket closed or stayed quiet for `idle` ms; then destroys it. */
function settle(socket: Socket, idle: number, onData?: (chunk: Buffer) => void): Promise<void> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const deadline = setTimeout(finish, INPUT_TIMEOUT_MS);
    function finish() {
      clearTimeout(timer);
      clearTimeout(deadline);
      socket.destroy();
      resolve();
    }
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(finish, idle);
    };
    socket.on('data', (c: Buffer) => {
      onData?.(c);
      arm();
    });
    socket.once('close', finish);
    arm();
  });
}

export async function fuzzGatewayFronts(options: FrontsOptions): Promise<FrontsReport> {
  const started = performance.now();
  const report: FrontsReport = {
    kind: 'gateway-fronts',
    seed: options.seed,
    inputs: 0,
    socks: 0,
    g2g: 0,
    untyped: 0,
    failures: [],
    refused: 0,
    untranslated: 0,
    g2gEvents: 0,
    nackCodes: {},
    leftOpen: 0,
    heapBaseMb: 0,
    heapMaxMb: 0,
    rssMaxMb: 0,
    elapsedMs: 0,
  };
  const seen = new Set<string>();
  let current = -1;
  const fail = (kind: FuzzFailure['kind'], drive: string, where: string, error: unknown, index = current) => {
    if (kind === 'untyped') report.untyped++;
    const inner = untypedError(error) ?? error;
    const message = inner instanceof Error ? `${inner.constructor.name}: ${inner.message}` : String(inner);
    const key = `${kind}|${where}|${message.replace(/\d+/g, 'N')}`;
    if (seen.has(key) || report.failures.length >= 20) return;
    seen.add(key);
    report.failures.push({
      kind,
      codec: 'gateway',
      seed: options.seed,
      index,
      drive,
      where,
      message,
      ...(inner instanceof Error && inner.stack ? { stack: inner.stack } : {}),
    });
  };

  // What the gateway logs at error level is a failure; warnings are counted by kind.
  const logged = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) {
        if (!line) continue;
        try {
          const entry = JSON.parse(line) as { level: number; msg: string; err?: { message?: string } };
          if (entry.level >= 50)
            fail('untyped', 'log', `gateway log: ${entry.msg}`, new Error(entry.err?.message ?? line));
        } catch {
          // not JSON: ignore
        }
      }
      done();
    },
  });
  // Sessions the gateway opened and has not closed yet, with the input that opened them.
  const openSessions = new Map<ProxySession, OpenSession>();
  const codecs = builtInCodecs().map((c) =>
    watched(
      c,
      (where, error) => fail('untyped', 'session', where, error),
      openSessions,
      () => current,
    ),
  );
  const start = (canonical: CanonicalForm) =>
    createGateway({
      codecs,
      canonical,
      socks: { port: 0 },
      logger: pino({ level: 'warn' }, logged),
      timeouts: { connect: 1000, socksRequest: 1000, sniff: 200 },
    });
  // The CLI's gateway (the XMPP stanza form on G2G) takes the SOCKS inputs and half the G2G ones;
  // a gateway with the JSON form (what an embedder without codec-xmpp gets) takes the other half.
  const gateway: Gateway = await start(stanza);
  const jsonGateway: Gateway = await start(jsonForm);
  for (const g of [gateway, jsonGateway]) {
    g.on((e) => {
      if (e.type === 'refused') {
        report.refused++;
        // Typed refusals are described `ERR_...: message`; anything else was thrown untyped.
        if (!/^ERR_[A-Z0-9_]+: /.test(e.reason))
          fail('untyped', 'refusal', 'gateway refused event', new Error(e.reason));
      }
      if (e.type === 'session' && e.event.type === 'untranslated') report.untranslated++;
    });
  }
  const onUncaught = (error: unknown) => fail('untyped', 'process', 'uncaught exception', error);
  const onRejection = (error: unknown) => fail('untyped', 'process', 'unhandled rejection', error);
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onRejection);

  const echo = await startEchoServer();
  const concurrency = options.concurrency ?? 16;
  const upstreams = await Promise.all(
    Array.from({ length: concurrency }, async () => {
      const u = new Upstream();
      await u.listen();
      return u;
    }),
  );
  const identity = generateIdentity();
  const streams = options.sessions.flatMap((s) => s.writes.map((w) => w.bytes));
  const binaryPool: MutationPool = {
    streams,
    tokens: harvestTokens(new Random(1), streams, false),
    text: false,
    maxSize: 16 * 1024,
  };
  const textPool: MutationPool = {
    ...binaryPool,
    tokens: harvestTokens(new Random(2), streams, true),
    text: true,
  };
  const conns = options.sessions.flatMap((s) =>
    [...new Set(s.writes.map((w) => w.conn))].map((conn) => s.writes.filter((w) => w.conn === conn)),
  );

  // The connection every input must leave alone: opened before the run, checked as it goes.
  let control = await socksConnect(gateway.socks, echo.host, echo.port);
  const checkHealth = async (index: number) => {
    const probe = Buffer.from(`probe ${index}\n`);
    const echoed = new Promise<boolean>((resolve) => {
      let got = Buffer.alloc(0);
      const timer = setTimeout(() => resolve(false), 5000);
      const onData = (c: Buffer) => {
        got = Buffer.concat([got, c]);
        if (got.includes(probe)) {
          clearTimeout(timer);
          control.off('data', onData);
          resolve(true);
        }
      };
      control.on('data', onData);
    });
    control.write(probe);
    if (!(await echoed)) {
      fail(
        'not-terminal',
        'health',
        'a connection opened before the run stopped relaying',
        new Error('no echo in 5 s'),
        index,
      );
      control.destroy();
      control = await socksConnect(gateway.socks, echo.host, echo.port);
    }
    try {
      const fresh = await socksConnect(gateway.socks, echo.host, echo.port);
      fresh.destroy();
    } catch (error) {
      fail('not-terminal', 'health', 'the SOCKS front stopped accepting', error, index);
    }
  };

  const socksInput = async (rng: Random, upstream: Upstream) => {
    report.socks++;
    const writes = rng.pick(conns);
    const client = writes.filter((w) => w.direction === 'client').map((w) => w.bytes);
    const server = writes.filter((w) => w.direction === 'server').map((w) => w.bytes);
    const text = rng.chance(0.5) ? textPool : binaryPool;
    upstream.script = {
      first: writes[0]?.direction === 'server',
      writes: server.slice(0, 40).map((b) => (rng.chance(0.2) ? mutate(rng, b, text) : b)),
    };
    let request = Buffer.from(
      socks4ConnectRequest('127.0.0.1', upstream.port, rng.chance(0.2) ? 'fuzz' : ''),
    );
    switch (rng.below(10)) {
      case 0:
        request = Buffer.from(mutate(rng, request, binaryPool));
        break;
      case 1:
        request = Buffer.from(
          socks4ConnectRequest(
            rng.pick(['localhost', 'LOCALHOST', 'a..b', 'x'.repeat(300), '']),
            upstream.port,
          ),
        );
        break;
      case 2:
        request[1] = rng.pick([0, 2, 3, 0xff]); // BIND and unknown commands
        break;
      case 3:
        request[0] = rng.pick([0, 5, 0x47]); // SOCKS5, nothing, "GET"
        break;
      default:
        break;
    }
    const socket = connect(gateway.socks.port, gateway.socks.host);
    socket.on('error', () => {});
    await once(socket, 'connect').catch(() => undefined);
    const done = settle(socket, IDLE_MS);
    const early = rng.chance(0.3) && client.length > 0;
    socket.write(early ? Buffer.concat([request, client[0]!]) : request);
    const rest = client.slice(early ? 1 : 0, 40);
    for (const bytes of rest) {
      if (socket.destroyed) break;
      await new Promise((r) => setImmediate(r));
      const b = rng.chance(0.3) ? mutate(rng, bytes, text) : bytes;
      for (let at = 0; at < b.length && !socket.destroyed; ) {
        const n = rng.chance(0.5) ? b.length : rng.between(1, 64);
        socket.write(b.subarray(at, at + n));
        at += n;
      }
      if (rng.chance(0.03)) {
        if (rng.chance(0.5)) socket.end();
        else socket.destroy();
        break;
      }
    }
    await done;
  };

  // This fuzzer's own end of G2G links: a transport that only dials, with a key of its own.
  const dialler = new TcpG2gTransport({ identity, connectTimeout: 1000, handshakeTimeout: 1000 });
  const g2gInput = async (rng: Random) => {
    report.g2g++;
    const json = rng.chance(0.5);
    const target = json ? jsonGateway : gateway;
    const form: CanonicalForm = json ? jsonForm : stanza;
    const pending = { pending: Buffer.alloc(0) };
    const onData = (c: Uint8Array) => {
      for (const f of g2gFrames(pending, Buffer.from(c))) {
        if (f.type !== G2G.nack) continue;
        const code = f.body.subarray(4).toString('utf8');
        report.nackCodes[code] = (report.nackCodes[code] ?? 0) + 1;
        if (!/^ERR_[A-Z0-9_]+$/.test(code) || code === 'ERR_INTERNAL')
          fail('untyped', 'g2g', `G2G refusal of an event (${form.name} form)`, new Error(`NACK ${code}`));
      }
    };
    const address = target.g2g;
    if (address && rng.chance(0.4)) {
      // Before a key is proved: bytes that are no Noise handshake, messages announcing huge
      // lengths (u24 little-endian, as secret-stream frames them), handshakes cut short.
      const socket = connect(address.port, address.host);
      socket.on('error', () => {});
      await once(socket, 'connect').catch(() => undefined);
      const done = settle(socket, IDLE_MS);
      const announce = (length: number, body: Uint8Array) =>
        Buffer.concat([Buffer.from([length & 0xff, (length >> 8) & 0xff, (length >> 16) & 0xff]), body]);
      const pieces = [
        rng.bytes(rng.below(128)),
        announce(rng.pick([0, 1, 32, 48, 0xffff, 0xffffff]), rng.bytes(rng.below(96))),
        announce(32, rng.bytes(32)),
      ];
      for (let n = rng.between(1, 4); n > 0 && !socket.destroyed; n--) {
        const piece = rng.pick(pieces);
        socket.write(rng.chance(0.5) ? mutate(rng, piece, binaryPool) : piece);
      }
      await done;
      return;
    }
    // A link this fuzzer's key has proved, then events and frames a peer should not send.
    let stream: G2gStream;
    try {
      stream = await dialler.connect(target.id, target.contact);
    } catch {
      return; // refused while the listener is at its cap of handshakes in progress
    }
    const done = settle(stream as unknown as Socket, IDLE_MS * 2, onData);
    for (let n = rng.between(1, 6); n > 0 && !stream.destroyed; n--) {
      const id = Buffer.alloc(4);
      id.writeUInt32BE(rng.u32());
      let payload: Uint8Array;
      if (rng.chance(0.8)) {
        const [event] = fc.sample(arbEvent, { seed: rng.u32() | 0, numRuns: 1 });
        const encoded = form.encode(event!);
        payload = rng.chance(0.7) ? mutate(rng, encoded, textPool) : encoded;
        report.g2gEvents++;
      } else payload = rng.bytes(rng.below(64));
      const type = rng.chance(0.85) ? G2G.event : rng.pick([G2G.ack, G2G.nack, G2G.ping, 0, 99]);
      const frame = g2gFrame(type, Buffer.concat([id, payload]));
      stream.write(rng.chance(0.1) ? mutate(rng, frame, binaryPool) : frame);
      await new Promise((r) => setImmediate(r));
    }
    await done;
  };

  const heap = () => {
    (globalThis as { gc?: () => void }).gc?.();
    const m = process.memoryUsage();
    report.heapMaxMb = Math.max(report.heapMaxMb, m.heapUsed / MB);
    report.rssMaxMb = Math.max(report.rssMaxMb, m.rss / MB);
    return m.heapUsed / MB;
  };
  report.heapBaseMb = heap();
  const deadline =
    options.seconds === undefined ? Number.POSITIVE_INFINITY : started + options.seconds * 1000;
  let next = 0;
  let lastProgress = started;
  let heapChecked = 0;
  const g2gShare = options.g2gShare ?? 0.3;
  const worker = async (slot: number) => {
    const upstream = upstreams[slot]!;
    const first = options.first ?? 0;
    for (
      let index = first + next++;
      index < first + options.inputs && performance.now() < deadline;
      index = first + next++
    ) {
      current = index;
      const rng = new Random(inputSeed(options.seed, index));
      try {
        if (rng.chance(g2gShare)) await g2gInput(rng);
        else await socksInput(rng, upstream);
      } catch (error) {
        fail('untyped', 'harness', 'fuzz input', error, index);
      }
      report.inputs++;
      const now = performance.now();
      if (options.onProgress && now - lastProgress > (options.progressMs ?? 5000)) {
        lastProgress = now;
        report.elapsedMs = now - started;
        options.onProgress(report);
      }
    }
  };
  const checker = (async () => {
    while (report.inputs < options.inputs && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 2000));
      await checkHealth(report.inputs);
      const h = heap();
      if (heapChecked++ === 2) report.heapBaseMb = h; // after the warm-up
      if (heapChecked > 2 && h - report.heapBaseMb > (options.heapBoundMb ?? 64))
        fail(
          'heap',
          'memory',
          'heap after a full collection',
          new Error(`${h.toFixed(1)} MiB, base ${report.heapBaseMb.toFixed(1)}`),
        );
    }
  })();
  await Promise.all(Array.from({ length: concurrency }, (_, slot) => worker(slot)));
  await checker;
  await checkHealth(report.inputs);

  // Every session the inputs opened must be gone once their sockets are.
  const counted = async () => (await gateway.metrics.sessions.get()).values.reduce((n, v) => n + v.value, 0);
  control.destroy();
  for (let waited = 0; waited < 3000 && (openSessions.size > 0 || (await counted()) > 0); waited += 100)
    await new Promise((r) => setTimeout(r, 100));
  const gauge = await counted();
  for (const left of openSessions.values()) {
    fail(
      'heap',
      'sessions',
      `a ${left.protocol} session left open after its sockets closed`,
      new Error(`${left.session.state}; calls: ${left.calls.join(', ')}`),
      left.input,
    );
  }
  if (gauge > 0)
    fail(
      'heap',
      'sessions',
      'crosstalk_sessions not back to 0 after every input closed',
      new Error(`${gauge} sessions`),
      -1,
    );
  report.leftOpen = openSessions.size;
  heap();
  process.off('uncaughtException', onUncaught);
  process.off('unhandledRejection', onRejection);
  for (const u of upstreams) u.close();
  await echo.close();
  await dialler.close();
  await gateway.close();
  await jsonGateway.close();
  report.elapsedMs = performance.now() - started;
  return report;
}
