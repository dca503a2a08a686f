import { MemoryDht } from '@crosstalk/core';
import type { Gateway } from '@crosstalk/gateway';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NetworkFixture, UserDriver } from '../src/drivers/index.js';
import { connectMsnpUser, startOscarNetwork, startXmppNetwork } from '../src/drivers/index.js';
import { msnpNetwork } from '../src/drivers/msnp.js';
import { online, startGateway, through } from './support/walkthrough.js';

/**
 * What the benchmark's load does to an MSN user, end to end through one gateway: IMs to foreign
 * users it never added (XMPP users whose JIDs look like passports among them), to several partners
 * at once, each first message opening a switchboard; the MSN user connects as the benchmark's load
 * process does (`connectMsnpUser`: Passport over HTTP, lean).
 */
let gateway: Gateway;
let msn: NetworkFixture;
let xmpp: NetworkFixture;
let aim: NetworkFixture;
const used: UserDriver[] = [];

const XMPP_USERS = ['xuser0', 'xuser1', 'xuser2'];

beforeAll(async () => {
  gateway = await startGateway(new MemoryDht());
  msn = await msnpNetwork()([
    { name: 'muser0@example.com', password: 'pw-muser0' },
    { name: 'muser1@example.com', password: 'pw-muser1' },
  ]);
  xmpp = await startXmppNetwork(XMPP_USERS.map((name) => ({ name, password: `pw-${name}` })));
  aim = await startOscarNetwork([{ name: 'aimuser0', password: 'pw-aimuser0' }]);
}, 60_000);

afterAll(async () => {
  for (const d of used.splice(0)) await d.disconnect().catch(() => {});
  await gateway?.close();
  for (const f of [msn, xmpp, aim]) await f?.stop();
});

function use<T extends UserDriver>(d: T): T {
  used.push(d);
  return d;
}

describe('an MSN user under the benchmark load', () => {
  it('IMs foreign users it never added, several conversations at once, each opening a switchboard', async () => {
    const sender = use(
      connectMsnpUser(
        { ...msn.server, network: msn.network },
        { name: 'muser0@example.com', password: 'pw-muser0' },
        through(gateway),
      ),
    );
    const partners = [
      ...XMPP_USERS.map((name) => use(xmpp.driver(name, through(gateway)))),
      use(aim.driver('aimuser0', through(gateway))),
      use(msn.driver('muser1@example.com', through(gateway))),
    ];
    for (const p of partners) await online(p, gateway);
    await online(sender, gateway);
    // Switchboard connections whose real switchboard the gateway left (foreign participants only).
    const released = new Set<string>();
    const stop = gateway.on((e) => {
      if (e.type === 'session' && e.event.type === 'server-released') released.add(e.connection);
    });

    // All conversations at once, as the load's sends overlap (each one opens a switchboard).
    await Promise.all(partners.map((p, i) => sender.sendIm(p.address, `first ${i}`)));
    for (const [i, p] of partners.entries()) expect(await p.nextIm(sender.address)).toBe(`first ${i}`);
    // And again, on the conversations now open.
    await Promise.all(partners.map((p, i) => sender.sendIm(p.address, `second ${i}`)));
    for (const [i, p] of partners.entries()) expect(await p.nextIm(sender.address)).toBe(`second ${i}`);
    // Issue 20: the four foreign conversations hold the client's connection only; the native one
    // (muser1) keeps its real switchboard.
    expect(released.size).toBe(partners.length - 1);
    stop();
  }, 60_000);
});
