import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { socksConnect } from '@crosstalk/gateway/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from './support/walkthrough.js';
import { counter, type Host, startHost, workers } from './support/workers-host.js';

// A host whose workers are near their descriptor limit (lowered here with prlimit, as a flood of
// connections or an operator's `ulimit -n` would leave them): before, the primary went on handing
// sockets to a worker that could not take them, and Node 20's primary then failed an internal
// assertion and ended, every worker's users with it (`npm run bench -- --workers 1,2` at 1,560
// clients). Now a worker near its limit passes the connections it accepts to the primary, which
// gives them to a worker with room or, while every worker is near its limit, closes them, counts
// them, and the host goes on.

const LIMIT = 300;
const ATTEMPTS = 1000;

describe.skipIf(!existsSync('/proc/self/limits'))('a host whose workers run out of descriptors', () => {
  let host: Host;
  const echo = createServer((s) => s.pipe(s));
  let echoPort = 0;

  beforeAll(async () => {
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    echoPort = (echo.address() as { port: number }).port;
    host = await startHost(2);
    for (const w of await workers(host))
      execFileSync('prlimit', ['--pid', String(w.pid), `--nofile=${LIMIT}`]);
    // The primary knows once each worker reported the lowered limit (every second).
    await until(
      async () => (await workers(host)).every((w) => w.descriptors?.limit === LIMIT),
      'the lowered limits reported',
      10_000,
    );
  }, 60_000);

  afterAll(async () => {
    host?.child.kill('SIGTERM');
    echo.close();
  });

  it('closes the connections no worker has room for, and goes on serving', async () => {
    const held: Socket[] = [];
    let refused = 0;
    // In bursts, far past what two workers of 300 descriptors can hold.
    for (let burst = 0; burst < 10; burst++) {
      await Promise.all(
        Array.from({ length: ATTEMPTS / 10 }, async () => {
          try {
            held.push(await socksConnect(host.socks, '127.0.0.1', echoPort));
          } catch {
            refused++;
          }
        }),
      );
    }
    expect(host.child.exitCode, host.out()).toBeNull();
    expect(refused).toBeGreaterThan(0);
    expect(held.length).toBeGreaterThan(0);
    expect(
      await counter(host, 'crosstalk_host_refused_connections_total', 'reason="descriptors"'),
    ).toBeGreaterThan(0);
    expect(await counter(host, 'crosstalk_host_redistributed_connections_total')).toBeGreaterThan(0);
    expect(host.out()).not.toMatch(/SentHandleNotReceivedWarning|ERR_INTERNAL_ASSERTION/);
    // Each held connection still relays, and no worker was restarted.
    const last = held.at(-1)!;
    last.write('still there');
    const [echoed] = (await new Promise((resolve) => last.once('data', (d) => resolve([d])))) as Buffer[];
    expect(echoed!.toString()).toBe('still there');
    expect((await workers(host)).map((w) => w.restarts)).toEqual([0, 0]);
    // Once the connections close, new ones are taken again.
    for (const s of held) s.destroy();
    await until(
      async () => {
        try {
          const s = await socksConnect(host.socks, '127.0.0.1', echoPort);
          s.destroy();
          return true;
        } catch {
          return false;
        }
      },
      'a new connection taken',
      20_000,
    );
  }, 120_000);
});
