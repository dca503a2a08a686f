import { join } from 'node:path';
import { MemoryDht } from '@crosstalk/core';
import { verifyRecord } from '@crosstalk/gateway';
import { afterEach, describe, expect, it } from 'vitest';
import { SipRegistrationDirectory } from '../src/index.js';
import { DOMAIN, invite, startExit, statuses, type TestExit, USERS, udpRequest } from './support/exits.js';
import { freePort, installed, type SippRun, sipp } from './support/programs.js';

// Real SIP software (PEERS.md "SIP"): sipp from Debian's sip-tester, installed by .ci/run.
const REGISTER = join(import.meta.dirname, 'scenarios', 'register.xml');

/** Registers `user` (digest, sipp's -au/-ap) at `exit` with contact 127.0.0.1:`contactPort`. */
async function register(
  exit: TestExit,
  user: keyof typeof USERS,
  contactPort: number,
  options: { password?: string; expires?: number; transport?: 'u1' | 't1' } = {},
) {
  const port = options.transport === 't1' ? exit.addresses.tcpPort : exit.addresses.udpPort;
  return sipp([
    `127.0.0.1:${port}`,
    '-sf',
    REGISTER,
    '-s',
    user,
    '-au',
    user,
    '-ap',
    options.password ?? USERS[user],
    '-set',
    'contact',
    `127.0.0.1:${contactPort}`,
    '-set',
    'expires',
    String(options.expires ?? 120),
    '-p',
    String(await freePort()),
    '-t',
    options.transport ?? 'u1',
    '-m',
    '1',
    '-timeout',
    '15s',
  ]).done;
}

/** A sipp UAS on `port` answering `calls` calls. */
function uas(port: number, calls: number): SippRun {
  return sipp(['-sn', 'uas', '-p', String(port), '-m', String(calls), '-timeout', '60s']);
}

/** A sipp UAC placing `calls` calls to `user` through `exitPort` at `rate` calls/s. */
async function uac(exitPort: number, user: string, calls: number, rate: number) {
  return sipp([
    `127.0.0.1:${exitPort}`,
    '-sn',
    'uac',
    '-s',
    user,
    '-p',
    String(await freePort()),
    '-r',
    String(rate),
    '-m',
    String(calls),
    '-timeout',
    '60s',
  ]).done;
}

