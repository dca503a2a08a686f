import { MemoryDht } from '@crosstalk/core';
import { beforeAll, expect } from 'vitest';
import type { NetworkFixture, NetworkUser, UserDriver } from '../../src/drivers/index.js';
import { startGateway, through, watchGateway } from './gateway.js';
import { directDial, recordingDial, type Streams, startServerTap } from './taps.js';
import { imBothWays } from './walkthrough.js';

/**
 * The same-network tests: two users of one network run one script twice, with their clients
 * connecting directly and then through a gateway, and what both ends of every connection saw is
 * compared. A gateway between two users of its own network has to be invisible.
 */

/** What one run saw: the gateway's view (none in the direct run), both ends' bytes, the script's result. */
export interface SameNetworkRun<R> {
  /** The logins the gateway verified, the things it intercepted (see `watchGateway`). */
  readonly verified: string[];
  readonly intercepted: string[];
  /** The client's end of each connection the clients opened, in order. */
  readonly clientSide: Streams[];
  /** The server's end of each, in order, when tapped (`tap: true`). */
  readonly serverSide: Streams[];
  readonly result: R;
}

type DriverOf<F extends NetworkFixture> = ReturnType<F['driver']>;

/**
 * Starts the users `names` (passwords `<name>pw`) on a fresh network, and a gateway for their
 * clients to go through when `viaGateway`; logs both in, runs `script`, and stops it all
 * (the network first, which disconnects its drivers). With `tap`, the clients dial a tap in place
 * of the server, so the server's end of each connection is recorded too.
 */
export async function sameNetworkSession<F extends NetworkFixture, R>(
  start: (users: readonly NetworkUser[]) => Promise<F>,
  names: readonly [string, string],
  options: { viaGateway: boolean; tap?: boolean },
  script: (
    a: DriverOf<F>,
    b: DriverOf<F>,
    run: { network: F; clientSide: Streams[]; serverSide: Streams[] },
  ) => Promise<R>,
): Promise<SameNetworkRun<R>> {
  const network = await start(names.map((name) => ({ name, password: `${name}pw` })));
  const tap = options.tap ? await startServerTap(network.server) : undefined;
  const gateway = options.viaGateway ? await startGateway(new MemoryDht()) : undefined;
  const watched = watchGateway(gateway);
  const clientSide: Streams[] = [];
  const serverSide = tap?.connections ?? [];
  const base = gateway ? through(gateway) : directDial;
  const dial = recordingDial(tap ? tap.via(base) : base, clientSide);
  const [a, b] = names.map((name) => network.driver(name, dial) as DriverOf<F>) as [DriverOf<F>, DriverOf<F>];
  try {
    await a.login();
    await b.login();
    const result = await script(a, b, { network, clientSide, serverSide });
    return { ...watched, clientSide, serverSide, result };
  } finally {
    await network.stop();
    await gateway?.close();
    await tap?.close();
  }
}

/** An IM each way, `b` typing to `a`, `a` away: each seen by the other. */
export async function imTypingAway(a: UserDriver, b: UserDriver) {
  await imBothWays(a, b);
  await b.sendTyping(a.address, 'composing');
  expect(await a.nextTyping(b.address)).toBe('composing');
  await a.setPresence('away', 'lunch');
  expect(await b.nextPresence(a.address, 'away')).toBe('away');
}

/** The gateway verified exactly `logins` (`protocol:user`, in any order) and intercepted nothing. */
export function expectOnlyVerified(run: { verified: string[]; intercepted: string[] }, logins: string[]) {
  expect([...run.verified].sort()).toEqual(logins);
  expect(run.intercepted).toEqual([]);
}

/**
 * A tapped run through the gateway: per connection, exactly the bytes the client wrote reached the
 * server, and exactly the bytes the server wrote reached the client (no normalisation).
 */
export function expectBytesRelayed(
  run: { clientSide: Streams[]; serverSide: Streams[] },
  connections: number,
) {
  expect(run.clientSide).toHaveLength(connections);
  expect(run.serverSide).toHaveLength(connections);
  run.clientSide.forEach((client, i) => {
    const server = run.serverSide[i]!;
    expect(Buffer.concat(server.received).equals(Buffer.concat(client.sent))).toBe(true);
    expect(Buffer.concat(client.received).equals(Buffer.concat(server.sent))).toBe(true);
  });
}

/** Runs `run` without a gateway, then with one, before the suite's tests: the results, once there. */
export function withAndWithoutGateway<T>(run: (viaGateway: boolean) => Promise<T>): {
  readonly plain: T;
  readonly proxied: T;
} {
  const runs = {} as { plain: T; proxied: T };
  beforeAll(async () => {
    runs.plain = await run(false);
    runs.proxied = await run(true);
  });
  return runs;
}
