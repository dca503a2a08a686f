import { once } from 'node:events';
import { type AddressInfo, createServer } from 'node:net';
import { type Address, formatAddress } from '@crosstalk/core';
import { workerOf } from '@crosstalk/gateway';
import { socksConnect } from '@crosstalk/gateway/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Dial,
  type NetworkFixture,
  startOscarNetwork,
  startYmsgNetwork,
  type UserDriver,
} from '../src/drivers/index.js';
import { msnpNetwork } from '../src/drivers/msnp.js';
import { until } from './support/walkthrough.js';
import { counter, type Host, startHost, workers } from './support/workers-host.js';

// `crosstalk gateway --workers 2`, run as an operator runs it (the CLI from source, in processes
// of its own): two workers behind one SOCKS address, each a gateway. Every worker accepts on the
// address (the kernel gives each new connection to one of them), so the connections of one login
// (OSCAR auth then BOS, an MSN notification connection then its switchboards, the virtual
// switchboards a gateway rings its MSN users into) reach either worker; the worker a connection's
// user belongs to (`workerOf`) must serve it. The primary is not on the path of a new connection.
// Then one worker is killed: its users are cut off and log in again once it is back, and the other
// worker's users go on without noticing.

const STEP = 20_000;

/** `count` user names (from `prefix0`, `prefix1`, ...) whose addresses `workerOf` puts on `worker`. */
function namesOn(
  worker: number,
  count: number,
  prefix: string,
  address: (name: string) => Address,
  skip: string[] = [],
): string[] {
  const names: string[] = [];
  for (let i = 0; names.length < count; i++) {
    const name = `${prefix}${i}`;
    if (!skip.includes(name) && workerOf(address(name), 2) === worker) names.push(name);
  }
  return names;
}