describe.skipIf(!installed('sipp'))('SIP exit with sipp', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });
  const track = <T extends { close(): Promise<void> } | SippRun>(thing: T): T => {
    cleanup.push(() => ('stop' in thing ? thing.stop() : thing.close()));
    return thing;
  };

  it('registers with digest authentication and publishes a signed sip:<aor> record in the directory', async () => {
    const dht = new MemoryDht();
    const exit = track(await startExit(dht));
    const contactPort = await freePort();
    const result = await register(exit, 'service', contactPort, { expires: 300 });
    expect(result.code, result.output).toBe(0);
    // The first REGISTER was challenged; the second carried credentials.
    expect(exit.events.filter((e) => e.type === 'answered').map((e) => 'status' in e && e.status)).toEqual([
      401, 200,
    ]);
    const aor = `service@${DOMAIN}`;
    const [registration] = await exit.lookup(aor);
    expect(registration?.exit).toBe(exit.id);
    expect(registration?.contacts.map((c) => c.uri)).toEqual([`sip:service@127.0.0.1:${contactPort}`]);
    expect(registration?.exitContact.udp).toBe(`127.0.0.1:${exit.addresses.udpPort}`);
    // Stored under sip:<aor>, signed by the exit, lapsing with the REGISTER's expiry.
    const [raw] = await dht.get(SipRegistrationDirectory.key(aor));
    const record = verifyRecord(raw as Uint8Array, {
      kind: 'sip-registration',
      subject: aor,
      now: Date.now(),
    });
    expect(record.publisher).toBe(exit.id);
    expect(record.expiresAt).toBe(registration?.contacts[0]?.expiresAt);
    expect(record.expiresAt - record.issuedAt).toBeGreaterThan(299_000);
    expect(record.expiresAt - record.issuedAt).toBeLessThanOrEqual(300_000);
  });

  it('refuses a wrong password: 401 again, nothing registered', async () => {
    const dht = new MemoryDht();
    const exit = track(await startExit(dht));
    const result = await register(exit, 'service', await freePort(), { password: 'not-the-password' });
    expect(result.code).not.toBe(0);
    expect(await exit.lookup(`service@${DOMAIN}`)).toEqual([]);
    expect(exit.bindings(`service@${DOMAIN}`)).toEqual([]);
  });

  it('proxies 100 calls at 10 calls/s from a sipp UAC to a registered sipp UAS with none failed', async () => {
    const dht = new MemoryDht();
    const exit = track(await startExit(dht));
    const uasPort = await freePort();
    expect((await register(exit, 'service', uasPort)).code).toBe(0);
    const callee = track(uas(uasPort, 100));
    const caller = await uac(exit.addresses.udpPort as number, 'service', 100, 10);
    expect(caller.failed, caller.output).toBe(0);
    expect(caller.successful).toBe(100);
    expect((await callee.done).successful).toBe(100);
    // sipp's ACKs for the 200s (addressed to the AOR: sipp's UAS copies no Record-Route) reach the UAS too.
    const forwarded = (method: string) =>
      exit.events.filter((e) => e.type === 'forwarded' && e.method === method && e.to.port === uasPort)
        .length;
    expect([forwarded('INVITE'), forwarded('ACK'), forwarded('BYE')]).toEqual([100, 100, 100]);
  }, 60_000);

  it('proxies calls exit to exit: the callee registered at another exit is found in the DHT', async () => {
    const dht = new MemoryDht();
    const exitA = track(await startExit(dht));
    const exitB = track(await startExit(dht));
    const uasPort = await freePort();
    // The callee registers at exit B (over TCP); the caller sends to exit A.
    expect((await register(exitB, 'service', uasPort, { transport: 't1' })).code).toBe(0);
    expect(exitA.bindings(`service@${DOMAIN}`)).toEqual([]);
    const callee = track(uas(uasPort, 50));
    const caller = await uac(exitA.addresses.udpPort as number, 'service', 50, 10);
    expect(caller.failed, caller.output).toBe(0);
    expect(caller.successful).toBe(50);
    expect((await callee.done).successful).toBe(50);
    // A forwarded every INVITE to B (a hop between exits); B forwarded it to the phone.
    const hops = exitA.events.filter((e) => e.type === 'forwarded' && e.method === 'INVITE');
    expect(hops).toHaveLength(50);
    expect(
      hops.every((e) => e.type === 'forwarded' && e.exitHop && e.to.port === exitB.addresses.tcpPort),
    ).toBe(true);
    const delivered = exitB.events.filter((e) => e.type === 'forwarded' && e.method === 'INVITE');
    expect(delivered.every((e) => e.type === 'forwarded' && !e.exitHop && e.to.port === uasPort)).toBe(true);
    const acks = exitB.events.filter(
      (e) => e.type === 'forwarded' && e.method === 'ACK' && e.to.port === uasPort,
    );
    expect(acks).toHaveLength(50);
  }, 60_000);

  it('answers 404 for an unknown AOR and 480 for a known user with no registration', async () => {
    const dht = new MemoryDht();
    const exit = track(await startExit(dht));
    const port = exit.addresses.udpPort as number;
    const unknown = await udpRequest(port, (local) => invite(`sip:nobody@${DOMAIN}`, local));
    expect(statuses(unknown)).toEqual([100, 404]);
    const offline = await udpRequest(port, (local) => invite(`sip:carol@127.0.0.1:${port}`, local));
    expect(statuses(offline)).toEqual([100, 480]);
  });

  it('forgets an expired registration: gone from the directory, calls get 480', async () => {
    let now = Date.now();
    const clock = () => now;
    const dht = new MemoryDht({ now: clock });
    const exit = track(await startExit(dht, { now: clock, expiry: { minExpires: 1 }, sweepInterval: 50 }));
    const aor = `service@${DOMAIN}`;
    expect((await register(exit, 'service', await freePort(), { expires: 60 })).code).toBe(0);
    expect(await exit.lookup(aor)).toHaveLength(1);
    now += 61_000;
    expect(await exit.lookup(aor)).toEqual([]);
    expect(exit.bindings(aor)).toEqual([]);
    await exit.waitFor((e) => e.type === 'unregistered' && e.aor === aor);
    const call = await udpRequest(exit.addresses.udpPort as number, (local) =>
      invite(`sip:service@${DOMAIN}`, local),
    );
    expect(statuses(call)).toEqual([100, 480]);
  });

  it('keeps registrations across an exit restart through the DHT', async () => {
    const dht = new MemoryDht();
    const first = await startExit(dht);
    const { identity } = first;
    const port = first.addresses.udpPort as number;
    const tcpPort = first.addresses.tcpPort as number;
    const uasPort = await freePort();
    expect((await register(first, 'service', uasPort)).code).toBe(0);
    await first.close();
    // The same exit (same key, same ports) comes back with an empty memory. Each transport gets the
    // port it had: the UDP port's number was never this exit's on TCP, and another socket may hold it
    // there (EADDRINUSE, seen once in a full run).
    const again = track(await startExit(dht, { identity, udpPort: port, tcpPort }));
    expect(again.bindings(`service@${DOMAIN}`)).toEqual([]);
    const callee = track(uas(uasPort, 5));
    const caller = await uac(port, 'service', 5, 5);
    expect(caller.failed, caller.output).toBe(0);
    expect(caller.successful).toBe(5);
    expect((await callee.done).successful).toBe(5);
  }, 60_000);
});
