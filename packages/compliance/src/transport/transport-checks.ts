import assert from 'node:assert/strict';
import { once } from 'node:events';
import { setTimeout as sleep, setImmediate as turn } from 'node:timers/promises';
import { type G2gContact, type G2gStream, type G2gTransport, isCrossTalkError } from '@crosstalk/core';
import type { Check } from '../codec/codec-checks.js';

/** What `transportSuite` needs: a name, and a way to make fresh transports. */
export interface TransportSuiteOptions {
  /** The transport's name, in the suite's title. */
  name: string;
  /**
   * A fresh transport, not yet listening, with a key of its own (a new one at each call). Its
   * listener must take at least `concurrency` handshakes at once from one address.
   */
  create(): Promise<G2gTransport>;
  /** Run after each check, once its transports are closed (e.g. to stop a DHT testnet). */
  cleanup?(): Promise<void>;
  /**
   * What a dial expecting the wrong key runs into. `auth` (default): the contact names a place,
   * and the transport refuses the other key that answers there with `G2gAuthError`. `unreachable`:
   * the key alone is the address (hyperdht), so a key nobody serves is `DeliveryFailedError`.
   */
  wrongKey?: 'auth' | 'unreachable';
  /**
   * Bytes a writer may get accepted, with nobody reading at the other end, before the check calls
   * it unbounded buffering. Kernel socket buffers on loopback take several MiB. Default 32 MiB.
   */
  maxBuffered?: number;
  /** Streams opened at once in the concurrency check. Default 16. */
  concurrency?: number;
  /** ms any one step may take before the check gives up on it (a liveness bound). Default 20 s. */
  stepTimeout?: number;
}

/** A transport check that failed, and why. */
export interface TransportFailure {
  /** The check that failed. */
  check: string;
  /** What it threw. */
  error: unknown;
}

/**
 * How long a writer that got `false` from `write()` waits for 'drain' before it takes the stream
 * as stuck and stops writing. It only decides when to stop; it never fails a check (a slow
 * machine just stops a little later, with more bytes in the kernel's buffers).
 */
const STALL_MS = 500;
const CHUNK = 64 * 1024;

interface Accepted {
  stream: G2gStream;
  remoteId: string;
}

/** A listening transport whose accepted connections queue up for the check to take. */
interface Listening {
  transport: G2gTransport;
  contact: G2gContact;
  /** Every connection accepted so far. */
  accepted: Accepted[];
  /** The next accepted connection not taken yet (from `remoteId` only, when given). */
  next(remoteId?: string): Promise<Accepted>;
}

const text = (s: string) => new TextEncoder().encode(s);

/** `promise`, or a failure naming `what` once `ms` have passed (so a broken transport cannot hang a check). */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Reads exactly `n` bytes from `stream` (which must not be flowing to anyone else). */
function readExactly(stream: G2gStream, n: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let got = 0;
    const done = (error?: Error) => {
      stream.off('data', onData);
      stream.off('close', onClose);
      if (error) reject(error);
      else resolve(Buffer.concat(chunks, got).subarray(0, n));
    };
    const onData = (chunk: Uint8Array) => {
      chunks.push(chunk);
      got += chunk.length;
      if (got >= n) done();
    };
    const onClose = () => done(new Error(`stream closed after ${got} of ${n} bytes`));
    stream.on('data', onData);
    stream.on('close', onClose);
  });
}

/** Resolves when `stream` has closed (at once when it already has). */
function closed(stream: G2gStream): Promise<void> {
  if (stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => stream.once('close', () => resolve()));
}

async function rejectsWith(promise: Promise<unknown>, codes: readonly string[], what: string): Promise<void> {
  let result: unknown;
  try {
    result = await promise;
  } catch (error) {
    assert.ok(
      codes.some((code) => isCrossTalkError(error, code)),
      `${what}: expected ${codes.join(' or ')}, got ${String(error)}`,
    );
    return;
  }
  (result as G2gStream | undefined)?.destroy?.();
  assert.fail(`${what}: expected ${codes.join(' or ')}, but it resolved`);
}