describe('crosstalk gateway --workers 2: one SOCKS address, two gateways', () => {
  let host: Host;
  let aim: NetworkFixture;
  let yahoo: NetworkFixture;
  let msn: NetworkFixture;
  const drivers: UserDriver[] = [];
  let dial: Dial;
  const aimAddress = (name: string): Address => ({ user: name, network: 'aol' });
  const yahooAddress = (name: string): Address => ({ user: name, network: 'yahoo' });
  const msnAddress = (name: string): Address => ({ user: `${name}@hotmail.com`, network: 'msn' });
  // Users of each worker: OSCAR and Yahoo for the crash, MSN and OSCAR for the logins that span connections.
  const aim0 = namesOn(0, 3, 'aim', aimAddress);
  const aim1 = namesOn(1, 3, 'aim', aimAddress);
  const yahoo0 = namesOn(0, 1, 'yah', yahooAddress);
  const yahoo1 = namesOn(1, 1, 'yah', yahooAddress);
  const msn0 = namesOn(0, 1, 'msn', msnAddress);
  const msn1 = namesOn(1, 1, 'msn', msnAddress);

  const user = (fixture: NetworkFixture, name: string) => {
    const d = fixture.driver(fixture === msn ? `${name}@hotmail.com` : name, dial);
    drivers.push(d);
    return d;
  };

  beforeAll(async () => {
    const accounts = (names: string[]) => names.map((name) => ({ name, password: `${name}-pw` }));
    aim = await startOscarNetwork(accounts([...aim0, ...aim1]));
    yahoo = await startYmsgNetwork(accounts([...yahoo0, ...yahoo1]));
    msn = await msnpNetwork()(accounts([...msn0, ...msn1].map((n) => `${n}@hotmail.com`)));
    host = await startHost();
    dial = (h, p) => socksConnect(host.socks, h, p);
  }, 120_000);

  afterAll(async () => {
    for (const d of drivers.splice(0)) await d.disconnect().catch(() => {});
    if (host && host.child.exitCode === null) {
      host.child.kill('SIGTERM');
      await once(host.child, 'exit');
    }
    await aim?.stop();
    await yahoo?.stop();
    await msn?.stop();
  });

  it('logins that span connections work whichever worker accepts each connection', async () => {
    // Each MSN user, on its worker, talks with OSCAR users of both workers: writing first opens a
    // switchboard (XFR, a cookie the notification connection's worker recorded), being written to
    // first rings the client into a switchboard its gateway plays (a virtual endpoint).
    const [m0, m1] = [user(msn, msn0[0]!), user(msn, msn1[0]!)];
    const aims = [...aim0.slice(0, 2), ...aim1.slice(0, 2)].map((n) => user(aim, n));
    for (const d of [m0, m1, ...aims]) await d.login();
    for (const m of [m0, m1]) {
      for (const [i, a] of aims.entries()) {
        const ringing = i % 2 === 0;
        const [first, second] = ringing ? [a, m] : [m, a];
        const text = `${formatAddress(first.address)} to ${formatAddress(second.address)}`;
        await first.sendIm(second.address, text);
        expect(await second.nextIm(first.address, STEP)).toBe(text);
        await second.sendIm(first.address, `re: ${text}`);
        expect(await first.nextIm(second.address, STEP)).toBe(`re: ${text}`);
      }
    }
    // Both kinds of hand-off happened (connections reach either worker), and each user was
    // verified on its own worker only: 6 users, 6 logins in all.
    expect(await counter(host, 'crosstalk_handoffs_total', 'stage="session"')).toBeGreaterThan(0);
    expect(await counter(host, 'crosstalk_handoffs_total', 'stage="socks"')).toBeGreaterThan(0);
    expect(await counter(host, 'crosstalk_verified_users')).toBe(6);
    for (const d of [m0, m1, ...aims]) await d.logout();
    await until(
      async () => (await counter(host, 'crosstalk_verified_users')) === 0,
      'everyone logged out',
      STEP,
    );
  }, 180_000);

  it('new connections are accepted by the workers themselves: served while the primary is stopped', async () => {
    // Before, the primary accepted every connection and passed it to a worker over IPC, one socket
    // per acknowledgement: a busy or stopped primary held every new connection.
    const echo = createServer((s) => s.pipe(s));
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    const port = (echo.address() as AddressInfo).port;
    process.kill(host.child.pid!, 'SIGSTOP');
    try {
      for (let i = 0; i < 10; i++) {
        // Bounded, so that a connection held by the stopped primary fails here rather than hanging.
        const s = await Promise.race([
          socksConnect(host.socks, '127.0.0.1', port),
          new Promise<never>((_, reject) =>
            setTimeout(() => reject(new Error('no SOCKS reply within 10 s')), 10_000).unref(),
          ),
        ]);
        s.write(`ping ${i}`);
        const [echoed] = (await once(s, 'data')) as [Buffer];
        expect(echoed.toString()).toBe(`ping ${i}`);
        s.destroy();
      }
    } finally {
      process.kill(host.child.pid!, 'SIGCONT');
      echo.close();
    }
    // No worker was near its descriptor limit, so none passed a connection back to the primary.
    expect(await counter(host, 'crosstalk_host_redistributed_connections_total')).toBe(0);
  }, 60_000);

  it('a killed worker is started again; its users log in again, the other worker’s users notice nothing', async () => {
    // On worker 0: an OSCAR user and a Yahoo user talking (a translated conversation); on
    // worker 1 the same; and one conversation across the two workers (G2G between them).
    const a0 = user(aim, aim0[2]!);
    const y0 = user(yahoo, yahoo0[0]!);
    const a1 = user(aim, aim1[2]!);
    const y1 = user(yahoo, yahoo1[0]!);
    for (const d of [a0, y0, a1, y1]) await d.login();
    const exchange = async (a: UserDriver, b: UserDriver, text: string) => {
      await a.sendIm(b.address, text);
      expect(await b.nextIm(a.address, STEP)).toBe(text);
      await b.sendIm(a.address, `re: ${text}`);
      expect(await a.nextIm(b.address, STEP)).toBe(`re: ${text}`);
    };
    await exchange(a0, y0, 'before, on worker 0');
    await exchange(a1, y1, 'before, on worker 1');
    await exchange(a0, y1, 'before, across workers');

    const before = await workers(host);
    const victim = before.find((w) => w.index === 1)!;
    process.kill(victim.pid!, 'SIGKILL');
    // Worker 0's users keep their connections: the same drivers, no new login, go on talking
    // (while worker 1 is down and once it is back).
    await exchange(a0, y0, 'during, on worker 0');
    await until(
      async () => (await workers(host)).some((w) => w.index === 1 && w.ready && w.pid !== victim.pid),
      'worker 1 started again',
      60_000,
    );
    const after = (await workers(host)).find((w) => w.index === 1)!;
    expect(after.restarts).toBe(1);
    expect((await workers(host)).find((w) => w.index === 0)!.restarts).toBe(0);
    await exchange(a0, y0, 'after, on worker 0');

    // Worker 1's users were cut off: their clients log in again (new connections, accepted by
    // whichever worker; handed to worker 1) and talk on both sides.
    for (const d of [a1, y1]) await d.disconnect().catch(() => {});
    const a1again = user(aim, aim1[2]!);
    const y1again = user(yahoo, yahoo1[0]!);
    await a1again.login();
    await y1again.login();
    await exchange(a1again, y1again, 'again, on worker 1');
    await exchange(a0, y1again, 'again, across workers');
  }, 180_000);

  it('stops cleanly on SIGTERM, workers and all', async () => {
    const pids = (await workers(host)).map((w) => w.pid!);
    host.child.kill('SIGTERM');
    const [code] = await once(host.child, 'exit');
    expect(code).toBe(0);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
  }, 60_000);
});