/**
 * The G2G transport contract every implementation shows (TCP + Noise in the gateway, hyperdht):
 * proven keys both ways, wrong keys and foreign contacts refused with typed errors, bounded
 * buffering, closes that reach the other side, reconnection, concurrency.
 */
export function transportChecks(options: TransportSuiteOptions): Check[] {
  const step = options.stepTimeout ?? 20_000;
  const maxBuffered = options.maxBuffered ?? 32 * 1024 * 1024;
  const concurrency = options.concurrency ?? 16;
  const wrongKey = options.wrongKey ?? 'auth';

  /** Runs `body` with a factory of transports, all closed afterwards. */
  const withTransports =
    (
      body: (t: {
        create(): Promise<G2gTransport>;
        listening(): Promise<Listening>;
        dial(from: G2gTransport, to: Listening): Promise<{ dialled: G2gStream; accepted: Accepted }>;
      }) => Promise<void>,
    ) =>
    async () => {
      const made: G2gTransport[] = [];
      const create = async () => {
        const t = await options.create();
        made.push(t);
        return t;
      };
      const listening = async (): Promise<Listening> => {
        const transport = await create();
        const accepted: Accepted[] = [];
        const untaken: Accepted[] = [];
        const waiting: { remoteId: string | undefined; take(a: Accepted): void }[] = [];
        const wants = (remoteId: string | undefined, a: Accepted) => !remoteId || remoteId === a.remoteId;
        const contact = await within(
          transport.listen({
            onConnection: (stream, remoteId) => {
              const a = { stream, remoteId };
              stream.on('error', () => {});
              accepted.push(a);
              const w = waiting.findIndex((x) => wants(x.remoteId, a));
              if (w >= 0) waiting.splice(w, 1)[0]!.take(a);
              else untaken.push(a);
            },
          }),
          step,
          'listen',
        );
        const next = (remoteId?: string) => {
          const ready = untaken.findIndex((a) => wants(remoteId, a));
          if (ready >= 0) return Promise.resolve(untaken.splice(ready, 1)[0]!);
          return within(
            new Promise<Accepted>((take) => waiting.push({ remoteId, take })),
            step,
            'an incoming connection',
          );
        };
        return { transport, contact, accepted, next };
      };
      const dial = async (from: G2gTransport, to: Listening) => {
        const dialled = await within(from.connect(to.transport.localId, to.contact), step, 'connect');
        dialled.on('error', () => {});
        return { dialled, accepted: await to.next(from.localId) };
      };
      try {
        await body({ create, listening, dial });
      } finally {
        for (const t of made) await t.close().catch(() => {});
        await options.cleanup?.();
      }
    };

  /** Writes until `writer` is stuck with nobody reading `reader`; then reads it all back. */
  const backpressure = async (writer: G2gStream, reader: G2gStream, what: string) => {
    let written = 0;
    let sawFalse = false;
    for (;;) {
      assert.ok(
        written <= maxBuffered,
        `${what}: ${written} bytes taken with nobody reading (write() kept accepting: unbounded buffering)`,
      );
      const ok = writer.write(new Uint8Array(CHUNK).fill((written / CHUNK) & 0xff));
      written += CHUNK;
      if (ok) {
        await turn();
        continue;
      }
      sawFalse = true;
      const drained = await Promise.race([
        once(writer as never, 'drain').then(() => true),
        sleep(STALL_MS, false),
      ]);
      if (!drained) break;
    }
    assert.ok(sawFalse, `${what}: write() never returned false`);
    // Reading resumes: every byte arrives, in order, and the writer hears 'drain'.
    const drain = once(writer as never, 'drain');
    const data = await within(readExactly(reader, written), step, `${what}: reading the backlog`);
    for (let at = 0; at < written; at += CHUNK) {
      const expected = (at / CHUNK) & 0xff;
      const slice = data.subarray(at, at + CHUNK);
      assert.ok(
        slice.every((b) => b === expected),
        `${what}: bytes ${at}..${at + CHUNK} are not what was written there`,
      );
    }
    await within(drain, step, `${what}: 'drain' after the reader caught up`);
  };

  return [
    {
      name: 'connects and carries bytes both ways; each side sees the other side’s key',
      run: withTransports(async ({ create, listening, dial }) => {
        const b = await listening();
        const a = await create();
        assert.notEqual(a.localId, b.transport.localId, 'create() must give each transport its own key');
        assert.match(a.localId, /^[0-9a-f]{64}$/, 'localId is a hex ed25519 public key');
        assert.equal(b.contact.transport, b.transport.name, "the contact names the transport's name");
        const { dialled, accepted } = await dial(a, b);
        assert.equal(accepted.remoteId, a.localId, 'the listener sees the dialler’s key');
        dialled.write(text('ping from a'));
        assert.equal(
          Buffer.from(await within(readExactly(accepted.stream, 11), step, 'a to b')).toString(),
          'ping from a',
        );
        accepted.stream.write(text('pong from b'));
        assert.equal(
          Buffer.from(await within(readExactly(dialled, 11), step, 'b to a')).toString(),
          'pong from b',
        );
        dialled.destroy();
      }),
    },
    {
      name:
        wrongKey === 'auth'
          ? 'a dial expecting another key is refused with G2gAuthError, and nothing reaches the listener'
          : 'a dial to a key nobody serves is refused as unreachable, and nothing reaches the listener',
      run: withTransports(async ({ create, listening, dial }) => {
        const b = await listening();
        const a = await create();
        const other = await create(); // a key that is not b's (and is not listening)
        const received: number[] = [];
        await rejectsWith(
          within(a.connect(other.localId, b.contact), step, 'connect with the wrong key'),
          wrongKey === 'auth' ? ['ERR_G2G_AUTH'] : ['ERR_DELIVERY_FAILED'],
          'dialling b’s contact expecting another key',
        );
        // b itself is fine, for another dialler.
        const { dialled, accepted } = await dial(await create(), b);
        dialled.write(text('ok'));
        assert.equal(
          Buffer.from(await within(readExactly(accepted.stream, 2), step, 'to b')).toString(),
          'ok',
        );
        dialled.destroy();
        // Whatever b accepted from a (with Noise XX, b may finish its side of the handshake before
        // a refuses b's key) carries no byte, and closes.
        const refused = b.accepted.filter((x) => x.remoteId === a.localId);
        for (const { stream } of refused) stream.on('data', (d: Uint8Array) => received.push(d.length));
        await within(
          Promise.all(refused.map(({ stream }) => closed(stream))),
          step,
          'the refused connection closing',
        );
        assert.deepEqual(received, [], 'bytes reached the listener over a refused connection');
      }),
    },
    {
      name: 'a contact of another transport is refused with G2gContactError',
      run: withTransports(async ({ create, listening }) => {
        const b = await listening();
        const a = await create();
        await rejectsWith(
          within(a.connect(b.transport.localId, { transport: `not-${a.name}` }), step, 'connect'),
          ['ERR_G2G_CONTACT'],
          'a contact naming another transport',
        );
      }),
    },
    {
      name: 'backpressure both ways: with nobody reading, write() returns false and nothing buffers without bound',
      run: withTransports(async ({ create, listening, dial }) => {
        const b = await listening();
        const a = await create();
        const { dialled, accepted } = await dial(a, b);
        // Nobody listens for 'data' on either side yet: neither reads.
        await backpressure(dialled, accepted.stream, 'dialler to listener');
        await backpressure(accepted.stream, dialled, 'listener to dialler');
        dialled.destroy();
      }),
    },
    {
      name: 'closing either side ends the other; end() delivers what was written first',
      run: withTransports(async ({ create, listening, dial }) => {
        const b = await listening();
        const a = await create();
        const first = await dial(a, b);
        first.dialled.destroy();
        await within(
          closed(first.accepted.stream),
          step,
          'the listener’s stream closing after the dialler destroyed',
        );
        const second = await dial(a, b);
        second.accepted.stream.destroy();
        await within(
          closed(second.dialled),
          step,
          'the dialler’s stream closing after the listener destroyed',
        );
        const third = await dial(a, b);
        const got = readExactly(third.accepted.stream, 4);
        const ended = once(third.accepted.stream as never, 'end');
        third.dialled.write(text('last'));
        third.dialled.end();
        assert.equal(Buffer.from(await within(got, step, 'bytes before end()')).toString(), 'last');
        await within(ended, step, "'end' on the listener after end() on the dialler");
        third.accepted.stream.destroy();
        await within(closed(third.dialled), step, 'the dialler’s stream closing');
      }),
    },
    {
      name: 'reconnects after a close; closing a transport ends its streams and its contact goes unreachable',
      run: withTransports(async ({ create, listening, dial }) => {
        const b = await listening();
        const a = await create();
        for (let round = 0; round < 3; round++) {
          const { dialled, accepted } = await dial(a, b);
          assert.equal(accepted.remoteId, a.localId);
          dialled.write(text(`round ${round}`));
          assert.equal(
            Buffer.from(await within(readExactly(accepted.stream, 7), step, `round ${round}`)).toString(),
            `round ${round}`,
          );
          dialled.destroy();
          await within(closed(accepted.stream), step, `round ${round} closing`);
        }
        const { dialled } = await dial(a, b);
        await b.transport.close();
        await within(closed(dialled), step, 'a stream of a transport that closed');
        await rejectsWith(
          within(a.connect(b.transport.localId, b.contact), step, 'connect to a closed transport'),
          ['ERR_DELIVERY_FAILED'],
          'dialling a transport that closed',
        );
      }),
    },
    {
      name: `carries ${concurrency} streams opened at once from two diallers, each to the right key`,
      run: withTransports(async ({ create, listening }) => {
        const b = await listening();
        const diallers = [await create(), await create()];
        const dialled = await within(
          Promise.all(
            Array.from({ length: concurrency }, (_, i) => {
              const from = diallers[i % 2]!;
              return from.connect(b.transport.localId, b.contact).then((stream) => ({ stream, from, i }));
            }),
          ),
          step,
          'opening the streams',
        );
        const accepted = await Promise.all(dialled.map(({ from }) => b.next(from.localId)));
        assert.equal(b.accepted.length, concurrency, 'one accepted stream per dial');
        // Each stream says its number; the listener answers on the same stream.
        const tag = (i: number) => `stream ${String(i).padStart(4, '0')}`;
        for (const { stream, i } of dialled) {
          stream.on('error', () => {});
          stream.write(text(tag(i)));
        }
        await within(
          Promise.all(
            accepted.map(async ({ stream }) => {
              const heard = Buffer.from(await readExactly(stream, 11)).toString();
              stream.write(text(heard.replace('stream', 'answer')));
            }),
          ),
          step,
          'every stream heard',
        );
        const answers = await within(
          Promise.all(
            dialled.map(async ({ stream }) => Buffer.from(await readExactly(stream, 11)).toString()),
          ),
          step,
          'every answer',
        );
        assert.deepEqual(
          answers,
          dialled.map(({ i }) => tag(i).replace('stream', 'answer')),
        );
        for (const { stream } of dialled) stream.destroy();
      }),
    },
  ];
}

/** Runs every check; resolves with the ones that failed (none when the transport complies). */
export async function runTransportChecks(options: TransportSuiteOptions): Promise<TransportFailure[]> {
  const failures: TransportFailure[] = [];
  for (const check of transportChecks(options)) {
    try {
      await check.run();
    } catch (error) {
      failures.push({ check: check.name, error });
    }
  }
  return failures;
}
